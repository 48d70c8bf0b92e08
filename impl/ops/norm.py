"""Batch normalization (torch.nn.functional.batch_norm) over the channel dim 1 of (N, C, *)
inputs: (N, C), (N, C, L), (N, C, H, W) and beyond.

One primitive, :class:`BatchNorm`, runs the compiled kernels of :mod:`impl._kernels._norm` on
the input viewed as (N, C, L) with L the product of the trailing dims: per-channel sums (the
statistics, the gradient sums; accumulated in double) and per-element passes (normalize, input
gradient), each parallel over both cores; NumPy only handles the C per-channel constants between
them. An input laid out (N, C, *) or (C, N, *) — conv2d's output — is read where it lies, and
the output and the input gradient take its layout; any other is copied once, to (N, C, *).
In training the output is normalized with the batch mean and biased variance, and the running
statistics (when given) are updated in place as torch does — running = (1 - momentum) *
running + momentum * batch, with the unbiased variance; in evaluation the running statistics
normalize and are left alone. The backward is torch's fused formula in training (the batch
statistics depend on the input) and the plain per-channel scaling in evaluation.
"""

from __future__ import annotations

import math

import numpy as np

from impl import _grad_mode
from impl._kernels import _norm as kernels
from impl._kernels import channels_major, empty
from impl.function import Function
from impl.ops._args import check_tensor
from impl.ops.nn import float_input
from impl.tensor import Tensor

__all__ = []


def _per_channel(a, channels, default):
    """A weight or bias array (any shape of ``channels`` elements, or None) as float64 (C,)."""
    if a is None:
        return np.full(channels, default)
    return a.reshape(channels).astype(np.float64)


def _rows(a):
    """``a`` (N, C, *) as (N, C, L): a view when ``a`` is C-contiguous or channels-major, else a
    C-contiguous copy."""
    n, c, length = a.shape[0], a.shape[1], math.prod(a.shape[2:])
    if channels_major(a):
        return a.swapaxes(0, 1).reshape(c, n, length).swapaxes(0, 1)
    return np.ascontiguousarray(a).reshape(n, c, length)


def _empty_like(x3):
    """An uninitialized array of the shape, dtype and layout of ``x3`` (from :func:`_rows`)."""
    return empty(x3.shape, x3.dtype, channels_major(x3))


