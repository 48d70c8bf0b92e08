"""clamp with tensor bounds: the bounds get no gradient (treated as constants, as number bounds
are) — the input's gradient is right."""

import numpy as np

import impl
from impl.ops.elementwise import ClampTensor
from tests.planted._base import plant, substitute

KIND = "gradient of an optional tensor argument dropped"
REQUIRES = "region"
AFFECTS = ("clamp[tensor bounds]",)
EXPECT_CHECK = "vjp"
DTYPES = ("float32", "float64")


class ClampBoundsConstant(ClampTensor):
    def backward(self, g):
        gx, glo, ghi = super().backward(g)
        return gx, np.zeros_like(glo), np.zeros_like(ghi)


plant(globals(), {"clamp": substitute(impl.clamp, ClampTensor, ClampBoundsConstant)})
