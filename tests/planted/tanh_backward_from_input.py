"""tanh: the backward uses the saved input where the formula needs the output,
g * (1 - x**2) instead of g * (1 - tanh(x)**2)."""

import impl
from impl.ops.elementwise import Tanh
from tests.planted._base import plant, substitute

KIND = "backward from the wrong saved array"
REQUIRES = "basic"
AFFECTS = ("tanh",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)


class TanhSavesInput(Tanh):
    def forward(self, a):
        out = super().forward(a)
        self.save(a)
        return out


plant(globals(), {"tanh": substitute(impl.tanh, Tanh, TanhSavesInput)})
