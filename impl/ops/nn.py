"""The primitives behind impl.nn.functional's dense-network functions: softmax, log_softmax,
linear, binary cross entropy and the negative log likelihood loss.

The public losses and their argument checks live in :mod:`impl.nn.functional`; ``softmax`` and
``log_softmax`` are also top-level functions and Tensor methods, as in torch.
"""

from __future__ import annotations

import math

import numpy as np

from impl.function import Function
from impl.ops._args import check_tensor, normalize_dim
from impl.ops.elementwise import to_dtype

__all__ = ["softmax", "log_softmax"]


def _ieee():
    """Inf and nan propagate silently, as in torch: no NumPy warnings (the ops below)."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _sum(a, axis):
    """``a`` summed along ``axis`` (kept) in float64: NumPy adds up a strided axis one element
    after another, and in float32 that error grows with the length; the products of two
    float32 arrays upcast first are exact."""
    return a.sum(axis=axis, keepdims=True, dtype=np.float64)


class Softmax(Function):
    def forward(self, a, axis):
        # exp(a - max) never overflows; a row of -inf (or with +inf) gives nan, as torch.
        with _ieee():
            e = np.exp(a - a.max(axis=axis, keepdims=True, initial=-np.inf))
            e = (e / _sum(e, axis)).astype(a.dtype, copy=False)
        self.save(e)
        self.axis = axis
        return e

    def backward(self, g):
        (y,) = self.saved
        # y * (g - sum(g * y)), torch's order: where g nearly equals the sum, the difference is
        # exact and rounds once; y * g - y * sum rounds both products before they cancel.
        with _ieee():
            y64 = y.astype(np.float64, copy=False)
            return (y64 * (g - _sum(g * y64, self.axis))).astype(y.dtype, copy=False)


class LogSoftmax(Function):
    def forward(self, a, axis):
        # a - max - log(sum(exp(a - max))): exact for logits of any magnitude.
        with _ieee():
            out = a - a.max(axis=axis, keepdims=True, initial=-np.inf)
            out = (out - np.log(_sum(np.exp(out), axis))).astype(a.dtype, copy=False)
        self.save(out)
        self.axis = axis
        return out

    def backward(self, g):
        (out,) = self.saved
        with _ieee():
            return (g - np.exp(out) * _sum(g, self.axis)).astype(out.dtype, copy=False)


class Linear(Function):
    """``input @ weight.T (+ bias)`` with weight stored (out_features, in_features), as torch.

    Inputs are viewed as matrices (x: (N, in), weight: (out, in)) so each product is one BLAS
    call on the stored arrays (``weight.T`` is a transposed view, never a copy)."""

    def forward(self, x, weight, *bias):
        x2d = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
        w2d = weight.reshape(math.prod(weight.shape[:-1]), weight.shape[-1])
        with _ieee():
            out = (x2d @ w2d.T).reshape(x.shape[:-1] + weight.shape[:-1])
            if bias:
                out += bias[0]
        self.save(x2d, w2d)
        self.shapes = x.shape, weight.shape
        return out

    def backward(self, g):
        x2d, w2d = self.saved
        x_shape, w_shape = self.shapes
        g2d = g.reshape(x2d.shape[0], w2d.shape[0])
        with _ieee():
            gx = (g2d @ w2d).reshape(x_shape) if self.parents[0].requires_grad else None
            gw = (g2d.T @ x2d).reshape(w_shape) if self.parents[1].requires_grad else None
        return gx, gw, g  # the bias gradient is summed to the bias's shape by the base


# torch's EPSILON of the binary cross entropy backward is the float 1e-12f, for every dtype
_BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Function):
    """Elementwise ``-weight * (target * log(input) + (1 - target) * log(1 - input))``."""

    def forward(self, x, y, weight):
        # torch clamps each log at -100, so input exactly 0 or 1 gives a finite loss.
        with _ieee():
            loss = (y - 1) * np.maximum(np.log1p(-x), -100) - y * np.maximum(np.log(x), -100)
            if weight is not None:
                loss *= weight
        self.save(x, y)
        self.weight = weight
        return loss

    def backward(self, g):
        x, y = self.saved
        # torch's formulas: the input's denominator x(1 - x) is kept >= eps; the target's
        # gradient is -logit(x) computed as torch's logit, -log(x / (1 - x)) (it cancels where
        # x is near 1/2, so another formula rounds differently), unclamped (+-inf at 0 and 1).
        with _ieee():
            gx = g * (x - y) / np.maximum((1 - x) * x, _BCE_EPS)
            gy = g * -np.log(x / (1 - x))
            if self.weight is not None:
                gx *= self.weight
                gy *= self.weight
        return gx, gy


class NllLoss(Function):
    """``-weight[t] * input[..., t, ...]`` per target ``t`` along the class axis (0 for a 1-D
    input, else 1), 0 where ``t == ignore_index``; 'mean' divides the sum by the summed weights
    of the targets that are not ignored (nan when there are none), as torch."""

    def forward(self, x, target, weight, ignore_index, reduction):
        axis = 0 if x.ndim == 1 else 1
        keep = target != ignore_index
        safe = np.where(keep, target, 0)
        index = np.expand_dims(safe, axis)
        w = keep.astype(x.dtype) if weight is None else np.where(keep, weight[safe], 0)
        picked = np.where(keep, np.take_along_axis(x, index, axis).squeeze(axis), 0)
        self.save(index, keep, w)
        self.axis, self.x_meta, self.reduction = axis, (x.shape, x.dtype), reduction
        self.total = w.sum()
        with _ieee():
            loss = -w * picked
            if reduction == "none":
                return loss
            return loss.sum() / self.total if reduction == "mean" else loss.sum()

    def backward(self, g):
        index, keep, w = self.saved
        shape, dtype = self.x_meta
        with _ieee():
            scale = g / self.total if self.reduction == "mean" else g
            values = np.where(keep, -w * scale, 0).astype(dtype, copy=False)
        grad = np.zeros(shape, dtype)
        np.put_along_axis(grad, index, np.expand_dims(values, self.axis), self.axis)
        return grad


class MaskedFill(Function):
    """``input`` with 0 where ``mask`` is set, selected (not multiplied by 0, which keeps a nan or
    an infinity), as torch's ``masked_fill``: those elements get no gradient."""

    def forward(self, a, mask):
        self.save(mask)
        return np.where(mask, 0, a)

    def backward(self, g):
        (mask,) = self.saved
        return np.where(mask, 0, g)


