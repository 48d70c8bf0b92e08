"""var: the ``correction`` reaches the primitive but is ignored, which always divides by N (the
biased variance, NumPy's ddof=0) — torch's default divides by N - 1."""

import impl
from impl.ops.reduction import Var
from tests.planted._base import plant, substitute

KIND = "biased variance (correction ignored)"
REQUIRES = "region"
AFFECTS = ("var", "var[dim=()]")
EXPECT_CHECK = "forward"
DTYPES = ("float64",)


class VarBiased(Var):
    def forward(self, a, axes, correction, keepdim):
        return super().forward(a, axes, 0, keepdim)


plant(globals(), {"var": substitute(impl.var, Var, VarBiased)})
