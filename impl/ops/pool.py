"""Pooling over the two trailing (spatial) dims of (N, C, H, W) or (C, H, W) inputs: max_pool2d,
avg_pool2d, adaptive_avg_pool2d and adaptive_max_pool2d, as in torch.nn.functional.

Each call works out its windows once: for every output row (column), the range of input rows
(columns) it reads. Padding, dilation and ceil_mode only shape those ranges — padding is never
materialized; for max pooling it counts as -inf, for average pooling as 0 (counted in the divisor
when ``count_include_pad``). Two primitives then run the compiled kernels over the N·C planes:
:class:`MaxPool2d` (fixed and adaptive max) and :class:`AvgPool2d` (fixed and adaptive average).
The planes are taken in the order they lie in memory: an input laid out (C, N, H, W), as
conv2d's output, is read where it lies, and the output and the input gradient take its layout.

Conventions are torch's CPU ones. A window's max is its first maximum in row-major scan order,
and that element alone gets the gradient; a NaN is larger than everything and the last NaN wins;
``indices`` are flat positions ih * W + iw in each plane. Output sizes follow torch's formula,
including ceil_mode's rule that drops a last window starting in the right padding.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from impl._kernels import _pool as kernels
from impl._kernels import channels_major, empty
from impl.function import Function
from impl.ops._args import check_tensor, is_int
from impl.tensor import Tensor

__all__ = []

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Windows(NamedTuple):
    """Output (oh, ow) reads input rows row_start[oh] <= ih < row_end[oh] (every ``dilation``-th)
    and likewise columns; int64 arrays, inside the plane, as the kernels take them."""

    row_start: np.ndarray
    row_end: np.ndarray
    col_start: np.ndarray
    col_end: np.ndarray


def _swapped(a):
    """Whether to take the planes of ``a`` (…, H, W) in (C, N) order: ``a`` is (N, C, H, W)
    laid out (C, N, H, W)."""
    return a.ndim == 4 and channels_major(a)


def _planes(a, swapped=False):
    """``a`` (…, H, W) as C-contiguous (P, H, W) planes, in (C, N) order if ``swapped`` (a copy
    only when needed)."""
    return np.ascontiguousarray(a.swapaxes(0, 1) if swapped else a).reshape(
        (math.prod(a.shape[:-2]),) + a.shape[-2:])


def _check_grad(g, op):
    """torch's pooling backward refuses an empty output plane (adaptive pooling to size 0)."""
    if 0 in g.shape[-2:]:
        raise RuntimeError(f"{op}_backward(): Expected grad_output to have non-zero size for "
                           f"non-batch dimensions, but grad_output has sizes {list(g.shape)} "
                           f"with dimension {g.shape.index(0, g.ndim - 2)} being empty")


class MaxPool2d(Function):
    """The max of each window; the gradient goes to the element ``indices`` point at."""

    def forward(self, x, windows, dilation, indices, swapped, op):
        # ``indices`` (…, OH, OW) int64, laid out as x (``swapped``), is filled here: the argmax
        # of each window, kept for the backward and returned by return_indices.
        out = empty(indices.shape, x.dtype, swapped)
        kernels.max_pool_forward(_planes(x, swapped), *windows, *dilation,
                                 _planes(out, swapped), _planes(indices, swapped))
        self.save(indices)
        self.windows, self.input_shape, self.swapped, self.op = windows, x.shape, swapped, op
        return out

    def backward(self, g):
        _check_grad(g, self.op)
        (indices,) = self.saved
        gi = empty(self.input_shape, g.dtype, self.swapped)
        kernels.max_pool_backward(_planes(g, self.swapped), _planes(indices, self.swapped),
                                  *self.windows, _planes(gi, self.swapped))
        return gi


