"""Making tensors: ``tensor``, the constant and random factories, dtypes and generators.

dtype rules follow torch: Python floats become float32 (the default dtype), Python ints int64,
bools bool; a NumPy array keeps its dtype. Randomness comes from NumPy generators: a global one
seeded by :func:`manual_seed`, or an explicit :class:`Generator` passed as ``generator=``.
"""

from __future__ import annotations

import numbers

import numpy as np

# Imported here, before impl/__init__ binds the name `tensor` to the factory below: importing
# the submodule impl.tensor for the first time later would rebind impl.tensor to the module.
from impl.tensor import Tensor

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
bool_ = np.dtype(np.bool_)
_DTYPES = {float32, float64, int64, int32, bool_, np.dtype(np.int8), np.dtype(np.uint8),
           np.dtype(np.int16)}
_default_dtype = float32


def _check_dtype(dtype, op):
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{op}: dtype must be a dtype such as impl.float32, got {dtype!r}") from None
    if dt not in _DTYPES:
        raise TypeError(f"{op}: unsupported dtype {dt}; use float32, float64, int64, int32 or bool")
    return dt


def as_array(data, dtype=None, op="tensor"):
    """``data`` (Tensor, array, scalar or nested sequence) as an ndarray, by torch's dtype rules."""
    dtype = _check_dtype(dtype, op)
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, (np.ndarray, np.generic)):  # NumPy scalars keep their dtype too
        arr = np.asarray(data)
    else:
        if isinstance(data, (list, tuple)):
            data = [d.data if isinstance(d, Tensor) else d for d in data]
        arr = np.asarray(data)
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(_default_dtype)
        elif dtype is None and arr.dtype.kind in "iu":
            arr = arr.astype(int64)
    if dtype is None and arr.dtype not in _DTYPES:
        raise TypeError(f"{op}: unsupported dtype {arr.dtype}; use float32, float64, int64, int32 "
                        "or bool")
    return arr if dtype is None else arr.astype(dtype, copy=False)


def tensor(data, dtype=None, requires_grad=False):
    """A new leaf tensor holding a copy of ``data`` (torch.tensor)."""
    return Tensor(np.array(as_array(data, dtype), copy=True), requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """``data`` as a tensor, sharing memory with an ndarray of the right dtype (torch.as_tensor)."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(as_array(data, dtype))


def from_numpy(array):
    """A tensor sharing memory with ``array`` (torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return as_tensor(array)


def _size(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or isinstance(s, (bool, np.bool_)):
            raise TypeError(f"{op}: size must be a sequence of ints, got {size!r}")
        if s < 0:
            raise RuntimeError(f"{op}: negative dimension {s} in size {tuple(size)}")
    return tuple(int(s) for s in size)


def _make(array, requires_grad):
    return Tensor(array, requires_grad=requires_grad)


def zeros(*size, dtype=None, requires_grad=False):
    """A tensor of zeros of shape ``size`` (torch.zeros)."""
    return _make(np.zeros(_size(size, "zeros"), _check_dtype(dtype, "zeros") or _default_dtype),
                 requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    """A tensor of ones of shape ``size`` (torch.ones)."""
    return _make(np.ones(_size(size, "ones"), _check_dtype(dtype, "ones") or _default_dtype),
                 requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """A tensor of shape ``size`` filled with ``fill_value`` (torch.full)."""
    if dtype is None:
        dtype = as_array(fill_value).dtype
    return _make(np.full(_size((size,), "full"), fill_value, _check_dtype(dtype, "full")),
                 requires_grad)


def zeros_like(input, dtype=None, requires_grad=False):
    """Zeros with the shape (and, by default, dtype) of ``input`` (torch.zeros_like)."""
    return _make(np.zeros(input.shape, _check_dtype(dtype, "zeros_like") or input.dtype),
                 requires_grad)


def ones_like(input, dtype=None, requires_grad=False):
    """Ones with the shape (and, by default, dtype) of ``input`` (torch.ones_like)."""
    return _make(np.ones(input.shape, _check_dtype(dtype, "ones_like") or input.dtype),
                 requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step`` (torch.arange): int64 when all
    three are ints, else float32, unless ``dtype`` says otherwise."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = _check_dtype(dtype, "arange") or (int64 if ints else _default_dtype)
    return _make(np.arange(start, end, step).astype(dtype), requires_grad)


class Generator:
    """A source of random numbers for the random factories (torch.Generator)."""

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def manual_seed(self, seed):
        self._rng = np.random.default_rng(int(seed))
        return self


_global = Generator(0)


def manual_seed(seed):
    """Seed the global generator used when no ``generator=`` is given (torch.manual_seed)."""
    _global.manual_seed(seed)
    return _global


def default_rng(generator=None):
    """The NumPy generator behind ``generator`` (or the global one)."""
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"generator must be an impl.Generator, got {type(generator).__name__}")
    return (generator or _global)._rng


def _random_floats(op, draw, size, generator, dtype, requires_grad):
    dtype = _check_dtype(dtype, op) or _default_dtype
    if dtype.kind != "f":
        raise RuntimeError(f"{op}: dtype must be a floating point dtype, got {dtype}")
    return _make(draw(default_rng(generator), _size(size, op)).astype(dtype), requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False):
    """Standard normal samples of shape ``size`` (torch.randn)."""
    return _random_floats("randn", np.random.Generator.standard_normal, size, generator, dtype,
                          requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False):
    """Uniform samples on [0, 1) of shape ``size`` (torch.rand)."""
    return _random_floats("rand", np.random.Generator.random, size, generator, dtype,
                          requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None):
    """Integers on [low, high) of shape ``size`` (torch.randint)."""
    if high is None:
        low, high = 0, low
    arr = default_rng(generator).integers(low, high, _size((size,), "randint"))
    return _make(arr.astype(_check_dtype(dtype, "randint") or int64), False)


def randperm(n, generator=None, dtype=None):
    """A random permutation of 0..n-1 (torch.randperm)."""
    arr = default_rng(generator).permutation(int(n))
    return _make(arr.astype(_check_dtype(dtype, "randperm") or int64), False)
