"""exp: the inference path (nothing requires a gradient, or grad mode off) takes a "fast" kernel
whose result is 1e-3 too large; the recording run is right, and finite differences cancel a
constant factor's effect only partly — the forward of the recording run alone shows nothing."""

import impl
from tests.planted._base import plant

KIND = "wrong result on the inference path only"
REQUIRES = "inference path"
AFFECTS = ("exp",)
EXPECT_CHECK = "inference"
DTYPES = ("float32", "float64")


def exp(input):
    out = impl.exp(input)
    if impl.is_grad_enabled() and input.requires_grad:
        return out
    return impl.mul(out, 1 + 1e-3)


plant(globals(), {"exp": exp})