class AvgPool2d(Function):
    """The sum of each window divided by ``divisor`` (OH, OW); the backward spreads each output's
    gradient / divisor over its window."""

    def forward(self, x, windows, divisor, op):
        self.swapped = _swapped(x)
        out = empty(x.shape[:-2] + divisor.shape, x.dtype, self.swapped)
        kernels.avg_pool_forward(_planes(x, self.swapped), *windows, divisor,
                                 _planes(out, self.swapped))
        self.windows, self.divisor, self.input_shape = windows, divisor, x.shape
        self.op = op
        self.whole_plane = divisor.shape == (1, 1) and \
            [int(b[0]) for b in windows] == [0, x.shape[-2], 0, x.shape[-1]]
        return out

    def backward(self, g):
        _check_grad(g, self.op)
        if self.whole_plane:  # the global average pool: each element gets g / divisor, a view
            return np.broadcast_to(g / float(self.divisor[0, 0]), self.input_shape)
        gi = empty(self.input_shape, g.dtype, self.swapped)
        kernels.avg_pool_backward(_planes(g, self.swapped), *self.windows, self.divisor,
                                  _planes(gi, self.swapped))
        return gi


# -- arguments ------------------------------------------------------------------------------------


def _pool_input(input, op):
    check_tensor(input, op)
    if input.dtype not in _KERNEL_DTYPES:
        raise NotImplementedError(f"{op}: not implemented for dtype {input.dtype} (argument "
                                  "'input' must be a float32 or float64 tensor)")
    return input


def _pair(value, op, name, what="a single int, or a tuple of two ints"):
    """An int or a sequence of one or two ints as (h, w), with torch's errors."""
    if is_int(value):
        return int(value), int(value)
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not "
                        f"{type(value).__name__}")
    for i, v in enumerate(value):
        if not is_int(v):
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found "
                            f"element of type {type(v).__name__} at pos {i}")
    if len(value) not in (1, 2):
        raise RuntimeError(f"{op}: {name} must be {what}, got {tuple(value)}")
    return (int(value[0]),) * 2 if len(value) == 1 else (int(value[0]), int(value[1]))


def _check_bool(value, op, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}(): argument '{name}' must be bool, not {type(value).__name__}")


def _check_rank(input, op):
    """(N, C, H, W) or (C, H, W) with no empty dim but the batch (as torch)."""
    shape = input.shape
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: non-empty 3D or 4D (batch mode) tensor expected for input, "
                           f"got a tensor of shape {shape}")
    if 0 in shape[input.ndim - 3:]:
        raise RuntimeError(f"{op}: Expected 3D or 4D (batch mode) tensor with optional 0 dim "
                           f"batch size for input, but got: {list(shape)}")


def _pool_params(op, kernel_size, stride, padding, dilation=1):
    """(kernel, stride, padding, dilation) pairs, checked as torch does."""
    kernel = _pair(kernel_size, op, "kernel_size")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel  # torch: the stride defaults to the kernel size
    else:
        stride = _pair(stride, op, "stride", "omitted, a single int, or a tuple of two ints")
    padding = _pair(padding, op, "padding")
    dilation = _pair(dilation, op, "dilation")
    if min(kernel) <= 0:
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got "
                           f"kernel_size={kernel}")
    if min(stride) <= 0:
        raise RuntimeError(f"{op}: stride should be greater than zero, but got stride={stride}")
    if min(dilation) <= 0:
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got "
                           f"dilation={dilation}")
    if min(padding) < 0:
        raise RuntimeError(f"{op}: pad must be non-negative, but got padding={padding}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise RuntimeError(f"{op}: pad should be at most half of kernel size, but got "
                           f"padding={padding} and kernel_size={kernel}")
    return kernel, stride, padding, dilation


