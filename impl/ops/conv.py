"""2-D convolution (torch.nn.functional.conv2d): im2col and BLAS GEMMs, a chunk of the batch at
a time.

:func:`~impl._kernels.im2col` writes the column matrix of a chunk of images, one row per tap
(c, i, j) and one column per output pixel (n, ho, wo). The weight (Cout, Cg, kh, kw) is already
a (Cout, Cg·kh·kw) matrix in that tap order, so one GEMM per group gives the chunk's block of
the output, a (Cout, N·Ho·Wo) matrix returned as an (N, Cout, Ho, Wo) view of it, without a
copy. Only the input and the weight are saved: the backward builds each chunk's columns again,
the output gradient against them gives the weight gradient (summed over the chunks, in the
weight's own layout), and the weight against the output gradient the gradient of the columns,
which :func:`~impl._kernels.col2im` sums back into the chunk's images. A chunk's columns take at
most ``Conv2d.chunk_bytes`` (one image at least), so no full column matrix — kh·kw times the input —
is ever held, and a chunk's columns are mostly still in cache when its GEMM reads them. The chunks
depend on the shapes alone: every input layout runs the same GEMMs and gives the same bits.
A 1×1 kernel with stride 1 and no padding needs no columns: the input in (C, N, H, W) order
is its own column matrix, one GEMM for the whole batch. The input gradient takes the input's
layout, (N, C, H, W) or (C, N, H, W) (always the latter from that one GEMM). Everything stays in
the input's dtype; float32 runs as float32 (sgemm).
"""

from __future__ import annotations

import numpy as np

from impl._kernels import channels_major, col2im, empty, im2col, reduce_outer_inner
from impl.function import Function
from impl.ops._args import check_tensor, is_int
from impl.ops.nn import float_input

__all__ = []

def _matrix(a):
    """An (N, C, H, W) array as a C-contiguous (C, N·H·W) matrix: a view when ``a`` is laid out
    (C, N, H, W), as conv2d's output is, else a copy."""
    n, c, h, w = a.shape
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(c, n * h * w)


def _weight_grad(g, col, out):
    """out = g @ col.T: the weight gradient (Cout, K) of a group from its output gradient
    (Cout, L) and columns (K, L)."""
    # The product in the orientation OpenBLAS runs faster: with 2 threads it is up to 10x
    # slower on (Cout, L) @ (L, K) when the reduction L is much longer than K, and 1.4x slower
    # on the transposed product when it is shorter (512 channels at 4x4).
    if g.shape[1] > col.shape[0]:
        np.matmul(col, g.T, out=out.T)
    else:
        np.matmul(g, col.T, out=out)


