"""OpSpecs of the reductions (impl.ops.reduction): sum, mean, var, amax, amin, max, min.

argmax and argmin are not differentiable and have no spec. Every spec draws ``dim`` of each kind
it takes — omitted, None, an int, a negative int, a tuple of distinct ints (negative ones too),
the empty tuple (all dims, as torch) — crossed with ``keepdim``, each combination a region, in
every argument form torch documents: keywords, positional ``dim``/``keepdim`` (and var's
positional ``unbiased``), the Tensor method, ``dtype=`` for sum and mean, var's ``correction``
and ``unbiased``. The large tier reduces 10^3 to 10^5 elements whose sides, reduced and kept,
straddle block widths; curated cases sum 10^4 elements (a relative error of 1e-4 in one output
element is caught in float32, 1e-9 in float64). The ``values`` variants hold NaN, ±inf, exact
±0.0 (a sum starts from +0.0 in torch: the sum of -0.0 alone is +0.0) and reductions over no
elements; the ``ties`` variants hold tied extremes and NaN (the extreme of its slice). Which
zero amax and max() return for a tie of 0.0 and -0.0 differs between them in torch (amax keeps
the first, max() the last): not checked. max and min with a tensor second argument are the
elementwise maximum and minimum (the ``other`` variants).
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import (
    binary,
    broadcast_regions,
    large_shapes,
    seeds,
    shapes_with_zero,
    values,
)

FAMILY = "reduction"

# -- dim ----------------------------------------------------------------------------------------

_LABELS = {"None": "dim=None", "int": "int dim", "negative": "negative int dim",
           "tuple": "tuple dim", "()": "dim=()"}


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


def _kind(ex):
    """How the example gives ``dim``: a key of _LABELS, or "omitted"."""
    if "dim" not in ex.kwargs:
        return "omitted"
    d = ex.kwargs["dim"]
    if d is None or d == ():
        return str(d)
    if isinstance(d, tuple):
        return "tuple"
    return "negative" if d < 0 else "int"


def _draw_dim(draw, kind, ndim):
    n = max(ndim, 1)
    if kind in ("None", "()"):
        return None if kind == "None" else ()
    if kind != "tuple":
        return draw(st.integers(0, n - 1) if kind == "int" else st.integers(-n, -1))
    axes = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    return tuple(a - n if draw(st.booleans()) else a for a in axes)


def _dim_regions(kinds):
    """One region per dim kind and keepdim (just "dim omitted" for the omitted kind)."""
    regions = {}
    for kind in kinds:
        if kind == "omitted":
            regions["dim omitted"] = lambda ex: _kind(ex) == "omitted"
            continue
        for keep in (False, True):
            regions[f"{_LABELS[kind]}, keepdim={keep}"] = (
                lambda ex, k=kind, kd=keep: _kind(ex) == k and
                ex.kwargs.get("keepdim", False) is kd)
    return regions


# -- argument forms -------------------------------------------------------------------------------


def _caller(name, orders=(("dim", "keepdim"),)):
    """call= for a reduction ``name`` drawn in one of four forms (the ``form`` keyword):
    ``fn(x, dim=…)``, ``fn(x, dim, keepdim)``, ``x.name(dim=…)``, ``x.name(dim, keepdim)``;
    the positional forms take the arguments of the first of ``orders`` whose first argument
    the example has, as far as the example has them. ``dtype`` is named as a string."""
    def call(fn, x, form="keyword", **kw):
        if "dtype" in kw:
            kw["dtype"] = fn.dtype(kw["dtype"])
        args = (x,)
        if form.startswith("method"):
            fn, args = fn.method(x, name), ()
        if form.endswith("positional"):
            order = next((o for o in orders if o[0] in kw), ())
            for key in order:
                if key not in kw:
                    break
                args += (kw.pop(key),)
        return fn(*args, **kw)
    return call


_FORMS = ("keyword", "positional", "method", "method positional")


def _form_regions(forms=_FORMS):
    return {f"{form} form": lambda ex, f=form: ex.kwargs.get("form", "keyword") == f
            for form in forms}


def _jax(reduce):
    """A jax reduction that ignores the call form and casts to ``dtype`` first (torch does)."""
    def f(J, x, form=None, dtype=None, **kw):
        return reduce(J, x if dtype is None else x.astype(dtype), **kw)
    return f


# -- strategies -----------------------------------------------------------------------------------


@st.composite
def _reduction(draw, kinds, domain="real", min_reduced=0, correction=False, tied=False,
               dtype=False, large=False, forms=_FORMS, empty=False):
    """One input (10^3 to 10^5 elements when ``large``) and a ``dim`` of one of ``kinds`` with
    ``keepdim``, in one of ``forms``, with ``dtype`` and var's ``correction``/``unbiased`` when
    asked. With ``min_reduced`` the reduced axes hold at least that many elements (more than
    the correction for var), but for a zero-size input when ``empty`` (a reduction over no
    elements, perhaps). ``tied`` repeats the input along a reduced axis, so that each
    reduced slice holds each of its values twice: its extreme is tied."""
    shape = list(draw(large_shapes(2, 3) if large else shapes_with_zero(min_dims=0)))
    if large:  # Hypothesis draws the first options first: a dim that keeps dims, then the rest
        kinds = sorted(kinds, key=lambda k: k not in ("int", "negative", "tuple"))
    kind = draw(st.sampled_from(kinds))
    kwargs = {}
    if kind != "omitted":
        kwargs = {"dim": _draw_dim(draw, kind, len(shape)), "keepdim": draw(st.booleans())}
    form = draw(st.sampled_from(forms if kind != "omitted" else
                                [f for f in forms if "positional" not in f] or forms))
    if correction:
        min_reduced = max(min_reduced, _correction(draw, kwargs, bool(shape)) + 1)
        if kind == "omitted" and "unbiased" in kwargs and draw(st.booleans()):
            form = "positional"  # var(input, unbiased)
    if dtype and draw(st.integers(0, 2)) == 2:
        kwargs["dtype"] = "float64"
    if form != "keyword":
        kwargs["form"] = form
    axes = _axes(len(shape), kwargs.get("dim"))
    if min_reduced and axes and not (empty and 0 in shape):
        for a in axes:
            shape[a] = shape[a] or draw(st.integers(1, 3))
        if prod([shape[a] for a in axes]) < min_reduced:
            shape[axes[0]] = min_reduced
    domain = draw(st.sampled_from(domain if isinstance(domain, tuple) else (domain,)))
    s = draw(seeds)
    if tied and axes and not large:
        axis = draw(st.sampled_from(axes))
        half = values(s, shape, domain)
        x = np.concatenate([half, half], axis=axis)
    else:
        x = values(s, shape, domain)
    return Example((x,), kwargs)


def _correction(draw, kwargs, dimensioned):
    """Draw var's correction (0, 1 or 2; 0 for a 0-d input, which holds one element) as
    ``correction=``, ``unbiased=`` or the default; return it."""
    c = draw(st.sampled_from([0, 1, 2])) if dimensioned else 0
    how = draw(st.sampled_from(["correction", "unbiased", "default"]))
    if how == "unbiased" and c < 2:
        kwargs["unbiased"] = bool(c)
    elif how != "default" or c != 1:
        kwargs["correction"] = c
    return c


def _tiers(kinds, **kw):
    """(small tier, large tier) of ``_reduction``."""
    return _reduction(kinds, **kw), _reduction(kinds, large=True, **kw)


def _rank_regions():
    return {"0-d input": lambda ex: ex.args[0].ndim == 0,
            "zero-size input": lambda ex: ex.args[0].size == 0}


def _var_regions():
    def correction(ex):
        kw = ex.kwargs
        return kw.get("correction", int(kw.get("unbiased", True)))
    return {**{f"correction={c}": lambda ex, c=c: correction(ex) == c for c in (0, 1, 2)},
            **{f"unbiased={b}": lambda ex, b=b: ex.kwargs.get("unbiased") is b
               for b in (False, True)},
            "var(input, unbiased)": lambda ex: _kind(ex) == "omitted" and
            ex.kwargs.get("form") == "positional"}


# dtype=float64 widens float32 inputs (float64 ones it keeps). Not float32: the checks hold a
# float64 run's outputs to float64 accuracy, and finite differences of a float32 output say
# nothing.
_DTYPE_REGIONS = {"dtype=float64": lambda ex: ex.kwargs.get("dtype") == "float64"}

# -- values ---------------------------------------------------------------------------------------


def _has(*kinds):
    """A region: some input element is NaN (or ±inf, or ±0.0 exactly)."""
    tests = {"nan": np.isnan, "inf": np.isinf, "zero": lambda x: x == 0}
    return lambda ex: any(tests[k](ex.args[0]).any() for k in kinds)


def _empty_reduction(ex):
    return ex.args[0].ndim > 0 and 0 in [ex.args[0].shape[a] for a in
                                         _axes(ex.args[0].ndim, ex.kwargs.get("dim"))]


_VALUE_REGIONS = {"NaN in the input": _has("nan"), "±inf in the input": _has("inf")}
_SPECIALS = ("special", "special", "zeros")

# -- jax -------------------------------------------------------------------------------------------


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
    that index only, as torch; a NaN is the extreme, argmax finds the first) and the indices;
    without, the extreme (ties share it evenly)."""
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


