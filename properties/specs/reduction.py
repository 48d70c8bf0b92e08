"""OpSpecs of the reductions (impl.ops.reduction): sum, mean, var, amax, amin, max, min.

argmax and argmin are not differentiable and have no spec. ``dim`` is drawn as None, an empty
tuple (all dims, as torch), an int or a tuple of distinct ints, negative ones too.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import seeds, shapes_with_zero, values

FAMILY = "reduction"


def _axes(ndim, dim):
    """The sorted non-negative axes ``dim`` reduces over (all of them for None or ())."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % ndim for d in dims)) if ndim else ()


def _reduced(ex):
    """Elements summed per output element (drives the tolerance floor)."""
    x = ex.args[0]
    return prod([x.shape[a] for a in _axes(x.ndim, ex.kwargs.get("dim"))])


@st.composite
def _dim(draw, ndim, full=(None, ()), tuples=True):
    """A ``dim`` for an ``ndim``-d input: one of ``full`` (all dims), an int or a tuple."""
    n = max(ndim, 1)
    kinds = ["int"] + ["full"] * bool(full) + ["tuple"] * (tuples and ndim >= 1)
    kind = draw(st.sampled_from(kinds))
    if kind == "full":
        return draw(st.sampled_from(full))
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


@st.composite
def _reduction(draw, domain="real", dim=_dim, min_reduced=0, correction=False, min_dims=0,
               tied=False):
    """One input with ``dim``/``keepdim`` drawn by ``dim(ndim)`` (none at all when ``dim`` is
    None) and var's ``correction`` if asked; when ``min_reduced`` > 0 the reduced axes are
    resized to hold at least that many elements (more than the correction for var). ``tied``
    repeats the input along a reduced axis, so that every reduced slice holds each of its
    values twice: its extreme is tied."""
    shape = list(draw(shapes_with_zero(min_dims=min_dims)))
    kwargs = {}
    if dim is not None:
        kwargs = {"dim": draw(dim(len(shape))), "keepdim": draw(st.booleans())}
    if correction:  # a 0-d input holds one element: only correction 0 keeps N - correction > 0
        c = draw(st.sampled_from([0, 1, 2])) if shape else 0
        form = draw(st.sampled_from(["correction", "unbiased", "default"]))
        if form == "unbiased" and c < 2:
            kwargs["unbiased"] = bool(c)
        elif form != "default" or c != 1:
            kwargs["correction"] = c
        min_reduced = max(min_reduced, c + 1)
    axes = _axes(len(shape), kwargs.get("dim"))
    if min_reduced and axes:
        for a in axes:
            shape[a] = shape[a] or draw(st.integers(1, 3))
        if prod([shape[a] for a in axes]) < min_reduced:
            shape[axes[0]] = min_reduced
    domain = draw(st.sampled_from(domain if isinstance(domain, tuple) else (domain,)))
    x = values(draw(seeds), shape, domain)
    if tied and axes:
        x = np.concatenate([x, x], axis=draw(st.sampled_from(axes)))
    return Example((x,), kwargs)


@st.composite
def _empty_reduction(draw):
    """A reduction over no elements (mean and var give nan), the input having a 0 dim."""
    shape = list(draw(shapes_with_zero(min_dims=1)))
    dim = draw(_dim(len(shape)))
    axes = _axes(len(shape), dim)
    shape[draw(st.sampled_from(axes))] = 0
    return Example((values(draw(seeds), shape),), {"dim": dim, "keepdim": draw(st.booleans())})


def _jax_axis(x, dim):
    return None if dim is None or dim == () or x.ndim == 0 else dim


def _jax_sum(J, x, dim=None, keepdim=False):
    return J.jnp.sum(x, axis=_jax_axis(x, dim), keepdims=keepdim)


def _jax_mean(J, x, dim=None, keepdim=False):
    return J.jnp.mean(x, axis=_jax_axis(x, dim), keepdims=keepdim)


def _jax_var(J, x, dim=None, keepdim=False, correction=None, unbiased=None):
    ddof = correction if correction is not None else int(unbiased is not False)
    return J.jnp.var(x, axis=_jax_axis(x, dim), ddof=ddof, keepdims=keepdim)


def _jax_amax(largest):
    def f(J, x, dim=(), keepdim=False):
        return (J.jnp.max if largest else J.jnp.min)(x, axis=_jax_axis(x, dim), keepdims=keepdim)
    return f


def _jax_max(largest):
    """max()/min(): with an int ``dim`` the values at the first extreme (the gradient goes to
    that index only, as torch) and the indices; without, the extreme (ties share it evenly)."""
    def f(J, x, dim=None, keepdim=False):
        if dim is None:
            return (J.jnp.max if largest else J.jnp.min)(x)
        if x.ndim == 0:
            return x, J.jnp.zeros((), J.jnp.int64)
        index = (J.jnp.argmax if largest else J.jnp.argmin)(x, axis=dim, keepdims=True)
        picked = J.jnp.take_along_axis(x, index, axis=dim)
        if keepdim:
            return picked, index
        return J.jnp.squeeze(picked, dim), J.jnp.squeeze(index, dim)
    return f


