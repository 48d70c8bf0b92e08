"""OpSpecs of batch normalization (impl.ops.norm): nn.functional.batch_norm in training and in
evaluation, with and without weight and bias, with and without running statistics.

Running statistics are inputs that training updates in place. The harness compares outputs and
requires its inputs to come back unmodified, so ``call`` hands the op fresh copies of them (in
the input's dtype, as torch requires) and returns those copies after the call as two more
outputs: the in-place update — momentum, the unbiased variance, an empty batch leaving them
alone, evaluation leaving them alone — is checked like any output, against torch and against the
jax oracle's functional update, in both dtypes and every layout, and the harness's own arrays
are never touched. They are constants (not in ``diff``), as in torch. ``momentum=None`` is the
module's business (torch's functional rejects it): tests/test_norm_torch.py covers it, with
num_batches_tracked.

The jax oracle normalizes with jnp.mean and jnp.var over the batch and trailing dims. Each
statistic, and each weight and bias gradient, sums N·L terms (L the product of the trailing
dims).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import seeds, values

FAMILY = "norm"
NAME = "nn.functional.batch_norm"
_MIN_STD = 0.1


def _fresh(t, x):
    """A new tensor holding ``t``'s values in ``x``'s dtype (``t * 1`` copies in torch and in
    impl alike), or None."""
    return None if t is None else (t * 1).to(x.dtype)


def _call(fn, x, running_mean, running_var, weight, bias, **kw):
    """The op on copies of the running statistics; the copies, as updated, are outputs too."""
    if running_mean is None and running_var is None:
        return fn(x, None, None, weight, bias, **kw)
    running_mean, running_var = _fresh(running_mean, x), _fresh(running_var, x)
    return fn(x, running_mean, running_var, weight, bias, **kw), running_mean, running_var


def _jax_batch_norm(J, x, running_mean, running_var, weight=None, bias=None, training=False,
                    momentum=0.1, eps=1e-5):
    jnp = J.jnp
    axes = (0,) + tuple(range(2, x.ndim))
    channel = (1, -1) + (1,) * (x.ndim - 2)
    running = [None if r is None else jnp.asarray(r, x.dtype) for r in (running_mean,
                                                                        running_var)]
    mean, var = (jnp.mean(x, axes), jnp.var(x, axes)) if training else running
    y = (x - mean.reshape(channel)) / jnp.sqrt(var.reshape(channel) + eps)
    if weight is not None:
        y = y * weight.reshape(channel)
    if bias is not None:
        y = y + bias.reshape(channel)
    if running_mean is None:
        return y
    if training and x.size:  # torch leaves the running statistics alone for an empty batch
        m = x.size // x.shape[1]
        batch = (mean, var * (m / (m - 1)))  # the unbiased variance
        running = [(1 - momentum) * r + momentum * s for r, s in zip(running, batch)]
    return (y, *running)


def _terms(ex):
    """N·L: the terms of each channel's statistics and of its weight and bias gradients."""
    x = ex.args[0]
    return max(1, prod(x.shape) // max(1, x.shape[1]))


def _channels_spread(x):
    """Every channel's standard deviation is at least _MIN_STD (or the batch is empty)."""
    if x.size == 0:
        return True
    per_channel = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
    return bool(per_channel.std(axis=1).min() >= _MIN_STD)


@st.composite
def _batch_norm(draw, training, affine=True, running=True, large_mean=False):
    """Input (N, C), (N, C, L) or (N, C, H, W) with sides 1 to 4 (N or a trailing side 0 one
    time in eight); running mean (any) and variance (positive); weight and bias (or None);
    momentum and eps of several sizes."""
    rank = draw(st.sampled_from([2, 3, 4]))
    shape = [draw(st.integers(1, 4)) for _ in range(rank)]
    if draw(st.integers(0, 7)) == 0:
        shape[draw(st.sampled_from([0] + list(range(2, rank))))] = 0
    s = draw(seeds)
    x = values(s, shape)
    c = shape[1]
    if large_mean:  # channels centred far from 0: the variance must not cancel
        x = x + values(s + 5, (1, c) + (1,) * (rank - 2)) * 1e3
    args = (x,)
    args += ((values(s + 1, (c,)), values(s + 2, (c,), "positive")) if running
             else (None, None))
    args += ((values(s + 3, (c,)), values(s + 4, (c,))) if affine else (None, None))
    kwargs = {"training": training,
              "momentum": draw(st.sampled_from([0.1, 0.0, 0.5, 1.0, 0.01])),
              "eps": draw(st.sampled_from([1e-5, 1e-3, 0.5]))}
    return Example(args, kwargs)


def _examples(training, **kw):
    strategy = _batch_norm(training, **kw)
    if not training:
        return strategy
    # torch rejects a training batch of one value per channel (bad inputs cover it)
    return strategy.filter(lambda ex: ex.args[0].size != ex.args[0].shape[1]
                           and _channels_spread(ex.args[0]))


_SMOOTH = ("smooth: in training each channel's standard deviation is drawn at least "
           f"{_MIN_STD} (the gradients grow as 1 / std near a constant channel); in evaluation "
           "the running variance is positive")


def _bad(description, shape, raises, running=((3,), (3,)), weight=None, bias=None,
         dtype=np.float64, **kw):
    def make():
        stats = tuple(None if s is None else np.full(s, 0.5) for s in running)
        affine = tuple(None if s is None else np.ones(s) for s in (weight, bias))
        return Example((np.ones(shape, dtype), *stats, *affine), kw)
    return BadInput(description, make, (raises,))


_BAD_TRAINING = [
    _bad("one value per channel in training, (1, 3)", (1, 3), ValueError, training=True),
    _bad("one value per channel in training, (1, 3, 1, 1)", (1, 3, 1, 1), ValueError,
         training=True),
    _bad("running_mean of 4 values for 3 channels", (2, 3), RuntimeError,
         running=((4,), (3,)), training=True),
    _bad("running_var of 2 values for 3 channels", (2, 3, 2), RuntimeError,
         running=((3,), (2,)), training=True),
    _bad("running_mean of shape (1, 3)", (2, 3), RuntimeError, running=((1, 3), (3,)),
         training=True),
    _bad("weight of 4 values for 3 channels", (2, 3, 2, 2), RuntimeError, weight=(4,),
         training=True),
    _bad("bias of 2 values for 3 channels", (2, 3, 2, 2), RuntimeError, bias=(2,),
         training=True),
    _bad("running_var None but running_mean given", (2, 3), ValueError,
         running=((3,), None), training=True),
    _bad("1-D input", (3,), RuntimeError, training=True),
    _bad("0-D input", (), IndexError, running=(None, None), training=True),
    _bad("eps 0 in training", (2, 3), ValueError, training=True, eps=0.0),
    _bad("momentum None", (2, 3), TypeError, training=True, momentum=None),
    _bad("integer input", (2, 3), NotImplementedError, dtype=np.int64, training=True),
    BadInput("float64 weight for a float32 input", lambda: Example(
        (np.ones((2, 3), np.float32), np.zeros(3), np.ones(3), np.ones(3), None),
        {"training": True}), (RuntimeError,)),
]
_BAD_EVALUATION = [
    _bad("running statistics None in evaluation", (2, 3), RuntimeError, running=(None, None)),
    _bad("running_mean of 4 values for 3 channels", (2, 3), RuntimeError, running=((4,), (3,))),
    _bad("negative eps", (2, 3), ValueError, eps=-1.0),
    _bad("0-D input", (), RuntimeError),
]


def _bench(c, size, training):
    def make():
        return Example((values(0, (32, c, size, size)), values(1, (c,)),
                        values(2, (c,), "positive"), values(3, (c,)), values(4, (c,))),
                       {"training": training})
    return f"{c} ch {size}x{size}, batch 32", make


def _bench_shapes(training):
    return [_bench(c, size, training) for c, size in ((64, 32), (128, 16), (256, 8), (512, 4))]


def _mygrad_batch_norm(mg, x, running_mean, running_var, weight, bias, eps=1e-5, **kw):
    from mygrad.nnet.layers import batchnorm

    return batchnorm(x, gamma=weight, beta=bias, eps=eps)


def _spec(variant, examples, affine=True, **kw):
    return OpSpec(NAME, FAMILY, variant, examples, _jax_batch_norm,
                  diff=(0, 3, 4) if affine else (0,), call=_call, accumulation=_terms,
                  nonsmooth=_SMOOTH, **kw)


register(
    _spec("training", _examples(True), bad_inputs=_BAD_TRAINING,
          bench_shapes=_bench_shapes(True), bench_target=2.0, mygrad=_mygrad_batch_norm),
    _spec("training, no affine", _examples(True, affine=False), affine=False),
    _spec("training, no running stats", _examples(True, running=False)),
    _spec("training, large mean", _examples(True, large_mean=True)),
    _spec("evaluation", _examples(False), bad_inputs=_BAD_EVALUATION,
          bench_shapes=_bench_shapes(False), bench_target=2.0),
    _spec("evaluation, no affine", _examples(False, affine=False), affine=False),
)