# -- bad inputs -----------------------------------------------------------------------------------

_DIM_RANGE = BadInput("dim out of range", lambda: Example((np.ones((2, 3)),), {"dim": 2}),
                      (IndexError,))
_REPEATED = BadInput("dim repeated", lambda: Example((np.ones((2, 3)),), {"dim": (0, -2)}),
                     (RuntimeError,))
_FLOAT_DIM = BadInput("float dim", lambda: Example((np.ones((2, 3)),), {"dim": 1.0}),
                      (TypeError,))
_EMPTY_ALL = BadInput("no dim on an empty input", lambda: Example((np.ones((0, 3)),)),
                      (RuntimeError,))
_EMPTY_DIM = BadInput("reduced dim of size 0", lambda: Example((np.ones((0, 3)),), {"dim": 0}),
                      (IndexError,))


def _integer_input(raises=RuntimeError):
    return BadInput("integer input", lambda: Example((np.arange(3),)), (raises,))


_VAR_BAD = [_DIM_RANGE, _REPEATED, _integer_input(),
            BadInput("both unbiased and correction", lambda: Example(
                (np.ones((2, 3)),), {"unbiased": True, "correction": 1}), (TypeError,))]

# -- curated cases --------------------------------------------------------------------------------


def _case(shape, seed=0, domain="real", **kwargs):
    return Example((values(seed, shape, domain),), kwargs)


