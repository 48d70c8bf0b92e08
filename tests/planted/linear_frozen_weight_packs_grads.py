"""nn.functional.linear: the backward returns gradients for the inputs that require grad only,
packed in order — right when all do, but with a frozen weight (fine-tuning: only the input, or
the input and bias, require grad) the bias gradient lands on the weight's slot and the bias gets
none."""

import impl
from impl.ops.nn import Linear
from tests.planted._base import plant, substitute

KIND = "gradients matched to inputs by position among those requiring grad"
REQUIRES = "partial requires_grad"
AFFECTS = ("nn.functional.linear",)
EXPECT_CHECK = "requires_grad"
DTYPES = ("float32", "float64")


class LinearPackedGrads(Linear):
    def backward(self, g):
        grads = super().backward(g)
        packed = [gr for gr, p in zip(grads, self.parents) if p.requires_grad]
        return tuple(packed + [None] * (len(grads) - len(packed)))


plant(globals(), {"nn.functional.linear":
                  substitute(impl.nn.functional.linear, Linear, LinearPackedGrads)})
