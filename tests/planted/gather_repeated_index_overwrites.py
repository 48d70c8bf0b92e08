"""gather: the backward scatters the cotangent with an assignment, so an input element picked by
several index entries keeps one contribution instead of their sum."""

import numpy as np

import impl
from impl.ops.shape import Gather
from tests.planted._base import plant, substitute

KIND = "repeated indices overwrite instead of accumulating"
REQUIRES = "region"
AFFECTS = ("gather",)
EXPECT_CHECK = "vjp"
DTYPES = ("float32", "float64")


class GatherOverwrite(Gather):
    def backward(self, g):
        grad = np.zeros(self.input_shape, g.dtype)
        grad[self.key] = g
        return grad


plant(globals(), {"gather": substitute(impl.gather, Gather, GatherOverwrite)})
