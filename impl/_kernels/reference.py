"""NumPy references of the compiled kernels: same signatures, same results (tested equal)."""

import numpy as np


def reduce_outer_inner(g, out):
    """out[k] = sum over a and b of g[a, k, b], accumulated in double precision."""
    if out.shape[0] != g.shape[1]:
        raise ValueError(
            f"reduce_outer_inner: out has {out.shape[0]} elements, expected {g.shape[1]}")
    out[:] = np.asarray(g).sum(axis=(0, 2), dtype=np.float64)
