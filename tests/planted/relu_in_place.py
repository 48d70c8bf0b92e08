"""relu: the forward zeroes the negative entries of its input array in place (``out=a``) instead
of writing a new array, modifying the caller's tensor."""

import numpy as np

import impl
from impl.ops.elementwise import Relu
from tests.planted._base import plant, substitute

KIND = "input mutated in place"
REQUIRES = "input layout"
AFFECTS = ("relu",)
EXPECT_CHECK = "layout"
EXPECT_DETAIL = "modified in place"
DTYPES = ("float64",)


class ReluInPlace(Relu):
    def forward(self, a):
        self.save(a <= 0)
        return np.maximum(a, 0, out=a)


plant(globals(), {"relu": substitute(impl.relu, Relu, ReluInPlace)})
