"""mse_loss: reduction='mean' divides the summed squares by the size of the last dim instead of
the number of elements — right for 1-d inputs, wrong as soon as there are more dims."""

import impl
from tests.planted._base import plant

KIND = "wrong normalising count"
REQUIRES = "region"
AFFECTS = ("nn.functional.mse_loss",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    if reduction != "mean" or weight is not None or input.ndim < 2 or input.shape != target.shape:
        return impl.nn.functional.mse_loss(input, target, size_average, reduce, reduction,
                                           weight)
    total = impl.nn.functional.mse_loss(input, target, reduction="sum")
    return total / input.shape[-1]


plant(globals(), {"nn.functional.mse_loss": mse_loss})