class Conv2d(Function):
    """``out[n, o, ho, wo] = bias[o] + sum over c, i, j of weight[o, c, i, j] *
    input[n, g·Cg + c, ho·sh - top + i·dh, wo·sw - left + j·dw]`` (zero outside the image),
    o in group g; ``padding`` is (top, bottom, left, right). A 3-d input is one image."""

    chunk_bytes = 16 << 20  # the column matrices of one chunk of images (all groups), at most

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
        self.out_size, self.weight_shape = (ho, wo), weight.shape
        self.groups, self.group_outs = groups, cout // groups
        self.direct = (kh, kw) == (1, 1) and stride == (1, 1) and not any(padding)
        # A C-contiguous weight matrix whatever the weight's strides: BLAS rounds alike for all.
        wmat = np.ascontiguousarray(weight).reshape(cout, cg * kh * kw)
        out = np.empty((cout, n * ho * wo), x.dtype)
        for cols, _, span in self._chunks(x):
            for g, col in enumerate(cols):
                np.matmul(wmat[self._outs(g)], col, out=out[self._outs(g), span])
        if bias:
            out += bias[0][:, None]
        # The input and the weight as given, no copy: the graph holds them anyway.
        self.save(x, wmat)
        out = out.reshape(cout, n, ho, wo).transpose(1, 0, 2, 3)
        return out[0] if self.unbatched else out

    def _outs(self, g):
        """The output channels (rows of the output matrix) of group ``g``."""
        return slice(g * self.group_outs, (g + 1) * self.group_outs)

    def _bounds(self, n, per_image):
        """The chunks of a batch of ``n`` images of ``per_image`` bytes of columns each, as
        (first, end) pairs: as few as ``chunk_bytes`` allows (one image at least each), their
        sizes one image apart; an empty batch is one empty chunk."""
        most = max(1, self.chunk_bytes // per_image) if per_image else max(n, 1)
        count = max(1, -(-n // most))
        return [(n * i // count, n * (i + 1) // count) for i in range(count)]

    def _chunks(self, x, fill=True):
        """For each chunk of images: the column matrix of each group, (Cg·kh·kw, L) — filled
        by im2col, else a scratch buffer of that shape —, the chunk's images (a slice of N) and
        its L columns of the output matrix (a slice of N·Ho·Wo). An empty batch is one empty
        chunk."""
        n, c = x.shape[:2]
        cg = c // self.groups
        if self.direct:
            x2d = _matrix(x)
            yield [x2d[g * cg:(g + 1) * cg] for g in range(self.groups)], slice(None), \
                slice(None)
            return
        (kh, kw), pixels = self.geometry[0], self.out_size[0] * self.out_size[1]
        rows = cg * kh * kw
        bounds = self._bounds(n, self.groups * rows * pixels * x.dtype.itemsize)
        buffer = np.empty(self.groups * rows * max(b - a for a, b in bounds) * pixels, x.dtype)
        for n0, n1 in bounds:
            cols = buffer[:self.groups * rows * (n1 - n0) * pixels].reshape(
                (self.groups, rows, n1 - n0) + self.out_size)
            if fill:
                for g in range(self.groups):
                    im2col(x[n0:n1], cols[g], *self.geometry, g * cg)
            yield [col.reshape(rows, -1) for col in cols], slice(n0, n1), \
                slice(n0 * pixels, n1 * pixels)

    def backward(self, grad):
        x, wmat = self.saved
        if self.unbatched:
            grad = grad[None]
        g2d = _matrix(grad)
        want_x, want_w = (p.requires_grad for p in self.parents[:2])
        n, c, h, w = x.shape
        cg = c // self.groups
        gx = gw = gb = None
        if want_x:  # channels-major when one product gives it, else in the input's layout
            gx = empty(x.shape, g2d.dtype, self.direct or channels_major(x))
        if want_w:
            gw = np.empty(self.weight_shape, wmat.dtype)  # an array of its own: becomes .grad
            gwmat, partial = gw.reshape(wmat.shape), None
        if self.direct and want_x:
            gx2d = gx.transpose(1, 0, 2, 3).reshape(c, n * h * w)
            for g in range(self.groups):
                np.matmul(wmat[self._outs(g)].T, g2d[self._outs(g)],
                          out=gx2d[g * cg:(g + 1) * cg])
        if want_w or (want_x and not self.direct):
            for i, (cols, images, span) in enumerate(self._chunks(x, fill=want_w)):
                for g, col in enumerate(cols):
                    gout = g2d[self._outs(g), span]
                    if want_w and i == 0:
                        _weight_grad(gout, col, gwmat[self._outs(g)])
                    elif want_w:  # the next chunks' products are added to the first's
                        if partial is None:
                            partial = np.empty((self.group_outs, wmat.shape[1]), wmat.dtype)
                        _weight_grad(gout, col, partial)
                        gwmat[self._outs(g)] += partial
                    if want_x and not self.direct:  # the columns' gradient, in their buffer
                        np.matmul(wmat[self._outs(g)].T, gout, out=col)
                        col2im(col.reshape((col.shape[0], -1) + self.out_size), gx[images],
                               *self.geometry, g * cg)
        if len(self.parents) == 3:
            gb = np.empty(g2d.shape[0], grad.dtype)
            reduce_outer_inner(g2d.reshape((1,) + g2d.shape), gb)
        if gx is not None and self.unbatched:
            gx = gx[0]
        return gx, gw, gb


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