def _output_size(size, k, s, p, d, ceil_mode):
    """torch's pooling_output_shape: ceil_mode rounds up, but a last window that would start in
    the right padding is dropped."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _output_sizes(op, input, kernel, stride, padding, dilation, ceil_mode):
    sizes = tuple(_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in
                  zip(input.shape[-2:], kernel, stride, padding, dilation))
    if min(sizes) < 1:
        c, h, w = input.shape[-3:]
        raise RuntimeError(f"{op}: Given input size: ({c}x{h}x{w}). Calculated output size: "
                           f"({c}x{sizes[0]}x{sizes[1]}). Output size is too small "
                           f"(kernel_size={kernel}, stride={stride}, padding={padding}, "
                           f"dilation={dilation})")
    return sizes


def _strided(size, n_out, k, s, p, d):
    """(start, end, first): window o covers positions o*s - p + j*d (j < k), unclipped start,
    end clipped to the input, and its first position inside the input."""
    start = np.arange(n_out, dtype=np.int64) * s - p
    end = np.minimum(start + (k - 1) * d + 1, size)
    first = np.where(start < 0, start + (-start + d - 1) // d * d, start)
    return start, end, first


def _adaptive(size, n_out):
    """torch's adaptive windows: output o reads floor(o*size/n) <= i < ceil((o+1)*size/n)."""
    o = np.arange(n_out, dtype=np.int64)
    return o * size // n_out, ((o + 1) * size + n_out - 1) // n_out


def _adaptive_output_size(output_size, input, op):
    """``output_size`` (an int, or two ints or Nones — None keeps the input's size) as a pair."""
    if is_int(output_size):
        sizes = (int(output_size),) * 2
    elif isinstance(output_size, (tuple, list)):
        if input.ndim <= len(output_size):
            raise ValueError(f"{op}: Input dimension should be at least {len(output_size) + 1} "
                             f"for output_size {tuple(output_size)}, got input of shape "
                             f"{input.shape}")
        tail = input.shape[input.ndim - len(output_size):]
        sizes = tuple(n if v is None else v for v, n in zip(output_size, tail))
        for i, v in enumerate(sizes):
            if not is_int(v):
                raise TypeError(f"{op}(): argument 'output_size' must be tuple of ints, but "
                                f"found element of type {type(v).__name__} at pos {i}")
        if len(sizes) != 2:
            raise RuntimeError(f"{op}: output_size must be 2, got {tuple(output_size)}")
    else:
        raise TypeError(f"{op}(): argument 'output_size' must be int or tuple of ints, not "
                        f"{type(output_size).__name__}")
    if min(sizes) < 0:
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {sizes}")
    return sizes


# -- public functions -----------------------------------------------------------------------------


def _max_pool(input, windows, dilation, output_size, return_indices, op):
    swapped = _swapped(input.data)
    indices = empty(input.shape[:-2] + output_size, np.int64, swapped)
    out = MaxPool2d.apply(input, windows=windows, dilation=dilation, indices=indices,
                          swapped=swapped, op=op)
    # torch dispatches on the flag's truth (any truthy value returns the indices)
    return (out, Tensor._from_op(indices, None)) if return_indices else out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The max of each ``kernel_size`` window placed every ``stride`` (default: the kernel) over
    the input padded with -inf by ``padding`` (at most half the kernel), its elements
    ``dilation`` apart; ``ceil_mode`` rounds the output size up. The first maximum in scan order
    wins a tie and takes the gradient; NaN propagates. ``return_indices`` also returns each
    window's argmax as a flat index into its H×W plane (torch.nn.functional.max_pool2d)."""
    op = "max_pool2d"
    _pool_input(input, op)
    kernel, stride, padding, dilation = _pool_params(op, kernel_size, stride, padding, dilation)
    _check_bool(ceil_mode, op, "ceil_mode")
    _check_rank(input, op)
    sizes = _output_sizes(op, input, kernel, stride, padding, dilation, ceil_mode)
    return _max_pool(input, _max_windows(input.shape[-2:], sizes, kernel, stride, padding,
                                         dilation), dilation, sizes, return_indices, op)


@functools.lru_cache(maxsize=256)
def _max_windows(size, sizes, kernel, stride, padding, dilation):
    # Cached (read-only arrays): a network pools the same shapes again and again.
    bounds = []
    for args in zip(size, sizes, kernel, stride, padding, dilation):
        _, end, first = _strided(*args)
        bounds += [first, end]
    return Windows(*_read_only(bounds))


