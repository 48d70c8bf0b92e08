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

from oracles.base import Example

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


def _zeros(rng, shape):
    # Exact +0.0 and -0.0 among ordinary values: the sign rules at the kinks (abs, relu, sqrt,
    # neg, mul) and exact zero inputs.
    x = rng.standard_normal(shape)
    pick = rng.integers(0, 3, shape)
    x[pick == 0] = 0.0
    x[pick == 1] = -0.0
    return x


def _subnormal(rng, shape):
    # Magnitudes around 1e-40 (float32 subnormals, float64 normals) and 1e-310 (float64
    # subnormals, float32 zeros), with a few ordinary values: kernels that flush to zero show.
    scale = rng.choice([1e-40, 1e-39, 1e-310, 1.0], shape, p=[0.35, 0.25, 0.3, 0.1])
    return rng.standard_normal(shape) * scale


def _overflow(rng, shape):
    # Near the ends of exp's range in both dtypes: exp(88.7) is the largest float32 and
    # exp(709.7) the largest float64 (float32 overflows there); -87 and -745 underflow.
    ends = rng.choice([88.0, 709.0, -87.0, -745.0, 0.0], shape)
    return ends + np.sign(ends) * rng.uniform(-3.0, 0.7, shape) + (ends == 0) * rng.normal(
        0, 1, shape)


DOMAINS = {"real": _normal, "nonzero": _away_from_zero, "positive": _positive, "unit": _unit,
           "unique": _unique, "ties": _ties, "large": _large, "special": _special,
           "zeros": _zeros, "subnormal": _subnormal, "overflow": _overflow}


def values(seed, shape, domain="real"):
    """A float64 array of ``shape`` drawn from ``domain`` with NumPy's generator at ``seed``."""
    return np.asarray(DOMAINS[domain](np.random.default_rng(seed), tuple(shape)), np.float64)


seeds = st.integers(0, 2**32 - 1)

# -- shapes -----------------------------------------------------------------------------------


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


# Sides that straddle the block widths kernels tile by: each power of two, one below and above.
STRADDLE = (7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257)


