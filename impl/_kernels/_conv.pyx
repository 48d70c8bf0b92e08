# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""Convolution's data movement: im2col and its adjoint col2im. The products themselves are
BLAS GEMMs (NumPy's matmul).

im2col writes the column matrix of a convolution with one row per tap (c, i, j) — the order of
a weight (Cout, Cg, kh, kw) read as a (Cout, Cg·kh·kw) matrix — and one column per output pixel
(n, ho, wo), zeros where the tap lies in the padding. Along a row, consecutive output pixels
read consecutive input pixels of one image row (every ``sw``-th one), so a row is built from
runs of Wo copies. The wrappers check every shape and parameter, so the loops can run without
bounds checks; images of any strides are read as they are.
"""

from cython cimport floating
from libc.string cimport memcpy, memset

import numpy as np

from impl._kernels.parallel import parallel as _parallel


def _check(x, cols, kernel_size, stride, padding, dilation, c0, op):
    """Validate an (N, C, H, W) image and a (Cg·kh·kw, N, Ho, Wo) column array; return Cg."""
    for name, pair in (("kernel_size", kernel_size), ("stride", stride),
                       ("dilation", dilation)):
        if len(pair) != 2 or pair[0] < 1 or pair[1] < 1:
            raise ValueError(f"{op}: {name} must be two positive integers, got {pair}")
    if len(padding) != 2:
        raise ValueError(f"{op}: padding must be two integers, got {padding}")
    if x.ndim != 4 or cols.ndim != 4 or x.dtype != cols.dtype or x.shape[0] != cols.shape[1]:
        raise ValueError(f"{op}: expected (N, C, H, W) and (K, N, Ho, Wo) arrays of one dtype "
                         f"and batch, got {x.shape} {x.dtype} and {cols.shape} {cols.dtype}")
    taps = kernel_size[0] * kernel_size[1]
    cg = cols.shape[0] // taps
    if cols.shape[0] != taps * cg or c0 < 0 or c0 + cg > x.shape[1]:
        raise ValueError(f"{op}: {cols.shape[0]} rows are not {taps} taps of a channel range "
                         f"within the image's {x.shape[1]} channels starting at {c0}")
    return (kernel_size[0], kernel_size[1], stride[0], stride[1], padding[0], padding[1],
            dilation[0], dilation[1], c0)


# Rows shorter than this are copied and zeroed element by element: a libc call per row of a
# 4x4 image costs more than the copy (im2col of 512 channels at 4x4 was 4x slower with them).
cdef Py_ssize_t _LONG = 32


cdef inline void _zero(floating *dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if n >= _LONG:
        memset(dst, 0, n * sizeof(floating))
    else:
        for i in range(n):
            dst[i] = 0


cdef inline void _copy(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if n >= _LONG:
        memcpy(dst, src, n * sizeof(floating))
    else:
        for i in range(n):
            dst[i] = src[i]


cdef inline Py_ssize_t _first(Py_ssize_t s, Py_ssize_t offset) noexcept nogil:
    # The first output position o whose input position o * s + offset is >= 0.
    return 0 if offset >= 0 else (-offset + s - 1) // s


cdef inline Py_ssize_t _end(Py_ssize_t n_out, Py_ssize_t size, Py_ssize_t s,
                            Py_ssize_t offset) noexcept nogil:
    # One past the last output position o (< n_out) whose input position o * s + offset is
    # < size; the positions from _first to _end read inside the input (none if _end <= _first).
    cdef Py_ssize_t end = 0 if size - offset <= 0 else (size - offset + s - 1) // s
    return end if end < n_out else n_out


def _runs(Py_ssize_t kw, Py_ssize_t Wo, Py_ssize_t W, Py_ssize_t sw, Py_ssize_t pw,
          Py_ssize_t dw):
    """For each kernel column j: the output columns lo .. hi whose input column wo·sw - pw + j·dw
    lies inside the image (hi >= lo)."""
    runs = np.empty((kw, 2), np.intp)
    cdef Py_ssize_t j, off
    for j in range(kw):
        off = j * dw - pw
        runs[j, 0] = _first(sw, off)
        runs[j, 1] = max(runs[j, 0], _end(Wo, W, sw, off))
    return runs


def im2col(x, cols, kernel_size, stride, padding, dilation, c0):
    """cols[(c * kh + i) * kw + j, n, ho, wo] = x[n, c0 + c, ho * sh - ph + i * dh,
    wo * sw - pw + j * dw], 0 outside the image. ``x`` is (N, C, H, W) of any strides, ``cols``
    (Cg·kh·kw, N, Ho, Wo) C-contiguous, both float32 or both float64; ``padding`` is (top, left).
    """
    args = _check(x, cols, kernel_size, stride, padding, dilation, c0, "im2col")
    if cols.size:
        _parallel(_im2col_range, cols.shape[0] // (args[0] * args[1]) * cols.shape[1],
                  cols.size, x, cols, args)


def _im2col_range(x, cols, args, begin, end):
    # Explicit dispatch: Cython's generic fused-type dispatch costs tens of microseconds a call.
    if x.dtype.itemsize == 4:
        _im2col[float](x, cols, *args, begin, end)
    else:
        _im2col[double](x, cols, *args, begin, end)


cdef _im2col(const floating[:, :, :, :] x, floating[:, :, :, ::1] cols, Py_ssize_t kh,
             Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
             Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t c0, Py_ssize_t begin, Py_ssize_t end):
    # Tasks begin .. end of the (channel, image) pairs, channel-major (task = c·N + n): a task
    # reads one image plane and writes its block of each of the channel's kh·kw rows, next to
    # the previous task's blocks.
    cdef Py_ssize_t N = cols.shape[1], Ho = cols.shape[2], Wo = cols.shape[3]
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t xs = x.strides[3] // <Py_ssize_t> sizeof(floating)
    cdef Py_ssize_t[:, ::1] runs = _runs(kw, Wo, W, sw, pw, dw)
    cdef Py_ssize_t task, n, c, i, j, ho, wo, h, off, lo, hi
    cdef const floating *src
    cdef floating *dst
    with nogil:
        for task in range(begin, end):
            c = task // N
            n = task - c * N
            for i in range(kh):
                for ho in range(Ho):
                    h = ho * sh - ph + i * dh
                    src = &x[n, c0 + c, h, 0] if 0 <= h < H and W > 0 else NULL
                    for j in range(kw):
                        dst = &cols[(c * kh + i) * kw + j, n, ho, 0]
                        if src == NULL:
                            _zero(dst, Wo)
                            continue
                        off = j * dw - pw
                        lo = runs[j, 0]
                        hi = runs[j, 1]
                        _zero(dst, lo)
                        if sw == 1 and xs == 1:
                            _copy(dst + lo, src + lo + off, hi - lo)
                        else:
                            for wo in range(lo, hi):
                                dst[wo] = src[(wo * sw + off) * xs]
                        _zero(dst + hi, Wo - hi)


def col2im(cols, x, kernel_size, stride, padding, dilation, c0):
    """The adjoint of :func:`im2col`: x[n, c0 + c, h, w] = the sum of every column entry that
    im2col copies from there (channels outside c0 .. c0 + Cg are left as they are). ``x`` is
    C-contiguous here; otherwise the arrays and parameters are im2col's.
    """
    args = _check(x, cols, kernel_size, stride, padding, dilation, c0, "col2im")
    cg = cols.shape[0] // (kernel_size[0] * kernel_size[1])
    if x.shape[0] * cg * x.shape[2] * x.shape[3]:
        _parallel(_col2im_range, cg * x.shape[0], cols.size, cols, x, args)


def _col2im_range(cols, x, args, begin, end):
    if x.dtype.itemsize == 4:
        _col2im[float](cols, x, *args, begin, end)
    else:
        _col2im[double](cols, x, *args, begin, end)


cdef _col2im(const floating[:, :, :, ::1] cols, floating[:, :, :, ::1] x, Py_ssize_t kh,
             Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
             Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t c0, Py_ssize_t begin, Py_ssize_t end):
    # Tasks begin .. end of the image planes, channel-major (task = c·N + n) as in im2col. The
    # planes are independent, so ranges of them run in parallel without races.
    cdef Py_ssize_t N = cols.shape[1], Ho = cols.shape[2], Wo = cols.shape[3]
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t[:, ::1] runs = _runs(kw, Wo, W, sw, pw, dw)
    cdef Py_ssize_t task, n, c, i, j, ho, wo, h, off, lo, hi
    cdef const floating *src
    cdef floating *dst
    with nogil:
        for task in range(begin, end):
            c = task // N
            n = task - c * N
            _zero(&x[n, c0 + c, 0, 0], H * W)
            for i in range(kh):
                for ho in range(Ho):
                    h = ho * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    dst = &x[n, c0 + c, h, 0]
                    for j in range(kw):
                        src = &cols[(c * kh + i) * kw + j, n, ho, 0]
                        off = j * dw - pw
                        lo = runs[j, 0]
                        hi = runs[j, 1]
                        if sw == 1:
                            for wo in range(lo, hi):
                                dst[wo + off] += src[wo]
                        else:
                            for wo in range(lo, hi):
                                dst[wo * sw + off] += src[wo]
