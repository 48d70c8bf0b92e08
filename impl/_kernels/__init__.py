"""Compiled hot loops (Cython) and the NumPy code that routes to them.

Each compiled kernel has a NumPy reference of the same signature in a ``reference*.py`` module.
"""

import math

import numpy as np

try:
    from impl._kernels import (
        _norm,  # noqa: F401  (the batch-norm kernels, used by impl.ops.norm)
        _pool,  # noqa: F401  (the pooling kernels, used by impl.ops.pool)
        _relu,  # noqa: F401  (the relu kernels, used by impl.ops.elementwise)
    )
    from impl._kernels._conv import col2im, im2col  # noqa: F401
    from impl._kernels._reduce import reduce_outer_inner
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "impl's compiled kernels (impl/_kernels/*.pyx) are not built. Install the package with "
        "`pip install .` or `pip install -e .` (needs a C compiler and Cython), or build in place "
        "with `python setup.py build_ext --inplace`.") from exc

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def channels_major(a):
    """Whether ``a`` (N, C, …) is laid out (C, N, …) — its first two axes swapped from
    C-contiguous, as conv2d's output is — and not C-contiguous itself."""
    return a.ndim >= 2 and not a.flags.c_contiguous and a.swapaxes(0, 1).flags.c_contiguous


def empty(shape, dtype, channels_major=False):
    """An uninitialized array of ``shape`` (N, C, …), laid out (C, N, …) if ``channels_major``
    (the layout the batch norm, relu and pooling kernels keep from conv2d's output)."""
    if not channels_major:
        return np.empty(shape, dtype)
    return np.empty((shape[1], shape[0]) + tuple(shape[2:]), dtype).swapaxes(0, 1)


def sum_to_shape(g, shape):
    """Sum ``g`` over the axes along which an array of ``shape`` was broadcast to ``g.shape``."""
    lead = g.ndim - len(shape)
    full = (1,) * lead + tuple(shape)
    reduced = [i for i, (s, n) in enumerate(zip(full, g.shape)) if s == 1 and n != 1]
    kept = [i for i, s in enumerate(full) if s != 1]
    if not reduced:
        return g.reshape(shape)
    contiguous_kept = not kept or all(i < kept[0] or i > kept[-1] for i in reduced)
    if contiguous_kept and g.dtype in _KERNEL_DTYPES and g.flags.c_contiguous:
        i0, i1 = (kept[0], kept[-1] + 1) if kept else (0, 0)  # no kept axis: (1, 1, size)
        a = math.prod(g.shape[:i0])
        k = math.prod(g.shape[i0:i1])
        b = math.prod(g.shape[i1:])
        out = np.empty(k, dtype=g.dtype)
        reduce_outer_inner(g.reshape(a, k, b), out)
        return out.reshape(shape)
    return g.sum(axis=tuple(reduced), keepdims=True).reshape(shape)
