"""exp: a flat kernel runs over the input's elements in memory order (``ravel(order="K")``) and
its result is laid out in C order — right for contiguous inputs, scrambled for transposed or
negatively strided ones."""

import numpy as np

import impl
from impl.ops.elementwise import Exp
from tests.planted._base import plant, substitute

KIND = "non-contiguous input read as if contiguous"
REQUIRES = "input layout"
AFFECTS = ("exp",)
EXPECT_CHECK = "layout"
EXPECT_DETAIL = "differs from the contiguous run"
DTYPES = ("float64",)


class ExpMemoryOrder(Exp):
    def forward(self, a):
        out = np.exp(a.ravel(order="K")).reshape(a.shape)
        self.save(out)
        return out


plant(globals(), {"exp": substitute(impl.exp, Exp, ExpMemoryOrder)})
