"""exp: the backward multiplies the cotangent into its saved copy of the output in place, as if
it were the graph's last backward (Function.last_use) even under retain_graph=True — right once,
wrong on a second backward."""

import numpy as np

import impl
from impl.ops.elementwise import Exp
from tests.planted._base import plant, substitute

KIND = "saved buffer reused as scratch despite retain_graph"
REQUIRES = "second backward"
AFFECTS = ("exp",)
EXPECT_CHECK = "retain_graph"
DTYPES = ("float32", "float64")


class ExpScratch(Exp):
    def forward(self, a):
        out = np.exp(a)
        self.save(out.copy())
        return out

    def backward(self, g):
        (saved,) = self.saved
        return np.multiply(g, saved, out=saved)


plant(globals(), {"exp": substitute(impl.exp, Exp, ExpScratch)})