_DIM_RANGE = BadInput("dim out of range", lambda: Example((np.ones((2, 3)),), {"dim": 2}),
                      (IndexError,))
_REPEATED = BadInput("dim repeated", lambda: Example((np.ones((2, 3)),), {"dim": (0, -2)}),
                     (RuntimeError,))
_EMPTY_ALL = BadInput("no dim on an empty input", lambda: Example((np.ones((0, 3)),)),
                      (RuntimeError,))
_EMPTY_DIM = BadInput("reduced dim of size 0", lambda: Example((np.ones((0, 3)),), {"dim": 0}),
                      (IndexError,))

_DISTINCT = "kinks where two elements tie: values drawn distinct, 0.05 apart"
_EVEN = "about ties: tied extremes share the gradient evenly (torch and jax)"
_FIRST = ("about ties: the first extreme along dim (torch on CPU) is the index and takes the "
          "whole gradient; the jax model picks it with argmax explicitly")


_int_dim = partial(_dim, full=(), tuples=False)  # max/min along one dim
_TIED = partial(_reduction, "ties", min_reduced=1, min_dims=1, tied=True)


def _amax_specs(name, largest):
    jax = _jax_amax(largest)
    dim = partial(_dim, full=((), None))
    return [
        OpSpec(name, FAMILY, examples=_reduction("unique", dim, min_reduced=1), jax=jax,
               nonsmooth=_DISTINCT, bad_inputs=[_DIM_RANGE, _REPEATED, _EMPTY_ALL, _EMPTY_DIM]),
        OpSpec(name, FAMILY, "ties", _TIED(dim=dim), jax, fd=False, nonsmooth=_EVEN),
    ]


def _max_specs(name, largest):
    jax = _jax_max(largest)
    return [
        OpSpec(name, FAMILY, "all", _reduction("unique", None, min_reduced=1), jax,
               nonsmooth=_DISTINCT, bad_inputs=[_EMPTY_ALL]),
        OpSpec(name, FAMILY, "dim", _reduction("unique", _int_dim, min_reduced=1), jax,
               nonsmooth=_DISTINCT, bad_inputs=[_DIM_RANGE, _EMPTY_DIM]),
        OpSpec(name, FAMILY, "all ties", _TIED(dim=None), jax, fd=False, nonsmooth=_EVEN),
        OpSpec(name, FAMILY, "dim ties", _TIED(dim=_int_dim), jax, fd=False, nonsmooth=_FIRST),
    ]


_SUMS = ("real", "real", "large")  # large magnitudes one time in three
_DOF = ("N - correction <= 0 (inf or nan, with a gradient torch does not define consistently) "
        "is avoided: the reduced slices hold more than `correction` elements")


def _empty_tuple(ndim):
    return st.just(())


def _quiet(fn, *args, **kwargs):
    """fn(*args, **kwargs) without the degrees-of-freedom warning torch's var gives whenever
    the input or the output has no elements."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


register(
    # NumPy's summation order follows the memory layout: layouts agree to rounding, not bitwise
    OpSpec("sum", FAMILY, examples=_reduction(_SUMS), jax=_jax_sum, accumulation=_reduced,
           exact_layouts=False, bad_inputs=[_DIM_RANGE, _REPEATED]),
    OpSpec("mean", FAMILY, examples=_reduction(_SUMS, min_reduced=1), jax=_jax_mean,
           accumulation=_reduced, exact_layouts=False,
           bad_inputs=[_DIM_RANGE, _REPEATED,
                       BadInput("integer input", lambda: Example((np.arange(3),)),
                                (RuntimeError,))]),
    OpSpec("mean", FAMILY, "empty", _empty_reduction(), _jax_mean, fd=False,
           nonsmooth="the mean of no elements is nan; the input has no elements to perturb"),
    # 0-d inputs (correction 0 only) come in the dim=() variant
    OpSpec("var", FAMILY, examples=_reduction(_SUMS, partial(_dim, full=(None,)),
                                              correction=True, min_dims=1),
           jax=_jax_var, accumulation=_reduced, exact_layouts=False, call=_quiet,
           bad_inputs=[_DIM_RANGE, _REPEATED], nonsmooth=_DOF),
    # torch 2.13's var backward for dim=() divides by 1 - correction, as if nothing were reduced,
    # while its forward reduces all dims: jax and finite differences give the true gradient.
    OpSpec("var", FAMILY, "dim=()", _reduction(_SUMS, _empty_tuple, correction=True), _jax_var,
           accumulation=_reduced, exact_layouts=False, nonsmooth=_DOF, convention="jax",
           call=_quiet),
    OpSpec("var", FAMILY, "empty", _empty_reduction(), _jax_var, fd=False, call=_quiet,
           nonsmooth="the variance of no elements is nan; the input has no elements to perturb"),
    *_amax_specs("amax", True),
    *_amax_specs("amin", False),
    *_max_specs("max", True),
    *_max_specs("min", False),
)
