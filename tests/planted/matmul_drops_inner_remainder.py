"""matmul: a blocked kernel contracts the inner dimension in blocks of 32 and drops the last,
partial block when the inner size exceeds 128 — every small example is right."""

from impl.ops import linalg
from impl.ops.linalg import Matmul
from tests.planted._base import plant, substitute

KIND = "remainder block dropped above a size"
REQUIRES = "size threshold"
AFFECTS = ("matmul",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")
BLOCK = 32


class MatmulBlocked(Matmul):
    def forward(self, a, b):
        out = super().forward(a, b)
        k = a.shape[-1]
        if a.ndim == 2 and b.ndim == 2 and k > 4 * BLOCK and k % BLOCK:
            cut = k - k % BLOCK
            out = a[:, :cut] @ b[:cut]
        return out


_matmul = substitute(linalg._matmul, Matmul, MatmulBlocked)
plant(globals(), {"matmul": substitute(linalg.matmul, linalg._matmul, _matmul)})
