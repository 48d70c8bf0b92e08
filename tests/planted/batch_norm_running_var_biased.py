"""batch_norm: training updates the running variance with the batch's biased variance (divided
by m, not m - 1) — the output and the gradients are right, the running statistic drifts."""

import impl
from tests.planted._base import plant

KIND = "running statistic updated with the wrong estimator"
REQUIRES = "region"
AFFECTS = ("nn.functional.batch_norm[training]",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    before = None if running_var is None else running_var.data.copy()
    out = impl.nn.functional.batch_norm(input, running_mean, running_var, weight, bias,
                                        training, momentum, eps)
    rate = float(momentum)
    if training and before is not None and input.numel() and rate:
        m = input.numel() // input.shape[1]
        unbiased = (running_var.data - (1 - rate) * before) / rate
        running_var.data[...] = (1 - rate) * before + rate * unbiased * (m - 1) / m
    return out


plant(globals(), {"nn.functional.batch_norm": batch_norm})
