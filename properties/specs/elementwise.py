"""OpSpecs of the elementwise ops (impl.ops.elementwise and their nn.functional twins)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, register
from properties.strategies import binary, seeds, shapes_with_zero, unary, values

FAMILY = "elementwise"
_BCAST_BAD = [BadInput("shapes (3,) and (4,) do not broadcast",
                       lambda: Example((np.ones(3), np.ones(4))), (RuntimeError,))]


def _binary(name, jax, domain_b="real", **kw):
    return OpSpec(name, FAMILY, examples=binary("real", domain_b), jax=jax, diff=(0, 1),
                  alias=True, bad_inputs=_BCAST_BAD, **kw)


def _unary(name, jax, domain="real", nonsmooth="", **kw):
    return OpSpec(name, FAMILY, examples=unary(domain), jax=jax, nonsmooth=nonsmooth, **kw)


def _special(name, jax, diff=(0,)):
    """NaN and ±inf among the inputs: outputs and gradients must propagate them as torch does."""
    examples = unary("special") if len(diff) == 1 else binary("special", "special")
    return OpSpec(name, FAMILY, "nan/inf", examples, jax, diff=diff, fd=False,
                  nonsmooth="NaN/inf propagation: no finite differences")


@st.composite
def _pow_scalar(draw):
    exponent = draw(st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 2.5, -1.5]))
    # Non-integer powers need a positive base; negative powers a base away from 0.
    domain = "positive" if exponent != int(exponent) or exponent < 0 else "real"
    shape = draw(shapes_with_zero(min_dims=0))
    return Example((values(draw(seeds), shape, domain), exponent))


@st.composite
def _scalar_base(draw):
    base = draw(st.sampled_from([2.0, 0.5, 3.0]))
    return Example((base, values(draw(seeds), draw(shapes_with_zero(min_dims=0)))))


@st.composite
def _clamp(draw, at_bounds=False):
    shape = draw(shapes_with_zero(min_dims=0))
    lo, hi = draw(st.sampled_from([(-0.5, 0.7), (None, 0.3), (-1.0, None), (0.2, 0.2)]))
    x = values(draw(seeds), shape, "real")
    bounds = [b for b in (lo, hi) if b is not None]
    if at_bounds and x.size:
        x.flat[::2] = bounds[0]  # half the entries exactly at a bound: the tie rule
    else:
        for b in bounds:  # keep 0.05 away from each bound (the kinks)
            near = np.abs(x - b) < 0.05
            x[near] = b + np.where(x[near] >= b, 0.05, -0.05)
    if lo is not None and hi is not None and lo == hi and not at_bounds:
        x[np.abs(x - lo) < 0.05] += 0.1
    return Example((x,), {"min": lo, "max": hi})


def _jax_clamp(J, x, min=None, max=None):
    if min is not None:
        x = J.jnp.maximum(x, min)
    return x if max is None else J.jnp.minimum(x, max)


register(
    _binary("add", lambda J, a, b: J.jnp.add(a, b)),
    _binary("sub", lambda J, a, b: J.jnp.subtract(a, b)),
    _binary("mul", lambda J, a, b: J.jnp.multiply(a, b)),
    _binary("div", lambda J, a, b: J.jnp.divide(a, b), domain_b="nonzero",
            nonsmooth="pole at other = 0: divisors are drawn with |other| >= 0.1"),
    _unary("neg", lambda J, x: -x),
    OpSpec("pow", FAMILY, "scalar exponent", _pow_scalar(), lambda J, x, e: J.jnp.power(x, e),
           nonsmooth="x**e for non-integer or negative e is drawn on x > 0",
           bad_inputs=[BadInput("string exponent", lambda: Example((np.ones(2), "2")),
                                (TypeError,))]),
    OpSpec("pow", FAMILY, "tensor exponent", binary("positive", "real"),
           lambda J, a, b: J.jnp.power(a, b), diff=(0, 1), alias=True, bad_inputs=_BCAST_BAD,
           nonsmooth="real exponents need a positive base: bases are drawn in [e^-2, e^2]"),
    OpSpec("pow", FAMILY, "scalar base", _scalar_base(), lambda J, b, x: J.jnp.power(b, x),
           diff=(1,)),
    _unary("exp", lambda J, x: J.jnp.exp(x)),
    _unary("log", lambda J, x: J.jnp.log(x), "positive", "defined for x > 0: drawn in [e^-2, e^2]"),
    _unary("sqrt", lambda J, x: J.jnp.sqrt(x), "positive", "not differentiable at 0: x > 0.13"),
    _unary("abs", lambda J, x: J.jnp.abs(x), "nonzero", "kink at 0: |x| >= 0.1"),
    _unary("sigmoid", lambda J, x: J.nn.sigmoid(x)),
    _unary("sigmoid", lambda J, x: J.nn.sigmoid(x), "large", variant="large",
           fd=False),  # saturated: the derivative underflows, finite differences say nothing
    _unary("tanh", lambda J, x: J.jnp.tanh(x)),
    _unary("relu", lambda J, x: J.nn.relu(x), "nonzero", "kink at 0: |x| >= 0.1"),
    _unary("relu", lambda J, x: J.nn.relu(x), "ties", variant="at zero", fd=False,
           nonsmooth="examples at x = 0: relu'(0) = 0 as torch"),
    _unary("nn.functional.relu", lambda J, x: J.nn.relu(x), "nonzero", "kink at 0: |x| >= 0.1"),
    _unary("nn.functional.sigmoid", lambda J, x: J.nn.sigmoid(x)),
    _unary("nn.functional.tanh", lambda J, x: J.jnp.tanh(x)),
    _binary("maximum", lambda J, a, b: J.jnp.maximum(a, b),
            nonsmooth="kink where input == other: independent draws never tie"),
    _binary("minimum", lambda J, a, b: J.jnp.minimum(a, b),
            nonsmooth="kink where input == other: independent draws never tie"),
    OpSpec("maximum", FAMILY, "ties", binary("ties", "ties"), lambda J, a, b: J.jnp.maximum(a, b),
           diff=(0, 1), fd=False, nonsmooth="about the tie rule: ties share the gradient in half"),
    OpSpec("clamp", FAMILY, "", _clamp(), _jax_clamp,
           nonsmooth="kinks at min and max: values kept 0.05 away",
           bad_inputs=[BadInput("neither min nor max", lambda: Example((np.ones(2),)),
                                (RuntimeError,))]),
    _special("add", lambda J, a, b: J.jnp.add(a, b), diff=(0, 1)),
    _special("mul", lambda J, a, b: J.jnp.multiply(a, b), diff=(0, 1)),
    _special("maximum", lambda J, a, b: J.jnp.maximum(a, b), diff=(0, 1)),
    _special("exp", lambda J, x: J.jnp.exp(x)),
    _special("log", lambda J, x: J.jnp.log(x)),
    _special("sqrt", lambda J, x: J.jnp.sqrt(x)),
    _special("relu", lambda J, x: J.nn.relu(x)),
    _special("sigmoid", lambda J, x: J.nn.sigmoid(x)),
    _special("tanh", lambda J, x: J.jnp.tanh(x)),
    OpSpec("clamp", FAMILY, "at bounds", _clamp(at_bounds=True), _jax_clamp, fd=False,
           nonsmooth="about the rule at the bounds: torch passes the gradient where "
                     "min <= x <= max; jax's clip splits it in half at a bound"),
)
