"""exp: a blocked kernel runs over the flat input in blocks of 4096 elements and forgets the last,
partial block — inputs of up to 4096 elements (every small example) come out right."""

import numpy as np

import impl
from impl.ops.elementwise import Exp
from tests.planted._base import plant, substitute

KIND = "remainder block dropped above a size"
REQUIRES = "size threshold"
AFFECTS = ("exp",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")
BLOCK = 4096


class ExpBlocked(Exp):
    def forward(self, a):
        flat = np.ascontiguousarray(a).reshape(-1)
        if flat.size <= BLOCK:
            return super().forward(a)
        out = np.zeros_like(flat)
        full = flat.size - flat.size % BLOCK
        out[:full] = np.exp(flat[:full])
        out = out.reshape(a.shape)
        self.save(out)
        return out


plant(globals(), {"exp": substitute(impl.exp, Exp, ExpBlocked)})
