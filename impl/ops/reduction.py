"""Reductions: sum, mean, var, amax/amin, max/min, argmax/argmin.

``dim`` is an int or a tuple of ints (negative allowed); None — and, as in torch, an empty tuple —
reduces over all dims. Ties follow torch: amax/amin and the full max()/min() split the gradient
evenly among the tied elements, while max/min along a dim pick one index (the first occurrence,
as torch on CPU) and send the whole gradient there. A NaN is the extreme of its slice.
"""

from __future__ import annotations

import collections
import math
import numbers

import numpy as np

from impl.creation import _check_dtype
from impl.function import Function
from impl.ops._args import check_float, check_tensor, normalize_dim, normalize_dims, takes_out
from impl.ops.elementwise import div, maximum, minimum, to_dtype
from impl.ops.shape import gather, reshape
from impl.tensor import Tensor

__all__ = ["sum", "mean", "var", "amax", "amin", "max", "min", "argmax", "argmin"]


def _sum_keepdims(a, axes):
    # float32 accumulates in double and is rounded once: the error does not grow with the count
    acc = np.float64 if a.dtype == np.float32 else None
    return a.sum(axis=axes, keepdims=True, dtype=acc).astype(a.dtype, copy=False)


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _out_shape(shape, axes, keepdim):
    return _kept_shape(shape, axes) if keepdim else tuple(
        n for i, n in enumerate(shape) if i not in axes)


class Sum(Function):
    def forward(self, a, axes, keepdim):
        self.input_shape, self.kept = a.shape, _kept_shape(a.shape, axes)
        if a.dtype.kind != "f":  # integers and bools sum to int64, as in torch
            return a.sum(axis=axes, keepdims=keepdim, dtype=np.int64)
        return _sum_keepdims(a, axes).reshape(_out_shape(a.shape, axes, keepdim))

    def backward(self, g):
        return np.broadcast_to(g.reshape(self.kept), self.input_shape)


class Var(Function):
    def forward(self, a, axes, correction, keepdim):
        n = math.prod(a.shape[i] for i in axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = a - _sum_keepdims(a, axes) / n
            # torch divides by max(0, n - correction): inf or nan when that is not positive
            self.divisor = n - correction if n > correction else 0
            out = _sum_keepdims(d * d, axes) / self.divisor
        self.save(d)
        self.kept = out.shape
        return out.reshape(_out_shape(a.shape, axes, keepdim))

    def backward(self, g):
        (d,) = self.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return 2 * g.reshape(self.kept) * d / self.divisor


class Amax(Function):
    def forward(self, a, axes, keepdim, largest, nan_ties):
        out = (np.amax if largest else np.amin)(a, axis=axes, keepdims=True)
        self.save(a, out)
        self.axes, self.nan_ties = axes, nan_ties
        return out.reshape(_out_shape(a.shape, axes, keepdim))

    def backward(self, g):
        a, out = self.saved
        mask = a == out
        if self.nan_ties:  # max()/min(): a NaN result sends the gradient to the NaN elements
            mask |= np.isnan(a) & np.isnan(out)
        count = mask.sum(axis=self.axes, keepdims=True, dtype=g.dtype)
        # torch's amax scales first, then masks: a slice whose max is NaN gets NaN gradients
        with np.errstate(divide="ignore", invalid="ignore"):
            return g.reshape(out.shape) / count * mask


def _axes(input, dim, op):
    """``dim`` as sorted axes; None and an empty tuple or list mean all dims (torch)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(input.ndim))
    if not isinstance(dim, (numbers.Integral, tuple, list)):
        raise TypeError(f"{op}: argument 'dim' must be int or tuple of ints, not "
                        f"{type(dim).__name__}")
    return normalize_dims(dim, input.ndim, op)


def _check_nonempty(input, axes, op, all_dims_error):
    """torch refuses max-like reductions with nothing to reduce."""
    if axes is None:
        if input.data.size == 0:
            raise all_dims_error(f"{op}: Expected reduction dim to be specified for input.numel() "
                                 f"== 0 (input of shape {input.shape}). Specify the reduction "
                                 "dim with the 'dim' argument.")
        return
    for i in axes:
        if input.ndim and input.shape[i] == 0:
            raise IndexError(f"{op}: Expected reduction dim {i} to have non-zero size (input of "
                             f"shape {input.shape}).")


def _cast(input, dtype, op):
    """``input`` in ``dtype`` (when given): torch casts the input first, then reduces."""
    check_tensor(input, op)
    return input if dtype is None else to_dtype(input, _check_dtype(dtype, op))


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum of the elements over ``dim`` (all dims by default), of the input cast to ``dtype``
    when given; integer and bool inputs sum to int64 (torch.sum)."""
    input = _cast(input, dtype, "sum")
    return Sum.apply(input, axes=_axes(input, dim, "sum"), keepdim=keepdim)


@takes_out
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean of the elements over ``dim`` (all dims by default), of the input cast to ``dtype``
    when given: the sum divided by the count, so the mean of no elements is nan (torch.mean).
    Floating point inputs (or dtypes) only."""
    input = _cast(input, dtype, "mean")
    if input.dtype.kind != "f":
        raise RuntimeError(f"mean: could not infer output dtype. Input dtype must be a floating "
                           f"point dtype, got {input.dtype}")
    axes = _axes(input, dim, "mean")
    with np.errstate(invalid="ignore"):
        return div(sum(input, axes, keepdim), math.prod(input.shape[i] for i in axes))


@takes_out
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` (all dims by default): the sum of squared deviations from the mean
    divided by ``N - correction`` (``correction`` defaults to 1, Bessel's correction; torch's older
    ``unbiased=False`` means correction 0, and ``var(input, unbiased)`` is accepted too). When
    ``N - correction <= 0`` the result is inf or nan, as in torch (torch.var)."""
    check_float(input, "var")
    if isinstance(dim, bool):  # torch's overload var(input, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError("var: give either 'unbiased' or 'correction', not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if not isinstance(correction, numbers.Real) or isinstance(correction, bool):
        raise TypeError(f"var: argument 'correction' must be a number, not "
                        f"{type(correction).__name__}")
    return Var.apply(input, axes=_axes(input, dim, "var"), correction=correction,
                     keepdim=keepdim)


def _amax(input, dim, keepdim, largest, op):
    check_tensor(input, op)
    all_dims = dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0)
    axes = _axes(input, dim, op)
    _check_nonempty(input, None if all_dims else axes, op, RuntimeError)
    return Amax.apply(input, axes=axes, keepdim=keepdim, largest=largest, nan_ties=False)