# 10^4 elements: one of them off by 1e-4 (float32) or 1e-9 (float64) relative must show
_SUM_CASES = [
    ("101x103 over all dims", _case((101, 103), 1)),
    ("101x103 along the last dim", _case((101, 103), 2, dim=1)),
    ("103x101 along the first dim, kept", _case((103, 101), 3, dim=0, keepdim=True)),
    ("a dim of size 0 sums to 0", _case((0, 3), dim=0)),
]
_EMPTY_CASE = ("a dim of size 0 gives nan", _case((0, 3), dim=0))
_TIES = "about ties: tied extremes share the gradient evenly (torch and jax)"
_FIRST = ("about ties: the first extreme along dim (torch on CPU) is the index and takes the "
          "whole gradient; the jax model picks it with argmax explicitly")
_DISTINCT = "kinks where two elements tie: values drawn distinct, 0.05 apart"
_DOF = ("N - correction <= 0 (inf or nan, with a gradient torch does not define consistently) "
        "is avoided: the reduced slices hold more than `correction` elements")
_NAN_VALUES = ("about NaN and ±inf (propagated as torch) and reductions over no elements: no "
               "finite differences")
_ZERO_D_OUT = {("cotangent", "*"): "the output is always 0-d: no cotangent layout applies"}

_ALL = ("omitted", "None", "int", "negative", "tuple", "()")
_SUMS = ("real", "real", "large")  # large magnitudes one time in three


