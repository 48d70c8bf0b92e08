"""Tensor.__getitem__ with an index array: the backward keeps its gradient buffer on the node and
accumulates into it without clearing it, so a second backward (retain_graph=True) adds the first
one's gradient again."""

import numpy as np

from impl.ops import shape
from impl.ops.shape import Index
from tests.planted._base import plant, substitute

KIND = "state kept on a graph node across backwards"
REQUIRES = "second backward"
AFFECTS = ("Tensor.__getitem__[int array]",)
EXPECT_CHECK = "retain_graph"
DTYPES = ("float32", "float64")


class IndexKeptBuffer(Index):
    def backward(self, g):
        if not self.advanced:
            return super().backward(g)
        if getattr(self, "buffer", None) is None:
            self.buffer = np.zeros(self.input_shape, g.dtype)
        np.add.at(self.buffer, self.key, g)
        return self.buffer.copy()


plant(globals(), {"Tensor.__getitem__": substitute(shape.getitem, Index, IndexKeptBuffer)})
