"""OpSpecs of the elementwise ops (impl.ops.elementwise and their nn.functional twins).

Every op runs on ordinary values (kept from its kinks and poles) in a small tier of every rank
(0-d and zero-size included) and a large tier of 10^3 to 10^5 elements with block-straddling
sides, and on the values torch users hit: NaN and ±inf, exact ±0.0 where the op has a kink or a
sign rule (the sign of a zero output must be torch's), float32 and float64 subnormals, values
near the ends of exp's range, ties at the kinks; each plain op also as a Tensor method and
through its Python operator. Binary ops also take a Python scalar operand
(directly and through the reflected operators), mixed float32/float64 operands under torch's
promotion (a 0-d tensor does not widen a dimensioned one), ``alpha`` (add, sub),
``rounding_mode`` (div) and tensor bounds (clamp).
"""

from __future__ import annotations

import operator

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, register
from properties.strategies import (
    binary,
    broadcast_pair,
    broadcast_regions,
    large_unary,
    rank_regions,
    seeds,
    unary,
    values,
    with_params,
)

FAMILY = "elementwise"
_BCAST_BAD = [BadInput("shapes (3,) and (4,) do not broadcast",
                       lambda: Example((np.ones(3), np.ones(4))), (RuntimeError,))]
_KINK = "kink at 0: |x| >= 0.1"


def _binary(name, jax, domain_a="real", domain_b="real", variant="", **kw):
    spec = OpSpec(name, FAMILY, variant, binary(domain_a, domain_b), jax, diff=(0, 1),
                  alias=True, bad_inputs=kw.pop("bad_inputs", _BCAST_BAD),
                  large=binary(domain_a, domain_b, large=True), regions=broadcast_regions(),
                  **kw)
    return spec if variant else _call_forms(spec)


def _unary(name, jax, domain="real", nonsmooth="", variant="", **kw):
    spec = OpSpec(name, FAMILY, variant, unary(domain), jax, nonsmooth=nonsmooth,
                  large=large_unary(domain), regions=rank_regions(), **kw)
    return spec if variant or name.startswith("nn.") else _call_forms(spec)


# Python's operators for the ops that have one: ``x + y`` reaches Tensor.__add__, not add
_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv, "neg": operator.neg, "abs": abs}


def _call_forms(spec):
    """The op's plain spec also drawn as a Tensor method (``x.exp()``, ``x.add(y)``) and through
    its operator (``x + y``, ``-x``, ``abs(x)``): each a path of its own into the library (a
    ``form`` keyword the call reads, the small tier's; the large tier calls the function)."""
    forms = ("function", "method") + (("operator",) if spec.name in _OPERATORS else ())

    def call(fn, *args, form="function", **kw):
        if form == "method":
            return fn.method(args[0], spec.name)(*args[1:], **kw)
        return _OPERATORS[spec.name](*args) if form == "operator" else fn(*args, **kw)

    jax = spec.jax
    spec.examples = with_params(spec.examples, form=st.sampled_from(forms))
    spec.call, spec.jax = call, lambda J, *args, form="function", **kw: jax(J, *args, **kw)
    spec.regions = {**spec.regions,
                    **{f"{f} form": (lambda ex, f=f: ex.kwargs.get("form", "function") == f)
                       for f in forms}}
    return spec


def _values(name, jax, domain, diff=(0,), nonsmooth="", **kw):
    """A variant about values (NaN/inf, ±0, subnormals, the ends of exp's range): no finite
    differences there."""
    if len(diff) == 1:
        return _unary(name, jax, domain, nonsmooth, variant=_VARIANT[domain], fd=False, **kw)
    return _binary(name, jax, domain, domain, variant=_VARIANT[domain], fd=False,
                   nonsmooth=nonsmooth, bad_inputs=[], **kw)


_VARIANT = {"special": "nan/inf", "zeros": "signed zeros", "subnormal": "subnormal",
            "overflow": "near overflow"}
_ZEROS = "about exact +0.0 and -0.0: the sign of each zero output is torch's"
_TINY = ("about subnormals (float32 around 1e-40, float64 around 1e-310): a kernel that "
         "flushes them to zero fails")
_RANGE = ("about the ends of exp's range: exp(88.7) and exp(709.7) are the largest float32 and "
          "float64; beyond, float32 is inf")


# -- argument forms -------------------------------------------------------------------------