def _update(running, batch, momentum):
    # As torch: computed in double, rounded once to the running statistic's dtype.
    running[...] = (1 - momentum) * running.astype(np.float64) + momentum * batch


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel; ``affine`` holds the weight
    and/or bias arrays that are given, ``names`` says which."""

    def forward(self, x, *affine, names, training, running_mean, running_var, momentum, eps):
        n, c = x.shape[:2]
        x3 = _rows(x)
        params = dict(zip(names, affine))
        weight = _per_channel(params.get("weight"), c, 1.0)
        if training:
            mean, var = np.empty(c), np.empty(c)
            kernels.channel_stats(x3, mean, var)
            if running_mean is not None and x.size:  # an empty batch leaves them alone
                m = x.size // c
                _update(running_mean, mean, momentum)
                _update(running_var, var * (m / (m - 1)), momentum)
        else:
            mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
        # A negative running variance gives NaN and a zero variance with eps 0 gives inf, as torch.
        with np.errstate(invalid="ignore", divide="ignore"):
            invstd = 1 / np.sqrt(var + eps)
        out = _empty_like(x3)
        kernels.channel_affine(x3, mean, weight * invstd, _per_channel(params.get("bias"), c, 0.0),
                               out)
        self.save(x3, mean, invstd, weight)  # x3 is a view of the input unless it was copied
        self.training, self.names = training, names
        self.shapes = (x.shape,) + tuple(a.shape for a in affine)
        return out.reshape(x.shape)

    def backward(self, g):
        x3, mean, invstd, weight = self.saved
        c = x3.shape[1]
        if x3.size == 0:  # an empty batch: zero gradients, as torch
            return tuple(np.zeros(shape) for shape in self.shapes)
        g3 = _rows(g)
        if g3.dtype != x3.dtype or channels_major(g3) != channels_major(x3):
            g3, rows = _empty_like(x3), g3  # in the input's layout and dtype: the kernels
            g3[...] = rows                  # take their arrays in one
        sum_g, sum_gxc = np.zeros(c), np.zeros(c)
        if self.training or any(p.requires_grad for p in self.parents[1:]):
            kernels.channel_grad_sums(g3, x3, mean, sum_g, sum_gxc)
        gx = None
        if self.parents[0].requires_grad:
            gx3 = _empty_like(x3)  # an array of its own, in the input's layout
            gx = gx3.reshape(self.shapes[0])
            scale = weight * invstd
            if self.training:
                # torch's formula: (g - mean(g) - (x - mean) * invstd**2 * mean(g * (x - mean)))
                # * scale, the means over the channel's m elements, summed before the scaling
                m = x3.size // c
                kernels.channel_combine(g3, x3, mean, scale, -invstd**2 * sum_gxc / m,
                                        -sum_g / m, gx3)
            else:  # the statistics are constants: g * weight * invstd
                kernels.channel_affine(g3, np.zeros(c), scale, np.zeros(c), gx3)
        sums = {"weight": sum_gxc * invstd, "bias": sum_g}
        return (gx,) + tuple(sums[name].reshape(shape)
                             for name, shape in zip(self.names, self.shapes[1:]))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (dim 1) of ``input`` (N, C, *): (x - mean) / sqrt(var + eps) *
    weight + bias. With ``training`` the mean and biased variance are the batch's, over N and
    the trailing dims, and ``running_mean``/``running_var`` (if given) are updated in place with
    ``momentum`` and the unbiased variance; otherwise the running statistics are used. Gradients
    flow to input, weight and bias; the running statistics are constants
    (torch.nn.functional.batch_norm)."""
    op = "batch_norm"
    check_tensor(input, op)
    # torch's order: the batch size and the value of eps, then the types of the other
    # arguments, then the per-channel tensors.
    shape = input.shape
    if training:
        if input.ndim == 0:
            raise IndexError(f"{op}: a 0-d input has no batch or channel dimension")
        if shape[0] * math.prod(shape[2:]) == 1:
            raise ValueError(f"{op}: Expected more than 1 value per channel when training, got "
                             f"input size {shape}")
    eps = _float(eps, op, "eps")
    if training and eps <= 0:  # a NaN eps passes, as torch's
        raise ValueError(f"{op}: batch_norm eps must be positive during training, but got "
                         f"{eps}")
    if not training and eps < 0:
        raise ValueError(f"{op}: batch_norm eps must be non-negative, but got {eps}")
    tensors = {"running_mean": running_mean, "running_var": running_var, "weight": weight,
               "bias": bias}
    for name, t in tensors.items():
        if t is not None:
            check_tensor(t, op, name)
    if not isinstance(training, bool):
        raise TypeError(f"{op}: argument 'training' must be bool, not {type(training).__name__}")
    momentum = _float(momentum, op, "momentum")
    if input.ndim < 2:
        # torch reads the channel count from dim 1: an IndexError when nothing else is checked
        # first, else a size error on the first per-channel tensor.
        no_tensors = all(t is None for t in tensors.values())
        raise (IndexError if training and no_tensors else RuntimeError)(
            f"{op}: expected an input of shape (N, C, *) with at least 2 dimensions, got input "
            f"of shape {shape}")
    float_input(input, op)
    _check_per_channel(input, tensors, training, op)
    affine = {name: t for name, t in (("weight", weight), ("bias", bias)) if t is not None}
    return BatchNorm.apply(
        input, *affine.values(), names=tuple(affine), training=training,
        running_mean=None if running_mean is None else running_mean.data,
        running_var=None if running_var is None else running_var.data,
        momentum=momentum, eps=eps)


def _float(v, op, name):
    """torch's float argument as a float: a Python or NumPy number (bools too), or a 0-d tensor
    that does not require grad."""
    if isinstance(v, Tensor) and v.ndim == 0 and not v.requires_grad:
        return float(v.item())
    if isinstance(v, (int, float, np.bool_, np.integer, np.floating)):
        return float(v)
    raise TypeError(f"{op}: argument '{name}' must be float, not {type(v).__name__}")


def _check_per_channel(input, tensors, training, op):
    """torch's rules for the running statistics, weight and bias of a batch norm of ``input``."""
    running = [tensors["running_mean"], tensors["running_var"]]
    if training and (running[0] is None) != (running[1] is None):
        raise ValueError(f"{op}: running_mean and running_var must either both be None or "
                         "neither be None")
    channels = input.shape[1]
    for name, t in tensors.items():
        stat = name.startswith("running")
        if t is None:
            if stat and not training:
                raise RuntimeError(f"{op}: {name} must be defined in evaluation mode")
            continue
        if t.dtype != input.dtype:
            raise RuntimeError(f"{op}: expected '{name}' to have the dtype of 'input' "
                               f"({input.dtype}), got {t.dtype}")
        if t.numel() != channels or (stat and t.ndim != 1):
            raise RuntimeError(f"{op}: {name} should contain {channels} elements not "
                               f"{t.numel()} (one per channel of input of shape {input.shape}"
                               f"{'; a 1-D tensor' if stat else ''}), got shape {t.shape}")
        if stat and t.requires_grad and _grad_mode.enabled:
            raise RuntimeError(f"{op}: is not differentiable with respect to argument '{name}'. "
                               "This input cannot have requires_grad True.")
        if stat and training and not t.data.flags.writeable:
            raise RuntimeError(f"{op}: {name} is updated in place in training but its array "
                               "is read-only")


METHODS = {}
