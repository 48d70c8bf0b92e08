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
from libc.string cimport memcpy, memset

import numpy as np

from impl._kernels.parallel import parallel as _parallel


def _check_windows(name, start, end, Py_ssize_t size, Py_ssize_t n_out, int step=1):
    if start.shape != (n_out,) or end.shape != (n_out,):
        raise ValueError(f"{name}: window bounds of shapes {start.shape} and {end.shape} do not "
                         f"match {n_out} outputs")
    if step < 1:
        raise ValueError(f"{name}: dilation must be positive, got {step}")
    full = start < end
    if np.any(full & ((start < 0) | (end > size))):
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

def max_pool_forward(x, row_start, row_end, col_start, col_end, dilation_h, dilation_w, out,
                     indices):
    """out = the max of each window of ``x`` (P, H, W), ``indices`` (int64) = its flat index
    ih * W + iw in the plane, by torch's CPU rule: windows are scanned row by row, a value
    replaces the running max when it is larger or NaN (the first maximum wins a tie, the last
    NaN wins over everything), the running max starts at -inf with the index of the window's
    first element (an empty window gives -inf and that index, as torch)."""
    _check("max_pool_forward", x, (out, indices), row_start, row_end, col_start, col_end,
           dilation_h, dilation_w)
    _parallel(_max_forward_range, x.shape[0], x.size + out.size, x, row_start, row_end,
             col_start, col_end, dilation_h, dilation_w, out, indices)


def _max_forward_range(x, r0, r1, c0, c1, dh, dw, out, idx, begin, end):
    # Explicit dispatch: Cython's generic fused-type dispatch costs tens of microseconds a call.
    if x.dtype.itemsize == 4:
        _max_forward[float](x, r0, r1, c0, c1, dh, dw, out, idx, begin, end)
    else:
        _max_forward[double](x, r0, r1, c0, c1, dh, dw, out, idx, begin, end)


cdef void _max_forward(const floating[:, :, ::1] x, const int64_t[::1] r0,
                       const int64_t[::1] r1, const int64_t[::1] c0, const int64_t[::1] c1,
                       Py_ssize_t dh, Py_ssize_t dw, floating[:, :, ::1] out,
                       int64_t[:, :, ::1] idx, Py_ssize_t begin, Py_ssize_t end):
    cdef Py_ssize_t W = x.shape[2], OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t p, oh, ow, ih, iw, best
    cdef const floating *plane
    cdef const floating *row
    cdef floating v, m
    with nogil:
        for p in range(begin, end):
            plane = &x[p, 0, 0]
            for oh in range(OH):
                for ow in range(OW):
                    m = -INFINITY
                    best = r0[oh] * W + c0[ow]
                    ih = r0[oh]
                    while ih < r1[oh]:
                        row = plane + ih * W
                        iw = c0[ow]
                        while iw < c1[ow]:
                            v = row[iw]
                            if v > m or v != v:
                                m = v
                                best = ih * W + iw
                            iw = iw + dw
                        ih = ih + dh
                    out[p, oh, ow] = m
                    idx[p, oh, ow] = best


def max_pool_backward(grad_out, indices, row_start, row_end, col_start, col_end, grad_in):
    """grad_in (P, H, W) = the sum of ``grad_out`` over the outputs whose ``indices`` point at
    each element; empty windows pass nothing."""
    _check("max_pool_backward", grad_in, (grad_out, indices), row_start, row_end, col_start,
           col_end)
    _parallel(_max_backward_range, grad_in.shape[0], grad_in.size + grad_out.size, grad_out,
             indices, row_start, row_end, col_start, col_end, grad_in)


def _max_backward_range(g, idx, r0, r1, c0, c1, gi, begin, end):
    if gi.dtype.itemsize == 4:
        _max_backward[float](g, idx, r0, r1, c0, c1, gi, begin, end)
    else:
        _max_backward[double](g, idx, r0, r1, c0, c1, gi, begin, end)


cdef void _max_backward(const floating[:, :, ::1] g, const int64_t[:, :, ::1] idx,
                        const int64_t[::1] r0, const int64_t[::1] r1, const int64_t[::1] c0,
                        const int64_t[::1] c1, floating[:, :, ::1] gi, Py_ssize_t begin,
                        Py_ssize_t end):
    cdef Py_ssize_t HW = gi.shape[1] * gi.shape[2]
    cdef Py_ssize_t OH = g.shape[1], OW = g.shape[2], p, oh, ow, k
    cdef floating *plane
    with nogil:
        for p in range(begin, end):
            plane = &gi[p, 0, 0]
            memset(plane, 0, HW * sizeof(floating))
            for oh in range(OH):
                if r0[oh] >= r1[oh]:
                    continue
                for ow in range(OW):
                    k = idx[p, oh, ow]
                    # indices come from max_pool_forward; the range check keeps any other in bounds
                    if c0[ow] < c1[ow] and <size_t> k < <size_t> HW:
                        plane[k] += g[p, oh, ow]


# -- average ------------------------------------------------------------------------------------

def avg_pool_forward(x, row_start, row_end, col_start, col_end, divisor, out):
    """out = the sum of each window of ``x`` (P, H, W), accumulated in double, divided by
    ``divisor`` (OH, OW), float64 and nonzero (an empty window sums to 0)."""
    _check("avg_pool_forward", x, (out,), row_start, row_end, col_start, col_end)
    _check_divisor("avg_pool_forward", divisor, out)
    _parallel(_avg_forward_range, x.shape[0], x.size + out.size, x, row_start, row_end,
             col_start, col_end, divisor, out)