@st.composite
def _scalar_other(draw, domain="real", large=False):
    """A tensor (values from ``domain``) and a nonzero Python scalar (int or float)."""
    x = draw(large_unary(domain) if large else unary(domain))
    return Example((x.args[0], draw(st.sampled_from([2.5, -0.75, 3, -2, 1e-3]))))


@st.composite
def _mixed(draw, domain_b="real", large=False):
    """A tensor in the run's dtype and a float32 or float64 tensor that keeps its own dtype
    (0-d one time in three: a 0-d tensor does not widen a dimensioned one in torch)."""
    sa, sb = draw(broadcast_pair(large=large))
    if draw(st.integers(0, 2)) == 0:
        sb = ()
    s = draw(seeds)
    other = values(s + 1, sb, domain_b).astype(draw(st.sampled_from([np.float32, np.float64])))
    return Example((values(s, sa), other), keep=(1,))


def _promote(J, a, b):
    """torch's promotion for two float tensors: a 0-d tensor takes a dimensioned one's dtype."""
    if not hasattr(a, "ndim") or not hasattr(b, "ndim"):  # a Python scalar: jax's weak type
        return a, b
    if b.ndim == 0 and a.ndim > 0:
        return a, b.astype(a.dtype)
    if a.ndim == 0 and b.ndim > 0:
        return a.astype(b.dtype), b
    return a, b


def _mixed_regions():
    return {"float32 other": lambda ex: ex.args[1].dtype == np.float32,
            "float64 other": lambda ex: ex.args[1].dtype == np.float64,
            "0-d other": lambda ex: ex.args[1].ndim == 0,
            "dimensioned other": lambda ex: ex.args[1].ndim > 0}


def _alpha(strategy):
    return with_params(strategy, alpha=st.sampled_from([1, 2, -0.5, 1.75]))


def _jax_add(J, a, b, alpha=1):
    a, b = _promote(J, a, b)
    return J.jnp.add(a, b * alpha if alpha != 1 else b)


def _jax_sub(J, a, b, alpha=1):
    a, b = _promote(J, a, b)
    return J.jnp.subtract(a, b * alpha if alpha != 1 else b)


def _jax_mul(J, a, b):
    return J.jnp.multiply(*_promote(J, a, b))


def _jax_div(J, a, b, rounding_mode=None):
    a, b = _promote(J, a, b)
    q = J.jnp.divide(a, b)
    if rounding_mode == "trunc":
        return J.jnp.trunc(q)
    return J.jnp.floor_divide(a, b) if rounding_mode == "floor" else q


def _forms(name, jax, domain_b="real", **kw):
    """The other argument forms of a binary op: a Python scalar operand, mixed precision."""
    return [
        OpSpec(name, FAMILY, "scalar other", _scalar_other(), jax,
               large=_scalar_other(large=True), **kw,
               regions={"int scalar": lambda ex: isinstance(ex.args[1], int),
                        "float scalar": lambda ex: isinstance(ex.args[1], float),
                        **rank_regions()}),
        OpSpec(name, FAMILY, "mixed dtypes", _mixed(domain_b), jax, diff=(0, 1),
               large=_mixed(domain_b, large=True), regions=_mixed_regions(), **kw),
    ]


def _reflected(op, jax):
    """``scalar <op> tensor`` through the tensor's reflected operator (``2.5 - x``)."""
    return OpSpec(f"Tensor.__r{op}__", FAMILY, examples=_scalar_other("nonzero"),
                  jax=lambda J, x, s: jax(J, s, x), large=_scalar_other("nonzero", True),
                  call=lambda method, x, s: method(s),
                  regions=rank_regions(),
                  nonsmooth="the tensor divides (rtruediv): drawn away from 0" * (op == "truediv"))


# -- pow, clamp ----------------------------------------------------------------------------


@st.composite
def _pow_scalar(draw, large=False):
    exponent = draw(st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 2.5, -1.5]))
    # Non-integer powers need a positive base; negative powers a base away from 0.
    domain = "positive" if exponent != int(exponent) or exponent < 0 else "real"
    x = draw(large_unary(domain) if large else unary(domain))
    return Example((x.args[0], exponent))


@st.composite
def _scalar_base(draw, large=False):
    base = draw(st.sampled_from([2.0, 0.5, 3.0]))
    x = draw(large_unary() if large else unary())
    return Example((base, x.args[0]))


def _keep_away(x, bounds, gap=0.05):
    for b in bounds:  # keep ``gap`` away from each bound (the kinks)
        near = np.abs(x - b) < gap
        x[near] = b + np.where(x[near] >= b, gap, -gap)
    return x


