"""cat: the backward's split points are computed from the non-empty parts only, so after a part
that is empty along ``dim`` the later parts get a neighbour's slice of the gradient."""

import numpy as np

import impl
from impl.ops.shape import Cat
from tests.planted._base import plant, substitute

KIND = "zero-size part breaks the gradient split"
REQUIRES = "region"
AFFECTS = ("cat[3 tensors]",)
EXPECT_CHECK = "vjp"
DTYPES = ("float32", "float64")


class CatForgetsEmpty(Cat):
    def forward(self, *arrays, dim, dtype):
        out = super().forward(*arrays, dim=dim, dtype=dtype)
        sizes = [a.shape[dim] for a in arrays]
        self.offsets = np.cumsum([n for n in sizes if n])[:-1]
        return out

    def backward(self, g):
        parts = super().backward(g)
        return parts + (None,) * 3  # the base pairs gradients with parents: fewer pieces


plant(globals(), {"cat": substitute(impl.cat, Cat, CatForgetsEmpty)})
