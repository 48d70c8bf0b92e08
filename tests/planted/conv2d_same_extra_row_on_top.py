"""conv2d: padding='same' with an even total padding puts the odd row and column at the top and
left (torch puts them at the bottom and right) — the same for odd kernels, shifted by one for
even ones."""

from impl.ops import conv
from tests.planted._base import plant, substitute

KIND = "asymmetric padding on the wrong side"
REQUIRES = "region"
AFFECTS = ("nn.functional.conv2d[same]",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


def _padding(padding, kernel, stride, dilation):
    top, bottom, left, right = conv._padding(padding, kernel, stride, dilation)
    return (bottom, top, right, left) if padding == "same" else (top, bottom, left, right)


plant(globals(), {"nn.functional.conv2d": substitute(conv.conv2d, conv._padding, _padding)})
