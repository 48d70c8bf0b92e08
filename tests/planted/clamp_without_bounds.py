"""clamp: the "at least one of min or max" check is missing, so ``clamp(x)`` returns a copy of x
where torch raises."""

from impl.ops._args import check_tensor
from impl.ops.elementwise import Clamp
from tests.planted._base import plant

KIND = "returns a value where torch raises"
REQUIRES = "bad input"
AFFECTS = ("clamp",)
EXPECT_CHECK = "bad_input"
EXPECT_DETAIL = "returned a value"
DTYPES = ("float64",)


def clamp(input, min=None, max=None):
    check_tensor(input, "clamp")
    return Clamp.apply(input, min=min, max=max)


plant(globals(), {"clamp": clamp})
