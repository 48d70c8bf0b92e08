"""log_softmax: the backward exponentiates its saved output in place to save an allocation —
right once, but the saved array is the op's own output: a second backward (retain_graph=True)
and anyone reading the output afterwards see exp(log_softmax)."""

import numpy as np

import impl
from impl.ops import nn as nn_ops
from impl.ops.nn import LogSoftmax
from tests.planted._base import plant, substitute

KIND = "saved output overwritten by the backward"
REQUIRES = "second backward"
AFFECTS = ("nn.functional.log_softmax",)
EXPECT_CHECK = "retain_graph"
DTYPES = ("float32", "float64")


class LogSoftmaxInPlace(LogSoftmax):
    def backward(self, g):
        (out,) = self.saved
        with np.errstate(all="ignore"):
            return g - np.exp(out, out=out) * g.sum(axis=self.axis, keepdims=True)


_log_softmax = substitute(nn_ops.log_softmax, LogSoftmax, LogSoftmaxInPlace)
plant(globals(), {"nn.functional.log_softmax":
                  substitute(impl.nn.functional.log_softmax, nn_ops.log_softmax, _log_softmax)})
