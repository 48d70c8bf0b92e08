"""impl.nn: the functional ops, weight initialisation, Parameter and the module classes
(torch.nn)."""

from impl.nn import functional, init, utils
from impl.nn.modules import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCELoss,
    Conv2d,
    CrossEntropyLoss,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MaxPool2d,
    Module,
    ModuleList,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from impl.nn.parameter import Parameter

__all__ = [
    "BCELoss", "Conv2d", "CrossEntropyLoss", "Linear", "LogSoftmax", "MSELoss", "Module",
    "ModuleList",
    "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional",
    "init", "utils",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "Flatten", "Identity", "MaxPool2d",
    "BatchNorm1d", "BatchNorm2d",
]