def _read_only(arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each ``kernel_size`` window placed every ``stride`` (default: the kernel) over
    the input zero-padded by ``padding`` (at most half the kernel); ``ceil_mode`` rounds the
    output size up. The divisor counts the padded positions a window covers when
    ``count_include_pad`` (but never beyond the padding), else only the input's; a nonzero
    ``divisor_override`` replaces it (torch.nn.functional.avg_pool2d)."""
    op = "avg_pool2d"
    _pool_input(input, op)
    if input.ndim < 3:
        raise IndexError(f"{op}: Dimension out of range: input must be (N, C, H, W) or "
                         f"(C, H, W), got a tensor of shape {input.shape}")
    kernel, stride, padding, _ = _pool_params(op, kernel_size, stride, padding)
    _check_bool(ceil_mode, op, "ceil_mode")
    _check_bool(count_include_pad, op, "count_include_pad")
    if divisor_override is not None:
        if not is_int(divisor_override):
            raise TypeError(f"{op}(): argument 'divisor_override' must be int, not "
                            f"{type(divisor_override).__name__}")
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero (divisor_override=0)")
    _check_rank(input, op)
    sizes = _output_sizes(op, input, kernel, stride, padding, (1, 1), ceil_mode)
    windows, divisor = _avg_windows(input.shape[-2:], sizes, kernel, stride, padding,
                                    count_include_pad, divisor_override)
    return AvgPool2d.apply(input, windows=windows, divisor=divisor, op=op)


@functools.lru_cache(maxsize=256)
def _avg_windows(size, sizes, kernel, stride, padding, count_include_pad, divisor_override):
    bounds, counts = [], []
    for n, n_out, k, s, p in zip(size, sizes, kernel, stride, padding):
        start, end, first = _strided(n, n_out, k, s, p, 1)
        bounds += [first, end]
        # torch counts the padding a window covers, up to the far edge of the padding only
        counts.append(np.minimum(start + k, n + p) - start if count_include_pad else end - first)
    if divisor_override is not None:
        divisor = np.full(sizes, float(divisor_override))
    else:
        divisor = np.outer(counts[0], counts[1]).astype(np.float64)
    return Windows(*_read_only(bounds)), _read_only([divisor])[0]


@functools.lru_cache(maxsize=256)
def _adaptive_windows(size, sizes):
    """The windows and the divisor (their sizes) of adaptive pooling from ``size`` to ``sizes``."""
    windows = Windows(*_read_only([*_adaptive(size[0], sizes[0]), *_adaptive(size[1], sizes[1])]))
    counts = [end - start for start, end in (windows[:2], windows[2:])]
    return windows, _read_only([np.outer(counts[0], counts[1]).astype(np.float64)])[0]


def adaptive_avg_pool2d(input, output_size):
    """The mean over torch's adaptive windows — output (i, j) averages input rows
    floor(i·H/OH) to ceil((i+1)·H/OH) and likewise columns — for any ``output_size`` (an int or a
    pair; None keeps that input size); output 1 is the global average pool
    (torch.nn.functional.adaptive_avg_pool2d)."""
    op = "adaptive_avg_pool2d"
    _pool_input(input, op)
    sizes = _adaptive_output_size(output_size, input, op)
    if input.ndim < 2:
        raise IndexError(f"{op}: Dimension out of range: input must be (N, C, H, W) or "
                         f"(C, H, W), got a tensor of shape {input.shape}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got {list(input.shape)}")
    if 0 in input.shape[-2:]:
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(input.shape)}")
    windows, divisor = _adaptive_windows(input.shape[-2:], sizes)
    return AvgPool2d.apply(input, windows=windows, divisor=divisor, op=op)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The max over torch's adaptive windows (see :func:`adaptive_avg_pool2d`), with max_pool2d's
    tie, NaN and gradient rules; ``return_indices`` also returns each window's argmax as a flat
    index into its H×W plane (torch.nn.functional.adaptive_max_pool2d)."""
    op = "adaptive_max_pool2d"
    _pool_input(input, op)
    sizes = _adaptive_output_size(output_size, input, op)
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got: {list(input.shape)}")
    if 0 in input.shape[1:]:
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(input.shape)}")
    return _max_pool(input, _adaptive_windows(input.shape[-2:], sizes)[0], (1, 1), sizes,
                     return_indices, op)


METHODS = {}
