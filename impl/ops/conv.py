"""2-D convolution (torch.nn.functional.conv2d): im2col and one BLAS GEMM per group.

:func:`~impl._kernels.im2col` writes the input's column matrix, one row per tap (c, i, j) and
one column per output pixel (n, ho, wo). The weight (Cout, Cg, kh, kw) is already a
(Cout, Cg·kh·kw) matrix in that tap order, so one GEMM gives the output as a (Cout, N·Ho·Wo)
matrix, returned as an (N, Cout, Ho, Wo) view of it, without a copy. The backward is two more
GEMMs on the same matrices: the output gradient against the columns gives the weight gradient
in the weight's own layout, the weight against the output gradient gives the gradient of the
columns, which :func:`~impl._kernels.col2im` sums back into the image. A 1×1 kernel with stride
1 and no padding needs no columns: the input in (C, N, H, W) order is its own column matrix.
Everything stays in the input's dtype; float32 runs as float32 (sgemm).
"""

from __future__ import annotations

import numpy as np

from impl._kernels import col2im, im2col, reduce_outer_inner
from impl.function import Function
from impl.ops._args import check_tensor, is_int
from impl.ops.nn import float_input

__all__ = []


def _channels_major(a):
    """An (N, C, H, W) array as a C-contiguous (C, N·H·W) matrix: a view when ``a`` is laid out
    (C, N, H, W), as conv2d's output is, else a copy."""
    n, c, h, w = a.shape
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(c, n * h * w)


