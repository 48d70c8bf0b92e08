# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""Pooling over windows of (P, H, W) planes: max (with argmax indices) and average, forward
and backward, in parallel over ranges of the P = N·C planes with the GIL released.

The windows are given per output row and column: output (oh, ow) reads input rows
``row_start[oh], row_start[oh] + dilation_h, ... < row_end[oh]`` and likewise columns, so one
kernel serves max_pool2d (padding, dilation and ceil_mode already folded into the bounds) and
adaptive_max_pool2d, another avg_pool2d and adaptive_avg_pool2d. A window with no row or no
column is empty. Every kernel checks that the bounds of the non-empty windows lie inside the
plane, so no call reads or writes out of bounds. Arrays are C-contiguous; float32 or float64.
"""

from cython cimport floating
from libc.math cimport INFINITY
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from impl._kernels._arrays cimport floats
from impl._kernels._threads cimport tp_run

import numpy as np

from impl._kernels.parallel import threads as _threads


def _check_windows(name, start, end, Py_ssize_t size, Py_ssize_t n_out, Py_ssize_t step=1):
    if start.shape != (n_out,) or end.shape != (n_out,):
        raise ValueError(f"{name}: window bounds of shapes {start.shape} and {end.shape} do not "
                         f"match {n_out} outputs")
    if step < 1:
        raise ValueError(f"{name}: dilation must be positive, got {step}")
    cdef const int64_t[::1] lo = start
    cdef const int64_t[::1] hi = end
    cdef Py_ssize_t o
    for o in range(n_out):
        if lo[o] < hi[o] and (lo[o] < 0 or hi[o] > size):
            raise ValueError(f"{name}: a window reaches outside the input of size {size}")


def _check(name, planes, outs, row_start, row_end, col_start, col_end, dh=1, dw=1):
    """Shapes agree: ``planes`` (P, H, W) and every array of ``outs`` (P, OH, OW)."""
    if planes.ndim != 3:
        raise ValueError(f"{name}: expected (P, H, W) planes, got shape {planes.shape}")
    P, H, W = planes.shape
    for o in outs:
        if o.ndim != 3 or o.shape[0] != P or o.shape[1:] != outs[0].shape[1:]:
            raise ValueError(f"{name}: arrays of shapes {planes.shape} and {o.shape} do not "
                             "hold the same planes")
    _check_windows(name, row_start, row_end, H, outs[0].shape[1], dh)
    _check_windows(name, col_start, col_end, W, outs[0].shape[2], dw)


def _check_divisor(name, divisor, out):
    if divisor.shape != out.shape[1:]:
        raise ValueError(f"{name}: divisor of shape {divisor.shape}, expected {out.shape[1:]}")


# -- max ----------------------------------------------------------------------------------------

ctypedef struct _Pool:
    # One call on P planes: the input side (P, H, W) and the output side (P, OH, OW), both
    # C-contiguous (forward: x and out; backward: grad_in and grad_out); the windows (r0, r1,
    # c0, c1, dilation) or, for the average's backward, the windows holding each input row and
    # column; max's indices; avg's divisor (OH, OW).
    bint is_double
    char *plane
    char *out
    int64_t *idx
    const int64_t *r0
    const int64_t *r1
    const int64_t *c0
    const int64_t *c1
    const int64_t *row_offsets
    const int64_t *row_holders
    const int64_t *col_offsets
    const int64_t *col_holders
    const double *divisor
    Py_ssize_t H, W, OH, OW, dh, dw
    int failed  # a task could not allocate its scratch memory


cdef const int64_t *_ints(a) except? NULL:
    cdef const int64_t[::1] v = a
    return &v[0] if v.shape[0] else NULL


cdef int _setup(_Pool *a, plane, out, row_start, row_end, col_start, col_end, divisor,
                Py_ssize_t dh, Py_ssize_t dw, written) except -1:
    """Fill ``a`` (after _check): the float arrays must be C-contiguous of one dtype, float32
    or float64, the ``written`` ones writeable."""
    if plane.dtype != out.dtype or plane.dtype not in (np.float32, np.float64):
        raise ValueError(f"pooling: planes and outputs must be both float32 or both float64, "
                         f"got {plane.dtype} and {out.dtype}")
    for o in (plane, out):
        if not o.flags.c_contiguous:
            raise ValueError(f"pooling: arrays must be C-contiguous, got strides {o.strides}")
    for o in written:
        if not o.flags.writeable or not o.flags.c_contiguous:
            raise ValueError("pooling: an output array is read-only or not C-contiguous")
    a.is_double = plane.dtype.itemsize == 8
    a.plane, a.out = floats(plane), floats(out)
    a.H, a.W = plane.shape[1], plane.shape[2]
    a.OH, a.OW = out.shape[1], out.shape[2]
    a.dh, a.dw = dh, dw
    a.r0, a.r1, a.c0, a.c1 = _ints(row_start), _ints(row_end), _ints(col_start), _ints(col_end)
    cdef const double[:, ::1] div
    if divisor is not None:
        div = divisor
        a.divisor = &div[0, 0] if div.shape[0] * div.shape[1] else NULL
    a.failed = 0
    return 0


cdef void _run(void (*task)(void *, Py_ssize_t, Py_ssize_t) noexcept nogil, _Pool *a,
               Py_ssize_t planes, Py_ssize_t work) except *:
    cdef int k = _threads(planes, work)
    with nogil:
        tp_run(task, a, planes, k)
    if a.failed:
        raise MemoryError("pooling: out of memory for a kernel's scratch rows")


# -- max ----------------------------------------------------------------------------------------

def max_pool_forward(x, row_start, row_end, col_start, col_end, dilation_h, dilation_w, out,
                     indices):
    """out = the max of each window of ``x`` (P, H, W), ``indices`` (int64) = its flat index
    ih * W + iw in the plane, by torch's CPU rule: windows are scanned row by row, a value
    replaces the running max when it is larger or NaN (the first maximum wins a tie, the last
    NaN wins over everything), the running max starts at -inf with the index of the window's
    first element (an empty window gives -inf and that index, as torch)."""
    _check("max_pool_forward", x, (out, indices), row_start, row_end, col_start, col_end,
           dilation_h, dilation_w)
    cdef _Pool a
    _setup(&a, x, out, row_start, row_end, col_start, col_end, None, dilation_h, dilation_w,
           (out, indices))
    cdef int64_t[::1] idx = indices.reshape(-1)
    a.idx = &idx[0] if idx.shape[0] else NULL
    if out.size:
        _run(_max_forward_task, &a, x.shape[0], x.size + out.size)


cdef void _max_forward_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Pool *a = <_Pool *> ctx
    if a.is_double:
        _max_forward(a, <const double *> a.plane, <double *> a.out, begin, end)
    else:
        _max_forward(a, <const float *> a.plane, <float *> a.out, begin, end)


cdef inline void _max_forward(const _Pool *a, const floating *x, floating *out, Py_ssize_t begin,
                              Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t W = a.W, OH = a.OH, OW = a.OW, p, oh, ow, ih, iw, best, o
    cdef const floating *plane
    cdef const floating *row
    cdef floating v, m
    for p in range(begin, end):
        plane = x + p * a.H * W
        for oh in range(OH):
            for ow in range(OW):
                m = -INFINITY
                best = a.r0[oh] * W + a.c0[ow]
                ih = a.r0[oh]
                while ih < a.r1[oh]:
                    row = plane + ih * W
                    iw = a.c0[ow]
                    while iw < a.c1[ow]:
                        v = row[iw]
                        if v > m or v != v:
                            m = v
                            best = ih * W + iw
                        iw = iw + a.dw
                    ih = ih + a.dh
                o = (p * OH + oh) * OW + ow
                out[o] = m
                a.idx[o] = best


def max_pool_backward(grad_out, indices, row_start, row_end, col_start, col_end, grad_in):
    """grad_in (P, H, W) = the sum of ``grad_out`` over the outputs whose ``indices`` point at
    each element; empty windows pass nothing."""
    _check("max_pool_backward", grad_in, (grad_out, indices), row_start, row_end, col_start,
           col_end)
    cdef _Pool a
    _setup(&a, grad_in, grad_out, row_start, row_end, col_start, col_end, None, 1, 1,
           (grad_in,))
    cdef const int64_t[::1] idx = indices.reshape(-1)
    a.idx = <int64_t *> &idx[0] if idx.shape[0] else NULL
    if grad_in.size:
        _run(_max_backward_task, &a, grad_in.shape[0], grad_in.size + grad_out.size)


cdef void _max_backward_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Pool *a = <_Pool *> ctx
    if a.is_double:
        _max_backward(a, <const double *> a.out, <double *> a.plane, begin, end)
    else:
        _max_backward(a, <const float *> a.out, <float *> a.plane, begin, end)


cdef inline void _max_backward(const _Pool *a, const floating *g, floating *gi, Py_ssize_t begin,
                               Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t HW = a.H * a.W, OH = a.OH, OW = a.OW, p, oh, ow, k, o
    cdef floating *plane
    for p in range(begin, end):
        plane = gi + p * HW
        memset(plane, 0, HW * sizeof(floating))
        for oh in range(OH):
            if a.r0[oh] >= a.r1[oh]:
                continue
            for ow in range(OW):
                o = (p * OH + oh) * OW + ow
                k = a.idx[o]
                # indices come from max_pool_forward; the range check keeps any other in bounds
                if a.c0[ow] < a.c1[ow] and <size_t> k < <size_t> HW:
                    plane[k] += g[o]


# -- average ------------------------------------------------------------------------------------

def avg_pool_forward(x, row_start, row_end, col_start, col_end, divisor, out):
    """out = the sum of each window of ``x`` (P, H, W), accumulated in double, divided by
    ``divisor`` (OH, OW), float64 and nonzero (an empty window sums to 0)."""
    _check("avg_pool_forward", x, (out,), row_start, row_end, col_start, col_end)
    _check_divisor("avg_pool_forward", divisor, out)
    cdef _Pool a
    _setup(&a, x, out, row_start, row_end, col_start, col_end, divisor, 1, 1, (out,))
    if out.size:
        _run(_avg_forward_task, &a, x.shape[0], x.size + out.size)


cdef void _avg_forward_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Pool *a = <_Pool *> ctx
    cdef double *cols = <double *> malloc((a.W + 1) * sizeof(double))  # the range's column sums
    if cols == NULL:
        a.failed = 1
        return
    if a.is_double:
        _avg_forward(a, <const double *> a.plane, <double *> a.out, cols, begin, end)
    else:
        _avg_forward(a, <const float *> a.plane, <float *> a.out, cols, begin, end)
    free(cols)


cdef inline double _sum(const floating *a, Py_ssize_t n) noexcept nogil:
    # Eight partial sums break the dependency chain of one long sum.
    cdef double s[8]
    cdef Py_ssize_t i = 0, j
    for j in range(8):
        s[j] = 0.0
    while i + 8 <= n:
        for j in range(8):
            s[j] += a[i + j]
        i = i + 8
    while i < n:
        s[0] += a[i]
        i = i + 1
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))


cdef inline void _avg_forward(const _Pool *a, const floating *x, floating *out, double *cols,
                              Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    # Separably: the window's rows are summed column by column (a loop the compiler
    # vectorizes), then each window's columns of that sum. One window over the whole plane
    # (global average pooling) is one sum over the contiguous plane.
    cdef Py_ssize_t H = a.H, W = a.W, OH = a.OH, OW = a.OW, p, oh, ow, ih, iw
    cdef bint whole = OH == 1 and OW == 1 and a.r0[0] == 0 and a.r1[0] == H and a.c0[0] == 0 \
        and a.c1[0] == W
    cdef const floating *row
    for p in range(begin, end):
        if whole:
            out[p] = <floating> (_sum(x + p * H * W, H * W) / a.divisor[0])
            continue
        for oh in range(OH):
            for iw in range(W):
                cols[iw] = 0.0
            for ih in range(a.r0[oh], a.r1[oh]):
                row = x + (p * H + ih) * W
                for iw in range(W):
                    cols[iw] += row[iw]
            for ow in range(OW):
                out[(p * OH + oh) * OW + ow] = <floating> (
                    _sum(cols + a.c0[ow], a.c1[ow] - a.c0[ow]) / a.divisor[oh * OW + ow])


def avg_pool_backward(grad_out, row_start, row_end, col_start, col_end, divisor, grad_in):
    """grad_in (P, H, W) = the sum, over the windows holding each element, of the window's
    ``grad_out / divisor`` (rounded to the gradient's dtype, as torch)."""
    _check("avg_pool_backward", grad_in, (grad_out,), row_start, row_end, col_start, col_end)
    _check_divisor("avg_pool_backward", divisor, grad_out)
    cdef _Pool a
    _setup(&a, grad_in, grad_out, row_start, row_end, col_start, col_end, divisor, 1, 1,
           (grad_in,))
    row_offsets, row_holders = _holders(row_start, row_end, a.H)
    col_offsets, col_holders = _holders(col_start, col_end, a.W)
    a.row_offsets, a.row_holders = _ints(row_offsets), _ints(row_holders)
    a.col_offsets, a.col_holders = _ints(col_offsets), _ints(col_holders)
    if grad_in.size:
        _run(_avg_backward_task, &a, grad_in.shape[0], grad_in.size + grad_out.size)


def _holders(start, end, Py_ssize_t size):
    """The windows holding each position i, in increasing order: holders[offsets[i]:offsets[i +
    1]] (the windows lie inside [0, size), as _check_windows ensures)."""
    n = np.maximum(end - start, 0)
    window = np.repeat(np.arange(len(start), dtype=np.int64), n)
    position = np.repeat(start, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    offsets = np.zeros(size + 1, np.int64)
    np.cumsum(np.bincount(position, minlength=size), out=offsets[1:])
    return offsets, window[np.argsort(position, kind="stable")]


cdef void _avg_backward_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Pool *a = <_Pool *> ctx
    # The range's scratch: a spread row per output row, and one output row's shares.
    cdef double *scratch = <double *> malloc((a.OH * a.W + a.OW + 1) * sizeof(double))
    if scratch == NULL:
        a.failed = 1
        return
    if a.is_double:
        _avg_backward(a, <const double *> a.out, <double *> a.plane, <double *> scratch,
                      begin, end)
    else:
        _avg_backward(a, <const float *> a.out, <float *> a.plane, <float *> scratch, begin,
                      end)
    free(scratch)


cdef inline void _avg_backward(const _Pool *a, const floating *g, floating *gi,
                               floating *scratch, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    # Separably: each output row's shares (gradient / divisor) are spread over the columns —
    # column iw sums the shares of the windows holding it — then each input row is written
    # once, as the sum of the spread rows of the windows holding it.
    cdef Py_ssize_t H = a.H, W = a.W, OH = a.OH, OW = a.OW, p, oh, ow, ih, iw, j
    cdef floating *spread = scratch
    cdef floating *share = scratch + OH * W
    cdef floating *row
    cdef const floating *more
    cdef floating s
    for p in range(begin, end):
        for oh in range(OH):
            for ow in range(OW):
                share[ow] = <floating> (g[(p * OH + oh) * OW + ow] / a.divisor[oh * OW + ow])
            row = spread + oh * W
            for iw in range(W):
                s = 0
                for j in range(a.col_offsets[iw], a.col_offsets[iw + 1]):
                    s = s + share[a.col_holders[j]]
                row[iw] = s
        for ih in range(H):
            row = gi + (p * H + ih) * W
            if a.row_offsets[ih] == a.row_offsets[ih + 1]:
                memset(row, 0, W * sizeof(floating))
                continue
            memcpy(row, spread + a.row_holders[a.row_offsets[ih]] * W, W * sizeof(floating))
            for j in range(a.row_offsets[ih] + 1, a.row_offsets[ih + 1]):
                more = spread + a.row_holders[j] * W
                for iw in range(W):
                    row[iw] += more[iw]
