"""Activation modules: thin wrappers over the functions of :mod:`impl.nn.functional`."""

from __future__ import annotations

from impl.nn import functional as F
from impl.nn.modules.module import Module


class ReLU(Module):
    """Elementwise max(x, 0) (torch.nn.ReLU)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """Elementwise 1 / (1 + exp(-x)) (torch.nn.Sigmoid)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """Elementwise tanh (torch.nn.Tanh)."""

    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    """Softmax along ``dim`` (torch.nn.Softmax)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably (torch.nn.LogSoftmax)."""

    def forward(self, input):
        return F.log_softmax(input, self.dim)