def float_input(x, op, name="input"):
    """``x`` as a float tensor for a float-only kernel; torch raises NotImplementedError for
    other dtypes ("... not implemented for 'Long'")."""
    check_tensor(x, op, name)
    if x.data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for dtype {x.data.dtype} (argument "
                                  f"'{name}' must be a floating point tensor)")
    return x


def _softmax_family(cls, op):
    def fn(input, dim, dtype=None):
        check_tensor(input, op)
        if dtype is not None:
            input = to_dtype(input, dtype)
        float_input(input, op)
        axis = normalize_dim(dim, input.ndim, op)
        return cls.apply(input, axis=axis if input.ndim else None)
    fn.__name__ = fn.__qualname__ = op
    return fn


softmax = _softmax_family(Softmax, "softmax")
softmax.__doc__ = """exp(input) / sum(exp(input)) along ``dim``, computed as exp(input - max) so
that no logit overflows; ``dtype`` casts the input first (torch.softmax)."""
log_softmax = _softmax_family(LogSoftmax, "log_softmax")
log_softmax.__doc__ = """input - logsumexp(input) along ``dim``, computed as (input - max) -
log(sum(exp(input - max))), exact for logits of any magnitude; ``dtype`` casts the input first
(torch.log_softmax)."""


METHODS = {"softmax": softmax, "log_softmax": log_softmax}