def _quiet(call):
    """``call`` without the degrees-of-freedom warning torch's var gives whenever the input or
    the output has no elements."""
    def quiet(fn, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call(fn, *args, **kwargs)
    return quiet


def _sum_like(name, jax, min_reduced=0, bad=(), cases=(), values_cases=(), values_regions=None):
    """The spec of sum or mean, and its ``values`` variant (NaN, ±inf, ±0.0; the reductions
    over no elements too, where ``values_regions`` says so)."""
    small, large = _tiers(_ALL, domain=_SUMS, dtype=True, min_reduced=min_reduced)
    values_small, values_large = _tiers(_ALL, domain=_SPECIALS, dtype=True,
                                        min_reduced=min_reduced, empty=True)
    # NumPy's summation order follows the memory layout: layouts agree to rounding, not bitwise
    common = dict(jax=_jax(jax), accumulation=_reduced, exact_layouts=False,
                  call=_caller(name))
    return [
        OpSpec(name, FAMILY, examples=small, large=large, multilinear=True, bad_inputs=[*bad],
               cases=[*cases],
               regions={**_dim_regions(_ALL), **_rank_regions(), **_form_regions(),
                        **_DTYPE_REGIONS}, **common),
        OpSpec(name, FAMILY, "values", values_small, large=values_large, multilinear=True, fd=False,
               signed_zeros=True, nonsmooth=_NAN_VALUES, cases=[*values_cases],
               regions={**_VALUE_REGIONS, "±0.0 in the input": _has("zero"),
                        **(values_regions or {})}, **common),
    ]


def _var_specs():
    kinds = ("omitted", "None", "int", "negative", "tuple")
    var_call = _quiet(_caller("var", (("dim", "unbiased", "keepdim"), ("unbiased",))))
    common = dict(jax=_jax(_jax_var), accumulation=_reduced, exact_layouts=False,
                  call=var_call)
    small, large = _tiers(kinds, domain=_SUMS, correction=True)
    empty_small, empty_large = _tiers(("()",), domain=_SUMS, correction=True)
    values_small, values_large = _tiers(kinds, domain="special", correction=True, empty=True)
    return [
        OpSpec("var", FAMILY, examples=small, large=large, nonsmooth=_DOF, bad_inputs=_VAR_BAD,
               regions={**_dim_regions(kinds), **_rank_regions(), **_form_regions(),
                        **_var_regions()}, **common),
        # torch 2.13's var backward for dim=() divides by 1 - correction, as if nothing were
        # reduced, while its forward reduces all dims: jax and finite differences give the
        # true gradient.
        OpSpec("var", FAMILY, "dim=()", empty_small, large=empty_large, nonsmooth=_DOF,
               convention="jax", regions={**_dim_regions(("()",)), "0-d input": lambda ex:
                                          ex.args[0].ndim == 0},
               inapplicable={("cotangent", "broadcast"): "no output side is above 1"},
               **common),
        OpSpec("var", FAMILY, "values", values_small, large=values_large, fd=False,
               nonsmooth=_NAN_VALUES, regions={
                   **_VALUE_REGIONS, "reduction over no elements": _empty_reduction},
               cases=[_EMPTY_CASE, ("one element, correction 1: nan", _case((1,)))],
               **common),
    ]


def _amax_specs(name, largest):
    common = dict(jax=_jax(_jax_amax(largest)), call=_caller(name))
    small, large = _tiers(_ALL, domain="unique", min_reduced=1)
    ties_small, ties_large = _tiers(_ALL, domain=("ties", "ties", "special"), min_reduced=1,
                                    tied=True)
    return [
        OpSpec(name, FAMILY, examples=small, large=large, nonsmooth=_DISTINCT,
               bad_inputs=[_DIM_RANGE, _REPEATED, _FLOAT_DIM, _EMPTY_ALL, _EMPTY_DIM],
               regions={**_dim_regions(_ALL), **_rank_regions(), **_form_regions()}, **common),
        OpSpec(name, FAMILY, "ties", ties_small, large=ties_large, fd=False,
               nonsmooth=_TIES, regions={**_VALUE_REGIONS, "3-d or more": lambda ex:
                                         ex.args[0].ndim >= 3}, **common),
    ]


def _max_specs(name, largest):
    jax = _jax(_jax_max(largest))
    call = _caller(name)
    ints = ("int", "negative")
    method_only = ("keyword", "method")
    all_small, all_large = _tiers(("omitted",), domain="unique", min_reduced=1,
                                  forms=method_only)
    dim_small, dim_large = _tiers(ints, domain="unique", min_reduced=1)
    ties = dict(domain=("ties", "ties", "special"), min_reduced=1, tied=True)
    all_ties = _tiers(("omitted",), forms=method_only, **ties)
    dim_ties = _tiers(ints, **ties)
    form = _form_regions(method_only)
    return [
        OpSpec(name, FAMILY, "all", all_small, jax, large=all_large, call=call,
               nonsmooth=_DISTINCT, bad_inputs=[_EMPTY_ALL], inapplicable=_ZERO_D_OUT,
               regions={**form, "0-d input": lambda ex: ex.args[0].ndim == 0}),
        OpSpec(name, FAMILY, "dim", dim_small, jax, large=dim_large, call=call,
               nonsmooth=_DISTINCT, bad_inputs=[_DIM_RANGE, _EMPTY_DIM, _FLOAT_DIM],
               regions={**_dim_regions(ints), **_rank_regions(), **_form_regions()}),
        OpSpec(name, FAMILY, "all ties", all_ties[0], jax, large=all_ties[1], call=call,
               fd=False, nonsmooth=_TIES + "; a NaN result sends it to the NaN elements "
               "(torch; jax gives NaN everywhere)", inapplicable=_ZERO_D_OUT,
               regions={**form, **_VALUE_REGIONS}),
        OpSpec(name, FAMILY, "dim ties", dim_ties[0], jax, large=dim_ties[1], call=call,
               fd=False, nonsmooth=_FIRST, regions={**_dim_regions(ints), **_VALUE_REGIONS}),
        OpSpec(name, FAMILY, "other", binary(), lambda J, a, b: (
            J.jnp.maximum if largest else J.jnp.minimum)(a, b), diff=(0, 1), alias=True,
               large=binary(large=True), regions=broadcast_regions(), bad_inputs=[BadInput(
                   "shapes (3,) and (4,) do not broadcast", lambda: Example(
                       (np.ones(3), np.ones(4))), (RuntimeError,))],
               nonsmooth="kink where input == other: independent draws never tie"),
    ]


register(
    *_sum_like("sum", _jax_sum, bad=[_DIM_RANGE, _REPEATED, _FLOAT_DIM], cases=_SUM_CASES),
    *_sum_like("mean", _jax_mean, min_reduced=1,
               bad=[_DIM_RANGE, _REPEATED, _FLOAT_DIM, _integer_input()],
               values_cases=[_EMPTY_CASE],
               values_regions={"reduction over no elements": _empty_reduction}),
    *_var_specs(),
    *_amax_specs("amax", True),
    *_amax_specs("amin", False),
    *_max_specs("max", True),
    *_max_specs("min", False),
)