def _avg_forward_range(x, r0, r1, c0, c1, divisor, out, begin, end):
    cols = np.empty(x.shape[2])  # this range's column sums
    if x.dtype.itemsize == 4:
        _avg_forward[float](x, r0, r1, c0, c1, divisor, out, cols, begin, end)
    else:
        _avg_forward[double](x, r0, r1, c0, c1, divisor, out, cols, begin, end)


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


cdef void _avg_forward(const floating[:, :, ::1] x, const int64_t[::1] r0,
                       const int64_t[::1] r1, const int64_t[::1] c0, const int64_t[::1] c1,
                       const double[:, ::1] divisor, floating[:, :, ::1] out,
                       double[::1] scratch, Py_ssize_t begin, Py_ssize_t end):
    # Separably: the window's rows are summed column by column (a loop the compiler
    # vectorizes), then each window's columns of that sum. One window over the whole plane
    # (global average pooling) is one sum over the contiguous plane.
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2], p, oh, ow, ih, iw
    cdef bint whole = OH == 1 and OW == 1 and r0[0] == 0 and r1[0] == H and c0[0] == 0 \
        and c1[0] == W
    cdef const floating *row
    cdef double *cols = &scratch[0] if W else NULL
    with nogil:
        for p in range(begin, end):
            if whole:
                out[p, 0, 0] = <floating> (_sum(&x[p, 0, 0], H * W) / divisor[0, 0])
                continue
            for oh in range(OH):
                for iw in range(W):
                    cols[iw] = 0.0
                for ih in range(r0[oh], r1[oh]):
                    row = &x[p, ih, 0]
                    for iw in range(W):
                        cols[iw] += row[iw]
                for ow in range(OW):
                    out[p, oh, ow] = <floating> (_sum(cols + c0[ow], c1[ow] - c0[ow]) /
                                                 divisor[oh, ow])


def avg_pool_backward(grad_out, row_start, row_end, col_start, col_end, divisor, grad_in):
    """grad_in (P, H, W) = the sum, over the windows holding each element, of the window's
    ``grad_out / divisor`` (rounded to the gradient's dtype, as torch)."""
    _check("avg_pool_backward", grad_in, (grad_out,), row_start, row_end, col_start, col_end)
    _check_divisor("avg_pool_backward", divisor, grad_out)
    P, H, W = grad_in.shape
    OH, OW = grad_out.shape[1:]
    row_offsets, row_holders = _holders(row_start, row_end, H)
    col_offsets, col_holders = _holders(col_start, col_end, W)
    _parallel(_avg_backward_range, P, grad_in.size + grad_out.size, grad_out, divisor,
             row_offsets, row_holders, col_offsets, col_holders, grad_in)


def _avg_backward_range(g, divisor, row_offsets, row_holders, col_offsets, col_holders, gi,
                        begin, end):
    spread = np.empty(g.shape[1:2] + gi.shape[2:], gi.dtype)  # this range's scratch rows
    share = np.empty(g.shape[2], gi.dtype)
    if gi.dtype.itemsize == 4:
        _avg_backward[float](g, divisor, row_offsets, row_holders, col_offsets, col_holders, gi,
                             spread, share, begin, end)
    else:
        _avg_backward[double](g, divisor, row_offsets, row_holders, col_offsets, col_holders,
                              gi, spread, share, begin, end)


def _holders(start, end, Py_ssize_t size):
    """The windows holding each position i, in increasing order: holders[offsets[i]:offsets[i +
    1]] (the windows lie inside [0, size), as _check_windows ensures)."""
    n = np.maximum(end - start, 0)
    window = np.repeat(np.arange(len(start), dtype=np.int64), n)
    position = np.repeat(start, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    offsets = np.zeros(size + 1, np.int64)
    np.cumsum(np.bincount(position, minlength=size), out=offsets[1:])
    return offsets, window[np.argsort(position, kind="stable")]


cdef void _avg_backward(const floating[:, :, ::1] g, const double[:, ::1] divisor,
                        const int64_t[::1] row_offsets, const int64_t[::1] row_holders,
                        const int64_t[::1] col_offsets, const int64_t[::1] col_holders,
                        floating[:, :, ::1] gi, floating[:, ::1] spreads,
                        floating[::1] shares, Py_ssize_t begin, Py_ssize_t end):
    # Separably: each output row's shares (gradient / divisor) are spread over the columns —
    # column iw sums the shares of the windows holding it — then each input row is written
    # once, as the sum of the spread rows of the windows holding it.
    cdef Py_ssize_t H = gi.shape[1], W = gi.shape[2]
    cdef Py_ssize_t OH = g.shape[1], OW = g.shape[2], p, oh, ow, ih, iw, j
    cdef floating *row
    cdef floating *spread = &spreads[0, 0] if OH * W else NULL
    cdef floating *share = &shares[0] if OW else NULL
    cdef const floating *more
    cdef floating s
    with nogil:
        for p in range(begin, end):
            for oh in range(OH):
                for ow in range(OW):
                    share[ow] = <floating> (g[p, oh, ow] / divisor[oh, ow])
                row = spread + oh * W
                for iw in range(W):
                    s = 0
                    for j in range(col_offsets[iw], col_offsets[iw + 1]):
                        s = s + share[col_holders[j]]
                    row[iw] = s
            for ih in range(H):
                row = &gi[p, ih, 0]
                if row_offsets[ih] == row_offsets[ih + 1]:
                    memset(row, 0, W * sizeof(floating))
                    continue
                memcpy(row, spread + row_holders[row_offsets[ih]] * W, W * sizeof(floating))
                for j in range(row_offsets[ih] + 1, row_offsets[ih + 1]):
                    more = spread + row_holders[j] * W
                    for iw in range(W):
                        row[iw] += more[iw]
