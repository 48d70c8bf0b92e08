"""Elementwise primitives: arithmetic, exp/log family, activations, comparisons.

Gradients at non-smooth points follow torch: relu'(0) = 0, abs'(0) = 0, clamp passes the
gradient where min <= x <= max (inclusive), maximum/minimum split it in half on ties. So do
gradients at NaN: relu'(NaN) = 1, abs'(NaN) = 0, and a NaN in maximum/minimum passes the whole
gradient to both inputs.
"""

from __future__ import annotations

import numbers

import numpy as np

from impl._kernels import _relu as relu_kernels
from impl.function import Function
from impl.ops._args import binary_operands, check_tensor, takes_out
from impl.tensor import Tensor

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return g * b, g * a


class Div(Function):
    # x / 0 is ±inf and 0 / 0 is nan, silently, as in torch (IEEE); likewise in the ops below.
    def forward(self, a, b):
        self.save(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b

    def backward(self, g):
        a, b = self.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ga = g / b
            return ga, -ga * a / b


class DivRounded(Function):
    # torch.div with rounding_mode 'trunc' or 'floor': a step function, gradient 0 everywhere
    # (torch returns zeros, not None). Floor division follows torch's div_floor_floating:
    # (a - fmod(a, b)) / b, corrected by one when the remainder's sign differs from b's and
    # rounded to the nearest integer, so that it agrees with Python's a // b; b = 0 gives a / b.
    def forward(self, a, b, mode):
        self.shapes = (a.shape, b.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.dtype.kind != "f":
                return np.floor_divide(a, b) if mode == "floor" else np.trunc(a / b).astype(
                    a.dtype)
            if mode == "trunc":
                return np.trunc(a / b)
            mod = np.fmod(a, b)
            div = (a - mod) / b
            div = div - ((mod != 0) & ((b < 0) != (mod < 0)))
            floor = np.floor(div)
            floor = floor + (div - floor > 0.5)
            out = np.where(div != 0, floor, np.copysign(np.zeros_like(div), a / b))
            return np.where(b == 0, a / b, out)

    def backward(self, g):
        return tuple(np.zeros(np.broadcast_shapes(*self.shapes), g.dtype) for _ in range(2))


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class PowScalar(Function):
    def forward(self, a, exponent):
        self.save(a)
        self.exponent = exponent
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return a ** exponent

    def backward(self, g):
        (a,) = self.saved
        e = self.exponent
        if e == 0:  # torch: d/dx x**0 = 0 everywhere, including x = 0
            return np.zeros_like(g)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return g * (e * a ** (e - 1))


class Pow(Function):
    def forward(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = a ** b
        self.save(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ga = g * np.where(b == 0, 0, b * a ** np.where(b == 0, 1, b - 1))
            # torch: the exponent's gradient is 0 where base == 0 and exponent >= 0 (not 0 * -inf)
            gb = g * np.where((a == 0) & (b >= 0), 0, out * np.log(a))
        return ga, gb


class Exp(Function):
    def forward(self, a):
        with np.errstate(over="ignore"):
            out = np.exp(a)
        self.save(out)
        return out

    def backward(self, g):
        return g * self.saved[0]


class Log(Function):
    def forward(self, a):
        self.save(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / self.saved[0]


class Sqrt(Function):
    def forward(self, a):
        with np.errstate(invalid="ignore"):
            out = np.sqrt(a)
        self.save(out)
        return out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2 * self.saved[0])


class Abs(Function):
    def forward(self, a):
        self.save(a)
        return np.abs(a)

    def backward(self, g):
        a = self.saved[0]
        return g * ((a > 0).astype(g.dtype) - (a < 0))  # torch's sgn(a): 0 at 0 and at NaN


class _Extremum(Function):
    """maximum / minimum: ``pick`` the larger / smaller; an input gets no gradient where it
    ``loses`` the comparison, half of it on a tie, all of it otherwise (NaN included)."""

    def forward(self, a, b):
        self.save(a, b)
        # on a tie the first operand, as torch: maximum(-0.0, 0.0) is -0.0
        return np.where(a == b, a, self.pick(a, b))

    def backward(self, g):
        a, b = self.saved
        tie, half = a == b, g * 0.5
        return (np.where(tie, half, np.where(self.loses(a, b), 0, g)),
                np.where(tie, half, np.where(self.loses(b, a), 0, g)))


class Maximum(_Extremum):
    pick, loses = np.maximum, np.less


class Minimum(_Extremum):
    pick, loses = np.minimum, np.greater


class Clamp(Function):
    def forward(self, a, min, max):
        self.save(a)
        self.bounds = (min, max)
        out = a
        if min is not None:
            out = np.maximum(out, np.asarray(min, a.dtype))
        if max is not None:
            out = np.minimum(out, np.asarray(max, a.dtype))
        return out if out is not a else a.copy()

    def backward(self, g):
        (a,) = self.saved
        lo, hi = self.bounds
        mask = np.ones(a.shape, dtype=bool)
        if lo is not None:
            mask &= a >= lo
        if hi is not None:
            mask &= a <= hi
        return np.where(mask, g, 0)


class ClampTensor(Function):
    # clamp with tensor bounds: min(max(a, lo), hi). The gradient goes to the input where
    # lo <= a <= hi, to lo where a < lo and to hi where a > hi (torch's clamp_backward_min_max).
    def forward(self, a, lo, hi):
        self.save(a, lo, hi)
        return np.minimum(np.maximum(a, lo), hi)

    def backward(self, g):
        a, lo, hi = self.saved
        return (np.where((a >= lo) & (a <= hi), g, 0), np.where(a < lo, g, 0),
                np.where(a > hi, g, 0))


class Sigmoid(Function):
    def forward(self, a):
        # torch's formula: below -88.7 (float32) or -709.8 (float64) exp(-a) overflows and the
        # result is 0, where the correctly rounded value would be subnormal
        with np.errstate(over="ignore"):
            out = 1 / (1 + np.exp(-a))
        self.save(out)
        return out

    def backward(self, g):
        y = self.saved[0]
        return g * y * (1 - y)


class Tanh(Function):
    def forward(self, a):
        # float32 through float64, rounded once: NumPy's float32 tanh is off by an ulp here and
        # there, and the backward's 1 - y magnifies that near |y| = 1 (20x at x = 2.4)
        out = np.tanh(a.astype(np.float64)).astype(a.dtype) if a.dtype == np.float32 else \
            np.tanh(a)
        self.save(out)
        return out

    def backward(self, g):
        y = self.saved[0]
        # (1 - y)(1 + y), not 1 - y*y: where |y| is near 1, 1 - y is exact and 1 - y*y loses
        # the digits that y*y's rounding took (30 float32 ulps at y = 0.98; torch fuses it)
        return g * ((1 - y) * (1 + y))


def _memory_order(a):
    """``a`` and an order of its axes in which it is C-contiguous (by decreasing stride): ``a``
    itself when it is one block of memory in some order, else a C-contiguous copy."""
    order = sorted(range(a.ndim), key=lambda i: -a.strides[i])
    if not a.transpose(order).flags.c_contiguous:
        return np.ascontiguousarray(a), list(range(a.ndim))
    return a, order


def _flat(a, order):
    """``a``, C-contiguous in axis ``order``, as a 1-D view in memory order."""
    return a.transpose(order).reshape(-1)


class Relu(Function):
    """The float kernels (impl/_kernels/_relu.pyx) run in memory order, the output laid out as
    the input; other dtypes go through NumPy."""

    def forward(self, a):
        if a.dtype not in _FLOAT_DTYPES:
            out = np.where(a < 0, 0, a).astype(a.dtype, copy=False)  # integers
        else:
            a, self.order = _memory_order(a)
            out = np.empty([a.shape[i] for i in self.order], a.dtype).transpose(
                np.argsort(self.order))
            # NaN and -0.0 pass, as torch
            relu_kernels.relu_forward(_flat(a, self.order), _flat(out, self.order))
        self.save(out)  # the output, which the graph holds anyway: no mask of its own
        return out

    def backward(self, g):
        # torch masks where input <= 0 (0 at 0, 1 at NaN): exactly where the output is <= 0
        (y,) = self.saved
        if y.dtype not in _FLOAT_DTYPES:
            return np.where(y <= 0, 0, g)
        g = np.asarray(g.transpose(self.order), y.dtype, order="C")  # a view if laid out so
        gx = np.empty_like(g)
        relu_kernels.relu_backward(g.reshape(-1), _flat(y, self.order), gx.reshape(-1))
        return gx.transpose(np.argsort(self.order))


class Cast(Function):
    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, g):
        return g  # the base casts the gradient back to the input's dtype


class AddScaled(Function):
    """``a + alpha * b``. torch evaluates it with one fused multiply-add, rounding once; a float32
    product rounded before the sum loses the low bits of ``alpha * b`` where the sum cancels, so
    float32 goes through float64 (both steps exact there but the last rounding)."""

    def forward(self, a, b, alpha):
        self.alpha = alpha
        if a.dtype == np.float32:
            return (a.astype(np.float64) + alpha * b.astype(np.float64)).astype(np.float32)
        return a + alpha * b

    def backward(self, g):
        return g, self.alpha * g


def _scaled(a, b, alpha, op):
    """``a + alpha * b`` (sub passes -alpha: the negation is exact)."""
    if a.data.dtype.kind != "f" and not isinstance(alpha, numbers.Integral):
        raise RuntimeError(f"{op}: for integral input tensors, argument alpha must not be a "
                           f"floating point number, got alpha={alpha}")
    return AddScaled.apply(a, b, alpha=alpha)


def _refuse_bool(t, op):
    if t.data.dtype.kind == "b":  # as torch (NumPy would raise a TypeError of its own)
        raise RuntimeError(f"{op}: the operator is not supported for bool tensors")


@takes_out
def add(input, other, alpha=1):
    """``input + alpha * other`` with broadcasting (torch.add)."""
    a, b = binary_operands(input, other, "add")
    return Add.apply(a, b) if alpha == 1 else _scaled(a, b, alpha, "add")


@takes_out
def sub(input, other, alpha=1):
    """``input - alpha * other`` with broadcasting (torch.sub)."""
    a, b = binary_operands(input, other, "sub")
    _refuse_bool(a, "sub")
    return Sub.apply(a, b) if alpha == 1 else _scaled(a, b, -alpha, "sub")


@takes_out
def mul(input, other):
    """Elementwise product with broadcasting (torch.mul)."""
    return Mul.apply(*binary_operands(input, other, "mul"))


@takes_out
def div(input, other, *, rounding_mode=None):
    """Elementwise division with broadcasting: true division, or rounded towards zero
    (``rounding_mode='trunc'``) or down (``'floor'``), whose gradient is 0 (torch.div)."""
    a, b = binary_operands(input, other, "div")
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError(f"div: expected rounding_mode to be one of None, 'trunc', or "
                             f"'floor' but found '{rounding_mode}'")
        return DivRounded.apply(a, b, mode=rounding_mode)
    if a.data.dtype.kind != "f":  # true division of integers gives the default float dtype
        a, b = _default_float(a), _default_float(b)
    return Div.apply(a, b)


@takes_out
def neg(input):
    """``-input`` (torch.neg)."""
    _refuse_bool(check_tensor(input, "neg"), "neg")
    return Neg.apply(input)


@takes_out
def pow(input, exponent):
    """``input ** exponent`` for a scalar or tensor exponent, or a scalar base (torch.pow)."""
    if isinstance(input, Tensor) and isinstance(exponent, numbers.Real) and not isinstance(
            exponent, (bool, np.bool_)):
        exponent = exponent.item() if isinstance(exponent, np.generic) else exponent
        if input.data.dtype.kind != "f":
            if not isinstance(exponent, numbers.Integral):
                input = _default_float(input)
            elif exponent < 0:
                raise RuntimeError(f"pow: integers to negative integer powers are not allowed "
                                   f"(exponent {exponent} with dtype {input.data.dtype})")
        return PowScalar.apply(input, exponent=exponent)
    a, b = binary_operands(input, exponent, "pow")
    return Pow.apply(a, b)


def _default_float(input):
    """An integer or bool ``input`` as float32, as torch's float-valued ops take it."""
    return Tensor._from_op(input.data.astype(np.float32), None)


def _unary(cls, op):
    def fn(input):
        check_tensor(input, op)
        return cls.apply(input if input.data.dtype.kind == "f" else _default_float(input))
    fn.__name__ = fn.__qualname__ = op
    return takes_out(fn)


exp = _unary(Exp, "exp")
exp.__doc__ = "Elementwise e ** input (torch.exp)."
log = _unary(Log, "log")
log.__doc__ = "Elementwise natural logarithm; log(0) = -inf, log(x < 0) = nan (torch.log)."
sqrt = _unary(Sqrt, "sqrt")
sqrt.__doc__ = "Elementwise square root; sqrt(x < 0) = nan (torch.sqrt)."
sigmoid = _unary(Sigmoid, "sigmoid")
sigmoid.__doc__ = "Elementwise 1 / (1 + exp(-input)), computed without overflow (torch.sigmoid)."
tanh = _unary(Tanh, "tanh")
tanh.__doc__ = "Elementwise hyperbolic tangent (torch.tanh)."


def relu(input):
    """Elementwise max(input, 0); the gradient at 0 is 0 (torch.relu)."""
    return Relu.apply(check_tensor(input, "relu"))


@takes_out
def abs(input):
    """Elementwise absolute value; the gradient at 0 is 0 (torch.abs)."""
    return Abs.apply(check_tensor(input, "abs"))


@takes_out
def maximum(input, other):
    """Elementwise maximum; ties share the gradient equally (torch.maximum)."""
    check_tensor(input, "maximum")
    check_tensor(other, "maximum", "other")
    return Maximum.apply(*binary_operands(input, other, "maximum"))


@takes_out
def minimum(input, other):
    """Elementwise minimum; ties share the gradient equally (torch.minimum)."""
    check_tensor(input, "minimum")
    check_tensor(other, "minimum", "other")
    return Minimum.apply(*binary_operands(input, other, "minimum"))


@takes_out
def clamp(input, min=None, max=None):
    """Clip ``input`` to [min, max] (numbers or tensors that broadcast with it); the gradient
    passes where min <= input <= max, and to a tensor bound where it clips (torch.clamp)."""
    check_tensor(input, "clamp")
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [np.inf * (-1 if i == 0 else 1) if v is None else v
                  for i, v in enumerate((min, max))]
        a, lo = binary_operands(input, bounds[0], "clamp")
        a, hi = binary_operands(a, bounds[1], "clamp")
        a, lo = binary_operands(a, lo, "clamp")
        return ClampTensor.apply(a, lo, hi)
    for name, v in (("min", min), ("max", max)):
        if v is not None and not isinstance(v, numbers.Real):
            raise TypeError(f"clamp: argument '{name}' must be a number, not {type(v).__name__}")
    if input.data.dtype.kind != "f" and any(
            v is not None and not isinstance(v, numbers.Integral) for v in (min, max)):
        input = _default_float(input)  # an integer tensor clamped to a float bound is float32
    return Clamp.apply(input, min=min, max=max)


def to_dtype(input, dtype):
    """``input`` cast to ``dtype``; differentiable between float dtypes (Tensor.to)."""
    from impl.creation import _check_dtype

    dtype = _check_dtype(dtype, "to")
    if input.data.dtype == dtype:
        return input
    if dtype.kind != "f":
        return Tensor._from_op(input.data.astype(dtype), None)
    return Cast.apply(input, dtype=dtype)


def _comparison(ufunc, op):
    def fn(input, other):
        a, b = binary_operands(input, other, op)
        return Tensor._from_op(ufunc(a.data, b.data), None)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = (f"Elementwise ``{op}`` comparison as a bool tensor, not differentiable "
                  f"(torch.{op}).")
    return fn


eq = _comparison(np.equal, "eq")
ne = _comparison(np.not_equal, "ne")
lt = _comparison(np.less, "lt")
le = _comparison(np.less_equal, "le")
gt = _comparison(np.greater, "gt")
ge = _comparison(np.greater_equal, "ge")


METHODS = {
    "add": add, "__add__": add, "__radd__": lambda self, other: add(other, self),
    "sub": sub, "__sub__": sub, "__rsub__": lambda self, other: sub(other, self),
    "mul": mul, "__mul__": mul, "__rmul__": lambda self, other: mul(other, self),
    "div": div, "__truediv__": div, "__rtruediv__": lambda self, other: div(other, self),
    "neg": neg, "__neg__": neg, "pow": pow, "__pow__": pow,
    "__rpow__": lambda self, other: pow(other, self),
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "__abs__": abs, "sigmoid": sigmoid,
    "tanh": tanh, "relu": relu, "clamp": clamp, "maximum": maximum, "minimum": minimum,
    "to": to_dtype, "float": lambda self: to_dtype(self, np.float32),
    "double": lambda self: to_dtype(self, np.float64),
    "long": lambda self: to_dtype(self, np.int64),
    "eq": eq, "__eq__": eq, "ne": ne, "__ne__": ne, "lt": lt, "__lt__": lt, "le": le,
    "__le__": le, "gt": gt, "__gt__": gt, "ge": ge, "__ge__": ge,
}
