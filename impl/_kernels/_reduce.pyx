# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Broadcast-gradient reduction: the sum every backward does when an input was broadcast."""

from cython cimport floating
from libc.stdlib cimport calloc, free


def reduce_outer_inner(g, out):
    """out[k] = sum over a and b of g[a, k, b], accumulated in double precision.

    Every "sum a broadcast gradient back to the input's shape" whose kept axes are adjacent
    (bias of linear: (N, F) -> (F,); of a conv: (N, C, H*W) -> (C,); a scalar: (1, 1, n) -> ())
    is this sum after a reshape. Accumulating float32 in double keeps the error independent of
    the number of terms. ``g`` is C-contiguous float32 or float64, ``out`` of its dtype.
    """
    # Explicit dispatch: Cython's generic fused-type dispatch costs tens of microseconds a call.
    if g.dtype.itemsize == 4:
        _reduce[float](g, out)
    else:
        _reduce[double](g, out)


cdef _reduce(const floating[:, :, ::1] g, floating[::1] out):
    cdef Py_ssize_t A = g.shape[0], K = g.shape[1], B = g.shape[2], a, k, b, j
    cdef double s[8]
    cdef double *acc
    cdef const floating *row
    if out.shape[0] != K:
        raise ValueError(f"reduce_outer_inner: out has {out.shape[0]} elements, expected {K}")
    if A * K * B == 0:
        out[:] = 0
        return
    acc = <double *> calloc(K, sizeof(double))
    if acc == NULL:
        raise MemoryError()
    with nogil:
        if B == 1:
            # Independent sums along k: a loop the compiler vectorizes as written.
            for a in range(A):
                row = &g[a, 0, 0]
                for k in range(K):
                    acc[k] += row[k]
        else:
            # Eight partial sums break the dependency chain of one long sum along b.
            for a in range(A):
                for k in range(K):
                    row = &g[a, k, 0]
                    for j in range(8):
                        s[j] = 0.0
                    b = 0
                    while b + 8 <= B:
                        for j in range(8):
                            s[j] += row[b + j]
                        b += 8
                    while b < B:
                        s[0] += row[b]
                        b += 1
                    acc[k] += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
        for k in range(K):
            out[k] = <floating> acc[k]
    free(acc)
