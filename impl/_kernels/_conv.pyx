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

from impl._kernels._threads cimport tp_run

import numpy as np

from impl._kernels.parallel import threads as _threads


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


ctypedef struct _Conv:
    # One im2col / col2im call: the image (N, C, H, W), of any strides (in elements) for
    # im2col, with contiguous planes apart from each other for col2im; the column array
    # (K, N, Ho, Wo), C-contiguous; the geometry; for each kernel column j, the output columns
    # runs[j] .. runs[j + 1] (of ``runs``, 2 per j) whose input column lies inside the image.
    bint is_double
    bint shifted  # im2col: a tap's block is the image plane shifted (see _im2col_shifted)
    char *x
    char *cols
    Py_ssize_t xs[4]
    Py_ssize_t N, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw, c0, cg
    Py_ssize_t *runs


cdef object _setup(_Conv *a, x, cols, kernel_size, stride, padding, dilation, c0, op):
    """Check the arrays and parameters (no loop below reads or writes out of bounds once they
    pass) and fill ``a``; return the array ``a.runs`` points into (keep it while ``a`` is used).
    """
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
    if op == "im2col" and not (cols.flags.writeable and cols.flags.c_contiguous):
        raise ValueError(f"{op}: the output array must be writeable and C-contiguous")
    if op == "col2im" and not (x.flags.writeable and _apart(x)):
        raise ValueError(f"{op}: the output array must be writeable, its (H, W) planes "
                         f"contiguous and apart from each other, got strides {x.strides}")
    a.kh, a.kw = kernel_size
    a.sh, a.sw = stride
    a.ph, a.pw = padding
    a.dh, a.dw = dilation
    a.c0, a.cg = c0, cg
    a.N, a.H, a.W = x.shape[0], x.shape[2], x.shape[3]
    a.Ho, a.Wo = cols.shape[2], cols.shape[3]
    # Explicit dispatch: Cython's generic fused-type dispatch costs tens of microseconds a call.
    a.is_double = x.dtype.itemsize == 8
    if a.is_double:
        _arrays[double](a, x, cols)
    else:
        _arrays[float](a, x, cols)
    runs = np.empty(2 * a.kw, np.intp)
    cdef Py_ssize_t[::1] r = runs
    cdef Py_ssize_t j, off
    for j in range(a.kw):
        off = j * a.dw - a.pw
        # 0 <= lo <= hi <= Wo, whatever the padding and dilation: the loops zero [0, lo) and
        # [hi, Wo) of a row and copy [lo, hi) (a tap can lie wholly in the padding, lo > Wo).
        r[2 * j] = min(_first(a.sw, off), a.Wo)
        r[2 * j + 1] = max(r[2 * j], _end(a.Wo, a.W, a.sw, off))
    a.runs = &r[0]
    a.shifted = (a.sh == 1 and a.sw == 1 and a.Wo == a.W and a.W < _LONG and a.xs[3] == 1
                 and (a.xs[2] == a.W or a.H == 1))
    return runs


def _apart(x):
    """Whether each (H, W) plane of ``x`` (N, C, H, W) is C-contiguous and no two overlap: x is
    C-contiguous, laid out (C, N, H, W), or a slice of the batch of either."""
    n, c, h, w = x.shape
    item = x.itemsize
    if x.size == 0:
        return True
    if (w > 1 and x.strides[3] != item) or (h > 1 and x.strides[2] != w * item):
        return False
    extent = h * w * item  # the bytes the planes so far span
    for stride, size in sorted((s, d) for s, d in zip(x.strides[:2], x.shape[:2]) if d > 1):
        if stride < extent:
            return False
        extent = stride * size
    return True


cdef void _arrays(_Conv *a, const floating[:, :, :, :] x, const floating[:, :, :, ::1] cols):
    # Base pointers (only address arithmetic on empty arrays: the loops touch no element then).
    a.x = <char *> &x[0, 0, 0, 0]
    a.cols = <char *> &cols[0, 0, 0, 0]
    for i in range(4):
        a.xs[i] = x.strides[i] // <Py_ssize_t> sizeof(floating)


def im2col(x, cols, kernel_size, stride, padding, dilation, c0):
    """cols[(c * kh + i) * kw + j, n, ho, wo] = x[n, c0 + c, ho * sh - ph + i * dh,
    wo * sw - pw + j * dw], 0 outside the image. ``x`` is (N, C, H, W) of any strides, ``cols``
    (Cg·kh·kw, N, Ho, Wo) C-contiguous, both float32 or both float64; ``padding`` is (top, left).
    """
    cdef _Conv a
    runs = _setup(&a, x, cols, kernel_size, stride, padding, dilation, c0, "im2col")
    cdef Py_ssize_t tasks = a.cg * a.N
    cdef int k = _threads(tasks, cols.size)
    if cols.size:
        with nogil:
            tp_run(_im2col_task, &a, tasks, k)


cdef void _im2col_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Conv *a = <_Conv *> ctx
    if a.is_double:
        _im2col(a, <const double *> a.x, <double *> a.cols, begin, end)
    else:
        _im2col(a, <const float *> a.x, <float *> a.cols, begin, end)