_BOUNDS = [(-0.5, 0.7), (None, 0.3), (-1.0, None), (0.2, 0.2)]


@st.composite
def _clamp(draw, at_bounds=False, large=False):
    x = draw(large_unary() if large else unary()).args[0]
    lo, hi = draw(st.sampled_from(_BOUNDS))
    bounds = [b for b in (lo, hi) if b is not None]
    if at_bounds and x.size:
        x.flat[::2] = bounds[0]  # half the entries exactly at a bound: the tie rule
    else:
        x = _keep_away(x, bounds)
    if lo is not None and hi is not None and lo == hi and not at_bounds:
        x[np.abs(x - lo) < 0.05] += 0.1
    return Example((x,), {"min": lo, "max": hi})


@st.composite
def _clamp_tensors(draw, large=False):
    """Tensor bounds that broadcast with the input (``use``: both, or only min or max), min
    below max by at least 0.2, the input kept 0.05 away from both."""
    sa, sb = draw(broadcast_pair(large=large))
    s = draw(seeds)
    x = np.broadcast_to(values(s, sa), np.broadcast_shapes(sa, sb)).copy()
    lo = np.asarray(values(s + 1, sb) - 0.3)
    hi = np.asarray(lo + 0.2 + np.abs(values(s + 2, sb)))
    for b in (lo, hi):
        x = np.where(np.abs(x - b) < 0.05, x + 0.12, x)
    return Example((x, lo, hi), {"use": draw(st.sampled_from(["both", "min", "max"]))})


def _bounds(lo, hi, use):
    return (lo if use != "max" else None), (hi if use != "min" else None)


def _jax_clamp(J, x, min=None, max=None):
    if min is not None:
        x = J.jnp.maximum(x, min)
    return x if max is None else J.jnp.minimum(x, max)


def _clamp_tensors_spec():
    return OpSpec(
        "clamp", FAMILY, "tensor bounds", _clamp_tensors(),
        lambda J, x, lo, hi, use: _jax_clamp(J, x, *_bounds(lo, hi, use)), diff=(0, 1, 2),
        call=lambda fn, x, lo, hi, use: fn(x, *_bounds(lo, hi, use)),
        large=_clamp_tensors(large=True),
        nonsmooth="kinks at the bounds: the input kept 0.05 away from both",
        regions={"min and max": lambda ex: ex.kwargs["use"] == "both",
                 "min only": lambda ex: ex.kwargs["use"] == "min",
                 "max only": lambda ex: ex.kwargs["use"] == "max",
                 "bounds broadcast": lambda ex: ex.args[1].shape != ex.args[0].shape})


# -- curated cases ---------------------------------------------------------------------------


def _ex(*args, **kwargs):
    return Example(tuple(np.asarray(a, np.float64) if isinstance(a, list) else a
                         for a in args), kwargs)


_CASES = {
    "pow[scalar exponent]": [("0 ** 0 and 0 ** 2", _ex([0.0, -0.0, 1.5], 0)),
                             ("0 ** 2 at +-0", _ex([0.0, -0.0, 2.0], 2))],
    "div": [("0 / 0 and x / 0", _ex([0.0, 1.0, -1.0, 2.0], [0.0, 0.0, -0.0, 4.0]))],
    "exp": [("exp(-inf), exp(+inf), exp(0)", _ex([-np.inf, np.inf, 0.0, -0.0]))],
    "log": [("log of 0, -0 and 1", _ex([0.0, -0.0, 1.0, 2.5]))],
    "sqrt": [("sqrt of +-0", _ex([0.0, -0.0, 4.0]))],
    "relu": [("relu at +-0", _ex([[0.0, -0.0], [1.0, -1.0]]))],
    "abs": [("abs at +-0", _ex([0.0, -0.0, 2.0, -3.0]))],
}


