"""mul: when both operands are the same tensor (``x * x``) the node keeps one gradient per
distinct parent, dropping the second use's contribution (gives x instead of 2x)."""

import impl
from impl.ops.elementwise import Mul
from tests.planted._base import plant, substitute

KIND = "gradient of a tensor used twice not accumulated"
REQUIRES = "alias"
AFFECTS = ("mul",)
EXPECT_CHECK = "alias"
EXPECT_DETAIL = "not accumulated"
DTYPES = ("float64",)


class MulDedupParents(Mul):
    def input_grads(self, grad, last_use=False):
        grads = super().input_grads(grad, last_use)
        if self.parents[0] is self.parents[1]:
            grads[1] = None
        return grads


plant(globals(), {"mul": substitute(impl.mul, Mul, MulDedupParents)})
