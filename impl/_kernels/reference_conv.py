"""NumPy references of the convolution kernels in ``_conv.pyx``: same signatures, same results."""

import numpy as np


def _taps(x, cols, kernel_size, stride, padding, dilation):
    """For each tap (i, j): its index, the image rows and columns it reads for every output row
    and column (clipped into the image), and which of those lie inside the image."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    H, W = x.shape[2:]
    Ho, Wo = cols.shape[2:]
    for i in range(kh):
        h = np.arange(Ho) * sh - ph + i * dh
        for j in range(kw):
            w = np.arange(Wo) * sw - pw + j * dw
            inside = ((h >= 0) & (h < H))[:, None] & ((w >= 0) & (w < W))[None, :]
            yield i * kw + j, np.clip(h, 0, H - 1), np.clip(w, 0, W - 1), inside


def im2col(x, cols, kernel_size, stride, padding, dilation, c0):
    """cols[(c * kh + i) * kw + j, n, ho, wo] = x[n, c0 + c, ho * sh - ph + i * dh,
    wo * sw - pw + j * dw], 0 outside the image."""
    taps = kernel_size[0] * kernel_size[1]
    cg = cols.shape[0] // taps
    view = cols.reshape((cg, taps) + cols.shape[1:])
    for tap, h, w, inside in _taps(x, cols, kernel_size, stride, padding, dilation):
        patch = x[:, c0:c0 + cg][:, :, h[:, None], w[None, :]]  # (N, Cg, Ho, Wo)
        view[:, tap] = np.where(inside, patch, 0).transpose(1, 0, 2, 3)


def col2im(cols, x, kernel_size, stride, padding, dilation, c0):
    """The adjoint of :func:`im2col`: x[n, c0 + c, h, w] = the sum of every column entry that
    im2col copies from there, summed tap by tap."""
    taps = kernel_size[0] * kernel_size[1]
    cg = cols.shape[0] // taps
    view = cols.reshape((cg, taps) + cols.shape[1:])
    acc = np.zeros((x.shape[0], cg) + x.shape[2:], x.dtype)
    for tap, h, w, inside in _taps(x, cols, kernel_size, stride, padding, dilation):
        # one tap reads each image pixel at most once: no index repeats within it
        ho, wo = np.nonzero(inside)
        acc[:, :, h[ho], w[wo]] += view[:, tap][:, :, ho, wo].transpose(1, 0, 2)
    x[:, c0:c0 + cg] = acc
