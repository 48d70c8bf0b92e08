"""max_pool2d: the backward scatters the gradient in tiles of 32 columns and forgets the tile's
offset, so on planes wider than 32 the gradient of a maximum past column 31 lands in the first
tile — every small image is right."""

import numpy as np

from impl.ops import pool
from impl.ops.pool import MaxPool2d, _planes
from tests.planted._base import plant, substitute

KIND = "gradient routing breaks above a plane size"
REQUIRES = "size threshold"
AFFECTS = ("nn.functional.max_pool2d",)
EXPECT_CHECK = "vjp"
DTYPES = ("float32", "float64")
TILE = 32


class MaxPoolTiled(MaxPool2d):
    def backward(self, g):
        width = self.input_shape[-1]
        if width <= TILE:
            return super().backward(g)
        (indices,) = self.saved
        grads, picked = _planes(g), _planes(indices)
        planes = grads.shape[0]
        rows, cols = np.divmod(picked.reshape(planes, -1), width)
        out = np.zeros((planes, self.input_shape[-2] * width), g.dtype)
        np.add.at(out, (np.arange(planes)[:, None], rows * width + cols % TILE),
                  grads.reshape(planes, -1))
        return out.reshape(self.input_shape)


_max_pool = substitute(pool._max_pool, MaxPool2d, MaxPoolTiled)
plant(globals(), {"nn.functional.max_pool2d": substitute(pool.max_pool2d, pool._max_pool,
                                                         _max_pool)})
