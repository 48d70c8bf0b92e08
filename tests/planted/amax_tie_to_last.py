"""amax: the backward sends the whole gradient of each slice to the last of its tied maxima;
torch (and jax) share it evenly among them."""

import numpy as np

import impl
from impl.ops import reduction
from impl.ops.reduction import Amax
from tests.planted._base import plant, substitute

KIND = "max tie routed to the wrong element"
REQUIRES = "values"
AFFECTS = ("amax[ties]",)
EXPECT_CHECK = "vjp"
DTYPES = ("float64",)


class AmaxTieToLast(Amax):
    def backward(self, g):
        a, out = self.saved
        # the reduced axes moved last and flattened: the last position holding the maximum
        kept = [i for i in range(a.ndim) if i not in self.axes]
        flat = np.transpose(a == out, kept + list(self.axes)).reshape(
            [a.shape[i] for i in kept] + [-1])
        last = flat.shape[-1] - 1 - np.argmax(flat[..., ::-1], axis=-1)
        onehot = np.zeros(flat.shape, g.dtype)
        np.put_along_axis(onehot, last[..., None], 1, axis=-1)
        mask = np.transpose(onehot.reshape([a.shape[i] for i in kept + list(self.axes)]),
                            np.argsort(kept + list(self.axes)))
        return g.reshape(out.shape) * mask


_amax = substitute(reduction._amax, Amax, AmaxTieToLast)
plant(globals(), {"amax": substitute(impl.amax, reduction._amax, _amax)})
