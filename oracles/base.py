"""The backend protocol: oracles and subjects are the same kind of object.

``forward(spec, example)`` returns the op's outputs as NumPy arrays (the first output is the
differentiable one); ``vjp(spec, example, cotangent)`` returns ``(outputs, grads)`` with one
gradient per differentiable argument (``spec.diff``), computed for the given cotangent of the
first output. A backend that cannot run an op raises :class:`Unsupported`.
"""

from __future__ import annotations

import numpy as np


class Unsupported(Exception):
    """The backend lacks the op or one of its keyword arguments."""


class Backend:
    name = "?"

    def forward(self, spec, example):
        raise NotImplementedError

    def vjp(self, spec, example, cotangent):
        raise NotImplementedError


def as_outputs(out, to_numpy):
    """An op's result (one tensor or a tuple of them) as a list of arrays."""
    items = list(out) if isinstance(out, (tuple, list)) else [out]
    return [np.array(to_numpy(o)) for o in items]


def is_missing_keyword(exc):
    return isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc)