class Conv2d(Function):
    """``out[n, o, ho, wo] = bias[o] + sum over c, i, j of weight[o, c, i, j] *
    input[n, g·Cg + c, ho·sh - top + i·dh, wo·sw - left + j·dw]`` (zero outside the image),
    o in group g; ``padding`` is (top, bottom, left, right). A 3-d input is one image."""

    def forward(self, x, weight, *bias, stride, padding, dilation, groups):
        self.unbatched = x.ndim == 3
        if self.unbatched:
            x = x[None]
        n, c, h, w = x.shape
        cout, cg, kh, kw = weight.shape
        top, bottom, left, right = padding
        ho = (h + top + bottom - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        wo = (w + left + right - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        self.geometry = (kh, kw), stride, (top, left), dilation
        self.image_shape, self.weight_shape = x.shape, weight.shape
        self.groups, self.group_outs = groups, cout // groups
        self.direct = (kh, kw) == (1, 1) and stride == (1, 1) and not any(padding)
        cols = self._columns(x, ho, wo)
        # A C-contiguous weight matrix whatever the weight's strides: BLAS rounds alike for all.
        wmat = np.ascontiguousarray(weight).reshape(cout, cg * kh * kw)
        out = np.empty((cout, n * ho * wo), x.dtype)
        for g, col in enumerate(cols):
            np.matmul(wmat[self._outs(g)], col, out=out[self._outs(g)])
        if bias:
            out += bias[0][:, None]
        self.save(cols, wmat)
        out = out.reshape(cout, n, ho, wo).transpose(1, 0, 2, 3)
        return out[0] if self.unbatched else out

    def _outs(self, g):
        """The output channels (rows of the output matrix) of group ``g``."""
        return slice(g * self.group_outs, (g + 1) * self.group_outs)

    def _columns(self, x, ho, wo):
        """The column matrix of each group, (Cg·kh·kw, N·Ho·Wo)."""
        n, c = x.shape[:2]
        cg = c // self.groups
        if self.direct:
            x2d = _channels_major(x)
            return [x2d[g * cg:(g + 1) * cg] for g in range(self.groups)]
        (kh, kw) = self.geometry[0]
        cols = np.empty((self.groups, cg * kh * kw, n, ho, wo), x.dtype)
        for g in range(self.groups):
            im2col(x, cols[g], *self.geometry, g * cg)
        return [col.reshape(cg * kh * kw, n * ho * wo) for col in cols]

    def backward(self, grad):
        cols, wmat = self.saved
        if self.unbatched:
            grad = grad[None]
        g2d = _channels_major(grad)
        gx = gw = gb = None
        # The weight's gradient first: then, on the graph's last backward, the columns' buffer
        # can take the columns' gradient (no second buffer of that size, no page faults).
        if self.parents[1].requires_grad:
            gw = np.empty(self.weight_shape, wmat.dtype)  # an array of its own: becomes .grad
            gwmat = gw.reshape(wmat.shape)
            for g, col in enumerate(cols):
                # One product in the orientation OpenBLAS runs faster: with 2 threads it is up
                # to 10x slower on (Cout, N·Ho·Wo) @ (N·Ho·Wo, K) when the reduction N·Ho·Wo is
                # much longer than K, and 1.4x slower on the transposed product when it is
                # shorter (512 channels at 4x4).
                if g2d.shape[1] > col.shape[0]:
                    np.matmul(col, g2d[self._outs(g)].T, out=gwmat[self._outs(g)].T)
                else:
                    np.matmul(g2d[self._outs(g)], col.T, out=gwmat[self._outs(g)])
        if self.parents[0].requires_grad:
            gx = self._input_grad(g2d, wmat, grad.shape[2:], cols)
        if len(self.parents) == 3:
            gb = np.empty(g2d.shape[0], grad.dtype)
            reduce_outer_inner(g2d.reshape((1,) + g2d.shape), gb)
        return gx, gw, gb

    def _input_grad(self, g2d, wmat, out_size, cols):
        n, c, h, w = self.image_shape
        cg = c // self.groups
        if self.direct:
            gx = np.empty((c, n * h * w), g2d.dtype)
            for g in range(self.groups):
                np.matmul(wmat[self._outs(g)].T, g2d[self._outs(g)],
                          out=gx[g * cg:(g + 1) * cg])
            gx = gx.reshape(c, n, h, w).transpose(1, 0, 2, 3)
        else:
            gx = np.empty(self.image_shape, g2d.dtype)
            scratch = None if self.last_use else np.empty_like(cols[0])
            for g, col in enumerate(cols):
                gcols = col if self.last_use else scratch  # the columns' own buffer, or a new one
                np.matmul(wmat[self._outs(g)].T, g2d[self._outs(g)], out=gcols)
                col2im(gcols.reshape((wmat.shape[1], n) + tuple(out_size)), gx,
                       *self.geometry, g * cg)
        return gx[0] if self.unbatched else gx


def _shape(t):
    return list(t.shape)


def _pair(value, name):
    """An int or a sequence of one or two ints as a pair (torch's 'tuple of ints' argument)."""
    if is_int(value):
        return (int(value),) * 2
    if isinstance(value, (tuple, list)) and all(is_int(v) for v in value):
        if len(value) in (1, 2):
            return tuple(int(v) for v in value) * (3 - len(value))
        raise RuntimeError(f"conv2d: expected {name} to be a single integer value or a list of 2 "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(value)}")
    raise TypeError(f"conv2d: argument '{name}' must be an int or a tuple of 2 ints, not "
                    f"{type(value).__name__}")


def _padding(padding, kernel, stride, dilation):
    """(top, bottom, left, right) from an int, a pair, 'valid' or 'same'. 'same' pads
    dilation·(k - 1) in all and puts the odd one at the bottom/right, as torch does."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise RuntimeError(f"conv2d: Invalid padding string: '{padding}' (expected 'valid' "
                               "or 'same')")
        if stride != (1, 1):
            raise RuntimeError(f"conv2d: padding='same' is not supported for strided "
                               f"convolutions (stride={list(stride)})")
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise RuntimeError(f"conv2d: negative padding is not supported, got padding={[ph, pw]}")
    return (ph, ph, pw, pw)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of ``input`` (N, C, H, W), or one image (C, H, W), with ``weight``
    (out_channels, C / groups, kH, kW), plus ``bias`` (out_channels,): ``padding`` is an int, a
    pair, 'valid' (none) or 'same' (output size = input size; stride 1 only; for even kernels
    the extra row and column go to the bottom and right); each of ``groups`` channel groups is
    convolved with its out_channels / groups filters; dilation spaces the taps
    (torch.nn.functional.conv2d)."""
    check_tensor(input, "conv2d")
    check_tensor(weight, "conv2d", "weight")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"conv2d: Expected 3D (unbatched) or 4D (batched) input to conv2d, "
                           f"but got input of size: {_shape(input)}")
    if weight.ndim != 4:
        raise RuntimeError(f"conv2d: weight must be 4-D (out_channels, in_channels / groups, "
                           f"kH, kW), got weight of size {_shape(weight)}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"conv2d: expected 'weight' to have the dtype of 'input' "
                           f"({input.dtype}), got {weight.dtype}")
    float_input(input, "conv2d")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if not is_int(groups):
        raise TypeError(f"conv2d: argument 'groups' must be int, not {type(groups).__name__}")
    if min(stride) <= 0:
        raise RuntimeError(f"conv2d: non-positive stride is not supported, got "
                           f"stride={list(stride)}")
    if min(dilation) <= 0:
        raise RuntimeError(f"conv2d: dilation should be greater than zero, but got "
                           f"dilation={list(dilation)}")
    if groups <= 0:
        raise RuntimeError(f"conv2d: non-positive groups is not supported, got groups={groups}")
    cout, cg, kh, kw = weight.shape
    if cout == 0 or cout % groups:
        raise RuntimeError(f"conv2d: Given groups={groups}, expected weight to be at least 1 "
                           f"and divisible by {groups} at dimension 0, but got weight of size "
                           f"{_shape(weight)} instead")
    channels = input.shape[-3]
    if channels != cg * groups:
        raise RuntimeError(f"conv2d: Given groups={groups}, weight of size {_shape(weight)}, "
                           f"expected input{_shape(input)} to have {cg * groups} channels, but "
                           f"got {channels} channels instead")
    if kh == 0 or kw == 0:
        raise RuntimeError(f"conv2d: kernel size must be positive, got weight of size "
                           f"{_shape(weight)}")
    pad = _padding(padding, (kh, kw), stride, dilation)
    padded = (input.shape[-2] + pad[0] + pad[1], input.shape[-1] + pad[2] + pad[3])
    extent = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if padded[0] < extent[0] or padded[1] < extent[1]:
        raise RuntimeError(f"conv2d: Calculated padded input size per channel: ({padded[0]} x "
                           f"{padded[1]}). Kernel size: ({extent[0]} x {extent[1]}). Kernel size "
                           f"can't be greater than actual input size (input of size "
                           f"{_shape(input)}, padding {list(pad)}, dilation {list(dilation)})")
    if 0 in input.shape[-2:] and channels and (input.ndim == 3 or input.shape[0]):
        # torch convolves an empty batch or no channels, but no image without rows or columns
        raise RuntimeError(f"conv2d: Only zero batch or zero channel inputs are supported, but "
                           f"got input shape: {_shape(input)}")
    params = dict(stride=stride, padding=pad, dilation=dilation, groups=groups)
    if bias is None:
        return Conv2d.apply(input, weight, **params)
    check_tensor(bias, "conv2d", "bias")
    if bias.shape != (cout,):
        raise RuntimeError(f"conv2d: Given weight of size {_shape(weight)}, expected bias to be "
                           f"1-dimensional with {cout} elements, but got bias of size "
                           f"{_shape(bias)} instead")
    if bias.dtype != input.dtype:
        raise RuntimeError(f"conv2d: expected 'bias' to have the dtype of 'input' "
                           f"({input.dtype}), got {bias.dtype}")
    return Conv2d.apply(input, weight, bias, **params)


METHODS = {}
