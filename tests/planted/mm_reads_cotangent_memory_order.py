"""mm: the backward takes the cotangent's memory as if it were C-contiguous (a flat view
reshaped), right for the fresh cotangents of a plain backward, scrambled for a transposed one."""

import numpy as np

from impl.ops import linalg
from impl.ops.linalg import Matmul
from tests.planted._base import plant, substitute

KIND = "cotangent read in memory order"
REQUIRES = "cotangent layout"
AFFECTS = ("mm",)
EXPECT_CHECK = "cotangent"
DTYPES = ("float32", "float64")


class MatmulMemoryOrder(Matmul):
    def backward(self, g):
        return super().backward(np.ravel(g, order="K").reshape(np.shape(g)))


_matmul = substitute(linalg._matmul, Matmul, MatmulMemoryOrder)
plant(globals(), {"mm": substitute(linalg.mm, linalg._matmul, _matmul)})
