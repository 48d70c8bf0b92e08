"""The module classes of :mod:`impl.nn`."""

from impl.nn.modules.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from impl.nn.modules.container import ModuleList, Sequential
from impl.nn.modules.conv import Conv2d
from impl.nn.modules.flatten import Flatten, Identity
from impl.nn.modules.linear import Linear
from impl.nn.modules.loss import BCELoss, CrossEntropyLoss, MSELoss, NLLLoss
from impl.nn.modules.module import Module
from impl.nn.modules.norm import BatchNorm1d, BatchNorm2d
from impl.nn.modules.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "BCELoss", "Conv2d", "CrossEntropyLoss", "Linear", "LogSoftmax", "MSELoss", "Module",
    "ModuleList",
    "NLLLoss", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "Flatten", "Identity", "MaxPool2d",
    "BatchNorm1d", "BatchNorm2d",
]
