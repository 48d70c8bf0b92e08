"""tanh: computed in float64 "for accuracy" and never cast back — float32 inputs silently give a
float64 output."""

import numpy as np

import impl
from impl.ops.elementwise import Tanh
from tests.planted._base import plant, substitute

KIND = "float32 silently computed and returned as float64"
REQUIRES = "float32 only"
AFFECTS = ("tanh",)
EXPECT_CHECK = "dtype"
EXPECT_DETAIL = "output 0 is float64"
DTYPES = ("float32",)


class TanhInDouble(Tanh):
    def forward(self, a):
        return super().forward(a.astype(np.float64))


plant(globals(), {"tanh": substitute(impl.tanh, Tanh, TanhInDouble)})
