"""binary_cross_entropy: the forward applies the weight, the backward forgets it."""

import impl
from impl.ops.nn import BinaryCrossEntropy
from tests.planted._base import plant, substitute

KIND = "backward ignores an argument the forward uses"
REQUIRES = "region"
AFFECTS = ("nn.functional.binary_cross_entropy",)
EXPECT_CHECK = "vjp"
DTYPES = ("float32", "float64")


class BceUnweightedBackward(BinaryCrossEntropy):
    def backward(self, g):
        self.weight = None
        return super().backward(g)


plant(globals(), {"nn.functional.binary_cross_entropy": substitute(
    impl.nn.functional.binary_cross_entropy, BinaryCrossEntropy, BceUnweightedBackward)})
