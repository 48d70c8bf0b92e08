"""avg_pool2d: count_include_pad=False is ignored — windows that overlap the padding are divided
by the full kernel area. Right without padding and with the default count_include_pad=True."""

from impl.ops import pool
from tests.planted._base import plant, substitute

KIND = "an option ignored"
REQUIRES = "region"
AFFECTS = ("nn.functional.avg_pool2d",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


def _avg_windows(size, sizes, kernel, stride, padding, count_include_pad, divisor_override):
    return pool._avg_windows(size, sizes, kernel, stride, padding, True, divisor_override)


plant(globals(), {"nn.functional.avg_pool2d": substitute(pool.avg_pool2d, pool._avg_windows,
                                                         _avg_windows)})
