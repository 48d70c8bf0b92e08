"""max along a dim: the index (and so the gradient) goes to the last of tied maxima, as a kernel
that compares with ``>=`` does; torch on CPU picks the first."""

import numpy as np

import impl
from impl.ops import reduction
from tests.planted._base import plant, substitute

KIND = "index of a tied extreme: last instead of first"
REQUIRES = "values"
AFFECTS = ("max[dim ties]",)
EXPECT_CHECK = "forward"
DTYPES = ("float64",)


def _arg_last(a, axis, largest, keepdim):
    if a.ndim == 0:
        return np.zeros((), np.int64)
    first = (np.argmax if largest else np.argmin)(np.flip(a, axis), axis=axis, keepdims=keepdim)
    return (a.shape[axis] - 1 - first).astype(np.int64)


plant(globals(), {"max": substitute(impl.max, reduction._max,
                                    substitute(reduction._max, reduction._arg, _arg_last))})
