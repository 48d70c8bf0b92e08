"""conv2d: the backward always writes the columns' gradient into the saved column buffer, as if
it were the graph's last backward (Function.last_use) — with retain_graph=True the second
backward computes the weight gradient from overwritten columns."""

import impl
from impl.ops.conv import Conv2d
from tests.planted._base import plant, substitute

KIND = "saved buffer reused as scratch despite retain_graph"
REQUIRES = "second backward"
AFFECTS = ("nn.functional.conv2d[bias]",)
EXPECT_CHECK = "retain_graph"
DTYPES = ("float32", "float64")


class Conv2dAlwaysLastUse(Conv2d):
    def backward(self, grad):
        self.last_use = True
        return super().backward(grad)


plant(globals(), {"nn.functional.conv2d": substitute(impl.nn.functional.conv2d, Conv2d,
                                                     Conv2dAlwaysLastUse)})
