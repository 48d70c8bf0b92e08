"""tinytape: a tiny tape-style autograd library, written for the tests as a third-party subject.

It is deliberately unlike torch: NumPy's spelling (``axis``, ``keepdims``), a ``Var`` holding a
NumPy array (its memory and strides as given), and a ``backward()`` that takes no gradient (a
scalar output only, like tinygrad's). tests/tinytape_adapter.py makes it checkable.
"""

import contextlib

import numpy as np

_recording = [True]


@contextlib.contextmanager
def no_grad():
    _recording.append(False)
    try:
        yield
    finally:
        _recording.pop()


def _unbroadcast(g, shape):
    """``g`` summed over the axes broadcasting added to ``shape`` or stretched."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1),
                 keepdims=True).reshape(shape)


class Var:
    def __init__(self, value, requires_grad=False, parents=()):
        self.value = value if isinstance(value, np.ndarray) else np.asarray(value)
        self.requires_grad = requires_grad
        self.parents = parents  # (parent, the gradient it gets from this Var's gradient)
        self.grad = None

    def backward(self):
        if self.value.size != 1:
            raise ValueError("backward() needs a scalar output")
        order, seen = [], set()

        def visit(v):  # depth-first: each Var after everything it depends on
            if id(v) not in seen:
                seen.add(id(v))
                for p, _ in v.parents:
                    visit(p)
                order.append(v)
        visit(self)
        grads = {id(self): np.ones_like(self.value)}
        for v in reversed(order):
            g = grads.pop(id(v), None)
            if g is None:
                continue
            if not v.parents:  # a leaf: accumulate
                v.grad = g if v.grad is None else v.grad + g
            for p, rule in v.parents:
                if p.requires_grad:
                    grads[id(p)] = grads.get(id(p), 0) + _unbroadcast(rule(g), p.value.shape)

    def __add__(self, other):
        return add(self, other)

    def __sub__(self, other):
        return sub(self, other)

    def __mul__(self, other):
        return mul(self, other)


def var(x):
    return x if isinstance(x, Var) else Var(np.asarray(x))


def _op(value, *links):
    """A Var computed from ``links``: (input, the input's gradient from the output's)."""
    links = [(p, rule) for p, rule in links if p.requires_grad]
    if not links or not _recording[-1]:
        return Var(value)
    return Var(value, True, tuple(links))


def add(a, b):
    a, b = var(a), var(b)
    return _op(a.value + b.value, (a, lambda g: g), (b, lambda g: g))


def sub(a, b):
    a, b = var(a), var(b)
    return _op(a.value - b.value, (a, lambda g: g), (b, lambda g: -g))


def mul(a, b):
    a, b = var(a), var(b)
    return _op(a.value * b.value, (a, lambda g: g * b.value), (b, lambda g: g * a.value))


def exp(a):
    y = np.exp(a.value)
    return _op(y, (a, lambda g: g * y))


def tanh(a):
    y = np.tanh(a.value)
    return _op(y, (a, lambda g: g * (1 - y * y)))


def sum(a, axis=None, keepdims=False):  # noqa: A001 (NumPy's name)
    def rule(g):
        kept = g if keepdims or axis is None else np.expand_dims(g, axis)
        return np.broadcast_to(kept, a.value.shape)
    return _op(np.sum(a.value, axis=axis, keepdims=keepdims), (a, rule))


def matmul(a, b):
    if a.value.ndim != 2 or b.value.ndim != 2:
        raise ValueError(f"matmul: 2-d operands only, got {a.value.shape} and {b.value.shape}")
    return _op(a.value @ b.value, (a, lambda g: g @ b.value.T), (b, lambda g: a.value.T @ g))
