"""The module classes of :mod:`impl.nn`."""

from impl.nn.modules.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from impl.nn.modules.container import ModuleList, Sequential
from impl.nn.modules.linear import Linear
from impl.nn.modules.loss import BCELoss, CrossEntropyLoss, MSELoss, NLLLoss
from impl.nn.modules.module import Module

__all__ = [
    "BCELoss", "CrossEntropyLoss", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleList",
    "NLLLoss", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
]
