"""Conv2d: a 2-D convolution layer over F.conv2d."""

from __future__ import annotations

import numbers

import numpy as np

from impl.creation import zeros
from impl.nn import functional as F
from impl.nn import init
from impl.nn.modules.module import Module
from impl.nn.parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _pad_index(size, before, after, mode):
    """The source index of each position of a dimension of ``size`` padded by ``before`` and
    ``after`` in ``mode`` (F.pad's reflect, replicate and circular rules)."""
    t = np.arange(-before, size + after)
    if mode == "replicate":
        return np.clip(t, 0, size - 1)
    if mode == "circular":
        if max(before, after) > size:
            raise RuntimeError(f"Conv2d: padding {(before, after)} with padding_mode='circular' "
                               f"wraps around more than once a dimension of size {size}")
        return t % size
    if max(before, after) >= size:
        raise RuntimeError(f"Conv2d: padding {(before, after)} with padding_mode='reflect' must "
                           f"be less than the padded dimension's size {size}")
    t = np.abs(t)
    return np.where(t >= size, 2 * (size - 1) - t, t)


class Conv2d(Module):
    """A 2-D convolution layer: ``F.conv2d(input, weight, bias, stride, padding, dilation,
    groups)`` with ``weight`` (out_channels, in_channels / groups, kH, kW) and ``bias``
    (out_channels,) (torch.nn.Conv2d). Initialised as torch: weight ~ kaiming_uniform_(a=sqrt(5)),
    i.e. U(±1/sqrt(fan_in)), and bias ~ U(±1/sqrt(fan_in)), fan_in = in_channels / groups · kH ·
    kW. ``padding_mode`` 'reflect', 'replicate' or 'circular' pads the input that way (as
    F.pad) before an unpadded convolution."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if not isinstance(groups, numbers.Integral) or groups <= 0:
            raise ValueError("Conv2d: groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError(f"Conv2d: in_channels must be divisible by groups (in_channels="
                             f"{in_channels}, groups={groups})")
        if out_channels % groups != 0:
            raise ValueError(f"Conv2d: out_channels must be divisible by groups (out_channels="
                             f"{out_channels}, groups={groups})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.dilation = _pair(dilation)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("Conv2d: padding='same' is not supported for strided "
                                 "convolutions")
            self.padding = padding
        else:
            self.padding = _pair(padding)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {set(_PADDING_MODES)}, but "
                             f"got padding_mode='{padding_mode}'")
        self.padding_mode = padding_mode
        self.groups = groups
        self.transposed, self.output_padding = False, (0, 0)
        self.weight = Parameter(zeros(out_channels, in_channels // groups, *self.kernel_size,
                                      dtype=dtype))
        if bias:
            self.bias = Parameter(zeros(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Redraw weight and bias from torch's default distributions."""
        init._reset_weight_and_bias(self.weight, self.bias)

    def _edges(self):
        """(top, bottom, left, right) padding for a ``padding_mode`` other than zeros."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2,
                    total[1] - total[1] // 2)
        return (self.padding[0], self.padding[0], self.padding[1], self.padding[1])

    def forward(self, input):
        if self.padding_mode == "zeros":
            return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        if input.ndim not in (3, 4):
            raise RuntimeError(f"Conv2d: Expected 3D (unbatched) or 4D (batched) input to "
                               f"conv2d, but got input of size: {list(input.shape)}")
        top, bottom, left, right = self._edges()
        rows = _pad_index(input.shape[-2], top, bottom, self.padding_mode)
        cols = _pad_index(input.shape[-1], left, right, self.padding_mode)
        padded = input[..., rows[:, None], cols[None, :]]
        return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
