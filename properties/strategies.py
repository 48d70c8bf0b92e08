"""Hypothesis strategies for op inputs: shapes, values by domain, memory layouts.

Hypothesis draws the structure (shapes, dims, params, a seed); the values are built from the seed
with NumPy, because Hypothesis is slow at generating large arrays. Values live in float64 and are
cast per run. A *domain* keeps values where an op is smooth and defined (log > 0, relu away from
0, max without ties) unless an example is about that point; a *family* picks magnitudes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from properties.spec import Example

# -- values -----------------------------------------------------------------------------------


def _normal(rng, shape):
    return rng.standard_normal(shape)


def _away_from_zero(rng, shape):
    # |x| >= 0.1: further than any finite-difference step or float32 rounding from the kink at 0
    return np.sign(rng.standard_normal(shape) + 1e-300) * (0.1 + rng.exponential(1.0, shape))


def _positive(rng, shape):
    return np.exp(rng.uniform(-2.0, 2.0, shape))


def _unit(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


def _unique(rng, shape):
    # Distinct values at least 0.05 apart (no ties within any reduction), in random order.
    n = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(n) * 0.05 + rng.uniform(-0.01, 0.01, n) - n * 0.025).reshape(shape)


def _ties(rng, shape):
    # Few distinct values, so ties are common: for examples about the tie rule.
    return rng.integers(-2, 3, shape).astype(np.float64)


def _large(rng, shape):
    return rng.standard_normal(shape) * 1e4


def _special(rng, shape):
    x = rng.standard_normal(shape)
    if x.size:
        idx = rng.integers(0, x.size, max(1, x.size // 4))
        x.flat[idx] = rng.choice([np.nan, np.inf, -np.inf], idx.size)
    return x


DOMAINS = {"real": _normal, "nonzero": _away_from_zero, "positive": _positive, "unit": _unit,
           "unique": _unique, "ties": _ties, "large": _large, "special": _special}


def values(seed, shape, domain="real"):
    """A float64 array of ``shape`` drawn from ``domain`` with NumPy's generator at ``seed``."""
    return np.asarray(DOMAINS[domain](np.random.default_rng(seed), tuple(shape)), np.float64)


seeds = st.integers(0, 2**32 - 1)

# -- shapes -----------------------------------------------------------------------------------


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def shapes_with_zero(min_dims=1, max_dims=4, max_side=4):
    """Shapes in which, one time in four, some dimension is 0."""
    return st.one_of(shapes(min_dims, max_dims, 1, max_side),
                     shapes(min_dims, max_dims, 0, max_side)).filter(lambda s: len(s) >= min_dims)


def dims(ndim, allow_none=True, allow_tuple=True):
    """A reduction ``dim`` for an ``ndim``-dimensional input: None, an int (negative too), or a
    tuple of distinct ints."""
    n = max(ndim, 1)
    one = st.integers(-n, n - 1)
    options = [one]
    if allow_none:
        options.append(st.none())
    if allow_tuple and ndim >= 1:
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                unique=True).map(tuple))
    return st.one_of(*options)


# -- examples ---------------------------------------------------------------------------------


@st.composite
def unary(draw, domain="real", shape=None):
    """One array input."""
    shape = draw(shape if shape is not None else shapes_with_zero(min_dims=0))
    return Example((values(draw(seeds), shape, domain),))


@st.composite
def binary(draw, domain_a="real", domain_b="real", max_dims=4):
    """Two arrays with mutually broadcastable shapes (equal shapes one time in three)."""
    same = draw(st.integers(0, 2)) == 0
    if same:
        sa = sb = draw(shapes_with_zero(min_dims=0, max_dims=max_dims))
    else:
        sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0,
                                                        max_dims=max_dims, max_side=4)).input_shapes
    s = draw(seeds)
    return Example((values(s, sa, domain_a), values(s + 1, sb, domain_b)))


@st.composite
def with_params(draw, inputs, **params):
    """``inputs`` (a strategy of Example) with keyword params drawn from strategies."""
    ex = draw(inputs)
    return Example(ex.args, {**ex.kwargs, **{k: draw(v) for k, v in params.items()}})


# -- memory layouts ---------------------------------------------------------------------------

LAYOUTS = ("transposed", "step_sliced", "negative_stride", "broadcast", "offset_nan")


def _fill(dtype):
    return np.nan if dtype.kind == "f" else np.iinfo(dtype).min if dtype.kind in "iu" else 0


def present(x, layout):
    """``x`` presented in ``layout``: (view, base, contiguous) where ``view`` is a strided view
    into ``base`` holding the values of ``contiguous``; None when the layout does not apply to
    x's shape. Only ``broadcast`` changes the values (constant along one axis)."""
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return None
    if layout == "transposed":
        if x.ndim < 2:
            return None
        base = np.ascontiguousarray(x.T)
        return base.T, base, x
    if layout == "step_sliced":
        base = np.full(x.shape[:-1] + (2 * x.shape[-1],), _fill(x.dtype), x.dtype)
        base[..., ::2] = x
        return base[..., ::2], base, x
    if layout == "negative_stride":
        base = np.ascontiguousarray(np.flip(x))
        return np.flip(base), base, x
    if layout == "broadcast":
        axes = [i for i, n in enumerate(x.shape) if n > 1]
        if not axes:
            return None
        base = np.ascontiguousarray(x.take([0], axis=axes[0]))
        view = np.broadcast_to(base, x.shape)
        return view, base, np.ascontiguousarray(view)
    if layout == "offset_nan":
        base = np.full(x.size + 7, _fill(x.dtype), x.dtype)
        base[3:3 + x.size] = x.ravel()
        return base[3:3 + x.size].reshape(x.shape), base, x
    raise ValueError(f"unknown layout {layout!r}")
