"""maximum: the operands go straight to the primitive without the broadcast check, so shapes
that do not broadcast leak NumPy's ValueError (not torch's RuntimeError naming the op)."""

from impl.ops._args import check_tensor
from impl.ops.elementwise import Maximum
from tests.planted._base import plant

KIND = "missing error on mismatched shapes"
REQUIRES = "bad input"
AFFECTS = ("maximum",)
EXPECT_CHECK = "bad_input"
EXPECT_DETAIL = "raised ValueError"
DTYPES = ("float64",)


def maximum(input, other):
    check_tensor(input, "maximum")
    check_tensor(other, "maximum", "other")
    return Maximum.apply(input, other)


plant(globals(), {"maximum": maximum})
