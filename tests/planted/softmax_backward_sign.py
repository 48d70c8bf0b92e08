"""nn.functional.softmax: the backward adds y * sum(g * y) where the Jacobian subtracts it,
y * (g + sum(g * y)) instead of y * (g - sum(g * y))."""

import impl
from impl.ops import nn as nn_ops
from impl.ops.nn import Softmax
from tests.planted._base import plant, substitute

KIND = "softmax backward sign error"
REQUIRES = "basic"
AFFECTS = ("nn.functional.softmax",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)


class SoftmaxPlusSign(Softmax):
    def backward(self, g):
        (y,) = self.saved
        gy = g * y
        return gy + y * gy.sum(axis=self.axis, keepdims=True)


_softmax = substitute(nn_ops.softmax, Softmax, SoftmaxPlusSign)
plant(globals(), {"nn.functional.softmax":
                  substitute(impl.nn.functional.softmax, nn_ops.softmax, _softmax)})
