"""div: rounding_mode='floor' rounds towards zero like 'trunc' — the same for positive quotients,
one off for every negative non-integer one."""


import impl
from impl.ops.elementwise import DivRounded
from tests.planted._base import plant, substitute

KIND = "one option of an argument computed as another"
REQUIRES = "region"
AFFECTS = ("div[rounding_mode]",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


class DivFloorAsTrunc(DivRounded):
    def forward(self, a, b, mode):
        return super().forward(a, b, "trunc" if mode == "floor" else mode)


plant(globals(), {"div": substitute(impl.div, DivRounded, DivFloorAsTrunc)})
