"""relu: the backward walks the cotangent in memory order (ravel order "K") and lays the result
out in C order — right for the contiguous cotangents a plain backward passes, scrambled for the
transposed, reversed or permuted ones an engine hands to ops."""

import numpy as np

import impl
from impl.ops.elementwise import Relu
from tests.planted._base import plant, substitute

KIND = "cotangent read in memory order"
REQUIRES = "cotangent layout"
AFFECTS = ("relu",)
EXPECT_CHECK = "cotangent"
DTYPES = ("float32", "float64")


class ReluMemoryOrder(Relu):
    def backward(self, g):
        flat = np.ravel(g, order="K").reshape(np.shape(g))
        return np.where(self.saved[0], 0, flat)


plant(globals(), {"relu": substitute(impl.relu, Relu, ReluMemoryOrder)})