cdef inline void _im2col(const _Conv *a, const floating *x, floating *cols, Py_ssize_t begin,
                         Py_ssize_t end) noexcept nogil:
    # Tasks begin .. end of the (channel, image) pairs, channel-major (task = c·N + n): a task
    # reads one image plane and writes its block of each of the channel's kh·kw rows, next to
    # the previous task's blocks.
    cdef Py_ssize_t N = a.N, Ho = a.Ho, Wo = a.Wo, H = a.H, W = a.W, kh = a.kh, kw = a.kw
    cdef Py_ssize_t task, n, c, i, j, ho, wo, h, off, lo, hi
    cdef const floating *src
    cdef floating *dst
    for task in range(begin, end):
        c = task // N
        n = task - c * N
        if a.shifted:
            _im2col_shifted(a, x + n * a.xs[0] + (a.c0 + c) * a.xs[1], cols, c, n)
            continue
        for i in range(kh):
            for ho in range(Ho):
                h = ho * a.sh - a.ph + i * a.dh
                src = NULL
                if 0 <= h < H and W > 0:
                    src = x + n * a.xs[0] + (a.c0 + c) * a.xs[1] + h * a.xs[2]
                for j in range(kw):
                    dst = cols + ((((c * kh + i) * kw + j) * N + n) * Ho + ho) * Wo
                    if src == NULL:
                        _zero(dst, Wo)
                        continue
                    off = j * a.dw - a.pw
                    lo = a.runs[2 * j]
                    hi = a.runs[2 * j + 1]
                    _zero(dst, lo)
                    if a.sw == 1 and a.xs[3] == 1:
                        _copy(dst + lo, src + lo + off, hi - lo)
                    else:
                        for wo in range(lo, hi):
                            dst[wo] = src[(wo * a.sw + off) * a.xs[3]]
                    _zero(dst + hi, Wo - hi)


cdef inline void _im2col_shifted(const _Conv *a, const floating *plane, floating *cols,
                                 Py_ssize_t c, Py_ssize_t n) noexcept nogil:
    # Stride 1 and output rows as long as the image's, both contiguous (the usual 'same'
    # padding): the block of tap (i, j), Ho·W elements, is the plane shifted by
    # D = (i·dh - ph)·W + j·dw - pw, dst[k] = plane[k + D], but where the tap lies in the
    # padding. So one copy of the run of k whose source lies in the plane, then zeros over the
    # rows wholly in the padding and, in every other row, over the columns outside [lo, hi)
    # (which the copy filled from the neighbouring rows). Every position inside the image has
    # its source in the plane (in [k0, k1)), and every source read is in the plane. For short
    # rows only (W < _LONG): a copy per row costs more than its few elements.
    cdef Py_ssize_t Ho = a.Ho, H = a.H, W = a.W, i, j, ho, shift, lo, hi, top, bottom, D, k0, k1
    cdef Py_ssize_t k
    cdef floating *dst
    for i in range(a.kh):
        shift = i * a.dh - a.ph  # output row ho reads image row ho + shift
        top = min(max(0, -shift), Ho)  # the output rows top .. bottom read inside the image
        bottom = max(top, min(Ho, H - shift))
        for j in range(a.kw):
            dst = cols + (((c * a.kh + i) * a.kw + j) * a.N + n) * Ho * W
            lo = a.runs[2 * j]
            hi = a.runs[2 * j + 1]
            D = shift * W + j * a.dw - a.pw
            k0 = max(top * W, -D)
            k1 = min(bottom * W, H * W - D)
            _zero(dst, top * W)
            for k in range(k0, k1):
                dst[k] = plane[k + D]
            for ho in range(top, bottom):
                _zero(dst + ho * W, lo)
                _zero(dst + ho * W + hi, W - hi)
            _zero(dst + bottom * W, (Ho - bottom) * W)


def col2im(cols, x, kernel_size, stride, padding, dilation, c0):
    """The adjoint of :func:`im2col`: x[n, c0 + c, h, w] = the sum of every column entry that
    im2col copies from there (channels outside c0 .. c0 + Cg are left as they are). Each (H, W)
    plane of ``x`` is C-contiguous and apart from the others (x C-contiguous, laid out
    (C, N, H, W), or a slice of the batch of either); otherwise the arrays and parameters are
    im2col's.
    """
    cdef _Conv a
    runs = _setup(&a, x, cols, kernel_size, stride, padding, dilation, c0, "col2im")
    cdef Py_ssize_t tasks = a.cg * a.N
    cdef int k = _threads(tasks, cols.size)
    if tasks * a.H * a.W:
        with nogil:
            tp_run(_col2im_task, &a, tasks, k)


cdef void _col2im_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Conv *a = <_Conv *> ctx
    if a.is_double:
        _col2im(a, <const double *> a.cols, <double *> a.x, begin, end)
    else:
        _col2im(a, <const float *> a.cols, <float *> a.x, begin, end)


cdef inline void _col2im(const _Conv *a, const floating *cols, floating *x, Py_ssize_t begin,
                         Py_ssize_t end) noexcept nogil:
    # Tasks begin .. end of the image planes, channel-major (task = c·N + n) as in im2col. The
    # planes are independent, so ranges of them run in parallel without races.
    cdef Py_ssize_t N = a.N, Ho = a.Ho, Wo = a.Wo, H = a.H, W = a.W, kh = a.kh, kw = a.kw
    cdef Py_ssize_t task, n, c, i, j, ho, wo, h, off, lo, hi
    cdef const floating *src
    cdef floating *plane
    cdef floating *dst
    for task in range(begin, end):
        c = task // N
        n = task - c * N
        plane = x + n * a.xs[0] + (a.c0 + c) * a.xs[1]
        _zero(plane, H * W)
        for i in range(kh):
            for ho in range(Ho):
                h = ho * a.sh - a.ph + i * a.dh
                if h < 0 or h >= H:
                    continue
                dst = plane + h * W
                for j in range(kw):
                    src = cols + ((((c * kh + i) * kw + j) * N + n) * Ho + ho) * Wo
                    off = j * a.dw - a.pw
                    lo = a.runs[2 * j]
                    hi = a.runs[2 * j + 1]
                    if a.sw == 1:
                        for wo in range(lo, hi):
                            dst[wo + off] += src[wo]
                    else:
                        for wo in range(lo, hi):
                            dst[wo * a.sw + off] += src[wo]
