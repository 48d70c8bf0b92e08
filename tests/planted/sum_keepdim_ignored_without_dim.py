"""sum: ``keepdim=True`` is honoured only when a ``dim`` is given — the full reduction always
returns a 0-d tensor instead of one with every dim kept at size 1."""

import impl
from tests.planted._base import plant

KIND = "an option ignored in one combination of arguments"
REQUIRES = "region"
AFFECTS = ("sum",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


def sum(input, dim=None, keepdim=False, **kwargs):
    return impl.sum(input, dim, keepdim=keepdim and dim is not None, **kwargs)


plant(globals(), {"sum": sum})
