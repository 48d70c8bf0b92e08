"""OpSpecs of the neural-network functional ops (impl.ops.nn and impl.nn.functional): softmax,
log_softmax, linear and the losses.

The jax functions are written from jax primitives and reproduce torch's conventions: class
weights normalize 'mean', ignored targets count for nothing, label smoothing follows torch's
cross_entropy_loss_label_smoothing and the binary cross entropy clamps each log at -100.
Constant float arguments (class weights, a target without gradient) are drawn in float64 and
cast to the input's dtype by ``call``, as torch requires them in the input's dtype.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import binary, seeds, shapes, shapes_with_zero, values, with_params

FAMILY = "nn"
REDUCTIONS = st.sampled_from(["none", "mean", "sum"])
_REDUCTION_BAD = "reduction 'avg'"


def _spec(name, variant="", examples=None, jax=None, **kw):
    # Every op here sums (softmax's normalizer, the loss reductions, linear's products) and
    # NumPy sums in memory order: strided layouts agree with the contiguous run to rounding.
    return OpSpec(name, FAMILY, variant, examples, jax, exact_layouts=False, **kw)


def _like(t, x):
    """The constant float argument ``t`` (or None) in the dtype of the input ``x`` (torch's and
    the subject's own tensors both cast with ``.to``)."""
    return None if t is None else t.to(x.dtype)


def _warned(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` for a call that warns as torch does (an implicit softmax dim, a
    broadcast mse target): the expected warning is not printed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def _jlike(J, t, x):
    return None if t is None else J.jnp.asarray(t, x.dtype)


def _jax_reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _reduced_terms(ex, n):
    """``n`` terms per output element for 'none', else every element of the loss summed."""
    return 1 if ex.kwargs.get("reduction", "mean") == "none" else n


def _nothing_to_average(ex):
    """'mean' over no element (an empty input, or every class-index target ignored)."""
    x, t = ex.args[:2]
    if ex.kwargs.get("reduction", "mean") != "mean":
        return False
    if t.dtype.kind == "f":
        return prod(np.broadcast_shapes(x.shape, t.shape)) == 0
    return bool(np.all(t == ex.kwargs.get("ignore_index", -100)))


def _averaging(strategy):
    """``strategy`` without the examples that take a 'mean' of nothing: that is 0/0 = nan, where
    finite differences say nothing (the 'mean of nothing' variants hold those examples)."""
    return strategy.filter(lambda ex: not _nothing_to_average(ex))


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


_NOTHING = ("about 'mean' of nothing (an empty input{}): the loss is 0/0 = nan and every "
            "gradient 0, as torch; finite differences of nan say nothing")


# -- softmax, log_softmax ---------------------------------------------------------------------


def _implicit_dim(ndim):
    # torch's _get_softmax_dim for dim=None
    return 0 if ndim in (0, 1, 3) else 1


@st.composite
def _softmax_input(draw, domain="real", implicit=False):
    shape = draw(shapes_with_zero(min_dims=0))
    x = values(draw(seeds), shape, domain)
    if implicit:
        return Example((x,))
    n = max(len(shape), 1)
    return Example((x,), {"dim": draw(st.integers(-n, n - 1))})


def _jax_softmax(fn_name):
    def f(J, x, dim=None):
        fn = getattr(J.nn, fn_name)
        if x.ndim == 0:  # a 0-d input is one logit along dim 0 or -1
            return fn(x.reshape(1), axis=0).reshape(())
        return fn(x, axis=_implicit_dim(x.ndim) if dim is None else dim)
    return f


def _softmax_length(ex):
    x = ex.args[0]
    return x.shape[ex.kwargs.get("dim", _implicit_dim(x.ndim))] if x.ndim else 1


_SOFTMAX_BAD = [
    BadInput("dim 2 of a 2-d input", lambda: Example((np.ones((2, 3)),), {"dim": 2}),
             (IndexError,)),
    BadInput("integer input", lambda: Example((np.arange(3),), {"dim": 0}), (RuntimeError,)),
]


def _softmax_specs(name):
    fn = name.rsplit(".", 1)[-1]
    kw = dict(jax=_jax_softmax(fn), accumulation=_softmax_length, bad_inputs=_SOFTMAX_BAD)
    specs = [
        _spec(name, examples=_softmax_input(), **kw),
        _spec(name, "large", _softmax_input("large"), **kw,
              nonsmooth="logits of ~1e4: exp(x - max) never overflows; the outputs saturate"),
        _spec(name, "special", _softmax_input("special"), **kw, fd=False,
              nonsmooth="about nan/inf propagation: a row holding nan or +inf (or only -inf) "
                        "is nan, as torch"),
    ]
    if name.startswith("nn.functional."):
        specs.append(_spec(name, "implicit dim", _softmax_input(implicit=True), **kw,
                           call=_warned,
                           nonsmooth="dim=None: torch's implicit dim (0 for 0-, 1- and 3-d "
                                     "inputs, else 1), with its deprecation warning"))
    return specs


# -- linear -----------------------------------------------------------------------------------


@st.composite
def _linear(draw, bias):
    batch = draw(shapes_with_zero(min_dims=0, max_dims=3))  # () gives a 1-D input
    in_features = draw(st.integers(0, 6))
    out_features = draw(st.integers(0, 5))
    s = draw(seeds)
    x = values(s, batch + (in_features,))
    vector = not bias and draw(st.booleans())  # weight (in_features,): output (*,)
    w = values(s + 1, (in_features,) if vector else (out_features, in_features))
    if not bias:
        return Example((x, w))
    b_shape = draw(st.sampled_from([(out_features,), (out_features,), (), (1,)]))
    return Example((x, w, values(s + 2, b_shape)))


def _jax_linear(J, x, weight, bias=None):
    out = J.jnp.matmul(x, weight.T)
    return out if bias is None else out + bias


def _linear_length(ex):
    x, w = ex.args[:2]
    # forward: in_features products (+ the bias); input gradient: out_features; weight and
    # bias gradients: one term per row of the batch
    out_features = w.shape[0] if w.ndim == 2 else 1
    return max(x.shape[-1] + 1, out_features, prod(x.shape[:-1]))


_LINEAR_BAD = [
    BadInput("in_features 5 for weight (2, 4)",
             lambda: Example((np.ones((3, 5)), np.ones((2, 4)))), (RuntimeError,)),
    BadInput("0-d input", lambda: Example((np.ones(()), np.ones((2, 1)))), (RuntimeError,)),
]


# -- mse_loss ---------------------------------------------------------------------------------


@st.composite
def _mse(draw, weight=False, empty=False):
    shape = draw(_loss_shape(empty))
    s = draw(seeds)
    args = (values(s, shape), values(s + 1, shape))
    if weight:
        args += (values(s + 2, shape, "positive"),)
    return Example(args, {"reduction": "mean" if empty else draw(REDUCTIONS)})


def _jax_mse(J, x, y, weight=None, reduction="mean"):
    loss = (x - y) ** 2
    if weight is None:
        return _jax_reduce(loss, reduction)
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" else _jax_reduce(loss, reduction)


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
    kw = dict(jax=_jax_mse, accumulation=_mse_length)
    return [
        _spec(name, examples=_averaging(_mse()), diff=(0, 1), bad_inputs=_MSE_BAD, **kw),
        _spec(name, "broadcast", _averaging(with_params(binary(), reduction=REDUCTIONS)),
              diff=(0, 1), call=_warned, **kw,
              nonsmooth="target and input of different broadcastable shapes: torch "
                        "broadcasts with a warning"),
        _spec(name, "weight", _averaging(_mse(weight=True)), diff=(0, 1, 2), **kw,
              call=lambda fn, x, y, w, **k: fn(x, y, weight=w, **k),
              nonsmooth="weights drawn positive (their sum divides 'mean')",
              bad_inputs=[BadInput("weight (2,) for input (3,)", lambda: Example(
                  (np.ones(3), np.ones(3), np.ones(2))), (ValueError,))]),
        _spec(name, "mean of nothing", _mse(empty=True), diff=(0, 1), fd=False, **kw,
              nonsmooth=_NOTHING.format("")),
    ]


# -- binary_cross_entropy ---------------------------------------------------------------------


@st.composite
def _broadcastable_to(draw, shape):
    """A shape that broadcasts to ``shape``: a suffix of it with some sides set to 1."""
    tail = shape[len(shape) - draw(st.integers(0, len(shape))):]
    return tuple(n if draw(st.booleans()) else 1 for n in tail)


@st.composite
def _bce(draw, weight=False, target_grad=False, edge=False, empty=False):
    shape = draw(_loss_shape(empty))
    s = draw(seeds)
    x = values(s, shape, "unit")
    y = values(s + 1, shape, "unit")
    if edge:  # every other input exactly 0 or 1
        x.reshape(-1)[::2] = np.random.default_rng(s).integers(0, 2, (x.size + 1) // 2)
    if not target_grad and draw(st.booleans()):
        y = np.asarray(np.round(y))  # hard labels
    w = values(s + 2, draw(_broadcastable_to(shape)), "positive") if weight else None
    return Example((x, y, w), {"reduction": "mean" if empty else draw(REDUCTIONS)})


def _jax_bce(J, x, y, weight=None, reduction="mean"):
    jnp = J.jnp
    y = _jlike(J, y, x)
    # torch clamps each log at -100, so an input of exactly 0 or 1 gives a finite loss
    loss = -(y * jnp.maximum(jnp.log(x), -100.0) + (1 - y) * jnp.maximum(jnp.log1p(-x), -100.0))
    if weight is not None:
        loss = loss * _jlike(J, weight, x)
    return _jax_reduce(loss, reduction)


_BCE_BAD = [
    BadInput("input 1.5 outside [0, 1]", lambda: Example(
        (np.array([1.5, 0.5]), np.array([1.0, 0.0]), None)), (RuntimeError,)),
    BadInput("target -0.5 outside [0, 1]", lambda: Example(
        (np.array([0.5, 0.5]), np.array([-0.5, 0.0]), None)), (RuntimeError,)),
    BadInput("target (1,) for input (2,)", lambda: Example(
        (np.array([0.5, 0.5]), np.array([1.0]), None)), (ValueError,)),
    BadInput("weight (4,) for input (2, 3)", lambda: Example(
        (np.full((2, 3), 0.5), np.ones((2, 3)), np.ones(4))), (RuntimeError,)),
    BadInput(_REDUCTION_BAD, lambda: Example(
        (np.array([0.5]), np.array([1.0]), None), {"reduction": "avg"}), (ValueError,)),
]


def _bce_specs():
    name = "nn.functional.binary_cross_entropy"
    kw = dict(jax=_jax_bce, call=lambda fn, x, y, w, **k: fn(x, _like(y, x), _like(w, x), **k),
              accumulation=lambda ex: _reduced_terms(ex, ex.args[0].size))
    away = "poles of log(input) and log(1 - input) at 0 and 1: inputs drawn in [0.05, 0.95]"
    return [
        _spec(name, examples=_averaging(_bce()), nonsmooth=away, bad_inputs=_BCE_BAD, **kw),
        _spec(name, "weight", _averaging(_bce(weight=True)), nonsmooth=away, **kw),
        _spec(name, "target grad", _averaging(_bce(weight=True, target_grad=True)),
              diff=(0, 1), **kw,
              nonsmooth=away + "; targets in [0.05, 0.95] (perturbations stay in [0, 1])"),
        _spec(name, "mean of nothing", _bce(weight=True, empty=True), fd=False, **kw,
              nonsmooth=_NOTHING.format("")),
        _spec(name, "at 0 and 1", _averaging(_bce(target_grad=True, edge=True)), diff=(0, 1),
              fd=False, **kw,
              nonsmooth="about torch's clamp: every other input is exactly 0 or 1, where each "
                        "log is clamped at -100 (a finite loss, as jax computes too). torch's "
                        "backward keeps x(1 - x) >= 1e-12 in the input gradient (-y * 1e12 at "
                        "x = 0) and leaves the target gradient -logit(x) unclamped (+-inf); "
                        "the derivative of the clamped formula (jax) is nan (0 * inf) for the "
                        "input and +-100 for the target there. impl follows torch"),
    ]


# -- nll_loss, cross_entropy ------------------------------------------------------------------


@st.composite
def _class_index(draw, domain="real", smoothing=(0.0,), empty=False):
    """Input (C,), (N, C) or (N, C, d1, ...) with class-index targets (int64, or uint8 where
    torch takes it); class weights or None; ignore_index the default -100, -1 (about a third of
    the targets ignored) or a class (its targets ignored); all reductions. With ``empty``:
    'mean' with every target ignored (or none at all)."""
    c = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["(C,)", "(N, C)", "(N, C, d1, ...)"]))
    if kind == "(C,)":  # torch's forward takes a (1,) target too, but its backward fails
        x_shape, t_shape = (c,), ()
    elif kind == "(N, C)":
        n = draw(st.integers(0, 6))
        x_shape, t_shape = (n, c), (n,)
    else:
        n, extra = draw(st.integers(1, 3)), draw(shapes_with_zero(1, 2, 3))
        x_shape, t_shape = (n, c) + extra, (n,) + extra
    s = draw(seeds)
    rng = np.random.default_rng(s)
    t = np.asarray(rng.integers(0, c, t_shape), np.int64)
    kwargs = {"reduction": "mean" if empty else draw(REDUCTIONS)}
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
    if (t >= 0).all() and kind != "(N, C, d1, ...)" and not ls and draw(st.integers(0, 3)) == 0:
        t = t.astype(np.uint8)
    w = values(s + 1, (c,), "positive") if draw(st.booleans()) else None
    return Example((values(s + 2, x_shape, domain), t, w), kwargs)


@st.composite
def _class_probabilities(draw, empty=False):
    """Input (C,), (N, C) or (N, C, d1, ...) and a target of its shape (rows of probabilities
    one time in two, else any values in [0.05, 0.95]); class weights or None; label smoothing
    one time in two. With ``empty``: 'mean' of an empty batch."""
    if not empty and draw(st.booleans()):
        shape = draw(_loss_shape(False, 1, 1, class_axis=0))
    else:
        shape = draw(_loss_shape(empty, 2, 4, class_axis=1))
    s = draw(seeds)
    axis = 0 if len(shape) == 1 else 1
    t = values(s + 1, shape, "unit")
    if draw(st.booleans()):
        t = t / t.sum(axis, keepdims=True)
    w = values(s + 2, (shape[axis],), "positive") if draw(st.booleans()) else None
    kwargs = {"reduction": "mean" if empty else draw(REDUCTIONS)}
    ls = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]))
    if ls:
        kwargs["label_smoothing"] = ls
    return Example((values(s, shape), t, w), kwargs)


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


def _class_bad():
    x = np.zeros((3, 4))
    return [
        BadInput("target class 4 of 4", lambda: Example((x, np.array([1, 2, 4]), None)),
                 (IndexError,)),
        BadInput("target class -1 (ignore_index -100)",
                 lambda: Example((x, np.array([1, -1, 0]), None)), (IndexError,)),
        BadInput("int32 target", lambda: Example((x, np.array([1, 2, 3], np.int32), None)),
                 (RuntimeError,)),
        BadInput("float target (3,) for input (3, 4)",
                 lambda: Example((x, np.array([1.0, 2.0, 3.0]), None)), (RuntimeError,)),
        BadInput("target batch 2 for input batch 3",
                 lambda: Example((x, np.array([1, 2]), None)), (ValueError,)),
        BadInput("target (2, 5) for input (2, 3, 4)",
                 lambda: Example((np.zeros((2, 3, 4)), np.zeros((2, 5), np.int64), None)),
                 (RuntimeError,)),
        BadInput("weight of 3 classes for 4",
                 lambda: Example((x, np.array([1, 2, 3]), np.ones(3))), (RuntimeError,)),
        BadInput(_REDUCTION_BAD, lambda: Example((x, np.array([1, 2, 3]), None),
                                                 {"reduction": "avg"}), (ValueError,)),
    ]


def _class_call(fn, x, t, w, **kw):
    return fn(x, t, _like(w, x), **kw)


_TARGETS = "class-index targets are constants; "


def _nll_specs():
    name = "nn.functional.nll_loss"
    kw = dict(jax=_jax_nll, call=_class_call, accumulation=lambda ex: _class_terms(ex, False))
    return [
        _spec(name, examples=_averaging(_class_index()), **kw, bad_inputs=_class_bad(),
              nonsmooth=_TARGETS + "linear in the input"),
        _spec(name, "mean of nothing", _class_index(empty=True), fd=False, **kw,
              nonsmooth=_NOTHING.format(" or every target ignored")),
    ]


def _cross_entropy_specs():
    name = "nn.functional.cross_entropy"
    kw = dict(jax=_jax_cross_entropy, call=_class_call,
              accumulation=lambda ex: _class_terms(ex, True))
    smoothing = (0.0, 0.05, 0.3, 1.0)
    return [
        _spec(name, "class index", _averaging(_class_index()), **kw, bad_inputs=_class_bad(),
              nonsmooth=_TARGETS + "smooth in the logits"),
        _spec(name, "label smoothing", _averaging(_class_index(smoothing=smoothing[1:])), **kw,
              nonsmooth=_TARGETS + "smooth in the logits",
              bad_inputs=[BadInput("label_smoothing 1.5", lambda: Example(
                  (np.zeros((2, 3)), np.array([0, 1]), None), {"label_smoothing": 1.5}),
                  (RuntimeError,))]),
        _spec(name, "probabilities", _averaging(_class_probabilities()), diff=(0, 1), **kw,
              nonsmooth="smooth in the logits and linear in the target",
              bad_inputs=[BadInput("ignore_index 1 with class probabilities", lambda: Example(
                  (np.zeros((2, 3)), np.full((2, 3), 0.5), None), {"ignore_index": 1}),
                  (RuntimeError,))]),
        _spec(name, "large logits", _averaging(_class_index("large", smoothing=(0.0, 0.1))),
              **kw, nonsmooth="logits of ~1e4: log_softmax as (x - max) - log(sum(exp(x - "
                              "max))) is exact where exp(x) overflows; the softmax saturates"),
        _spec(name, "mean of nothing", _class_index(smoothing=smoothing, empty=True), fd=False,
              **kw, nonsmooth=_NOTHING.format(" or every target ignored")),
        _spec(name, "probabilities, mean of nothing", _class_probabilities(empty=True),
              diff=(0, 1), fd=False, **kw, nonsmooth=_NOTHING.format("")),
    ]


register(
    *_softmax_specs("softmax"),
    *_softmax_specs("log_softmax"),
    *_softmax_specs("nn.functional.softmax"),
    *_softmax_specs("nn.functional.log_softmax"),
    _spec("nn.functional.linear", examples=_linear(bias=True), jax=_jax_linear,
          diff=(0, 1, 2), accumulation=_linear_length,
          bad_inputs=_LINEAR_BAD + [
              BadInput("bias (3,) for output (3, 2)", lambda: Example(
                  (np.ones((3, 4)), np.ones((2, 4)), np.ones(3))), (RuntimeError,)),
              BadInput("bias with a 1-d weight", lambda: Example(
                  (np.ones((3, 4)), np.ones(4), np.ones(()))), (RuntimeError,))],
          bench_shapes=[("x (256, 1024), W (1024, 1024)", lambda: Example(
              tuple(np.random.default_rng(0).standard_normal(s)
                    for s in ((256, 1024), (1024, 1024), (1024,)))))],
          bench_target=1.2, mygrad=lambda mg, x, w, b: mg.matmul(x, w.T) + b),
    _spec("nn.functional.linear", "no bias", _linear(bias=False), _jax_linear,
          diff=(0, 1), accumulation=_linear_length, bad_inputs=_LINEAR_BAD),
    *_mse_specs(),
    *_bce_specs(),
    *_nll_specs(),
    *_cross_entropy_specs(),
)
