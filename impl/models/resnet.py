"""ResNet (torchvision.models.resnet), ported with torchvision's attribute names, so that
``state_dict`` keys — and so torchvision's checkpoints — are the same; plus ``in_channels``,
``widths`` (any number of stages) and ``small_input`` (a 3×3 stem for 8–32 px images).

torchvision's ReLUs are ``inplace=True``; impl's are not (its tensors are never modified in
place), which changes neither the results nor the state dict.
"""

from __future__ import annotations

import numbers

from impl import nn
from impl.creation import _check_dtype
from impl.ops.shape import flatten


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding (= dilation, keeping the size at stride 1), no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN pairs and a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) +
    identity)``, ``identity = downsample(x)`` when given (a projection), else ``x``."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        # Both self.conv1 and self.downsample downsample the input when stride != 1
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce to ``width``), 3x3 (carrying the stride, as torchvision's "ResNet V1.5"),
    1x1 (expand to ``planes * 4``) conv-BN layers and a shortcut, ``width = int(planes *
    base_width / 64) * groups``."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        # Both self.conv2 and self.downsample downsample the input when stride != 1
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def _positive_ints(values, name):
    """``values`` as a tuple of positive ints, or a ValueError naming ResNet's argument."""
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(f"ResNet: {name} must be a sequence of ints, got "
                        f"{type(values).__name__}") from None
    if not values or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                             and v > 0 for v in values):
        raise ValueError(f"ResNet: {name} must be a non-empty sequence of positive ints, got "
                         f"{values!r}")
    return values


class ResNet(nn.Module):
    """torchvision's ResNet: a stem (conv1, bn1, relu, maxpool), one stage per entry of
    ``layers`` (``layer1``, ``layer2``, … of that many blocks, ``widths[i]`` planes, stride 2
    from the second on), avgpool and fc. Convolutions are initialised kaiming_normal_(fan_out,
    relu), batch norms to weight 1 and bias 0; ``zero_init_residual`` zeroes each block's last
    BN weight, so that blocks start as identities. ``small_input``: the stem is a 3x3 stride-1
    conv and ``maxpool`` an Identity. ``dtype``: the parameters' and buffers' dtype."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None, *,
                 in_channels=3, widths=(64, 128, 256, 512), small_input=False, dtype=None):
        super().__init__()
        if not isinstance(getattr(block, "expansion", None), numbers.Integral):
            raise TypeError(f"ResNet: block must be a block class with an int 'expansion' "
                            f"(BasicBlock, Bottleneck), got {block!r}")
        layers, widths = _positive_ints(layers, "layers"), _positive_ints(widths, "widths")
        dtype = _check_dtype(dtype, "ResNet")
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"ResNet: dtype must be a floating point dtype, got {dtype}")
        if len(layers) != len(widths):
            raise ValueError(f"ResNet: layers and widths must have one entry per stage, got "
                             f"{len(layers)} and {len(widths)}")
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer

        self.inplanes = widths[0]
        self.dilation = 1
        if replace_stride_with_dilation is None:
            # each element in the tuple indicates if we should replace
            # the 2x2 stride with a dilated convolution instead
            replace_stride_with_dilation = [False] * (len(layers) - 1)
        if len(replace_stride_with_dilation) != len(layers) - 1:
            raise ValueError("replace_stride_with_dilation should be None or a "
                             f"{len(layers) - 1}-element tuple, got "
                             f"{replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=3, stride=1,
                                   padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2,
                                   padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU()
        self.maxpool = (nn.Identity() if small_input
                        else nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self._num_stages = len(layers)
        for i, (planes, blocks) in enumerate(zip(widths, layers)):
            stage = (self._make_layer(block, planes, blocks) if i == 0 else
                     self._make_layer(block, planes, blocks, stride=2,
                                      dilate=replace_stride_with_dilation[i - 1]))
            setattr(self, f"layer{i + 1}", stage)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        # fc keeps its default initialisation, the rest is redrawn below: all draw in ``dtype``
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes, dtype=dtype)
        if dtype is not None:
            self.to(dtype)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

        # Zero-initialize the last BN in each residual branch,
        # so that the residual branch starts with zeros, and each residual block behaves like
        # an identity. This improves the model by 0.2~0.3% according to
        # https://arxiv.org/abs/1706.02677
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, self._num_stages + 1):
            x = getattr(self, f"layer{i}")(x)
        x = flatten(self.avgpool(x), 1)
        return self.fc(x)


def _resnet(name, block, layers, weights, progress, **kwargs):
    if weights is not None:
        raise ValueError(f"{name}: weights={weights!r}, but impl ships no pretrained weights; "
                         "build the model with weights=None and load a torchvision checkpoint "
                         "with model.load_state_dict(impl.load(path))")
    return ResNet(block, layers, **kwargs)


def resnet18(*, weights=None, progress=True, **kwargs):
    """ResNet-18 (BasicBlock, [2, 2, 2, 2]): 11,689,512 parameters at 1000 classes."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, progress, **kwargs)


def resnet34(*, weights=None, progress=True, **kwargs):
    """ResNet-34 (BasicBlock, [3, 4, 6, 3]): 21,797,672 parameters at 1000 classes."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, progress, **kwargs)


def resnet50(*, weights=None, progress=True, **kwargs):
    """ResNet-50 (Bottleneck, [3, 4, 6, 3]): 25,557,032 parameters at 1000 classes."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


def resnet101(*, weights=None, progress=True, **kwargs):
    """ResNet-101 (Bottleneck, [3, 4, 23, 3]): 44,549,160 parameters at 1000 classes."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


def resnet152(*, weights=None, progress=True, **kwargs):
    """ResNet-152 (Bottleneck, [3, 8, 36, 3]): 60,192,808 parameters at 1000 classes."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], weights, progress, **kwargs)


_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def resnet_small(block=BasicBlock, layers=(2, 2, 2, 2), *, widths=(64, 128, 256, 512),
                 in_channels=3, num_classes=10, small_input=True, **kwargs):
    """A ResNet for small images (8x8 to 32x32, CIFAR-style): a 3×3 stride-1 stem without
    max-pool (``small_input=False``: torchvision's stem), 10 classes by default. ``block`` is
    BasicBlock or Bottleneck, or "basic" or "bottleneck"."""
    if isinstance(block, str):
        if block not in _BLOCKS:
            raise ValueError(f"resnet_small: block must be BasicBlock, Bottleneck, 'basic' or "
                             f"'bottleneck', got {block!r}")
        block = _BLOCKS[block]
    return ResNet(block, layers, num_classes, in_channels=in_channels, widths=widths,
                  small_input=small_input, **kwargs)
