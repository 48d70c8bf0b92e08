"""sub: the backward gives ``other`` the gradient +g instead of -g (a wrong sign in a backward)."""

import impl
from impl.ops.elementwise import Sub
from tests.planted._base import plant, substitute

KIND = "wrong sign in a backward"
REQUIRES = "basic"
AFFECTS = ("sub",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)


class SubPlusGrad(Sub):
    def backward(self, g):
        return g, g


plant(globals(), {"sub": substitute(impl.sub, Sub, SubPlusGrad)})
