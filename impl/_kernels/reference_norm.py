"""NumPy references of the batch-norm kernels (impl/_kernels/_norm.pyx): same signatures, same
results up to rounding (tested equal)."""

import numpy as np


def _check(name, x, others, per_channel):
    for a in others:
        if a is not None and (a.shape != x.shape or a.dtype != x.dtype):
            raise ValueError(f"{name}: arrays of shape {a.shape} and {x.shape} (dtypes {a.dtype} "
                             f"and {x.dtype}) must match")
    for v in per_channel:
        if v.shape != (x.shape[1],):
            raise ValueError(f"{name}: per-channel arrays must have shape ({x.shape[1]},), "
                             f"got {v.shape}")


def _per_channel(v, dtype):
    """A per-channel float64 constant rounded to ``dtype``, shaped to broadcast over (A, K, B)."""
    return v.astype(dtype)[:, None]


def channel_stats(x, mean, var):
    """Per channel of ``x`` (A, K, B): the mean and the biased variance (squared deviations from
    the mean), in double; NaN for a channel without elements."""
    _check("channel_stats", x, (), (mean, var))
    n = x.shape[0] * x.shape[2]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean[:] = x.sum(axis=(0, 2), dtype=np.float64) / n
        var[:] = np.square(x - mean[:, None]).sum(axis=(0, 2)) / n


def channel_grad_sums(g, x, mean, sum_g, sum_gxc):
    """Per channel: sum_g = the sum of g, sum_gxc = the sum of g * (x - mean), in double."""
    _check("channel_grad_sums", x, (g,), (mean, sum_g, sum_gxc))
    sum_g[:] = g.sum(axis=(0, 2), dtype=np.float64)
    sum_gxc[:] = (g * (x - mean[:, None])).sum(axis=(0, 2))


def channel_affine(x, mean, scale, shift, out):
    """out[a, k, b] = (x[a, k, b] - mean[k]) * scale[k] + shift[k], in x's dtype."""
    _check("channel_affine", x, (out,), (mean, scale, shift))
    dt = x.dtype
    out[:] = (x - _per_channel(mean, dt)) * _per_channel(scale, dt) + _per_channel(shift, dt)


def channel_combine(g, x, mean, c1, c2, c3, out):
    """out[a, k, b] = (g[a, k, b] + c3[k] + (x[a, k, b] - mean[k]) * c2[k]) * c1[k], in x's
    dtype."""
    _check("channel_combine", x, (g, out), (mean, c1, c2, c3))
    dt = x.dtype
    out[:] = (g + _per_channel(c3, dt) + (x - _per_channel(mean, dt)) * _per_channel(c2, dt)) * \
        _per_channel(c1, dt)
