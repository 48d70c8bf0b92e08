"""add: the node hands back its gradients without the base's reduction to each input's shape, so
a broadcast input receives a gradient of the output's (broadcast) shape."""

import impl
from impl.ops.elementwise import Add
from tests.planted._base import plant, substitute

KIND = "broadcast gradient not reduced"
REQUIRES = "region"
AFFECTS = ("add",)
EXPECT_CHECK = "vjp"
DTYPES = ("float32", "float64")
class AddUnreduced(Add):
    def input_grads(self, grad, last_use=False):
        # a "fast path" for an op that never changes dtype: no cast needed, no reduction done
        return [g if p.requires_grad else None for p, g in zip(self.parents, self.backward(grad))]


plant(globals(), {"add": substitute(impl.add, Add, AddUnreduced)})