@takes_out
def amax(input, dim=(), keepdim=False):
    """Largest element over ``dim`` (all dims for the default ``()``); tied maxima share the
    gradient evenly (torch.amax)."""
    return _amax(input, dim, keepdim, True, "amax")


@takes_out
def amin(input, dim=(), keepdim=False):
    """Smallest element over ``dim`` (all dims for the default ``()``); tied minima share the
    gradient evenly (torch.amin)."""
    return _amax(input, dim, keepdim, False, "amin")


def _arg(a, axis, largest, keepdim):
    """Index of the first extreme of ndarray ``a`` along ``axis`` (None: of ``a`` flattened);
    NumPy, like torch, counts NaN as the extreme."""
    if a.ndim == 0:
        return np.zeros((), np.int64)
    return (np.argmax if largest else np.argmin)(a, axis=axis, keepdims=keepdim).astype(np.int64)


MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def _max(input, dim, keepdim, largest, op):
    check_tensor(input, op)
    if isinstance(dim, Tensor):
        return (maximum if largest else minimum)(input, dim)
    if dim is None:
        _check_nonempty(input, None, op, RuntimeError)
        return Amax.apply(input, axes=tuple(range(input.ndim)), keepdim=False, largest=largest,
                          nan_ties=True)
    d = normalize_dim(dim, input.ndim, op)
    _check_nonempty(input, (d,), op, RuntimeError)
    index = _arg(input.data, d, largest, keepdim=True)
    values = gather(input, d, Tensor._from_op(index, None))
    if not keepdim:
        index = index.reshape(_out_shape(input.shape, (d,) if input.ndim else (), False))
        values = reshape(values, index.shape)
    return (MaxResult if largest else MinResult)(values, Tensor._from_op(index, None))


@takes_out
def max(input, dim=None, keepdim=False):
    """With no ``dim``: the largest element, tied maxima sharing the gradient evenly. With an int
    ``dim``: the named tuple ``(values, indices)`` of the maxima along ``dim``, the gradient going
    to the index (the first maximum). With a tensor second argument: ``maximum(input, other)``
    (torch.max)."""
    return _max(input, dim, keepdim, True, "max")


@takes_out
def min(input, dim=None, keepdim=False):
    """With no ``dim``: the smallest element, tied minima sharing the gradient evenly. With an int
    ``dim``: the named tuple ``(values, indices)`` of the minima along ``dim``, the gradient going
    to the index (the first minimum). With a tensor second argument: ``minimum(input, other)``
    (torch.min)."""
    return _max(input, dim, keepdim, False, "min")


def _argmax(input, dim, keepdim, largest, op):
    check_tensor(input, op)
    if dim is None:
        _check_nonempty(input, None, op, IndexError)
        return Tensor._from_op(_arg(input.data, None, largest, keepdim), None)
    d = normalize_dim(dim, input.ndim, op)
    _check_nonempty(input, (d,), op, IndexError)
    return Tensor._from_op(_arg(input.data, d, largest, keepdim), None)


def argmax(input, dim=None, keepdim=False):
    """Index (int64) of the first largest element along ``dim``, or in the flattened tensor when
    ``dim`` is None; not differentiable (torch.argmax)."""
    return _argmax(input, dim, keepdim, True, "argmax")


def argmin(input, dim=None, keepdim=False):
    """Index (int64) of the first smallest element along ``dim``, or in the flattened tensor when
    ``dim`` is None; not differentiable (torch.argmin)."""
    return _argmax(input, dim, keepdim, False, "argmin")


METHODS = {
    "sum": sum, "mean": mean, "var": var, "amax": amax, "amin": amin, "max": max, "min": min,
    "argmax": argmax, "argmin": argmin,
}