register(
    _binary("add", _jax_add),
    OpSpec("add", FAMILY, "alpha", _alpha(binary()), _jax_add, diff=(0, 1),
        large=_alpha(binary(large=True)), regions={
            "int alpha": lambda ex: isinstance(ex.kwargs["alpha"], int),
            "float alpha": lambda ex: isinstance(ex.kwargs["alpha"], float),
            **broadcast_regions()}),
    OpSpec("sub", FAMILY, "alpha", _alpha(binary()), _jax_sub, diff=(0, 1),
           large=_alpha(binary(large=True)), regions=broadcast_regions()),
    *_forms("add", _jax_add),
    _binary("sub", _jax_sub),
    *_forms("sub", _jax_sub),
    _binary("mul", _jax_mul),
    *_forms("mul", _jax_mul),
    _binary("div", _jax_div, domain_b="nonzero",
            nonsmooth="pole at other = 0: divisors are drawn with |other| >= 0.1"),
    *_forms("div", _jax_div, "nonzero",
            nonsmooth="pole at other = 0: divisors are drawn with |other| >= 0.1"),
    OpSpec("div", FAMILY, "rounding_mode", with_params(binary("real", "nonzero"),
                                                       rounding_mode=st.sampled_from(
                                                           ["trunc", "floor", None])),
           _jax_div, diff=(0, 1), fd=False,
           large=with_params(binary("real", "nonzero", large=True),
                             rounding_mode=st.sampled_from(["trunc", "floor"])),
           regions={m: (lambda ex, m=m: ex.kwargs["rounding_mode"] == m) for m in
                    ("trunc", "floor")} | broadcast_regions(),
           nonsmooth="trunc and floor are step functions: gradient 0 (torch), no finite "
                     "differences across the steps",
           bad_inputs=[BadInput("rounding_mode 'round'", lambda: Example(
               (np.ones(2), np.ones(2)), {"rounding_mode": "round"}), (RuntimeError,))]),
    *[_reflected(op, jax) for op, jax in (("add", _jax_add), ("sub", _jax_sub),
                                          ("mul", _jax_mul), ("truediv", _jax_div))],
    _unary("neg", lambda J, x: -x),
    OpSpec("pow", FAMILY, "scalar exponent", _pow_scalar(), lambda J, x, e: J.jnp.power(x, e),
           large=_pow_scalar(large=True), cases=_CASES["pow[scalar exponent]"], fd=True,
           regions={"integer exponent": lambda ex: isinstance(ex.args[1], int),
                    "negative exponent": lambda ex: ex.args[1] < 0,
                    "fractional exponent": lambda ex: ex.args[1] != int(ex.args[1]),
                    **rank_regions()},
           nonsmooth="x**e for non-integer or negative e is drawn on x > 0",
           bad_inputs=[BadInput("string exponent", lambda: Example((np.ones(2), "2")),
                                (TypeError,))]),
    OpSpec("pow", FAMILY, "tensor exponent", binary("positive", "real"),
           lambda J, a, b: J.jnp.power(a, b), diff=(0, 1), alias=True, bad_inputs=_BCAST_BAD,
           large=binary("positive", "real", large=True), regions=broadcast_regions(),
           nonsmooth="real exponents need a positive base: bases are drawn in [e^-2, e^2]"),
    OpSpec("pow", FAMILY, "scalar base", _scalar_base(), lambda J, b, x: J.jnp.power(b, x),
           diff=(1,), large=_scalar_base(large=True), regions=rank_regions(1)),
    _unary("exp", lambda J, x: J.jnp.exp(x)),
    _unary("log", lambda J, x: J.jnp.log(x), "positive", "defined for x > 0: drawn in [e^-2, e^2]"),
    _unary("sqrt", lambda J, x: J.jnp.sqrt(x), "positive", "not differentiable at 0: x > 0.13"),
    _unary("abs", lambda J, x: J.jnp.abs(x), "nonzero", _KINK),
    _unary("sigmoid", lambda J, x: J.nn.sigmoid(x)),
    _unary("sigmoid", lambda J, x: J.nn.sigmoid(x), "large", variant="large",
           fd=False),  # saturated: the derivative underflows, finite differences say nothing
    _unary("tanh", lambda J, x: J.jnp.tanh(x)),
    _unary("tanh", lambda J, x: J.jnp.tanh(x), "large", variant="large", fd=False),
    _unary("relu", lambda J, x: J.nn.relu(x), "nonzero", _KINK),
    _unary("relu", lambda J, x: J.nn.relu(x), "ties", variant="at zero", fd=False,
           nonsmooth="examples at x = 0: relu'(0) = 0 as torch"),
    _unary("nn.functional.relu", lambda J, x: J.nn.relu(x), "nonzero", _KINK),
    _unary("nn.functional.sigmoid", lambda J, x: J.nn.sigmoid(x)),
    _unary("nn.functional.tanh", lambda J, x: J.jnp.tanh(x)),
    _binary("maximum", lambda J, a, b: J.jnp.maximum(a, b),
            nonsmooth="kink where input == other: independent draws never tie"),
    _binary("minimum", lambda J, a, b: J.jnp.minimum(a, b),
            nonsmooth="kink where input == other: independent draws never tie"),
    _binary("maximum", lambda J, a, b: J.jnp.maximum(a, b), "ties", "ties", variant="ties",
            fd=False, nonsmooth="about the tie rule: ties share the gradient in half"),
    _binary("minimum", lambda J, a, b: J.jnp.minimum(a, b), "ties", "ties", variant="ties",
            fd=False, nonsmooth="about the tie rule: ties share the gradient in half"),
    OpSpec("clamp", FAMILY, "", _clamp(), _jax_clamp, large=_clamp(large=True),
           nonsmooth="kinks at min and max: values kept 0.05 away",
           regions={"min and max": lambda ex: None not in ex.kwargs.values(),
                    "min only": lambda ex: ex.kwargs["max"] is None,
                    "max only": lambda ex: ex.kwargs["min"] is None,
                    "min equals max": lambda ex: ex.kwargs["min"] == ex.kwargs["max"],
                    **rank_regions()},
           bad_inputs=[BadInput("neither min nor max", lambda: Example((np.ones(2),)),
                                (RuntimeError,))]),
    OpSpec("clamp", FAMILY, "at bounds", _clamp(at_bounds=True), _jax_clamp, fd=False,
           large=_clamp(at_bounds=True, large=True), regions=rank_regions(),
           nonsmooth="about the rule at the bounds: torch passes the gradient where "
                     "min <= x <= max; jax's clip splits it in half at a bound"),
    _clamp_tensors_spec(),
    # NaN and infinities
    *[_values(name, jax, "special", diff) for name, jax, diff in (
        ("add", _jax_add, (0, 1)), ("mul", _jax_mul, (0, 1)),
        ("maximum", lambda J, a, b: J.jnp.maximum(a, b), (0, 1)),
        ("exp", lambda J, x: J.jnp.exp(x), (0,)), ("log", lambda J, x: J.jnp.log(x), (0,)),
        ("sqrt", lambda J, x: J.jnp.sqrt(x), (0,)), ("relu", lambda J, x: J.nn.relu(x), (0,)),
        ("sigmoid", lambda J, x: J.nn.sigmoid(x), (0,)),
        ("tanh", lambda J, x: J.jnp.tanh(x), (0,)))],
    # exact +0.0 and -0.0: the sign rules at the kinks
    *[_values(name, jax, "zeros", diff, _ZEROS, signed_zeros=True, cases=_CASES.get(name, []))
      for name, jax, diff in (
          ("neg", lambda J, x: -x, (0,)), ("abs", lambda J, x: J.jnp.abs(x), (0,)),
          ("relu", lambda J, x: J.nn.relu(x), (0,)), ("sqrt", lambda J, x: J.jnp.sqrt(x), (0,)),
          ("log", lambda J, x: J.jnp.log(x), (0,)), ("tanh", lambda J, x: J.jnp.tanh(x), (0,)),
          ("mul", _jax_mul, (0, 1)), ("add", _jax_add, (0, 1)), ("div", _jax_div, (0, 1)))],
    # (not minimum/maximum: which zero torch returns for a tie of 0.0 and -0.0 depends on the
    # path it takes — the first operand on short inputs, the second on vectorized ones)
    # subnormal values
    *[_values(name, jax, "subnormal", diff, _TINY) for name, jax, diff in (
        ("mul", _jax_mul, (0, 1)), ("add", _jax_add, (0, 1)), ("sub", _jax_sub, (0, 1)),
        ("abs", lambda J, x: J.jnp.abs(x), (0,)), ("relu", lambda J, x: J.nn.relu(x), (0,)),
        ("neg", lambda J, x: -x, (0,)), ("exp", lambda J, x: J.jnp.exp(x), (0,)),
        ("sigmoid", lambda J, x: J.nn.sigmoid(x), (0,)))],
    # the ends of exp's range
    *[_values(name, jax, "overflow", (0,), _RANGE, cases=_CASES.get(name, []))
      for name, jax in (("exp", lambda J, x: J.jnp.exp(x)),
                        ("sigmoid", lambda J, x: J.nn.sigmoid(x)),
                        ("tanh", lambda J, x: J.jnp.tanh(x)))],
)
