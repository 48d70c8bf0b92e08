"""mean: divides the sum by the length of the first reduced dim only, not by the product of the
reduced dims' lengths — right for one dim, wrong for a tuple of dims or all of them."""

import math
import types

import impl
from tests.planted._base import plant, substitute

KIND = "wrong normalising count"
REQUIRES = "region"
AFFECTS = ("mean",)
EXPECT_CHECK = "forward"
DTYPES = ("float64",)


def _first(lengths):
    return next(iter(lengths), 1)


_math = types.SimpleNamespace(**{**vars(math), "prod": _first})
plant(globals(), {"mean": substitute(impl.mean, math, _math)})
