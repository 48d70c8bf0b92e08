"""Argument checking and conversion shared by the ops: every error names the op and the argument."""

from __future__ import annotations

import functools
import inspect
import numbers
import warnings

import numpy as np

from impl import _grad_mode
from impl.creation import as_array, float32
from impl.tensor import Tensor


def is_int(v):
    """A Python or NumPy integer that is not a bool (torch's int arguments)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def takes_out(fn):
    """``fn`` with torch's ``out=`` form: the result is written into the tensor ``out`` (a tuple
    of tensors for several results) and ``out`` is returned. As in torch: ``out`` is resized to
    the result's shape (with a warning unless it was empty), the result is cast to ``out``'s
    dtype within its kind (float64 into float32, never float into integer), and no gradient is
    recorded — so no argument may require one while grad mode is on."""
    op = fn.__name__

    @functools.wraps(fn)
    def with_out(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        for o in outs:
            check_tensor(o, op, "out")
        inputs = [a for v in (*args, *kwargs.values())
                  for a in (v if isinstance(v, (tuple, list)) else (v,))]
        if _grad_mode.enabled and any(isinstance(t, Tensor) and t.requires_grad
                                      for t in (*inputs, *outs)):
            raise RuntimeError(f"{op}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")
        with _grad_mode.no_grad():
            result = fn(*args, **kwargs)
        results = tuple(result) if isinstance(result, tuple) else (result,)
        if len(results) != len(outs):
            raise TypeError(f"{op}(): argument 'out' must be a tuple of {len(results)} "
                            f"Tensors, got {len(outs)}")
        for r, o in zip(results, outs):
            if not np.can_cast(r.data.dtype, o.data.dtype, "same_kind"):
                raise RuntimeError(f"{op}(): result type {r.data.dtype} can't be cast to the "
                                   f"desired output type {o.data.dtype}")
            if o.data.shape != r.data.shape:
                if o.data.size:
                    warnings.warn(f"{op}(): an output with one or more elements was resized "
                                  f"since it had shape {list(o.data.shape)}, which does not "
                                  f"match the required output shape {list(r.data.shape)}",
                                  UserWarning, stacklevel=2)
                o.data = np.empty(r.data.shape, o.data.dtype)
            np.copyto(o.data, r.data, casting="same_kind")
        return out

    signature = inspect.signature(fn)
    with_out.__signature__ = signature.replace(parameters=sorted([
        *signature.parameters.values(),
        inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None)],
        key=lambda p: p.kind))
    return with_out


def check_tensor(x, op, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be Tensor, not {type(x).__name__}")
    return x


def check_float(x, op, name="input"):
    check_tensor(x, op, name)
    if x.data.dtype.kind != "f":
        raise RuntimeError(f"{op}: argument '{name}' must be a floating point tensor, "
                           f"got dtype {x.data.dtype}")
    return x


def _operand(x, other, op, name):
    """A non-tensor operand as a constant tensor. Python scalars take ``other``'s dtype (torch's
    rule: a scalar never widens a tensor), except a float scalar with an integer tensor: float32."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number) and not isinstance(x, np.ndarray):
        od = other.data.dtype
        if isinstance(x, numbers.Integral) and od.kind == "b" and not isinstance(x, bool):
            dtype = np.dtype(np.int64)
        elif isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral) and od.kind != "f":
            dtype = float32
        else:
            dtype = od
        return Tensor._from_op(np.asarray(x, dtype=dtype), None)
    if isinstance(x, (np.ndarray, list, tuple)):
        return Tensor._from_op(as_array(x, op=op), None)
    raise TypeError(f"{op}: unsupported operand type for '{name}': {type(x).__name__}")


def binary_operands(a, b, op):
    """Two tensors of a common dtype (torch's promotion) whose shapes broadcast."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.data.shape == b.data.shape and a.data.dtype == b.data.dtype:
            return a, b
    elif isinstance(a, Tensor):
        b = _operand(b, a, op, "other")
    elif isinstance(b, Tensor):
        a = _operand(a, b, op, "input")
    else:
        raise TypeError(f"{op}: expected at least one Tensor operand, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    dtype = _result_dtype(a.data, b.data)
    if dtype is not None:
        from impl.ops.elementwise import to_dtype

        a, b = to_dtype(a, dtype), to_dtype(b, dtype)
    check_broadcast(a.data.shape, b.data.shape, op)
    return a, b


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _result_dtype(a, b):
    """torch's promotion of two tensors where it differs from NumPy's, else None (NumPy's holds).

    The higher category (bool < integer < float) wins; within a category a 0-d tensor does not
    widen a tensor with dimensions (float32 (3,) op float64 () is float32).
    """
    da, db = a.dtype, b.dtype
    if da == db:
        return None
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if ca != cb:
        return da if ca > cb else db
    if (a.ndim == 0) != (b.ndim == 0):
        return db if a.ndim == 0 else da
    return None


def check_broadcast(sa, sb, op, names=("input", "other")):
    for i in range(1, min(len(sa), len(sb)) + 1):
        x, y = sa[-i], sb[-i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"{op}: shapes of '{names[0]}' {tuple(sa)} and '{names[1]}' {tuple(sb)} are not "
                f"broadcastable: size {x} vs {y} at dimension {-i}")


def normalize_dim(dim, ndim, op, name="dim"):
    """``dim`` as a non-negative axis of an ``ndim``-dimensional tensor (0-d counts as 1-d)."""
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}: argument '{name}' must be int, not {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim, op):
    """``dim`` (None, int or sequence) as a sorted tuple of distinct axes; None means all."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    axes = tuple(sorted(normalize_dim(d, ndim, op) for d in dims))
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {dim!r} appears multiple times in the list of dims")
    if ndim == 0:
        return ()
    return axes
