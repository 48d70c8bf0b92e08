"""permute: the backward permutes the gradient by ``dims`` again instead of by its inverse —
right when ``dims`` is its own inverse (swaps), wrong for a 3-cycle."""

import impl
from impl.ops.shape import Permute
from tests.planted._base import plant, substitute

KIND = "backward applies the forward permutation, not its inverse"
REQUIRES = "basic"
AFFECTS = ("permute",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)
class PermuteBackwardSameDims(Permute):
    def backward(self, g):
        return g.transpose(self.dims)


plant(globals(), {"permute": substitute(impl.permute, Permute, PermuteBackwardSameDims)})
