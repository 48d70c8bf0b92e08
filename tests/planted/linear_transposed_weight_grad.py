"""nn.functional.linear: the weight gradient is computed as input^T @ grad, shape (in, out), and
reshaped — not transposed — to the weight's (out, in)."""

import impl
from impl.ops.nn import Linear
from tests.planted._base import plant, substitute

KIND = "transposed weight gradient"
REQUIRES = "basic"
AFFECTS = ("nn.functional.linear",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)


class LinearReshapedWeightGrad(Linear):
    def backward(self, g):
        x2d, w2d = self.saved
        gx, _, gb = super().backward(g)
        gw = (x2d.T @ g.reshape(x2d.shape[0], w2d.shape[0])).reshape(self.shapes[1])
        return gx, gw, gb


plant(globals(), {"nn.functional.linear":
                  substitute(impl.nn.functional.linear, Linear, LinearReshapedWeightGrad)})
