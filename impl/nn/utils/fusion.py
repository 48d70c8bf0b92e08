"""Conv-BN fusion (torch.nn.utils.fusion): in evaluation mode a batch norm is an affine map per
channel, ``bn(y) = (y - running_mean) / sqrt(running_var + eps) * weight + bias``, so it folds
into the convolution before it: each output channel's filter is scaled by ``weight /
sqrt(running_var + eps)`` and the bias becomes ``(bias - running_mean) * that + bn bias``.
"""

from __future__ import annotations

import copy

import numpy as np

from impl.nn.parameter import Parameter
from impl.ops._args import check_tensor
from impl.tensor import Tensor


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A new convolution (a deep copy of ``conv``) whose forward equals ``bn(conv(x))`` with
    both in evaluation mode. ``transpose=True`` is for a transposed convolution, which impl does
    not have."""
    if transpose:
        raise NotImplementedError(
            "fuse_conv_bn_eval: transpose=True fuses a ConvTranspose2d, and impl has no "
            "ConvTranspose2d; fuse_conv_bn_weights(..., transpose=True) fuses the weights alone")
    if conv.training or bn.training:
        raise AssertionError("fuse_conv_bn_eval: Fusion only for eval! Put conv and bn in "
                             "evaluation mode (.eval()) first")
    fused_conv = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("fuse_conv_bn_eval: bn.running_mean and bn.running_var must not be "
                             "None (bn was built with track_running_stats=False)")
    fused_conv.weight, fused_conv.bias = fuse_conv_bn_weights(
        fused_conv.weight, fused_conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight,
        bn.bias, transpose)
    return fused_conv


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The fused ``(weight, bias)`` Parameters of a convolution followed by an evaluation-mode
    batch norm, in the convolution's dtypes. ``conv_b``, ``bn_w`` and ``bn_b`` may be None
    (zeros, ones, zeros). ``transpose``: the weight's channel axis is 1 (a transposed
    convolution's), not 0. As torch, the fused bias requires grad only if ``conv_b`` did."""
    op = "fuse_conv_bn_weights"
    for name, value in (("conv_w", conv_w), ("bn_rm", bn_rm), ("bn_rv", bn_rv)):
        check_tensor(value, op, name)
    for name, value in (("conv_b", conv_b), ("bn_w", bn_w), ("bn_b", bn_b)):
        if value is not None:
            check_tensor(value, op, name)
    conv_weight_dtype = conv_w.dtype
    conv_bias_dtype = conv_b.dtype if conv_b is not None else conv_weight_dtype
    rm = bn_rm.data
    b = np.zeros_like(rm) if conv_b is None else conv_b.data
    w = np.ones_like(rm) if bn_w is None else bn_w.data
    beta = np.zeros_like(rm) if bn_b is None else bn_b.data
    # torch.rsqrt on the CPU is 1 / sqrt, rounded twice as here
    bn_var_rsqrt = 1 / np.sqrt(bn_rv.data + bn_eps)

    shape = ([1, -1] if transpose else [-1, 1]) + [1] * (conv_w.ndim - 2)
    fused_w = (conv_w.data * (w * bn_var_rsqrt).reshape(shape)).astype(conv_weight_dtype)
    fused_b = ((b - rm) * bn_var_rsqrt * w + beta).astype(conv_bias_dtype)
    return (Parameter(Tensor(fused_w), conv_w.requires_grad),
            Parameter(Tensor(fused_b), conv_b is not None and conv_b.requires_grad))
