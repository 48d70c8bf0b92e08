"""OpSpecs of the neural-network functional ops (impl.ops.nn and impl.nn.functional): softmax and
log_softmax (torch's functions with their Tensor methods, and nn.functional's), linear and the
losses.

Every spec has a small tier of every rank (0-d and zero-size where torch takes them) and a large
tier of real sizes: softmax rows of 1,000 to 4,097 elements along any dim, linear up to 256 on a
side, losses over 10^3 to 10^5 elements and up to 4,097 classes. The argument forms torch
documents are drawn and are regions: dim positive, negative or implicit, ``dtype=``, positional
and keyword calls, the Tensor methods, the legacy ``size_average``/``reduce`` flags, class
weights, ``ignore_index``, label smoothing, class-index (int64, uint8) and class-probability
targets, a target of another shape or dtype. The ``special`` and ``at 0 and 1`` variants hold
the values where finite differences say nothing: NaN and infinite logits, masked (-inf) rows,
inputs of exactly 0 and 1, and 'mean' of nothing (0/0 = nan, every gradient 0, as torch).

Warnings are part of torch's contract here (the implicit softmax dim, a broadcast mse target,
the legacy flags): nn.functional's softmaxes and the losses return, as a second output, whether
the call warned. The jax functions are written from jax primitives and reproduce torch's
conventions: class weights normalize 'mean', ignored targets count for nothing, label smoothing
follows torch's cross_entropy_loss_label_smoothing and the binary cross entropy clamps each log
at -100. Constant float arguments (class weights, a target without gradient) are drawn in
float64 and take the input's dtype in ``call``, as torch requires.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import (
    STRADDLE,
    broadcast_pair,
    large_shapes,
    rank_regions,
    seeds,
    shapes,
    shapes_with_zero,
    values,
)

FAMILY = "nn"
REDUCTIONS = st.sampled_from(["none", "mean", "sum"])
_REDUCTION_BAD = "reduction 'avg'"
# torch's defaults of the optional arguments, for calls that pass them positionally
_DEFAULTS = {"dim": None, "_stacklevel": 3, "dtype": None, "bias": None, "weight": None,
             "size_average": None, "ignore_index": -100, "reduce": None, "reduction": "mean",
             "label_smoothing": 0.0}


def _spec(name, variant="", examples=None, jax=None, **kw):
    # Every op here sums (softmax's normalizer, the loss reductions, linear's products) and
    # NumPy sums in memory order: strided layouts agree with the contiguous run to rounding.
    return OpSpec(name, FAMILY, variant, examples, jax, exact_layouts=False, **kw)


# -- argument forms -----------------------------------------------------------------------------


def _like(fn, t, x):
    """A float64 constant ``t`` (class weights, a target without gradient) in the dtype of the
    input ``x``; anything else (None, an integer target, a bad input's float32 weight) as it
    is."""
    if t is None or t.dtype == x.dtype or "float64" not in str(t.dtype):
        return t
    return fn.like(t, x)


def _caller(arrays, params, constants=(), method=None, warns=False):
    """A spec's ``call``: the op on the example's arrays (named ``arrays``; ``params`` are all
    the op's arguments in torch's order) and keywords, in the drawn ``form``: 'keyword' (the
    first one or two arrays positionally, the other arguments by keyword, arrays that are None
    left out), 'positional' (every argument up to the last one given, in order, torch's
    defaults between) or 'method' (``input.<method>(...)``). Float64 ``constants`` take the
    input's dtype, ``dtype`` names the library's. With ``warns``, also returns whether the call
    warned: an int64 0-d tensor, 1 after a UserWarning (torch's deprecations and its
    broadcasting warning), else 0."""
    head = 1 if params[1] == "dim" else 2

    def call(fn, *args, form="keyword", **kwargs):
        x = args[0]
        given = dict(zip(arrays, args), **kwargs)
        for name in constants:
            given[name] = _like(fn, given.get(name), x)
        if given.get("dtype") is not None:
            given["dtype"] = fn.dtype(given["dtype"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if form == "positional":
                last = max(params.index(k) for k in given)
                out = fn(*(given.get(k, _DEFAULTS.get(k)) for k in params[:last + 1]))
            else:
                first = [given.pop(k) for k in params[:head]]
                rest = {k: v for k, v in given.items() if v is not None or k not in arrays}
                out = fn.method(x, method)(*first[1:], **rest) if form == "method" else \
                    fn(*first, **rest)
        if not warns:
            return out
        warned = any(issubclass(w.category, UserWarning) for w in caught)
        return out, fn.scalar(int(warned))
    return call


def _legacy(kwargs):
    """Whether the call passes torch's deprecated ``size_average``/``reduce`` flags."""
    return kwargs.get("size_average") is not None or kwargs.get("reduce") is not None


def _reduction(kwargs):
    """The reduction the call asks for: torch's legacy_get_string when it passes the legacy
    flags (None counts as True), else ``reduction``."""
    if not _legacy(kwargs):
        return kwargs.get("reduction", "mean")
    if kwargs.get("reduce") is False:
        return "none"
    return "sum" if kwargs.get("size_average") is False else "mean"


def _jax(fn, warns=None):
    """A spec's jax function from ``fn(J, *arrays, **options)``: the form dropped, the legacy
    flags replaced by the reduction they stand for, ``dtype`` applied to the input first; with
    ``warns(arrays, kwargs)`` (torch's rule), whether torch warns as a second output."""
    def f(J, *args, form=None, _stacklevel=None, dtype=None, **kwargs):
        warned = warns is not None and warns(args, kwargs)
        if _legacy(kwargs):
            kwargs["reduction"] = _reduction(kwargs)
        kwargs.pop("size_average", None)
        kwargs.pop("reduce", None)
        if dtype is not None:
            args = (args[0].astype(dtype),) + args[1:]
        out = fn(J, *args, **kwargs)
        return out if warns is None else (out, J.jnp.asarray(int(warned), J.jnp.int64))
    return f


@st.composite
def _options(draw, legacy=True, reduction=True):
    """A reduction (one time in four left to its default) or, one time in four, torch's legacy
    flags (with a ``reduction`` they override, half the time); the argument form."""
    kwargs = {}
    if legacy and draw(st.integers(0, 3)) == 0:
        flags = st.sampled_from([None, True, False])
        kwargs["size_average"], kwargs["reduce"] = draw(
            st.tuples(flags, flags).filter(lambda f: f != (None, None)))
        if draw(st.booleans()):
            kwargs["reduction"] = draw(REDUCTIONS)
    elif reduction and draw(st.integers(0, 3)):
        kwargs["reduction"] = draw(REDUCTIONS)
    if draw(st.booleans()):
        kwargs["form"] = "positional"
    return kwargs


def _form_regions(forms=("keyword", "positional")):
    return {f"{f} call": (lambda ex, f=f: ex.kwargs.get("form", "keyword") == f) for f in forms}


def _loss_regions(legacy=True):
    regions = {f"reduction '{r}'": (lambda ex, r=r: _reduction(ex.kwargs) == r)
               for r in ("none", "mean", "sum")}
    if legacy:
        regions["legacy size_average/reduce"] = lambda ex: _legacy(ex.kwargs)
        regions.update(_form_regions())
    return regions


def _reduce_jax(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _reduced_terms(ex, n):
    """``n`` terms per output element for 'none', else every element of the loss summed."""
    return 1 if _reduction(ex.kwargs) == "none" else n


def _jlike(J, t, x):
    return None if t is None else J.jnp.asarray(t, x.dtype)


def _nothing_to_average(ex):
    """'mean' over no element (an empty input, or every class-index target ignored)."""
    x, t = ex.args[:2]
    if _reduction(ex.kwargs) != "mean":
        return False
    if t.dtype.kind == "f":
        return prod(np.broadcast_shapes(x.shape, t.shape)) == 0
    return bool(np.all(t == ex.kwargs.get("ignore_index", -100)))


def _averaging(strategy):
    """``strategy`` without the examples that take a 'mean' of nothing: that is 0/0 = nan, where
    finite differences say nothing (the ``special`` variants hold those examples)."""
    return strategy.filter(lambda ex: not _nothing_to_average(ex))


def _nothing(variant):
    return f"'mean' of nothing ({variant}): the loss is 0/0 = nan and every gradient 0, as torch"


@st.composite
def _loss_shape(draw, empty, min_dims=0, max_dims=4, class_axis=None):
    """A loss input's shape, its class axis (if any) not empty: with ``empty`` one holding no
    element, else any (zero-size one time in four)."""
    if not empty:
        return draw(shapes_with_zero(min_dims, max_dims).filter(
            lambda sh: class_axis is None or sh[class_axis] > 0))
    shape = draw(shapes(max(min_dims, 1), max_dims, 1, 4))
    i = draw(st.sampled_from([a for a in range(len(shape)) if a != class_axis]))
    return shape[:i] + (0,) + shape[i + 1:]


def _any(ex, test):
    return any(isinstance(a, np.ndarray) and a.dtype.kind == "f" and bool(test(a).any())
               for a in ex.args)


def _large_logits(ex):
    return np.abs(ex.args[0]).max(initial=0) > 1e3


def _value_regions():
    return {"nan": lambda ex: _any(ex, np.isnan),
            "+inf": lambda ex: _any(ex, lambda a: a == np.inf),
            "-inf": lambda ex: _any(ex, lambda a: a == -np.inf)}


# -- softmax, log_softmax ---------------------------------------------------------------------


def _implicit_dim(ndim):
    # torch's _get_softmax_dim for dim=None
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_axis(ex):
    x, dim = ex.args[0], ex.kwargs.get("dim")
    return (_implicit_dim(x.ndim) if dim is None else dim) % max(x.ndim, 1)


_LONG = (1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097)


def _row_shape(rng):
    """(shape, axis): a row of 1,000 to 4,097 elements (around 1024, 2048 or 4096, or odd) along
    ``axis``, any of up to four dims, the others straddling block widths; 10^5 elements at
    most. NumPy draws it: Hypothesis's first draws are its simplest."""
    length = int(rng.choice(_LONG)) if rng.random() < 0.5 else \
        2 * int(rng.integers(500, 2048)) + 1
    others = [int(rng.choice([n for n in STRADDLE if n <= 33])) for _ in range(rng.integers(0, 4))]
    while prod(others) * length > 100_000:
        others.remove(max(others))
    axis = int(rng.integers(0, len(others) + 1))
    return tuple(others[:axis]) + (length,) + tuple(others[axis:]), axis


def _masked(seed, shape, axis):
    """Logits with about a third of the entries -inf (masked, as attention masks are) and the
    first row along ``axis`` entirely -inf."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.3] = -np.inf
    if x.ndim and x.size:
        row = [0] * x.ndim
        row[axis] = slice(None)
        x[tuple(row)] = -np.inf
    return x


@st.composite
def _softmax(draw, forms, implicit, domains=("real",), large=False):
    """Logits (small tier: any rank, 0-d and zero-size included; large: a long row) from one of
    ``domains``; dim positive or negative, or with ``implicit`` one time in four left out or
    None (torch's implicit dim); ``dtype=float64`` two times in five; the argument form."""
    if large:
        shape, axis = _row_shape(np.random.default_rng(draw(seeds)))
    else:
        shape = draw(shapes_with_zero(min_dims=0))
        axis = draw(st.integers(0, max(len(shape), 1) - 1))
    kwargs = {}
    if implicit and not large and draw(st.integers(0, 3)) == 0:
        axis = _implicit_dim(len(shape))
        if draw(st.booleans()):
            kwargs["dim"] = None
    else:
        kwargs["dim"] = axis - max(len(shape), 1) if draw(st.booleans()) else axis
    # dtype=float64: upcast in float32 runs, and of a float32 input (kept in every run) half the
    # time. Not float32: a float64 run's truth would then be float32 arithmetic, whose rounding
    # the oracles agreeing with each other do not measure.
    dtype = draw(st.sampled_from([None, None, None, "float64", "float64 of float32"]))
    if dtype:
        kwargs["dtype"] = "float64"
    form = draw(st.sampled_from(forms))
    if form != "keyword":
        kwargs["form"] = form
    domain = draw(st.sampled_from(domains))
    s = draw(seeds)
    x = _masked(s, shape, axis) if domain == "masked" else values(s, shape, domain)
    if dtype == "float64 of float32":
        return Example((x.astype(np.float32),), kwargs, keep=(0,))
    return Example((x,), kwargs)


def _jax_softmax(fn_name):
    def f(J, x, dim=None):
        fn = getattr(J.nn, fn_name)
        if x.ndim == 0:  # a 0-d input is one logit along dim 0 or -1
            return fn(x.reshape(1), axis=0).reshape(())
        return fn(x, axis=_implicit_dim(x.ndim) if dim is None else dim)
    return f


def _softmax_length(ex):
    x = ex.args[0]
    return x.shape[_softmax_axis(ex)] if x.ndim else 1


def _softmax_regions(forms, implicit):
    def axis(ex):
        return _softmax_axis(ex), ex.args[0].ndim

    regions = {
        "dim >= 0": lambda ex: ex.kwargs.get("dim") is not None and ex.kwargs["dim"] >= 0,
        "dim < 0": lambda ex: ex.kwargs.get("dim") is not None and ex.kwargs["dim"] < 0,
        "dim 0 of 2-d or more": lambda ex: axis(ex)[1] >= 2 and axis(ex)[0] == 0,
        "last dim of 2-d or more": lambda ex: axis(ex)[1] >= 2 and axis(ex)[0] == axis(ex)[1] - 1,
        "a middle dim": lambda ex: 0 < axis(ex)[0] < axis(ex)[1] - 1,
        "dtype=float64": lambda ex: "dtype" in ex.kwargs,
        "dtype=float64 of a float32 input": lambda ex: ex.args[0].dtype == np.float32,
        "logits ~1e4": _large_logits,
        "a row of 1,000 or more along the last dim": lambda ex: _softmax_length(ex) >= 1000
        and axis(ex)[0] == axis(ex)[1] - 1,
        "a row of 1,000 or more along another dim": lambda ex: _softmax_length(ex) >= 1000
        and axis(ex)[0] < axis(ex)[1] - 1,
        **_form_regions(forms),
        **rank_regions(),
    }
    if implicit:
        regions["implicit dim"] = lambda ex: ex.kwargs.get("dim") is None
    return regions


_SOFTMAX_BAD = [
    BadInput("dim 2 of a 2-d input", lambda: Example((np.ones((2, 3)),), {"dim": 2}),
             (IndexError,)),
    BadInput("dim -3 of a 2-d input", lambda: Example((np.ones((2, 3)),), {"dim": -3}),
             (IndexError,)),
    BadInput("integer input", lambda: Example((np.arange(3),), {"dim": 0}), (RuntimeError,)),
]
_SATURATED = Example((np.array([[-1e4, 1e4, 0.0, 5e3], [1e4, 1e4 - 1, -1e4, 0.0]]),),
                     {"dim": 1})


def _floor_logits():
    """Rows of 2,049 logits of ~1e4 with about twenty within 20 of each row's maximum: the
    outputs of those are not saturated (the tolerance floor: one element off by 1e-4 in float32,
    1e-9 in float64, must show)."""
    rng = np.random.default_rng(2049)
    x = values(2049, (4, 2049), "large")
    for row in x:
        row[rng.choice(row.size, 20, replace=False)] = row.max() - rng.uniform(0, 20, 20)
    return Example((x,), {"dim": -1})


def _softmax_specs(name):
    fn = name.rsplit(".", 1)[-1]
    functional = name.startswith("nn.functional.")
    forms = ("keyword", "positional") if functional else ("keyword", "positional", "method")
    params = ("input", "dim", "_stacklevel", "dtype") if functional else ("input", "dim", "dtype")
    warns = (lambda args, kw: kw.get("dim") is None) if functional else None
    kw = dict(jax=_jax(_jax_softmax(fn), warns), accumulation=_softmax_length,
              call=_caller(("input",), params, method=fn, warns=functional))
    cases = [("saturated rows, two logits near the maximum", _SATURATED),
             ("logits ~1e4 over 2,049 classes", _floor_logits())]
    if functional:
        cases.append(("implicit dim of a 3-d input: 0", Example((values(3, (2, 3, 4)),))))
    return [
        _spec(name, examples=_softmax(forms, functional, ("real", "real", "large")),
              large=_softmax(forms, functional, ("real", "large"), large=True),
              regions=_softmax_regions(forms, functional), bad_inputs=_SOFTMAX_BAD,
              cases=cases,
              nonsmooth="logits of ~1e4: exp(x - max) never overflows; the outputs saturate",
              **kw),
        _spec(name, "special", _softmax(("keyword",), False, ("special", "masked")),
              large=_softmax(("keyword",), False, ("special", "masked"), large=True), fd=False,
              regions={**_value_regions(), "a row all -inf": lambda ex: bool(np.all(
                  ex.args[0] == -np.inf, axis=_softmax_axis(ex)).any()) if ex.args[0].ndim
                  else False},
              cases=[("rows with -inf, +inf, nan, all -inf", Example((np.array(
                  [[-np.inf, 1, 2], [np.inf, 0, 1], [np.nan, 0, 1], [-np.inf] * 3]),),
                  {"dim": 1}))],
              nonsmooth="about nan/inf propagation: a row holding nan or +inf (or only -inf) "
                        "is nan, as torch; -inf logits (masks) get probability 0", **kw),
    ]


# -- linear -----------------------------------------------------------------------------------


@st.composite
def _linear(draw, bias, large=False):
    """Input (*, in_features), 1-D to 4-D (small: zero-size batches too; large: up to 256 rows
    and features); weight (out_features, in_features) or, without bias, (in_features,) one time
    in three; bias (out_features,), (), (1,) or, for 2-D inputs, the output's shape; the
    argument form."""
    if large:
        *batch, in_features = draw(large_shapes(2, 3, 1_000, 66_049))
        batch, out_features = tuple(batch), draw(large_shapes(1, 1, 1, 257))[0]
    else:  # features >= 1: the one zero-size example drawn is a batch (in_features 0 is a case)
        batch = draw(shapes_with_zero(min_dims=0, max_dims=3))  # () gives a 1-D input
        in_features, out_features = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    s = draw(seeds)
    x = values(s, batch + (in_features,))
    vector = not bias and draw(st.integers(0, 2)) == 0  # weight (in_features,): output (*,)
    w = values(s + 1, (in_features,) if vector else (out_features, in_features))
    kwargs = {"form": "positional"} if draw(st.booleans()) else {}
    if not bias:
        return Example((x, w), kwargs)
    # a bias of the output's shape: torch's addmm takes it for 2-D inputs only
    b = draw(st.sampled_from([(out_features,), (out_features,), (), (1,)] + [
        batch + (out_features,)] * (len(batch) == 1)))
    return Example((x, w, values(s + 2, b)), kwargs)


def _jax_linear(J, x, weight, bias=None):
    out = J.jnp.matmul(x, weight.T)
    return out if bias is None else out + bias


def _linear_length(ex):
    x, w = ex.args[:2]
    # forward: in_features products (+ the bias); input gradient: out_features; weight and
    # bias gradients: one term per row of the batch
    out_features = w.shape[0] if w.ndim == 2 else 1
    return max(x.shape[-1] + 1, out_features, prod(x.shape[:-1]))


def _linear_regions(bias):
    regions = {"1-D input": lambda ex: ex.args[0].ndim == 1,
               "2-D input": lambda ex: ex.args[0].ndim == 2,
               "3-d or more input": lambda ex: ex.args[0].ndim >= 3,
               "zero-size batch": lambda ex: ex.args[0].size == 0, **_form_regions()}
    if bias:
        regions.update({
            "bias (out_features,)": lambda ex: ex.args[2].shape == ex.args[1].shape[:1],
            "bias () or (1,)": lambda ex: ex.args[2].size == 1 and ex.args[2].ndim < 2,
            "bias (N, out_features) of a 2-D input": lambda ex: ex.args[2].ndim == 2,
        })
    else:
        regions["1-D weight"] = lambda ex: ex.args[1].ndim == 1
    return regions


_LINEAR_BAD = [
    BadInput("in_features 5 for weight (2, 4)",
             lambda: Example((np.ones((3, 5)), np.ones((2, 4)))), (RuntimeError,)),
    BadInput("0-d input", lambda: Example((np.ones(()), np.ones((2, 1)))), (RuntimeError,)),
    BadInput("3-d weight", lambda: Example((np.ones((3, 2)), np.ones((4, 2, 1)))),
             (RuntimeError,)),
    BadInput("float64 weight for a float32 input", lambda: Example(
        (np.ones((3, 2), np.float32), np.ones((4, 2)))), (RuntimeError,)),
]


def _linear_specs():
    name = "nn.functional.linear"
    kw = dict(jax=_jax(_jax_linear), accumulation=_linear_length, multilinear=True,
              call=_caller(("input", "weight", "bias"), ("input", "weight", "bias")))
    return [
        _spec(name, examples=_linear(bias=True), large=_linear(True, large=True),
              regions=_linear_regions(True), diff=(0, 1, 2),
              cases=[("in_features 0: the output is the bias", Example(
                  (np.ones((3, 0)), np.ones((2, 0)), values(5, (2,)))))],
              bad_inputs=_LINEAR_BAD + [
                  BadInput("bias (3,) for output (3, 2)", lambda: Example(
                      (np.ones((3, 4)), np.ones((2, 4)), np.ones(3))), (RuntimeError,)),
                  BadInput("bias with a 1-d weight", lambda: Example(
                      (np.ones((3, 4)), np.ones(4), np.ones(()))), (RuntimeError,)),
                  BadInput("float64 bias for float32 input and weight", lambda: Example(
                      (np.ones((3, 2), np.float32), np.ones((4, 2), np.float32), np.ones(4))),
                      (RuntimeError,))],
              bench_shapes=[("x (256, 1024), W (1024, 1024)", lambda: Example(
                  tuple(np.random.default_rng(0).standard_normal(s)
                        for s in ((256, 1024), (1024, 1024), (1024,)))))],
              bench_target=1.2, **kw),
        _spec(name, "no bias", _linear(bias=False), large=_linear(False, large=True),
              regions=_linear_regions(False), diff=(0, 1), bad_inputs=_LINEAR_BAD, **kw),
    ]


# -- mse_loss ---------------------------------------------------------------------------------


@st.composite
def _mse(draw, weight=False, domain="real", empty=False, large=False):
    """Input and target of one shape (zero-size one time in eight) or, without weight,
    broadcastable ones (torch warns), the target one time in six in the other float dtype
    (torch promotes); with ``weight`` one of the input's shape; the reduction or legacy flags
    and the argument form. ``empty``: 'mean' of an empty input."""
    if weight or empty:
        sa = sb = draw(large_shapes(1, 4) if large else _loss_shape(empty))
    elif not large and draw(st.integers(0, 7)) == 0:  # broadcast_pair seldom draws zero sizes
        sa = sb = draw(_loss_shape(True))
    else:
        sa, sb = draw(broadcast_pair(large=large))
    s = draw(seeds)
    args = (values(s, sa, domain), values(s + 1, sb, domain))
    if weight:
        args += (values(s + 2, sa, "positive"),)
    kwargs = {"reduction": "mean"} if empty else draw(_options(legacy=not weight))
    if weight and prod(sa) == 1 and kwargs.get("reduction", "mean") == "mean":
        # w·d²/w: the weight's gradient is identically 0, and every nonzero value of it is the
        # oracles' rounding of a cancellation (4.4e-16 in both): 'sum' keeps the gradient real
        kwargs = {**kwargs, "reduction": "sum"}
    keep = ()
    if not weight and not empty and draw(st.integers(0, 5)) == 0:
        args = (args[0], args[1].astype(draw(st.sampled_from([np.float32, np.float64]))))
        keep = (1,)
    return Example(args, kwargs, keep)


def _jax_mse(J, x, y, weight=None, reduction="mean"):
    if x.dtype != y.dtype:  # torch's promotion: the wider float
        x, y = (a.astype(J.jnp.float64) for a in (x, y))
    loss = (x - y) ** 2
    if weight is None:
        return _reduce_jax(loss, reduction)
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" else _reduce_jax(loss, reduction)


def _mse_warns(args, kwargs):
    return args[0].shape != args[1].shape or _legacy(kwargs)


def _mse_length(ex):
    return _reduced_terms(ex, prod(np.broadcast_shapes(*(a.shape for a in ex.args))))


_MSE_BAD = [
    BadInput(_REDUCTION_BAD, lambda: Example((np.ones(3), np.ones(3)), {"reduction": "avg"}),
             (ValueError,)),
    BadInput("shapes (3,) and (4,) do not broadcast",
             lambda: Example((np.ones(3), np.ones(4))), (RuntimeError,)),
]


def _mse_specs():
    name = "nn.functional.mse_loss"
    params = ("input", "target", "size_average", "reduce", "reduction", "weight")
    kw = dict(jax=_jax(_jax_mse, _mse_warns), accumulation=_mse_length,
              call=_caller(("input", "target", "weight"), params, warns=True))
    return [
        _spec(name, examples=_averaging(_mse()), large=_mse(large=True), diff=(0, 1),
              regions={**_loss_regions(), **rank_regions(0, 1),
                       "target broadcast (torch warns)": lambda ex: ex.args[0].shape !=
                       ex.args[1].shape,
                       "target kept in float32 or float64": lambda ex: bool(ex.keep)},
              bad_inputs=_MSE_BAD, **kw),
        _spec(name, "weight", _averaging(_mse(weight=True)), large=_mse(True, large=True),
              diff=(0, 1, 2), regions={**_loss_regions(legacy=False), **rank_regions()},
              nonsmooth="weights drawn positive (their sum divides 'mean')",
              bad_inputs=[BadInput("weight (2,) for input (3,)", lambda: Example(
                  (np.ones(3), np.ones(3), np.ones(2))), (ValueError,))], **kw),
        _spec(name, "special", st.one_of(_mse(domain="special"), _mse(empty=True)),
              large=_mse(domain="special", large=True), diff=(0, 1), fd=False,
              regions={**_value_regions(), "mean of nothing": _nothing_to_average},
              nonsmooth="about nan/inf propagation and " + _nothing("an empty input"), **kw),
    ]


# -- binary_cross_entropy ---------------------------------------------------------------------


@st.composite
def _broadcastable_to(draw, shape):
    """A shape that broadcasts to ``shape``: a suffix of it with some sides set to 1."""
    tail = shape[len(shape) - draw(st.integers(0, len(shape))):]
    return tuple(n if draw(st.booleans()) else 1 for n in tail)


@st.composite
def _bce(draw, weight=None, target_grad=False, edge=False, empty=False, large=False):
    """Probabilities in [0.05, 0.95] (``edge``: every other one exactly 0 or 1), soft targets or
    (without ``target_grad``, half the time) hard 0/1 ones; a weight broadcastable to the input
    (``weight`` None: half the time); the reduction or legacy flags and the form."""
    shape = draw(large_shapes(1, 4) if large else _loss_shape(empty))
    s = draw(seeds)
    x = values(s, shape, "unit")
    y = values(s + 1, shape, "unit")
    if edge:
        x.reshape(-1)[::2] = np.random.default_rng(s).integers(0, 2, (x.size + 1) // 2)
    if not target_grad and draw(st.booleans()):
        y = np.asarray(np.round(y))  # hard labels
    if weight is None:
        weight = draw(st.booleans())
    w = values(s + 2, draw(_broadcastable_to(shape)), "positive") if weight else None
    kwargs = {"reduction": "mean"} if empty else draw(_options(legacy=not target_grad))
    return Example((x, y, w), kwargs)


def _jax_bce(J, x, y, weight=None, reduction="mean"):
    jnp = J.jnp
    y = _jlike(J, y, x)
    # torch clamps each log at -100, so an input of exactly 0 or 1 gives a finite loss
    loss = -(y * jnp.maximum(jnp.log(x), -100.0) + (1 - y) * jnp.maximum(jnp.log1p(-x), -100.0))
    if weight is not None:
        loss = loss * _jlike(J, weight, x)
    return _reduce_jax(loss, reduction)


def _bce_bad():
    def ex(x, y, w=None, **kw):
        return lambda: Example((np.asarray(x), np.asarray(y), w), kw)

    half = [0.5, 0.5]
    return [
        BadInput("input 1.5 outside [0, 1]", ex([1.5, 0.5], [1.0, 0.0]), (RuntimeError,)),
        BadInput("input nan", ex([0.5, np.nan], [1.0, 0.0]), (RuntimeError,)),
        BadInput("target -0.5 outside [0, 1]", ex(half, [-0.5, 0.0]), (RuntimeError,)),
        BadInput("target (1,) for input (2,)", ex(half, [1.0]), (ValueError,)),
        BadInput("float32 target for a float64 input", ex(half, np.array(half, np.float32)),
                 (RuntimeError,)),
        BadInput("integer input", ex([0, 1], [0, 1]), (RuntimeError,)),
        BadInput("weight (4,) for input (2, 3)", ex(np.full((2, 3), 0.5), np.ones((2, 3)),
                                                    np.ones(4)), (RuntimeError,)),
        BadInput("weight (2, 2) for input (2,)", ex(half, [1.0, 0.0], np.ones((2, 2))),
                 (RuntimeError,)),
        BadInput(_REDUCTION_BAD, ex([0.5], [1.0], reduction="avg"), (ValueError,)),
    ]


def _bce_regions(weight=True, hard=True):
    regions = rank_regions()
    if hard:
        regions["hard targets"] = lambda ex: ex.args[1].size > 0 and bool(
            np.isin(ex.args[1], (0.0, 1.0)).all())
    if weight:
        regions["weight"] = lambda ex: ex.args[2] is not None
        regions["weight broadcast"] = lambda ex: ex.args[2] is not None and \
            ex.args[2].shape != ex.args[0].shape
    return regions


def _bce_specs():
    name = "nn.functional.binary_cross_entropy"
    params = ("input", "target", "weight", "size_average", "reduce", "reduction")
    kw = dict(jax=_jax(_jax_bce, lambda args, kw: _legacy(kw)),
              call=_caller(params[:3], params, constants=("target", "weight"), warns=True),
              accumulation=lambda ex: _reduced_terms(ex, ex.args[0].size))
    away = "poles of log(input) and log(1 - input) at 0 and 1: inputs drawn in [0.05, 0.95]"
    return [
        _spec(name, examples=_averaging(_bce()), large=_bce(large=True), nonsmooth=away,
              regions={**_loss_regions(), **_bce_regions()}, bad_inputs=_bce_bad(), **kw),
        _spec(name, "target grad", _averaging(_bce(target_grad=True)),
              large=_bce(target_grad=True, large=True), diff=(0, 1),
              regions={**_loss_regions(legacy=False), **_bce_regions(hard=False)},
              nonsmooth=away + "; targets in [0.05, 0.95] (perturbations stay in [0, 1])", **kw),
        _spec(name, "at 0 and 1", st.one_of(_averaging(_bce(target_grad=True, edge=True)),
                                            _bce(empty=True)),
              large=_bce(edge=True, large=True), diff=(0, 1), fd=False,
              regions={"input 0": lambda ex: (ex.args[0] == 0).any(),
                       "input 1": lambda ex: (ex.args[0] == 1).any(),
                       "mean of nothing": _nothing_to_average, **_bce_regions(weight=False)},
              cases=[("(input, target) = (0, 0), (1, 1), (0, 1), (1, 0)", Example(
                  (np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.6]), np.array([0.0, 1.0, 1.0, 0.0, 1.0,
                                                                       0.2]),
                   values(6, (6,), "positive")), {"reduction": "none"}))],
              nonsmooth="about torch's clamp: every other input is exactly 0 or 1, where each "
                        "log is clamped at -100 (a finite loss, as jax computes too). torch's "
                        "backward keeps x(1 - x) >= 1e-12 in the input gradient (-y * 1e12 at "
                        "x = 0) and leaves the target gradient -logit(x) unclamped (+-inf); "
                        "the derivative of the clamped formula (jax) is nan (0 * inf) for the "
                        "input and +-100 for the target there. impl follows torch. And "
                        + _nothing("an empty input"), **kw),
    ]


# -- nll_loss, cross_entropy ------------------------------------------------------------------


_MANY = (127, 128, 129, 255, 256, 257, 999, 1000, 1001)


@st.composite
def _class_shapes(draw, large):
    """(kind, input shape, target shape): (C,) with a 0-d target, (N, C) or (N, C, d1, ...).
    Large: 127 to 4,097 classes, (N, C) of up to 10^5 elements, or 2 to 33 classes over one or
    two sides of 7 to 33 (NumPy draws them: Hypothesis's favour the smallest)."""
    kinds = ["(C,)", "(N, C)", "(N, C, d1, ...)"]
    rng = np.random.default_rng(draw(seeds))
    kind = str(rng.choice(kinds)) if large else draw(st.sampled_from(kinds))
    if kind == "(C,)":  # torch's forward takes a (1,) target too, but its backward fails
        c = int(rng.choice(_MANY + _LONG)) if large else draw(st.integers(1, 5))
        return kind, (c,), ()
    if kind == "(N, C)":
        if large:
            c = int(rng.choice(_MANY))
            n = int(rng.choice([k for k in STRADDLE if 8 <= k <= 100_000 // c] + [
                int(rng.integers(4, 100_000 // c)) | 1]))
        else:
            c, n = draw(st.integers(1, 5)), draw(st.integers(0, 6))
        return kind, (n, c), (n,)
    if large:
        n, c = int(rng.integers(1, 5)), int(rng.choice([k for k in STRADDLE if k <= 33]))
        extra = [int(rng.choice([k for k in STRADDLE if 7 <= k <= 33]))
                 for _ in range(rng.integers(1, 3))]
        while n * c * prod(extra) > 100_000:
            extra[int(np.argmax(extra))] //= 2
    else:
        n, c, extra = draw(st.integers(1, 3)), draw(st.integers(1, 5)), list(
            draw(shapes_with_zero(1, 2, 3)))
    return kind, (n, c, *extra), (n, *extra)


@st.composite
def _class_index(draw, domains=("real",), smoothing=(0.0,), large=False, empty=False):
    """Input (C,), (N, C) or (N, C, d1, ...) with class-index targets (int64, or uint8 where
    torch takes it); class weights or None; ignore_index the default -100, -1 (about a third of
    the targets ignored) or a class (its targets ignored); the reduction or legacy flags; label
    smoothing from ``smoothing``; the form. ``empty``: 'mean' with every target ignored or of
    an empty batch."""
    kind, x_shape, t_shape = draw(_class_shapes(large))
    c = x_shape[0 if kind == "(C,)" else 1]
    s = draw(seeds)
    rng = np.random.default_rng(s)
    t = np.asarray(rng.integers(0, c, t_shape), np.int64)
    kwargs = {"reduction": "mean"} if empty else draw(_options())
    ignore = draw(st.sampled_from(["default", "-1", "class"]))
    if ignore == "-1":
        t = np.where(rng.random(t_shape) < 0.3, -1, t)
        kwargs["ignore_index"] = -1
    elif ignore == "class":
        kwargs["ignore_index"] = draw(st.integers(0, c - 1))
    if empty:
        t = np.full(t_shape, kwargs.get("ignore_index", -100), np.int64)
    ls = draw(st.sampled_from(smoothing))
    if ls:
        kwargs["label_smoothing"] = ls
    # torch 2.13 takes Byte targets for (C,) and (N, C) inputs without label smoothing only
    if (t >= 0).all() and c <= 256 and kind != "(N, C, d1, ...)" and not ls and \
            draw(st.integers(0, 3)) == 0:
        t = t.astype(np.uint8)
    w = values(s + 1, (c,), "positive") if draw(st.booleans()) else None
    return Example((values(s + 2, x_shape, draw(st.sampled_from(domains))), t, w), kwargs)


@st.composite
def _class_probabilities(draw, domains=("real",), weight=None, large=False, empty=False):
    """Input (C,), (N, C) or (N, C, d1, ...) and a target of its shape (rows of probabilities
    one time in two, else any values in [0.05, 0.95]); class weights (``weight`` None: half the
    time); label smoothing one time in two; the reduction or legacy flags and the form.
    ``empty``: 'mean' of an empty batch."""
    if large:
        shape = draw(_class_shapes(True))[1]
    elif not empty and draw(st.booleans()):
        shape = draw(_loss_shape(False, 1, 1, class_axis=0))
    else:
        shape = draw(_loss_shape(empty, 2, 4, class_axis=1))
    s = draw(seeds)
    axis = 0 if len(shape) == 1 else 1
    t = values(s + 1, shape, "unit")
    if draw(st.booleans()):
        t = t / t.sum(axis, keepdims=True)
    if weight is None:
        weight = draw(st.booleans())
    w = values(s + 2, (shape[axis],), "positive") if weight else None
    kwargs = {"reduction": "mean"} if empty else draw(_options())
    ls = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]))
    if ls:
        kwargs["label_smoothing"] = ls
    return Example((values(s, shape, draw(st.sampled_from(domains))), t, w), kwargs)


def _jax_targets(J, x, target, weight, ignore_index):
    """(class axis, target as indices, mask of the kept targets, weight of each kept target)."""
    jnp = J.jnp
    axis = 0 if x.ndim == 1 else 1
    t = jnp.asarray(target, jnp.int64).reshape(x.shape[:axis] + x.shape[axis + 1:])
    keep = t != ignore_index
    t = jnp.where(keep, t, 0)
    w = jnp.ones(t.shape, x.dtype) if weight is None else _jlike(J, weight, x)[t]
    return axis, t, keep, jnp.where(keep, w, 0)


def _jax_nll(J, x, target, weight=None, ignore_index=-100, reduction="mean"):
    jnp = J.jnp
    axis, t, keep, w = _jax_targets(J, x, target, weight, ignore_index)
    picked = jnp.take_along_axis(x, jnp.expand_dims(t, axis), axis).squeeze(axis)
    # ignored targets are selected out (not multiplied by 0): exactly 0 gradient even when
    # 'mean' divides by a total weight of 0, as torch
    loss = jnp.where(keep, -w * picked, 0)
    if reduction == "none":
        return loss
    return loss.sum() / w.sum() if reduction == "mean" else loss.sum()


def _jax_cross_entropy(J, x, target, weight=None, ignore_index=-100, reduction="mean",
                       label_smoothing=0.0):
    jnp = J.jnp
    axis = 0 if x.ndim == 1 else 1
    c = x.shape[axis]
    logp = J.nn.log_softmax(x, axis=axis)
    w = _jlike(J, weight, x)
    w = 1 if w is None else w.reshape((c,) + (1,) * (x.ndim - axis - 1))
    if target.dtype.kind == "f":  # class probabilities: torch's cross_entropy_loss_prob_target
        target = _jlike(J, target, x)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        loss = -(logp * target * w)
        if reduction == "none":
            return loss.sum(axis)
        return loss.sum() if reduction == "sum" else loss.sum() / (x.size // c)
    nll = _jax_nll(J, logp, target, weight, ignore_index, reduction)
    if label_smoothing <= 0:
        return nll
    # torch's cross_entropy_loss_label_smoothing: the (weighted) sum of -log p over the classes,
    # 0 at ignored targets; 'mean' divides by the summed weights of the kept targets
    _, _, keep, wt = _jax_targets(J, x, target, weight, ignore_index)
    smooth = jnp.where(keep, -(logp * w).sum(axis), 0)
    if reduction != "none":
        smooth = smooth.sum() / wt.sum() if reduction == "mean" else smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)


def _class_terms(ex, logsumexp):
    """Terms summed per output element: the classes of each log-softmax (``logsumexp``) plus,
    when reduced, one per target (a class index or a row of probabilities)."""
    x = ex.args[0]
    c = x.shape[0 if x.ndim == 1 else 1]
    return _reduced_terms(ex, x.size // c) + (c if logsumexp else 0)


def _class_regions(index=True):
    regions = {"(C,) input": lambda ex: ex.args[0].ndim == 1,
               "(N, C) input": lambda ex: ex.args[0].ndim == 2,
               "(N, C, d1, ...) input": lambda ex: ex.args[0].ndim >= 3,
               "999 classes or more": lambda ex: ex.args[0].shape[min(ex.args[0].ndim, 2) - 1]
               >= 999,
               "class weights": lambda ex: ex.args[2] is not None,
               "zero-size input": lambda ex: ex.args[0].size == 0,
               **_loss_regions()}
    if index:
        regions.update({
            "ignore_index -1": lambda ex: ex.kwargs.get("ignore_index") == -1,
            "ignore_index a class": lambda ex: ex.kwargs.get("ignore_index", -100) >= 0,
            "uint8 target": lambda ex: ex.args[1].dtype == np.uint8})
    return regions


def _class_bad(zero_d):
    """Bad class-index calls; ``zero_d`` is what torch raises for a 0-d input (cross_entropy
    takes its 0-d target, of the input's shape, for a class-probability one)."""
    x = np.zeros((3, 4))
    t = np.array([1, 2, 3])

    def ex(*args, **kw):
        return lambda: Example(args + (None,) * (3 - len(args)), kw)

    return [
        BadInput("target class 4 of 4", ex(x, np.array([1, 2, 4])), (IndexError,)),
        BadInput("target class -1 (ignore_index -100)", ex(x, np.array([1, -1, 0])),
                 (IndexError,)),
        BadInput("int32 target", ex(x, t.astype(np.int32)), (RuntimeError,)),
        BadInput("float target (3,) for input (3, 4)", ex(x, t.astype(np.float64)),
                 (RuntimeError,)),
        BadInput("target batch 2 for input batch 3", ex(x, t[:2]), (ValueError,)),
        BadInput("target (3, 1) for input (3, 4)", ex(x, t[:, None]), (RuntimeError,)),
        BadInput("target (2, 5) for input (2, 3, 4)",
                 ex(np.zeros((2, 3, 4)), np.zeros((2, 5), np.int64)), (RuntimeError,)),
        BadInput("target (2, 4) for input (2, 3, 4, 5)",
                 ex(np.zeros((2, 3, 4, 5)), np.zeros((2, 4), np.int64)), (RuntimeError,)),
        BadInput("target (2,) for input (3,)", ex(np.zeros(3), np.array([1, 2])),
                 (ValueError,)),
        BadInput("0-d input", ex(np.zeros(()), np.array(1)), (zero_d,)),
        BadInput("integer input", ex(x.astype(np.int64), t), (RuntimeError,)),
        BadInput("weight of 3 classes for 4", ex(x, t, np.ones(3)), (RuntimeError,)),
        BadInput("float32 weight for a float64 input", ex(x, t, np.ones(4, np.float32)),
                 (RuntimeError,)),
        BadInput(_REDUCTION_BAD, ex(x, t, reduction="avg"), (ValueError,)),
    ]


_CLASS_PARAMS = ("input", "target", "weight", "size_average", "ignore_index", "reduce",
                 "reduction", "label_smoothing")
_TARGETS = "class-index targets are constants; "


def _class_kw(jax, logsumexp):
    params = _CLASS_PARAMS if logsumexp else _CLASS_PARAMS[:-1]
    return dict(jax=_jax(jax, lambda args, kw: _legacy(kw)),
                call=_caller(params[:3], params, constants=("target", "weight"), warns=True),
                accumulation=lambda ex: _class_terms(ex, logsumexp))


def _special_regions():
    return {**_value_regions(),
            "every target ignored": lambda ex: ex.args[1].size > 0 and _nothing_to_average(ex),
            "mean of an empty batch": lambda ex: ex.args[1].size == 0 and _nothing_to_average(
                ex)}


@st.composite
def _class_special(draw, probabilities=False, smoothing=(0.0,), large=False):
    """Logits holding nan, +-inf or masked (-inf) classes, or (small tier, one time in three)
    'mean' of nothing: every target ignored, or an empty batch; class-index targets (label
    smoothing from ``smoothing``), or with ``probabilities`` class-probability ones half the
    time (constants here)."""
    if not large and draw(st.integers(0, 2)) == 0:
        return draw(_class_index(smoothing=smoothing, empty=True))
    if probabilities and draw(st.booleans()):
        ex = draw(_class_probabilities(large=large))
    else:
        ex = draw(_class_index(smoothing=smoothing, large=large))
    x, s = ex.args[0], draw(seeds)
    assume(x.size)  # the one zero-size example drawn is an empty batch's 'mean'
    if draw(st.booleans()):
        x = _masked(s, x.shape, 0 if x.ndim == 1 else 1)
    else:
        x = values(s, x.shape, "special")
    return ex.replace((x,) + ex.args[1:])


def _nll_specs():
    name = "nn.functional.nll_loss"
    kw = _class_kw(_jax_nll, False)
    return [
        _spec(name, examples=_averaging(_class_index()), large=_averaging(_class_index(large=True)),
              regions=_class_regions(), bad_inputs=_class_bad(ValueError),
              nonsmooth=_TARGETS + "linear in the input", **kw),
        _spec(name, "special", _class_special(), large=_class_special(large=True), fd=False,
              regions=_special_regions(),
              nonsmooth="about nan/inf propagation and " + _nothing(
                  "every target ignored, or an empty batch"), **kw),
    ]


def _class_probability_bad():
    x, t = np.zeros((2, 3)), np.full((2, 3), 0.5)

    def ex(*args, **kw):
        return lambda: Example(args + (None,) * (3 - len(args)), kw)

    return [
        BadInput("ignore_index 1 with class probabilities", ex(x, t, ignore_index=1),
                 (RuntimeError,)),
        BadInput("label_smoothing 1.5", ex(x, t, label_smoothing=1.5), (RuntimeError,)),
        BadInput("int64 target of the input's shape", ex(x, t.astype(np.int64)),
                 (RuntimeError,)),
        BadInput("weight of 4 classes for 3", ex(x, t, np.ones(4)), (RuntimeError,)),
        BadInput("0-d input and target", ex(np.zeros(()), np.array(0.5)), (IndexError,)),
    ]


def _cross_entropy_specs():
    name = "nn.functional.cross_entropy"
    kw = _class_kw(_jax_cross_entropy, True)
    smoothing = (0.0, 0.0, 0.05, 0.3, 1.0)
    return [
        _spec(name, "class index", _averaging(_class_index(("real", "real", "large"),
                                                          smoothing)),
              large=_averaging(_class_index(("real", "large"), smoothing, large=True)),
              regions={**_class_regions(), "label smoothing": lambda ex: ex.kwargs.get(
                  "label_smoothing", 0) > 0, "label smoothing 1": lambda ex: ex.kwargs.get(
                  "label_smoothing") == 1, "logits ~1e4": _large_logits},
              cases=[("negative label_smoothing: none, as torch", Example(
                  (values(7, (5, 3)), np.array([0, 2, 1, 1, 0]), None),
                  {"label_smoothing": -0.3}))],
              bad_inputs=_class_bad(RuntimeError) + [BadInput(
                  "label_smoothing 1.5", lambda: Example((np.zeros((2, 3)), np.array([0, 1]),
                                                          None), {"label_smoothing": 1.5}),
                  (RuntimeError,))],
              nonsmooth=_TARGETS + "smooth in the logits; logits of ~1e4: log_softmax as "
                        "(x - max) - log(sum(exp(x - max))) is exact where exp(x) overflows",
              **kw),
        _spec(name, "probabilities", _averaging(_class_probabilities(("real", "real",
                                                                      "large"))),
              large=_class_probabilities(("real", "large"), large=True), diff=(0, 1),
              regions={**_class_regions(index=False), "rows of probabilities": lambda ex: bool(
                  np.allclose(ex.args[1].sum(0 if ex.args[1].ndim == 1 else 1), 1)),
                  "label smoothing": lambda ex: ex.kwargs.get("label_smoothing", 0) > 0,
                  "logits ~1e4": _large_logits},
              bad_inputs=_class_probability_bad(),
              nonsmooth="smooth in the logits and linear in the target", **kw),
        _spec(name, "weight grad", _averaging(_class_probabilities(
            weight=True)), large=_class_probabilities(weight=True, large=True),
              diff=(0, 1, 2), regions=_loss_regions(legacy=False),
              nonsmooth="linear in the class weights (torch differentiates them for "
                        "class-probability targets)", **kw),
        _spec(name, "special", _class_special(True, smoothing),
              large=_class_special(True, smoothing, large=True),
              fd=False, regions=_special_regions(),
              cases=[("a -inf logit at a target's class, label smoothing", Example(
                  (np.array([[-np.inf, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, -np.inf, 1.0]]),
                   np.array([0, -100, 2]), values(8, (3,), "positive")),
                  {"label_smoothing": 0.1})),
                  ("class probabilities, mean of an empty batch", Example(
                      (np.zeros((0, 3)), np.zeros((0, 3)), None)))],
              nonsmooth="about nan/inf propagation and " + _nothing(
                  "every target ignored, or an empty batch"), **kw),
    ]


register(
    *_softmax_specs("softmax"),
    *_softmax_specs("log_softmax"),
    *_softmax_specs("nn.functional.softmax"),
    *_softmax_specs("nn.functional.log_softmax"),
    *_linear_specs(),
    *_mse_specs(),
    *_bce_specs(),
    *_nll_specs(),
    *_cross_entropy_specs(),
)
