"""permute: the backward permutes the gradient by ``dims`` again instead of by its inverse —
right when ``dims`` is its own inverse (swaps), wrong for a 3-cycle."""

import impl
from impl.ops.shape import Permute
from tests.planted._base import plant, substitute

KIND = "backward applies the forward permutation, not its inverse"
AFFECTS = ("permute",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)
HARNESS_GAP = (
    "the one example at seed 0 that permutes with a 3-cycle, (2, 1, 4, 3), makes the backward "
    "raise (a gradient of the twice-permuted shape does not reduce to the input's), and "
    "check_example records an exception from the subject's forward-and-backward call as a "
    "failing 'forward' row ('raised ValueError'), blaming a correct forward and reporting no "
    "vjp row; at seeds 1, 2 and 4 no quick example has a permutation that is not its own "
    "inverse, so nothing fails")


class PermuteBackwardSameDims(Permute):
    def backward(self, g):
        return g.transpose(self.dims)


plant(globals(), {"permute": substitute(impl.permute, Permute, PermuteBackwardSameDims)})
