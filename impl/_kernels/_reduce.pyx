# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Broadcast-gradient reduction: the sum every backward does when an input was broadcast."""

from cython cimport floating
from libc.stdlib cimport calloc, free


def reduce_outer_inner(const floating[:, :, ::1] g, floating[::1] out):
    """out[k] = sum over a and b of g[a, k, b], accumulated in double precision.

    Every "sum a broadcast gradient back to the input's shape" whose kept axes are adjacent
    (bias of linear: (N, F) -> (F,); of a conv: (N, C, H*W) -> (C,); a scalar: (n,) -> ())
    is this sum after a reshape. Accumulating float32 in double keeps the error independent of
    the number of terms.
    """
    cdef Py_ssize_t A = g.shape[0], K = g.shape[1], B = g.shape[2], a, k, b
    cdef double s
    cdef double *acc
    if out.shape[0] != K:
        raise ValueError(f"reduce_outer_inner: out has {out.shape[0]} elements, expected {K}")
    acc = <double *> calloc(K if K > 0 else 1, sizeof(double))
    if acc == NULL:
        raise MemoryError()
    with nogil:
        for a in range(A):
            for k in range(K):
                s = 0.0
                for b in range(B):
                    s = s + g[a, k, b]
                acc[k] += s
        for k in range(K):
            out[k] = <floating> acc[k]
    free(acc)
