"""OpSpecs of batch normalization (impl.ops.norm): nn.functional.batch_norm in training and in
evaluation.

An example holds the input (N, C, *), the running statistics (None in training one time in four),
a weight, a bias, momentum and eps (Python numbers, or one time in six 0-d arrays: torch's float
arguments take 0-d tensors too). Its keywords say whether to train, which of weight and bias the
call passes (``affine``: both, one or none; one not passed gets a zero gradient in every backend)
and the argument ``form``: all positional, all by keyword, or the first three positional and the
rest by keyword where they are not torch's defaults.

Running statistics are inputs that training updates in place. The harness compares outputs and
requires its inputs to come back unmodified, so ``call`` hands the op fresh copies of them (in
the input's dtype, as torch requires) and returns those copies after the call as two more
outputs: the in-place update — momentum, the unbiased variance, an empty batch leaving them
alone, evaluation leaving them alone — is checked like any output, against torch and against the
jax oracle's functional update, in both dtypes and every layout, and the harness's own arrays
are never touched. They are constants (not in ``diff``), as in torch. ``momentum=None`` is the
module's business (torch's functional rejects it): tests/test_norm_torch.py covers it, with
num_batches_tracked, and the calls the copies keep from the op (a running statistic of another
dtype, or requiring grad).

Each statistic, and each weight and bias gradient, sums N·L terms (L the product of the trailing
dims).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import large_shapes, seeds, straddle, values

FAMILY = "norm"
NAME = "nn.functional.batch_norm"
_MIN_STD = 0.1
_AFFINE = {"weight and bias": (True, True), "weight": (True, False), "bias": (False, True),
           "none": (False, False)}
_FORMS = ("positional", "keyword", "defaults")
_DEFAULTS = {"weight": None, "bias": None, "training": False, "momentum": 0.1, "eps": 1e-5}
_MOMENTA = (0.1, 0.0, 1.0, 0.5, 0.01, 0, 1)
_EPS = {True: (1e-5, 1e-3, 0.5, 1), False: (1e-5, 1e-3, 0.5, 1, 0.0)}  # 0 only in evaluation


def _fresh(fn, t, x):
    """A new tensor holding tensor ``t``'s values in ``x``'s dtype (``t * 1`` copies in every
    tensor library); anything else (None, or a bad input's list) as it is."""
    return fn.like(t * 1, x) if hasattr(t, "dtype") else t


def _default(name, v):
    d = _DEFAULTS[name]
    return v is None if d is None else type(v) is type(d) and v == d


def _call(fn, x, running_mean, running_var, weight, bias, momentum=0.1, eps=1e-5, *,
          training=False, affine="weight and bias", form="defaults"):
    """The op on copies of the running statistics, in argument ``form``; the copies, as
    updated, are outputs too."""
    use_weight, use_bias = _AFFINE[affine]
    stats = [_fresh(fn, t, x) for t in (running_mean, running_var)]
    args = {"input": x, "running_mean": stats[0], "running_var": stats[1],
            "weight": weight if use_weight else None, "bias": bias if use_bias else None,
            "training": training, "momentum": momentum, "eps": eps}
    if form == "positional":
        y = fn(*args.values())
    elif form == "keyword":
        y = fn(**args)
    else:
        y = fn(x, *stats, **{k: v for k, v in list(args.items())[3:] if not _default(k, v)})
    return y if running_mean is None and running_var is None else (y, *stats)


def _jax_batch_norm(J, x, running_mean, running_var, weight, bias, momentum=0.1, eps=1e-5, *,
                    training=False, affine="weight and bias", form="defaults"):
    # As torch's CPU kernels: the per-channel sums (statistics, weight and bias gradients) in
    # double, the per-element normalization in the input's dtype. A float32 sum (a mean near 0
    # beside a spread near 1, a weight gradient that cancels) would loosen the tolerance derived
    # from the oracles' own errors.
    jnp = J.jnp
    dtype = x.dtype
    axes = (0,) + tuple(range(2, x.ndim))
    channel = (1, -1) + (1,) * (x.ndim - 2)
    momentum, eps = float(momentum), float(eps)
    running = [None if r is None else jnp.asarray(r) for r in (running_mean, running_var)]
    m = _per_channel_count(x.shape)
    if training:
        # deviations from each channel's first element (a constant): a mean far from 0 costs
        # float64 no accuracy
        xd = x.astype(jnp.float64)
        pivot = 0.0
        if x.size:
            first = J.lax.stop_gradient(xd[(slice(0, 1), slice(None)) + (slice(0, 1),) * (
                x.ndim - 2)])
            pivot = jnp.where(jnp.isfinite(first), first, 0.0)
        mean = pivot + jnp.sum(xd - pivot, axes, keepdims=True) / m
        var = jnp.sum(jnp.square(xd - mean), axes, keepdims=True) / m
    else:
        mean, var = (r.reshape(channel) for r in running)
    y = ((x - mean.astype(dtype)) / jnp.sqrt(var + eps).astype(dtype)).astype(jnp.float64)
    use_weight, use_bias = _AFFINE[affine]
    if use_weight:
        y = y * weight.astype(jnp.float64).reshape(channel)
    if use_bias:
        y = y + bias.astype(jnp.float64).reshape(channel)
    if running_mean is None:
        return y.astype(dtype)
    if training and x.size:  # torch leaves the running statistics alone for an empty batch
        batch = (mean.reshape(-1), var.reshape(-1) * (m / (m - 1)))  # the unbiased variance
        running = [(1 - momentum) * r + momentum * s for r, s in zip(running, batch)]
    return tuple(a.astype(dtype) for a in (y, *running))


def _per_channel_count(shape):
    """N·L: the values of each channel, the terms of its statistics and of its weight and bias
    gradients."""
    return shape[0] * prod(shape[2:])


def _term_sizes(ex):
    """The size of the terms of each output element: |x̂·weight| + |bias| for the normalized
    output (an element near 0 is a remainder of the two), (1 - momentum)·|running| +
    momentum·(the batch statistic's term size) for the running statistics."""
    x, running_mean, running_var, weight, bias = ex.args[:5]
    momentum, eps = (float(v) for v in ex.args[5:7])
    use_weight, use_bias = _AFFINE[ex.kwargs.get("affine", "weight and bias")]
    axes, channel = (0,) + tuple(range(2, x.ndim)), (1, -1) + (1,) * (x.ndim - 2)
    if not x.size or x.ndim < 2:
        return None
    batch = ex.kwargs.get("training", False) or running_mean is None
    mean, var = (x.mean(axes), x.var(axes)) if batch else (running_mean, running_var)
    with np.errstate(all="ignore"):
        size = np.abs((x - mean.reshape(channel)) / np.sqrt(var.reshape(channel) + eps))
        if use_weight:
            size = size * np.abs(weight).reshape(channel)
        if use_bias:
            size = size + np.abs(bias).reshape(channel)
        if running_mean is None or not batch:
            return [size]
        m = _per_channel_count(x.shape)
        # the batch mean sums terms of size |x| (a mean near 0 is their small remainder); the
        # variance sums nonnegative terms
        stats = (np.abs(x).mean(axes), var * m / max(m - 1, 1))
        return [size] + [(1 - momentum) * np.abs(r) + momentum * np.abs(b)
                         for r, b in zip((running_mean, running_var), stats)]


def _terms(ex):
    return max(1, _per_channel_count(ex.args[0].shape))


def _channels(x):
    """``x`` as (C, N·L): each channel's values in a row."""
    return np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def _spread(x):
    """Every channel's standard deviation is at least _MIN_STD (or the batch is empty)."""
    return x.size == 0 or bool(_channels(x).std(axis=1).min() >= _MIN_STD)


def _large_means(x):
    return x.size > 0 and bool(np.abs(_channels(x).mean(axis=1)).max() >= 100)


@st.composite
def _small_shape(draw):
    """(N, C), (N, C, L) or (N, C, H, W) with sides 1 to 4, N = 0 one time in eight."""
    shape = [draw(st.integers(1, 4)) for _ in range(draw(st.sampled_from([2, 3, 4])))]
    if draw(st.integers(0, 7)) == 0:
        shape[0] = 0
    return tuple(shape)


@st.composite
def _large_shape(draw):
    """(N, C), (N, C, L) or (N, C, H, W) of 10^3 to 10^5 elements, C from 1 to 256: every side
    straddles the block widths or is odd."""
    rank = draw(st.sampled_from([2, 3, 4]))
    c = draw(straddle(1, 256))
    rest = draw(large_shapes(rank - 1, rank - 1, max(1, 1_000 // c), 100_000 // c))
    return (rest[0], c) + rest[1:]


def _stats(mean, var):
    """Running statistics that float32 holds exactly. The harness casts only differentiable
    arguments to the run's dtype; the call copies the statistics into the input's dtype, so a
    float32 run would round them while its float64 truth does not."""
    return tuple(a.astype(np.float32).astype(np.float64) for a in (mean, var))


def _scalar(draw, options):
    """One of ``options``; one time in six as a 0-d array (a 0-d tensor in the call)."""
    v = draw(st.sampled_from(options))
    return np.asarray(float(v)) if draw(st.integers(0, 5)) == 0 else v


@st.composite
def _batch_norm(draw, training, shape):
    """An input of ``shape`` (channels centred far from 0 one time in four: the variance must
    not cancel), running statistics (mean any, variance positive), weight, bias, momentum and
    eps of several sizes and forms, ``affine`` and ``form``."""
    shape = draw(shape)
    s = draw(seeds)
    c = shape[1]
    x, running_mean = values(s, shape), values(s + 1, (c,))
    if draw(st.integers(0, 3)) == 0:
        centres = values(s + 5, (c,)) * 1e3
        x = x + centres.reshape((1, c) + (1,) * (len(shape) - 2))
        running_mean = running_mean + centres  # as running statistics follow the batches
    running = _stats(running_mean, values(s + 2, (c,), "positive"))
    if training and draw(st.integers(0, 3)) == 0:
        running = (None, None)
    return Example((x, *running, values(s + 3, (c,)), values(s + 4, (c,)),
                    _scalar(draw, _MOMENTA), _scalar(draw, _EPS[training])),
                   {"training": training, "affine": draw(st.sampled_from(list(_AFFINE))),
                    "form": draw(st.sampled_from(_FORMS))})


def _examples(training, shape):
    strategy = _batch_norm(training, shape)
    if not training:
        return strategy
    # torch rejects a training batch of one value per channel (bad inputs cover it)
    return strategy.filter(lambda ex: _per_channel_count(ex.args[0].shape) != 1
                           and _spread(ex.args[0]))


def _case(shape, training, seed=0, affine="weight and bias", form="defaults", momentum=0.1,
          eps=1e-5, running=True, edit=None):
    """A curated example; ``edit(x)`` changes the input's values in place."""
    c = shape[1]
    x = values(seed, shape)
    if edit:
        edit(x)
    stats = _stats(values(seed + 1, (c,)), values(seed + 2, (c,), "positive")) if running else (
        None, None)
    return Example((x, *stats, values(seed + 3, (c,)), values(seed + 4, (c,)), momentum, eps),
                   {"training": training, "affine": affine, "form": form})


def _centre(x):
    x += (values(9, (x.shape[1],)) * 1e3).reshape((1, -1) + (1,) * (x.ndim - 2))


def _near_zero_means(x):
    x -= _channels(x).mean(axis=1).reshape((1, -1) + (1,) * (x.ndim - 2))
    x += (values(10, (x.shape[1],)) * 1e-3).reshape((1, -1) + (1,) * (x.ndim - 2))


def _dead_channel(x):
    x[:, 1] = 0.0


def _nonfinite(x):
    x[0, 0, 1], x[1, 2, 0] = np.nan, np.inf


_CASES_TRAINING = [
    # a relative error of 1e-4 (float32) or 1e-9 (float64) in one output element must show
    ("(8, 64, 15, 17): the accuracy floor", _case((8, 64, 15, 17), True)),
    ("rows of 257 elements, channel means near 1e3: the variance must not cancel",
     _case((5, 33, 257), True, 1, edit=_centre)),
    ("channel means near 0 beside a spread near 1, momentum 1: the running mean is the batch "
     "mean to its last bit (a float32 sum would lose it)",
     _case((16, 8, 33), True, 10, momentum=1.0, edit=_near_zero_means)),
    ("5-d input", _case((2, 3, 2, 2, 3), True, 2, affine="weight", form="keyword")),
    ("a dead channel (all zeros): its output is the bias, its gradients finite",
     _case((4, 3, 5, 2), True, 3, edit=_dead_channel)),
    ("NaN and inf in two channels: those channels NaN, the others unaffected",
     _case((3, 4, 6, 2), True, 4, edit=_nonfinite)),
    ("an empty plane (2, 3, 0, 5): running statistics left alone", _case((2, 3, 0, 5), True, 5)),
    ("no channels", _case((2, 0, 3), True, 6, affine="none", form="positional")),
]
_CASES_EVALUATION = [
    ("5-d input", _case((2, 3, 2, 2, 3), False, 7, affine="bias")),
    ("an empty plane (2, 3, 0, 5)", _case((2, 3, 0, 5), False, 8)),
    ("NaN and inf in two channels: only those elements non-finite",
     _case((3, 4, 6, 2), False, 9, edit=_nonfinite)),
]


def _regions(training):
    regions = {f"affine: {a}": (lambda ex, a=a: ex.kwargs["affine"] == a) for a in _AFFINE}
    regions |= {f"form: {f}": (lambda ex, f=f: ex.kwargs["form"] == f) for f in _FORMS}
    regions |= {f"{k}-d input": (lambda ex, k=k: ex.args[0].ndim == k) for k in (2, 3, 4)}
    regions |= {
        "empty batch": lambda ex: ex.args[0].shape[0] == 0,
        "large channel means": lambda ex: _large_means(ex.args[0]),
        "eps 1e-5": lambda ex: float(ex.args[6]) == 1e-5,
        "eps 0.5 or more": lambda ex: float(ex.args[6]) >= 0.5,
        "0-d tensor eps": lambda ex: isinstance(ex.args[6], np.ndarray),
        "int eps": lambda ex: isinstance(ex.args[6], int),
    }
    if not training:
        return regions | {
            "eps 0": lambda ex: float(ex.args[6]) == 0,
            "one value per channel": lambda ex: _per_channel_count(ex.args[0].shape) == 1,
        }

    def running(momentum):  # a region of momentum where it matters: with running statistics
        return lambda ex: ex.args[1] is not None and momentum(float(ex.args[5]))

    return regions | {
        "running statistics": lambda ex: ex.args[1] is not None,
        "no running statistics": lambda ex: ex.args[1] is None,
        "momentum 0": running(lambda m: m == 0),
        "momentum 1": running(lambda m: m == 1),
        "momentum in (0, 1)": running(lambda m: 0 < m < 1),
        "0-d tensor momentum": lambda ex: ex.args[1] is not None and isinstance(ex.args[5],
                                                                                np.ndarray),
        "int momentum": lambda ex: ex.args[1] is not None and isinstance(ex.args[5], int),
        "batch of one": lambda ex: ex.args[0].shape[0] == 1,
    }


_SMOOTH = ("smooth: in training each channel's standard deviation is drawn at least "
           f"{_MIN_STD} (the gradients grow as 1 / std near a constant channel); in evaluation "
           "the running variance is positive")


def _bad(description, shape, raises, running=((3,), (3,)), weight=None, bias=None,
         dtype=np.float64, training=False, momentum=0.1, eps=1e-5, x=None):
    def make():
        stats = tuple(None if s is None else np.full(s, 0.5) for s in running)
        affine = tuple(np.ones(s or 3) for s in (weight, bias))
        return Example((np.ones(shape, dtype) if x is None else x, *stats, *affine, momentum,
                        eps), {"training": training, "form": "defaults",
                               "affine": _AFFINE_OF[(weight is not None, bias is not None)]})
    return BadInput(description, make, (raises,))


_AFFINE_OF = {v: k for k, v in _AFFINE.items()}
_BAD_TRAINING = [
    _bad("one value per channel in training, (1, 3)", (1, 3), ValueError, training=True),
    _bad("one value per channel in training, (1, 3, 1, 1)", (1, 3, 1, 1), ValueError,
         training=True, running=(None, None)),
    _bad("running_mean of 4 values for 3 channels", (2, 3), RuntimeError,
         running=((4,), (3,)), training=True),
    _bad("running_var of 2 values for 3 channels", (2, 3, 2), RuntimeError,
         running=((3,), (2,)), training=True),
    _bad("running_mean of shape (1, 3)", (2, 3), RuntimeError, running=((1, 3), (3,)),
         training=True),
    _bad("weight of 4 values for 3 channels", (2, 3, 2, 2), RuntimeError, weight=(4,),
         training=True),
    _bad("bias of 2 values for 3 channels", (2, 3, 2, 2), RuntimeError, bias=(2,),
         training=True, running=(None, None)),
    _bad("running_var None but running_mean given", (2, 3), ValueError,
         running=((3,), None), training=True),
    _bad("running_mean None but running_var given", (2, 3), ValueError,
         running=(None, (3,)), training=True),
    _bad("1-D input with running statistics", (3,), RuntimeError, training=True),
    _bad("1-D input without running statistics", (3,), IndexError, running=(None, None),
         training=True),
    _bad("0-D input", (), IndexError, running=(None, None), training=True),
    _bad("eps 0 in training", (2, 3), ValueError, training=True, eps=0.0),
    _bad("momentum None", (2, 3), TypeError, training=True, momentum=None),
    _bad("momentum a string", (2, 3), TypeError, training=True, momentum="0.1"),
    _bad("momentum a 1-element 1-D tensor", (2, 3), TypeError, training=True,
         momentum=np.array([0.1])),
    _bad("training an int", (2, 3), TypeError, training=1),
    _bad("integer input", (2, 3), NotImplementedError, dtype=np.int64, training=True,
         running=(None, None)),
    BadInput("float64 weight for a float32 input", lambda: Example(
        (np.ones((2, 3), np.float32), None, None, np.ones(3), np.ones(3), 0.1, 1e-5),
        {"training": True, "affine": "weight", "form": "keyword"}), (RuntimeError,)),
]
_BAD_EVALUATION = [
    _bad("running statistics None in evaluation", (2, 3), RuntimeError, running=(None, None)),
    _bad("running_var None in evaluation", (2, 3), RuntimeError, running=((3,), None)),
    _bad("running_mean of 4 values for 3 channels", (2, 3), RuntimeError, running=((4,), (3,))),
    _bad("0-D running statistics for 1 channel", (2, 1), RuntimeError, running=((), ())),
    _bad("negative eps", (2, 3), ValueError, eps=-1.0),
    _bad("eps None", (2, 3), TypeError, eps=None),
    _bad("training None", (2, 3), TypeError, training=None),
    _bad("1-D input", (3,), RuntimeError),
    _bad("0-D input", (), RuntimeError),
    _bad("input a list", None, TypeError, running=(None, None), x=[[1.0, 2.0, 3.0]] * 2),
    BadInput("running_mean a list", lambda: Example(
        (np.ones((2, 3)), [0.0, 0.0, 0.0], np.ones(3), np.ones(3), np.ones(3), 0.1, 1e-5),
        {"training": False, "affine": "none", "form": "positional"}), (TypeError,)),
]


def _bench(c, size, training):
    def make():
        return Example((values(0, (32, c, size, size)), values(1, (c,)),
                        values(2, (c,), "positive"), values(3, (c,)), values(4, (c,)), 0.1,
                        1e-5), {"training": training, "affine": "weight and bias",
                                "form": "defaults"})
    return f"{c} ch {size}x{size}, batch 32", make


def _bench_shapes(training):
    return [_bench(c, size, training) for c, size in ((64, 32), (128, 16), (256, 8), (512, 4))]


def _spec(training, cases, bad_inputs, **kw):
    return OpSpec(NAME, FAMILY, "training" if training else "evaluation",
                  _examples(training, _small_shape()), _jax_batch_norm, diff=(0, 3, 4),
                  call=_call, accumulation=_terms, term_sizes=_term_sizes, nonsmooth=_SMOOTH,
                  large=_examples(training, _large_shape()), regions=_regions(training),
                  cases=cases, bad_inputs=bad_inputs, bench_shapes=_bench_shapes(training),
                  bench_target=2.0, **kw)


register(
    _spec(True, _CASES_TRAINING, _BAD_TRAINING),
    _spec(False, _CASES_EVALUATION, _BAD_EVALUATION),
)
