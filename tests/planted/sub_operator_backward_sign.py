"""sub: the operator path (``x - y``, Tensor.__sub__) records a primitive of its own whose
backward hands the subtrahend +g instead of -g; ``impl.sub(x, y)`` and ``x.sub(y)`` are right."""

import impl
from impl.ops.elementwise import Sub
from tests.planted._base import plant, substitute

KIND = "one call path into the library recording a different, wrong primitive"
REQUIRES = "argument form"
AFFECTS = ("sub",)
PLANTED = "Tensor.__sub__"  # the defect lives in the operator, not in the function
EXPECT_CHECK = "vjp"
DTYPES = ("float32", "float64")


class SubOperator(Sub):
    def backward(self, g):
        return g, g


plant(globals(), {"Tensor.__sub__": substitute(impl.sub, Sub, SubOperator)})
