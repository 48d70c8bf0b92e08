"""add: the out= form runs a kernel of its own that has no alpha — add(x, y, alpha=2, out=o)
writes x + y into o; every call without out= is right."""

import impl
from tests.planted._base import plant

KIND = "one argument form computed by a separate, wrong path"
REQUIRES = "argument form"
AFFECTS = ("add[alpha]",)
EXPECT_CHECK = "out"
DTYPES = ("float32", "float64")


def add(input, other, alpha=1, *, out=None):
    if out is None:
        return impl.add(input, other, alpha=alpha)
    return impl.add(input, other, out=out)


plant(globals(), {"add": add})
