"""sum: a blocked kernel reduces each reduced axis 16 elements at a time and drops the last n % 16
of them once the input holds more than 1000 elements — every small example is right."""

import impl
from impl.ops.reduction import Sum
from tests.planted._base import plant, substitute

KIND = "remainder block dropped above a size"
REQUIRES = "size threshold"
AFFECTS = ("sum",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")
BLOCK = 16


class SumDropsRemainder(Sum):
    def forward(self, a, axes, keepdim):
        if a.size > 1000:
            a = a.copy()
            for ax in axes:
                index = [slice(None)] * a.ndim
                index[ax] = slice(a.shape[ax] - a.shape[ax] % BLOCK, None)
                a[tuple(index)] = 0
        return super().forward(a, axes, keepdim)


plant(globals(), {"sum": substitute(impl.sum, Sum, SumDropsRemainder)})
