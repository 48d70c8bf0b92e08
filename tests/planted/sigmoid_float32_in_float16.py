"""sigmoid: float32 inputs are computed in float16 "for speed" (and cast back to float32): the
dtypes are right and float64 is untouched, but float32 results carry half precision's 1e-3
relative error."""

import numpy as np

import impl
from impl.ops.elementwise import Sigmoid
from tests.planted._base import plant, substitute

KIND = "float32 computed in lower precision"
REQUIRES = "float32 only"
AFFECTS = ("sigmoid",)
EXPECT_CHECK = "forward"
DTYPES = ("float32",)


class SigmoidHalf(Sigmoid):
    def forward(self, a):
        if a.dtype != np.float32:
            return super().forward(a)
        out = super().forward(a.astype(np.float16)).astype(np.float32)
        self.save(out)
        return out


plant(globals(), {"sigmoid": substitute(impl.sigmoid, Sigmoid, SigmoidHalf)})
