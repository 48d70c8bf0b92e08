"""adaptive_avg_pool2d: each window ends at floor((o + 1) * size / n) instead of the ceiling —
the same when the output size divides the input's, one element short of torch's windows when it
does not."""

import numpy as np

from impl.ops import pool
from tests.planted._base import plant, substitute

KIND = "window bounds off by one in one case"
REQUIRES = "region"
AFFECTS = ("nn.functional.adaptive_avg_pool2d",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


def _floor_ends(size, n_out):
    o = np.arange(n_out, dtype=np.int64)
    return o * size // n_out, (o + 1) * size // n_out


_windows = substitute(pool._adaptive_windows.__wrapped__, pool._adaptive, _floor_ends)
plant(globals(), {"nn.functional.adaptive_avg_pool2d": substitute(
    pool.adaptive_avg_pool2d, pool._adaptive_windows, _windows)})
