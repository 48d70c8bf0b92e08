"""NumPy references of the pooling kernels (impl/_kernels/_pool.pyx): same signatures, same
results (tested equal). Windows are given per output row and column as in the kernels."""

import numpy as np


def _taps(row_start, row_end, col_start, col_end, dilation_h, dilation_w, oh, ow, width):
    """Flat indices ih * W + iw of window (oh, ow), in scan order."""
    rows = np.arange(row_start[oh], row_end[oh], dilation_h)
    cols = np.arange(col_start[ow], col_end[ow], dilation_w)
    return (rows[:, None] * width + cols).ravel()


def max_pool_forward(x, row_start, row_end, col_start, col_end, dilation_h, dilation_w, out,
                     indices):
    """out = the max of each window of ``x`` (P, H, W), ``indices`` its flat index: the first
    maximum in scan order, the last NaN if any, the window's first element if all are -inf."""
    planes = x.reshape(x.shape[0], x.shape[1] * x.shape[2])
    for oh in range(out.shape[1]):
        for ow in range(out.shape[2]):
            taps = _taps(row_start, row_end, col_start, col_end, dilation_h, dilation_w, oh, ow,
                         x.shape[2])
            if taps.size == 0:
                out[:, oh, ow] = -np.inf
                indices[:, oh, ow] = row_start[oh] * x.shape[2] + col_start[ow]
                continue
            v = planes[:, taps]
            nan = np.isnan(v)
            last_nan = taps.size - 1 - np.argmax(nan[:, ::-1], axis=1)
            k = np.where(nan.any(axis=1), last_nan, np.argmax(v, axis=1))
            out[:, oh, ow] = v[np.arange(v.shape[0]), k]
            indices[:, oh, ow] = taps[k]


def max_pool_backward(grad_out, indices, row_start, row_end, col_start, col_end, grad_in):
    """grad_in = grad_out summed into the elements ``indices`` point at (not empty windows)."""
    planes = grad_in.reshape(grad_in.shape[0], grad_in.shape[1] * grad_in.shape[2])
    planes[:] = 0
    full = (row_start < row_end)[:, None] & (col_start < col_end)[None, :]
    for p in range(grad_in.shape[0]):
        np.add.at(planes[p], indices[p][full], grad_out[p][full])


def avg_pool_forward(x, row_start, row_end, col_start, col_end, divisor, out):
    """out = the sum of each window (in double) divided by ``divisor``."""
    for oh in range(out.shape[1]):
        for ow in range(out.shape[2]):
            window = x[:, row_start[oh]:row_end[oh], col_start[ow]:col_end[ow]]
            with np.errstate(invalid="ignore"):  # inf - inf is NaN, silently (IEEE, as torch)
                out[:, oh, ow] = window.sum(axis=(1, 2), dtype=np.float64) / divisor[oh, ow]


def avg_pool_backward(grad_out, row_start, row_end, col_start, col_end, divisor, grad_in):
    """grad_in = the sum over the windows holding each element of grad_out / divisor."""
    grad_in[:] = 0
    for oh in range(grad_out.shape[1]):
        for ow in range(grad_out.shape[2]):
            v = (grad_out[:, oh, ow] / divisor[oh, ow]).astype(grad_in.dtype)
            grad_in[:, row_start[oh]:row_end[oh], col_start[ow]:col_end[ow]] += v[:, None, None]
