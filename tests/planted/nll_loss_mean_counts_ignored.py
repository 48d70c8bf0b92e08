"""nll_loss: reduction='mean' divides by the weights of all targets, ignored ones included —
right until some target equals ignore_index."""

import numpy as np

import impl
from impl.ops.nn import NllLoss
from tests.planted._base import plant, substitute

KIND = "wrong normalising count"
REQUIRES = "region"
AFFECTS = ("nn.functional.nll_loss",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


class NllLossCountsIgnored(NllLoss):
    def forward(self, x, target, weight, ignore_index, reduction):
        loss = super().forward(x, target, weight, ignore_index, reduction)
        if reduction != "mean":
            return loss
        every = np.ones(target.shape, x.dtype) if weight is None else weight[
            np.where(target != ignore_index, target, 0)]
        total, self.total = self.total, every.sum()
        return loss * total / self.total


plant(globals(), {"nn.functional.nll_loss":
                  substitute(impl.nn.functional.nll_loss, NllLoss, NllLossCountsIgnored)})
