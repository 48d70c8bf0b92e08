"""cross_entropy: with class-probability targets the class weights are dropped (they are applied
on the class-index path only)."""

import impl
from tests.planted._base import plant

KIND = "an argument ignored in one mode of the op"
REQUIRES = "region"
AFFECTS = ("nn.functional.cross_entropy[probabilities]",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


def cross_entropy(input, target, weight=None, *args, **kwargs):
    if target.shape == input.shape:
        weight = None
    return impl.nn.functional.cross_entropy(input, target, weight, *args, **kwargs)


plant(globals(), {"nn.functional.cross_entropy": cross_entropy})
