"""conv2d: a channel-blocked kernel forgets the last output channel once there are 16 or more of
them (it comes out zero) — every small example, with at most 9 channels, is right."""

import impl
from impl.ops.conv import Conv2d
from tests.planted._base import plant, substitute

KIND = "a channel lost above a size"
REQUIRES = "size threshold"
AFFECTS = ("nn.functional.conv2d[bias]",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


class Conv2dLosesChannel(Conv2d):
    def forward(self, x, weight, *bias, **params):
        out = super().forward(x, weight, *bias, **params)
        if weight.shape[0] >= 16:
            out[..., -1, :, :] = 0
        return out


plant(globals(), {"nn.functional.conv2d": substitute(impl.nn.functional.conv2d, Conv2d,
                                                     Conv2dLosesChannel)})
