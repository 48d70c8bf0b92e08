"""sigmoid: the backward returns sigmoid'(x) without multiplying by the incoming gradient — right
only for the all-ones cotangent of ``y.sum().backward()``."""

import impl
from impl.ops.elementwise import Sigmoid
from tests.planted._base import plant, substitute

KIND = "backward ignores the cotangent"
REQUIRES = "basic"
AFFECTS = ("sigmoid",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)


class SigmoidOnesCotangent(Sigmoid):
    def backward(self, g):
        y = self.saved[0]
        return y * (1 - y)


plant(globals(), {"sigmoid": substitute(impl.sigmoid, Sigmoid, SigmoidOnesCotangent)})