def straddle(low=1, high=257):
    """A side from STRADDLE within [low, high], or an odd side there."""
    inside = [n for n in STRADDLE if low <= n <= high]
    odd = st.integers(max(low, 1) // 2, (high - 1) // 2).map(lambda k: 2 * k + 1)
    return st.one_of(st.sampled_from(inside), odd) if inside else odd


@st.composite
def large_shapes(draw, min_dims=1, max_dims=4, min_size=1_000, max_size=100_000):
    """A shape of ``min_size`` to ``max_size`` elements whose sides straddle block widths or
    are odd, for the large tier: the paths blocked and tiled kernels take on real sizes."""
    ndim = draw(st.integers(max(min_dims, 1), max_dims))
    rng = np.random.default_rng(draw(seeds))
    target = float(np.exp(rng.uniform(np.log(min_size), np.log(max_size))))
    sides = []
    for k in range(ndim):
        ideal = (target / prod(sides)) ** (1 / (ndim - k))
        near = [n for n in STRADDLE if ideal / 2 <= n <= ideal * 2]
        odd = 2 * int(ideal * rng.uniform(0.6, 1.4) / 2) + 1
        sides.append(int(rng.choice(near)) if near and rng.random() < 0.7 else odd)
    rng.shuffle(sides)
    while prod(sides) > max_size:  # rounding overshot: shrink the largest side to an odd one
        i = int(np.argmax(sides))
        sides[i] = max(1, (sides[i] // 2) | 1)
    while prod(sides) < min_size:
        i = int(np.argmin(sides))
        sides[i] = sides[i] * 2 + 1
    return tuple(sides)


def prod(shape):
    return int(np.prod(shape, dtype=np.int64))


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
def broadcast_pair(draw, max_dims=4, large=False):
    """Two mutually broadcastable shapes: equal one time in three; large ones straddle block
    widths, the other operand equal, with some sides 1, or a suffix of lower rank."""
    if large:
        sa = draw(large_shapes(1, max_dims))
        kind = draw(st.sampled_from(["same", "ones", "suffix"]))
        if kind == "same":
            sb = sa
        elif kind == "ones":
            sb = tuple(1 if draw(st.booleans()) else n for n in sa)
        else:
            sb = sa[draw(st.integers(0, len(sa) - 1)):] if len(sa) > 1 else ()
        return (sb, sa) if draw(st.booleans()) else (sa, sb)
    if draw(st.integers(0, 2)) == 0:
        sa = draw(shapes_with_zero(min_dims=0, max_dims=max_dims))
        return sa, sa
    return draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims,
                                                  max_side=4)).input_shapes


@st.composite
def binary(draw, domain_a="real", domain_b="real", max_dims=4, large=False):
    """Two arrays with mutually broadcastable shapes (equal shapes one time in three)."""
    sa, sb = draw(broadcast_pair(max_dims, large))
    s = draw(seeds)
    return Example((values(s, sa, domain_a), values(s + 1, sb, domain_b)))


def large_unary(domain="real", min_dims=1, max_dims=4):
    """One array of 10^3 to 10^5 elements (the large tier of an elementwise op)."""
    return unary(domain, large_shapes(min_dims, max_dims))


# -- regions: predicates on an Example ----------------------------------------------------------


def _arrays(ex, which):
    return [ex.args[i] for i in which if isinstance(ex.args[i], np.ndarray)]


def rank_regions(*which):
    """0-d, zero-size and 3-d-or-more inputs among arguments ``which`` (default: the first)."""
    which = which or (0,)
    return {"0-d input": lambda ex: any(a.ndim == 0 for a in _arrays(ex, which)),
            "zero-size input": lambda ex: any(a.size == 0 for a in _arrays(ex, which)),
            "3-d or more": lambda ex: any(a.ndim >= 3 for a in _arrays(ex, which))}


def broadcast_regions(i=0, j=1):
    """Equal shapes, broadcast shapes, and operands of different ranks."""
    def shapes_(ex):
        return ex.args[i].shape, ex.args[j].shape
    return {"equal shapes": lambda ex: shapes_(ex)[0] == shapes_(ex)[1],
            "broadcast": lambda ex: shapes_(ex)[0] != shapes_(ex)[1],
            "ranks differ": lambda ex: len(shapes_(ex)[0]) != len(shapes_(ex)[1]),
            **rank_regions(i, j)}


@st.composite
def with_params(draw, inputs, **params):
    """``inputs`` (a strategy of Example) with keyword params drawn from strategies."""
    ex = draw(inputs)
    return Example(ex.args, {**ex.kwargs, **{k: draw(v) for k, v in params.items()}})


# -- memory layouts ---------------------------------------------------------------------------

LAYOUTS = ("transposed", "step_sliced", "negative_stride", "broadcast", "offset_nan",
           "channels_last", "permuted")


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
    if layout in ("channels_last", "permuted"):
        # channels_last: the channel axis (1 of NCHW, 0 of CHW) last in memory; permuted: the
        # two axes before the last swapped in memory, the last still contiguous
        if x.ndim < 3:
            return None
        order = list(range(x.ndim))
        if layout == "channels_last":
            order.append(order.pop(x.ndim - 3))
        else:
            order[-3], order[-2] = order[-2], order[-3]
        base = np.ascontiguousarray(x.transpose(order))
        return base.transpose(np.argsort(order)), base, x
    if layout == "offset_nan":
        base = np.full(x.size + 7, _fill(x.dtype), x.dtype)
        base[3:3 + x.size] = x.ravel()
        return base[3:3 + x.size].reshape(x.shape), base, x
    raise ValueError(f"unknown layout {layout!r}")
