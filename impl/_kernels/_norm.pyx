# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""Batch normalization's passes over an input viewed as (A, K, B): A batch rows, K channels and B
positions per row (H*W, L or 1), C-contiguous.

Two kinds of pass. Per-channel sums (the statistics, the gradient sums) run in parallel over
channels. Per-element updates (normalize, input gradient) run in memory order — contiguous
chunks of rows in parallel — which streams through memory far faster than channel by channel,
where each row is a separate short stream. Per-element arithmetic is in the input's dtype, the
per-channel constants rounded to it once, as torch does: a float32 batch norm runs in float32.
Small inputs run on one thread (:func:`impl._kernels.parallel.parallel`).
"""

from cython cimport floating
from libc.math cimport NAN, isfinite

from impl._kernels.parallel import parallel as _parallel

cdef Py_ssize_t _BLOCK = 256  # elements summed in the input's dtype before going into double


# -- per-channel sums (a channel: A rows of B contiguous elements, K * B apart) ----------------

# A channel's sums add up blocks of at most _BLOCK contiguous elements in double; a block is
# summed in the input's dtype, in SIMD lanes. Without -ffast-math no C compiler vectorizes a
# floating-point sum (it may not reorder the additions); OpenMP's ``simd reduction`` clause lets
# it, and Cython cannot write that pragma, hence these few lines of C. A float32 block of at most
# 256 terms loses no more than a few float32 roundings, and the double sum of the blocks keeps the
# error independent of the channel's length.
cdef extern from *:
    """
    #define BN_BLOCK_SUMS(T, S)                                                           \\
    static inline T bn_sum_dev_##S(const T *x, Py_ssize_t n, T c, int square) {        \\
        T s = 0;                                                                        \\
        if (square) {                                                                   \\
            _Pragma("omp simd reduction(+:s)")                                          \\
            for (Py_ssize_t i = 0; i < n; i++) s += (x[i] - c) * (x[i] - c);             \\
        } else {                                                                        \\
            _Pragma("omp simd reduction(+:s)")                                          \\
            for (Py_ssize_t i = 0; i < n; i++) s += x[i] - c;                            \\
        }                                                                               \\
        return s;                                                                       \\
    }                                                                                   \\
    static inline T bn_sum_grads_##S(const T *g, const T *x, Py_ssize_t n, T c, T *sg) { \\
        T s = 0, t = 0;                                                                 \\
        _Pragma("omp simd reduction(+:s, t)")                                           \\
        for (Py_ssize_t i = 0; i < n; i++) { t += g[i]; s += g[i] * (x[i] - c); }        \\
        *sg = t;                                                                        \\
        return s;                                                                       \\
    }
    BN_BLOCK_SUMS(float, f)
    BN_BLOCK_SUMS(double, d)
    """
    float _sum_dev_f "bn_sum_dev_f"(const float *x, Py_ssize_t n, float c,
                                    int square) noexcept nogil
    double _sum_dev_d "bn_sum_dev_d"(const double *x, Py_ssize_t n, double c,
                                     int square) noexcept nogil
    float _sum_grads_f "bn_sum_grads_f"(const float *g, const float *x, Py_ssize_t n, float c,
                                        float *sg) noexcept nogil
    double _sum_grads_d "bn_sum_grads_d"(const double *g, const double *x, Py_ssize_t n,
                                         double c, double *sg) noexcept nogil


cdef inline double _sum_dev(const floating *x, Py_ssize_t A, Py_ssize_t step, Py_ssize_t B,
                            double c, bint square) noexcept nogil:
    """The sum of (x - c), or of (x - c)**2 with ``square``, over one channel, in double."""
    cdef double s = 0.0
    cdef Py_ssize_t a, b, n
    cdef const floating *xr
    for a in range(A):
        xr = x + a * step
        b = 0
        while b < B:
            n = min(_BLOCK, B - b)
            if floating is float:
                s += _sum_dev_f(xr + b, n, <float> c, square)
            else:
                s += _sum_dev_d(xr + b, n, c, square)
            b += n
    return s


ctypedef struct _GradSums:
    double g  # sum of g
    double gx  # sum of g * (x - c)


cdef inline _GradSums _sum_grads(const floating *g, const floating *x, Py_ssize_t A,
                                 Py_ssize_t step, Py_ssize_t B, double c) noexcept nogil:
    """The sums of g and of g * (x - c) over one channel, in double."""
    cdef _GradSums out
    cdef floating sg
    cdef Py_ssize_t a, b, n
    out.g = 0.0
    out.gx = 0.0
    for a in range(A):
        b = a * step
        while b < a * step + B:
            n = min(_BLOCK, a * step + B - b)
            if floating is float:
                out.gx += _sum_grads_f(g + b, x + b, n, <float> c, &sg)
            else:
                out.gx += _sum_grads_d(g + b, x + b, n, c, &sg)
            out.g += sg
            b += n
    return out


def _check(name, x, others, per_channel):
    """The shapes every kernel relies on: the other arrays of x's shape and dtype (None: absent),
    per-channel arrays of shape (K,)."""
    for a in others:
        if a is not None and (a.shape != x.shape or a.dtype != x.dtype):
            raise ValueError(f"{name}: arrays of shape {a.shape} and {x.shape} (dtypes {a.dtype} "
                             f"and {x.dtype}) must match")
    for v in per_channel:
        if v.shape != (x.shape[1],):
            raise ValueError(f"{name}: per-channel arrays must have shape ({x.shape[1]},), "
                             f"got {v.shape}")


def channel_stats(x, mean, var):
    """The mean and the biased variance of every channel k of ``x`` (A, K, B), over its A * B
    elements, into ``mean`` and ``var`` (NaN for a channel without elements).

    Two passes over each channel: the variance sums squared deviations from the mean, so a large
    mean costs no accuracy. ``x`` is C-contiguous float32 or float64; ``mean`` and ``var`` are
    float64 of shape (K,).
    """
    _check("channel_stats", x, (), (mean, var))
    if x.size == 0:
        mean[:] = NAN
        var[:] = NAN
    else:
        _parallel(_stats_range, x.shape[1], x.size, x, mean, var)


def _stats_range(x, mean, var, begin, end):
    # Explicit dispatch: Cython's generic fused-type dispatch costs tens of microseconds a call.
    if x.dtype.itemsize == 4:
        _stats[float](x, mean, var, begin, end)
    else:
        _stats[double](x, mean, var, begin, end)


cdef _stats(const floating[:, :, ::1] x, double[::1] mean, double[::1] var, Py_ssize_t begin,
            Py_ssize_t end):
    cdef Py_ssize_t A = x.shape[0], K = x.shape[1], B = x.shape[2], k
    cdef double n = A * B, m, pivot
    cdef const floating *x0 = &x[0, 0, 0]
    with nogil:
        for k in range(begin, end):
            # The mean as the channel's first element plus the mean deviation from it: small
            # terms to sum, whatever the mean (an infinite first element would turn every term
            # into NaN).
            pivot = x0[k * B] if isfinite(x0[k * B]) else 0.0
            m = pivot + _sum_dev(x0 + k * B, A, K * B, B, pivot, False) / n
            mean[k] = m
            var[k] = _sum_dev(x0 + k * B, A, K * B, B, m, True) / n


def channel_grad_sums(g, x, mean, sum_g, sum_gxc):
    """For the output gradient ``g`` of ``x`` (A, K, B), per channel k: sum_g[k] = the sum of g
    and sum_gxc[k] = the sum of g * (x - mean[k]), accumulated in double (0 for a channel
    without elements). ``g`` and ``x`` are C-contiguous float32 or float64 of one dtype; the
    per-channel arrays are float64 of shape (K,).
    """
    _check("channel_grad_sums", x, (g,), (mean, sum_g, sum_gxc))
    if x.size == 0:
        sum_g[:] = 0.0
        sum_gxc[:] = 0.0
    else:
        _parallel(_grad_sums_range, x.shape[1], 2 * x.size, g, x, mean, sum_g, sum_gxc)


def _grad_sums_range(g, x, mean, sum_g, sum_gxc, begin, end):
    if x.dtype.itemsize == 4:
        _grad_sums[float](g, x, mean, sum_g, sum_gxc, begin, end)
    else:
        _grad_sums[double](g, x, mean, sum_g, sum_gxc, begin, end)


cdef _grad_sums(const floating[:, :, ::1] g, const floating[:, :, ::1] x,
                const double[::1] mean, double[::1] sum_g, double[::1] sum_gxc,
                Py_ssize_t begin, Py_ssize_t end):
    cdef Py_ssize_t A = x.shape[0], K = x.shape[1], B = x.shape[2], k
    cdef _GradSums sums
    cdef const floating *x0 = &x[0, 0, 0]
    cdef const floating *g0 = &g[0, 0, 0]
    with nogil:
        for k in range(begin, end):
            sums = _sum_grads(g0 + k * B, x0 + k * B, A, K * B, B, mean[k])
            sum_g[k] = sums.g
            sum_gxc[k] = sums.gx


# -- per-element passes, in memory order ------------------------------------------------------

cdef void _rows(const floating *g, const floating *x, floating *out, Py_ssize_t K,
                Py_ssize_t B, const double *mean, const double *c1, const double *c2,
                const double *c3, Py_ssize_t r, Py_ssize_t r1) noexcept nogil:
    """out = g * c1[k] + (x - mean[k]) * c2[k] + c3[k] over rows r .. r1 of B elements, row r in
    channel k = r % K; without the g term when ``g`` is NULL. The channel of the first row is
    found once and k steps along."""
    cdef Py_ssize_t k = r % K, b
    cdef floating m, s1, s2, s3
    cdef const floating *xr
    cdef const floating *gr
    cdef floating *orow
    while r < r1:
        m = <floating> mean[k]
        s2 = <floating> c2[k]
        s3 = <floating> c3[k]
        xr = x + r * B
        orow = out + r * B
        if g != NULL:
            s1 = <floating> c1[k]
            gr = g + r * B
            for b in range(B):
                orow[b] = gr[b] * s1 + (xr[b] - m) * s2 + s3
        else:
            for b in range(B):
                orow[b] = (xr[b] - m) * s2 + s3
        r = r + 1
        k = k + 1
        if k == K:
            k = 0


def channel_affine(x, mean, scale, shift, out):
    """out[a, k, b] = (x[a, k, b] - mean[k]) * scale[k] + shift[k] for ``x`` (A, K, B): batch
    norm's normalization (the statistics folded into ``scale`` and ``shift``) and its input
    gradient in evaluation (mean and shift 0). ``x`` and ``out`` are C-contiguous float32 or
    float64 of one dtype; ``mean``, ``scale``, ``shift`` are float64 of shape (K,).
    """
    _check("channel_affine", x, (out,), (mean, scale, shift))
    _parallel(_affine_range, x.shape[0] * x.shape[1], x.size, x, mean, scale, shift, out)


def _affine_range(x, mean, scale, shift, out, begin, end):
    if x.dtype.itemsize == 4:
        _affine[float](x, mean, scale, shift, out, begin, end)
    else:
        _affine[double](x, mean, scale, shift, out, begin, end)


cdef _affine(const floating[:, :, ::1] x, const double[::1] mean, const double[::1] scale,
             const double[::1] shift, floating[:, :, ::1] out, Py_ssize_t begin,
             Py_ssize_t end):
    # Rows begin .. end of the A·K rows.
    if begin < end and x.shape[2]:  # (A, K, 0) has no element to point at
        with nogil:
            _rows(<const floating *> NULL, &x[0, 0, 0], &out[0, 0, 0], x.shape[1], x.shape[2],
                  &mean[0], &scale[0], &scale[0], &shift[0], begin, end)


def channel_combine(g, x, mean, c1, c2, c3, out):
    """out[a, k, b] = g[a, k, b] * c1[k] + (x[a, k, b] - mean[k]) * c2[k] + c3[k] for ``g`` and
    ``x`` (A, K, B): batch norm's input gradient in training. ``g``, ``x`` and ``out`` are
    C-contiguous float32 or float64 of one dtype; the per-channel arrays are float64 of shape
    (K,).
    """
    _check("channel_combine", x, (g, out), (mean, c1, c2, c3))
    _parallel(_combine_range, x.shape[0] * x.shape[1], 2 * x.size, g, x, mean, c1, c2, c3, out)


def _combine_range(g, x, mean, c1, c2, c3, out, begin, end):
    if x.dtype.itemsize == 4:
        _combine[float](g, x, mean, c1, c2, c3, out, begin, end)
    else:
        _combine[double](g, x, mean, c1, c2, c3, out, begin, end)


cdef _combine(const floating[:, :, ::1] g, const floating[:, :, ::1] x, const double[::1] mean,
              const double[::1] c1, const double[::1] c2, const double[::1] c3,
              floating[:, :, ::1] out, Py_ssize_t begin, Py_ssize_t end):
    if begin < end and x.shape[2]:  # (A, K, 0) has no element to point at
        with nogil:
            _rows(&g[0, 0, 0], &x[0, 0, 0], &out[0, 0, 0], x.shape[1], x.shape[2], &mean[0],
                  &c1[0], &c2[0], &c3[0], begin, end)
