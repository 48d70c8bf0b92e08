"""impl.nn: the functional ops, weight initialisation, Parameter and the module classes
(torch.nn)."""

from impl.nn import functional, init
from impl.nn.modules import (
    BCELoss,
    CrossEntropyLoss,
    Linear,
    LogSoftmax,
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
    "BCELoss", "CrossEntropyLoss", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleList",
    "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional",
    "init",
]
