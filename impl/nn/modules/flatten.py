"""Flatten and Identity: shape plumbing between the layers of a network."""

from __future__ import annotations

from impl.nn.modules.module import Module
from impl.ops.shape import flatten


class Flatten(Module):
    """Merge dims ``start_dim``..``end_dim`` into one; by default everything but the batch dim
    (torch.nn.Flatten)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input; its constructor takes and ignores any arguments (torch.nn.Identity)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
