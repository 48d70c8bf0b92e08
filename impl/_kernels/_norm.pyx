# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""Batch normalization's passes over an input viewed as (A, K, B): A batch rows, K channels and B
positions per row (H*W, L or 1), each row contiguous. The rows lie batch-major (the array is
C-contiguous) or channels-major (its (K, A, B) transpose is, as conv2d's output): every kernel
takes both, and all its (A, K, B) arrays in one of them. A row's sums and elements are the same
either way, so the results are the same bits.

Two kinds of pass. Per-channel sums (the statistics, the gradient sums) run in parallel over
channels. Per-element updates (normalize, input gradient) run in memory order — contiguous
chunks of rows in parallel — which streams through memory far faster than channel by channel,
where each row is a separate short stream. Per-element arithmetic is in the input's dtype, the
per-channel constants rounded to it once, as torch does: a float32 batch norm runs in float32.
Small inputs run on one thread (:func:`impl._kernels.parallel.threads`).
"""

from cython cimport floating
from libc.math cimport NAN, isfinite

from impl._kernels._arrays cimport floats
from impl._kernels._threads cimport tp_run

from impl._kernels.parallel import threads as _threads

# -- per-channel sums (a channel: A rows of B contiguous elements, ``row_step`` apart) --------

# Every sum is accumulated in double, each term too (float32 values are widened first), as
# torch's CPU kernels accumulate float in double: the mean of a channel whose values cancel (a
# mean near 0 beside a spread near 1) keeps float32's last bits, and so do the running mean and
# the weight gradient. Without -ffast-math no C compiler vectorizes a floating-point sum (it may
# not reorder the additions); OpenMP's ``simd reduction`` clause lets it, and Cython cannot write
# that pragma, hence these few lines of C.
cdef extern from *:
    """
    #define BN_ROW_SUMS(T, S)                                                             \\
    static inline double bn_sum_dev_##S(const T *x, Py_ssize_t n, double c, double *sq) {  \\
        double s = 0, q = 0;                                                            \\
        if (sq) {                                                                       \\
            _Pragma("omp simd reduction(+:s, q)")                                       \\
            for (Py_ssize_t i = 0; i < n; i++) {                                        \\
                double d = x[i] - c;                                                    \\
                s += d;                                                                 \\
                q += d * d;                                                             \\
            }                                                                           \\
            *sq += q;                                                                   \\
        } else {                                                                        \\
            _Pragma("omp simd reduction(+:s)")                                          \\
            for (Py_ssize_t i = 0; i < n; i++) s += x[i] - c;                            \\
        }                                                                               \\
        return s;                                                                       \\
    }                                                                                   \\
    static inline double bn_sum_grads_##S(const T *g, const T *x, Py_ssize_t n, double c, \\
                                          double *sg) {                                 \\
        double s = 0, t = 0;                                                            \\
        _Pragma("omp simd reduction(+:s, t)")                                           \\
        for (Py_ssize_t i = 0; i < n; i++) { t += g[i]; s += g[i] * (x[i] - c); }        \\
        *sg = t;                                                                        \\
        return s;                                                                       \\
    }
    BN_ROW_SUMS(float, f)
    BN_ROW_SUMS(double, d)
    """
    double _sum_dev_f "bn_sum_dev_f"(const float *x, Py_ssize_t n, double c,
                                     double *sq) noexcept nogil
    double _sum_dev_d "bn_sum_dev_d"(const double *x, Py_ssize_t n, double c,
                                     double *sq) noexcept nogil
    double _sum_grads_f "bn_sum_grads_f"(const float *g, const float *x, Py_ssize_t n, double c,
                                         double *sg) noexcept nogil
    double _sum_grads_d "bn_sum_grads_d"(const double *g, const double *x, Py_ssize_t n,
                                         double c, double *sg) noexcept nogil


cdef inline double _sum_dev(const floating *x, Py_ssize_t A, Py_ssize_t step, Py_ssize_t B,
                            double c, double *sq) noexcept nogil:
    """The sum of (x - c) over one channel; the sum of (x - c)**2 added to ``*sq`` unless it is
    NULL."""
    cdef double s = 0.0
    cdef Py_ssize_t a
    for a in range(A):
        if floating is float:
            s += _sum_dev_f(x + a * step, B, c, sq)
        else:
            s += _sum_dev_d(x + a * step, B, c, sq)
    return s


ctypedef struct _GradSums:
    double g  # sum of g
    double gx  # sum of g * (x - c)


cdef inline _GradSums _sum_grads(const floating *g, const floating *x, Py_ssize_t A,
                                 Py_ssize_t step, Py_ssize_t B, double c) noexcept nogil:
    """The sums of g and of g * (x - c) over one channel."""
    cdef _GradSums out
    cdef double sg
    cdef Py_ssize_t a
    out.g = 0.0
    out.gx = 0.0
    for a in range(A):
        if floating is float:
            out.gx += _sum_grads_f(g + a * step, x + a * step, B, c, &sg)
        else:
            out.gx += _sum_grads_d(g + a * step, x + a * step, B, c, &sg)
        out.g += sg
    return out


ctypedef struct _Norm:
    # One call: x, g and out (A, K, B), of one dtype and layout (g and out may be NULL);
    # per-channel float64 arrays of length K (NULL where the kernel has no use for them). The
    # first element of row (a, k) is a * row_step + k * channel_step elements in.
    bint is_double
    bint channels_major
    Py_ssize_t row_step, channel_step
    char *x
    char *g
    char *out
    Py_ssize_t A, K, B
    double *mean
    double *var
    double *c1
    double *c2
    double *c3


cdef int _setup(_Norm *a, name, x, g, out, mean, var, c1, c2, c3) except -1:
    """Check the shapes every kernel relies on (g and out of x's shape and dtype, per-channel
    float64 arrays of shape (K,); None for absent) and fill ``a``."""
    for o in (g, out):
        if o is not None and (o.shape != x.shape or o.dtype != x.dtype):
            raise ValueError(f"{name}: arrays of shape {o.shape} and {x.shape} (dtypes {o.dtype} "
                             f"and {x.dtype}) must match")
    for v in (mean, var, c1, c2, c3):
        if v is not None and v.shape != (x.shape[1],):
            raise ValueError(f"{name}: per-channel arrays must have shape ({x.shape[1]},), "
                             f"got {v.shape}")
    a.A, a.K, a.B = x.shape
    a.channels_major = not x.flags.c_contiguous
    for o in (x, g, out):
        if o is not None and not _laid_out(o, a.channels_major):
            raise ValueError(f"{name}: arrays must all be C-contiguous or all channels-major "
                             f"((K, A, B) C-contiguous), got shape {o.shape} and strides "
                             f"{o.strides}")
    a.row_step, a.channel_step = (a.B, a.A * a.B) if a.channels_major else (a.K * a.B, a.B)
    a.is_double = x.dtype.itemsize == 8
    a.x = _data(x, a.channels_major)
    a.g = _data(g, a.channels_major)
    a.out = _data(out, a.channels_major)
    a.mean, a.var = _per_channel(mean), _per_channel(var)
    a.c1, a.c2, a.c3 = _per_channel(c1), _per_channel(c2), _per_channel(c3)
    return 0


def _writeable(name, *outputs):
    for o in outputs:
        if not o.flags.writeable:
            raise ValueError(f"{name}: an output array is read-only")


def _laid_out(array, channels_major):
    return (array.transpose(1, 0, 2) if channels_major else array).flags.c_contiguous


cdef char *_data(array, bint channels_major) except? NULL:
    # The first element of a float array of the layout (NULL for None or no element).
    if array is None:
        return NULL
    return floats(array.transpose(1, 0, 2) if channels_major else array)


cdef double *_per_channel(v) except? NULL:
    if v is None:
        return NULL
    cdef const double[::1] view = v
    return <double *> &view[0] if view.shape[0] else NULL


def channel_stats(x, mean, var):
    """The mean and the biased variance of every channel k of ``x`` (A, K, B), over its A * B
    elements, into ``mean`` and ``var`` (NaN for a channel without elements).

    Two passes over each channel: the variance sums squared deviations from the mean, so a large
    mean costs no accuracy. ``x`` is float32 or float64 in either layout; ``mean`` and ``var``
    are float64 of shape (K,).
    """
    cdef _Norm a
    _setup(&a, "channel_stats", x, None, None, mean, var, None, None, None)
    _writeable("channel_stats", mean, var)
    if x.size == 0:
        mean[:] = NAN
        var[:] = NAN
    else:
        _run(_stats_task, &a, a.K, x.size)


cdef void _run(void (*task)(void *, Py_ssize_t, Py_ssize_t) noexcept nogil, _Norm *a,
               Py_ssize_t ntasks, Py_ssize_t work):
    cdef int k = _threads(ntasks, work)
    with nogil:
        tp_run(task, a, ntasks, k)


cdef void _stats_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Norm *a = <_Norm *> ctx
    if a.is_double:
        _stats(a, <const double *> a.x, begin, end)
    else:
        _stats(a, <const float *> a.x, begin, end)


cdef inline void _stats(const _Norm *a, const floating *x0, Py_ssize_t begin,
                        Py_ssize_t end) noexcept nogil:
    # Channels begin .. end.
    cdef Py_ssize_t A = a.A, B = a.B, step = a.row_step, k
    cdef const floating *xk
    cdef double n = A * B, m, pivot, s, q
    for k in range(begin, end):
        # The mean as the channel's first element plus the mean deviation from it: small terms
        # to sum, whatever the mean (an infinite first element would turn every term into NaN).
        xk = x0 + k * a.channel_step
        pivot = xk[0] if isfinite(xk[0]) else 0.0
        m = pivot + _sum_dev(xk, A, step, B, pivot, NULL) / n
        # The corrected two-pass algorithm: the deviations from m sum to n times m's rounding
        # error, which corrects the mean and the variance (not an infinite mean: its deviations
        # sum to NaN).
        q = 0.0
        s = _sum_dev(xk, A, step, B, m, &q)
        a.mean[k] = m + s / n if isfinite(s) else m
        a.var[k] = (q - s * s / n) / n


def channel_grad_sums(g, x, mean, sum_g, sum_gxc):
    """For the output gradient ``g`` of ``x`` (A, K, B), per channel k: sum_g[k] = the sum of g
    and sum_gxc[k] = the sum of g * (x - mean[k]), accumulated in double (0 for a channel
    without elements). ``g`` and ``x`` are float32 or float64 of one dtype and layout; the
    per-channel arrays are float64 of shape (K,).
    """
    cdef _Norm a
    _setup(&a, "channel_grad_sums", x, g, None, mean, sum_g, sum_gxc, None, None)
    _writeable("channel_grad_sums", sum_g, sum_gxc)
    if x.size == 0:
        sum_g[:] = 0.0
        sum_gxc[:] = 0.0
    else:
        _run(_grad_sums_task, &a, a.K, 2 * x.size)


cdef void _grad_sums_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    # sum_g and sum_gxc are in the ``var`` and ``c1`` slots.
    cdef _Norm *a = <_Norm *> ctx
    cdef Py_ssize_t k, at
    cdef _GradSums sums
    for k in range(begin, end):
        at = k * a.channel_step
        if a.is_double:
            sums = _sum_grads(<const double *> a.g + at, <const double *> a.x + at, a.A,
                              a.row_step, a.B, a.mean[k])
        else:
            sums = _sum_grads(<const float *> a.g + at, <const float *> a.x + at, a.A,
                              a.row_step, a.B, a.mean[k])
        a.var[k] = sums.g
        a.c1[k] = sums.gx


# -- per-element passes, in memory order ------------------------------------------------------

cdef void _rows_task(void *ctx, Py_ssize_t begin, Py_ssize_t end) noexcept nogil:
    cdef _Norm *a = <_Norm *> ctx
    if a.is_double:
        _rows(a, <const double *> a.g, <const double *> a.x, <double *> a.out, begin, end)
    else:
        _rows(a, <const float *> a.g, <const float *> a.x, <float *> a.out, begin, end)


cdef inline void _rows(const _Norm *a, const floating *g, const floating *x, floating *out,
                       Py_ssize_t r, Py_ssize_t r1) noexcept nogil:
    """out = (g + c3[k] + (x - mean[k]) * c2[k]) * c1[k] over the rows r .. r1 of B elements in
    memory order, row r in channel k = r % K (batch-major) or r // A (channels-major);
    (x - mean[k]) * c2[k] + c3[k] when ``g`` is NULL. The channel of the first row is found
    once and k steps along, every ``run`` rows."""
    cdef Py_ssize_t K = a.K, B = a.B, run = a.A if a.channels_major else 1, b
    cdef Py_ssize_t k = r // run % K, i = r % run
    cdef floating m, s1, s2, s3
    cdef const floating *xr
    cdef const floating *gr
    cdef floating *orow
    while r < r1:
        m = <floating> a.mean[k]
        s2 = <floating> a.c2[k]
        s3 = <floating> a.c3[k]
        xr = x + r * B
        orow = out + r * B
        if g != NULL:
            s1 = <floating> a.c1[k]
            gr = g + r * B
            for b in range(B):
                orow[b] = (gr[b] + s3 + (xr[b] - m) * s2) * s1
        else:
            for b in range(B):
                orow[b] = (xr[b] - m) * s2 + s3
        r = r + 1
        i = i + 1
        if i == run:
            i = 0
            k = k + 1
            if k == K:
                k = 0


def channel_affine(x, mean, scale, shift, out):
    """out[a, k, b] = (x[a, k, b] - mean[k]) * scale[k] + shift[k] for ``x`` (A, K, B): batch
    norm's normalization (the statistics folded into ``scale`` and ``shift``) and its input
    gradient in evaluation (mean and shift 0). ``x`` and ``out`` are float32 or float64 of one
    dtype and layout; ``mean``, ``scale``, ``shift`` are float64 of shape (K,).
    """
    cdef _Norm a
    _setup(&a, "channel_affine", x, None, out, mean, None, scale, scale, shift)
    _writeable("channel_affine", out)
    if x.size:
        _run(_rows_task, &a, a.A * a.K, x.size)


def channel_combine(g, x, mean, c1, c2, c3, out):
    """out[a, k, b] = (g[a, k, b] + c3[k] + (x[a, k, b] - mean[k]) * c2[k]) * c1[k] for ``g``
    and ``x`` (A, K, B): batch norm's input gradient in training, the terms summed before they
    are scaled (as torch's: an element where they cancel keeps its relative accuracy). ``g``,
    ``x`` and ``out`` are float32 or float64 of one dtype and layout; the per-channel arrays
    are float64 of shape (K,).
    """
    cdef _Norm a
    _setup(&a, "channel_combine", x, g, out, mean, None, c1, c2, c3)
    _writeable("channel_combine", out)
    if x.size:
        _run(_rows_task, &a, a.A * a.K, 2 * x.size)
