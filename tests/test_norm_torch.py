"""Batch normalization against torch: nn.functional.batch_norm (values, gradients for a random
cotangent, the in-place update of the running statistics, errors), the BatchNorm1d/BatchNorm2d
modules (initialisation, state_dict, train/eval, momentum=None, track_running_stats=False), and
the compiled kernels against their NumPy references."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import impl
import impl.nn.functional as F
from impl._kernels import _norm as compiled
from impl._kernels import reference_norm as reference
from impl.ops import norm as norm_ops

DTYPES = [np.float32, np.float64]
# Sums of N·L terms in float32: a few ulps of the result per term at most.
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
# Running statistics: one rounding of a double computation, in torch and impl alike.
STATS_TOL = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


# -- kernels against their references -----------------------------------------------------------

# (2, 7, 1): rows of one element; (40, 300, 3) and (64, 37, 50): many chunks of rows, each
# starting mid-way through the channels, (64, 37, 50) on every core; (3, 5, 40000): a row per
# chunk; and empty inputs.
KERNEL_SHAPES = [(4, 3, 5), (2, 7, 1), (1, 1, 9), (3, 5, 17), (8, 16, 64), (64, 4, 1),
                 (1, 300, 2), (40, 300, 3), (64, 37, 50), (3, 5, 40000), (0, 3, 4), (3, 0, 2),
                 (2, 3, 0)]


def _kernel_cases(rng, shape, dtype):
    """Arguments of each kernel for an input of ``shape``: name -> (args, output indices)."""
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    mean, c1, c2, c3 = (rng.standard_normal(c) for _ in range(4))
    return {
        "channel_stats": ([x, np.empty(c), np.empty(c)], (1, 2)),
        "channel_grad_sums": ([g, x, mean, np.empty(c), np.empty(c)], (3, 4)),
        "channel_affine": ([x, mean, c1, c2, np.empty(shape, dtype)], (4,)),
        "channel_combine": ([g, x, mean, c1, c2, c3, np.empty(shape, dtype)], (6,)),
    }


def test_every_kernel_has_a_reference():
    kernels = {n for n, f in vars(compiled).items() if callable(f) and not n.startswith("_")}
    refs = {n for n, f in vars(reference).items()
            if inspect.isfunction(f) and not n.startswith("_")}
    assert kernels == refs == {"channel_stats", "channel_grad_sums", "channel_affine",
                               "channel_combine"}
    for name in refs:
        assert not inspect.isfunction(getattr(compiled, name))
        assert inspect.signature(getattr(compiled, name)).parameters.keys() == \
            inspect.signature(getattr(reference, name)).parameters.keys()
    assert norm_ops.kernels is compiled  # the op runs the compiled kernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", KERNEL_SHAPES, ids=str)
def test_kernels_equal_references(shape, dtype, rng):
    for name, (args, outs) in _kernel_cases(rng, shape, dtype).items():
        ref_args = [a.copy() for a in args]
        inputs = {i: a.copy() for i, a in enumerate(args) if i not in outs}
        getattr(compiled, name)(*args)
        getattr(reference, name)(*ref_args)
        for i in outs:
            have, want = args[i], ref_args[i]
            assert have.dtype == want.dtype
            # The sums are in double in both; results differ by the last roundings only.
            rtol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(have, want, rtol=rtol, atol=rtol, err_msg=name)
        for i, a in inputs.items():
            np.testing.assert_array_equal(args[i], a, err_msg=f"{name}: input {i} modified")


@pytest.mark.parametrize("name", ["channel_stats", "channel_grad_sums", "channel_affine",
                                  "channel_combine"])
def test_kernels_reject_bad_shapes_and_layouts(name, rng):
    args, outs = _kernel_cases(rng, (2, 3, 4), np.float32)[name]
    for module in (compiled, reference):
        bad_channels = list(args)
        bad_channels[outs[0] if name.endswith(("stats", "sums")) else 2] = np.empty(4)
        with pytest.raises(ValueError, match=name):
            getattr(module, name)(*bad_channels)
        if not name.endswith(("stats", "sums")):
            bad_out = list(args)
            bad_out[outs[0]] = np.empty((2, 3, 5), np.float32)
            with pytest.raises(ValueError, match=name):
                getattr(module, name)(*bad_out)
    strided = list(args)
    strided[0] = np.empty((2, 3, 8), np.float32)[..., ::2]
    with pytest.raises(ValueError):  # a typed memoryview refuses a non-contiguous array
        getattr(compiled, name)(*strided)


@pytest.mark.parametrize("dtype, mean", [(np.float64, 1e8), (np.float32, 1e4)])
def test_kernel_statistics_survive_a_large_mean(dtype, mean):
    # Deviations from a pivot (the channel's first element) for the mean, squared deviations
    # from the mean (not E[x^2] - E[x]^2) for the variance: both exact here.
    x = (mean + np.tile([-1.0, 1.0], 500)).astype(dtype).reshape(10, 1, 100)
    have_mean, have_var = np.empty(1), np.empty(1)
    compiled.channel_stats(x, have_mean, have_var)
    assert have_mean[0] == mean and have_var[0] == 1.0


# -- the functional against torch ---------------------------------------------------------------

def _lib_args(lib, x, stats, affine, dtype, grad):
    """(input, running_mean, running_var, weight, bias) in ``lib``; affine leaves need grad."""
    make = (lambda a, g=False: None if a is None else impl.tensor(a.astype(dtype),
                                                                   requires_grad=g)) \
        if lib is impl else \
        (lambda a, g=False: None if a is None else torch.tensor(a.astype(dtype),
                                                                requires_grad=g))
    return (make(x, grad), *[make(s) for s in stats], *[make(a, grad) for a in affine])


def _run(lib, fn, x, stats, affine, dtype, cot, layout=None, **kw):
    args = _lib_args(lib, x, stats, affine, dtype, True)
    inp = args[0]
    if layout is not None:  # a strided view of the same values as the input
        inp = impl.from_numpy(layout(x.astype(dtype))).requires_grad_(True)
        args = (inp,) + args[1:]
    out = fn(*args, **kw)
    out.backward(impl.tensor(cot.astype(dtype)) if lib is impl else torch.tensor(
        cot.astype(dtype)))
    grads = [None if a is None else (np.zeros(a.shape) if a.grad is None else
                                     np.asarray(a.grad.detach().numpy()))
             for a in (args[0], args[3], args[4])]
    stats = [None if s is None else s.detach().numpy().copy() for s in args[1:3]]
    return out.detach().numpy(), grads, stats


SHAPES = [(4, 3), (5, 2, 7), (3, 4, 5, 6), (2, 3, 2, 2, 3), (1, 3, 2), (2, 1, 4, 4)]
AFFINE = ["weight and bias", "weight", "bias", "none"]


def _draw(rng, shape, affine, running=True):
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + rng.standard_normal((1, c) + (1,) * (len(shape) - 2))
    stats = (rng.standard_normal(c), rng.uniform(0.5, 2.0, c)) if running else (None, None)
    w = rng.standard_normal(c) if affine in ("weight and bias", "weight") else None
    b = rng.standard_normal(c) if affine in ("weight and bias", "bias") else None
    return x, stats, (w, b), rng.standard_normal(shape)


def _compare(have, want, dtype):
    (y, grads, stats), (ty, tgrads, tstats) = have, want
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ty, **TOL[dtype])
    for g, tg in zip(grads, tgrads):
        assert (g is None) == (tg is None)
        if g is not None:
            assert g.dtype == dtype
            np.testing.assert_allclose(g, tg, **TOL[dtype])
    for s, ts in zip(stats, tstats):
        if s is not None:
            assert s.dtype == dtype
            np.testing.assert_allclose(s, ts, **STATS_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_batch_norm_matches_torch(shape, training, affine, dtype, rng):
    x, stats, params, cot = _draw(rng, shape, affine)
    kw = dict(training=training, momentum=0.3, eps=1e-4)
    have = _run(impl, F.batch_norm, x, stats, params, dtype, cot, **kw)
    _compare(have, _run(torch, TF.batch_norm, x, stats, params, dtype, cot, **kw), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.0, 1.0, 0.5, 1e-3])
def test_running_statistics_update_as_torch(momentum, dtype, rng):
    # running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    x, stats, params, cot = _draw(rng, (6, 4, 3, 5), "weight and bias")
    have = _run(impl, F.batch_norm, x, stats, params, dtype, cot, training=True,
                momentum=momentum)
    _compare(have, _run(torch, TF.batch_norm, x, stats, params, dtype, cot, training=True,
                        momentum=momentum), dtype)
    m = x.size // x.shape[1]
    xs = np.moveaxis(x.astype(dtype).astype(np.float64), 1, 0).reshape(4, -1)
    want_var = (1 - momentum) * stats[1] + momentum * xs.var(axis=1) * m / (m - 1)
    np.testing.assert_allclose(have[2][1], want_var, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_running_statistics_are_updated_in_place():
    rm, rv = impl.zeros(3), impl.ones(3)
    rm_data, rv_data = rm.data, rv.data
    F.batch_norm(impl.randn(4, 3, 2), rm, rv, training=True)
    assert rm.data is rm_data and rv.data is rv_data
    assert np.all(rm_data != 0) and np.all(rv_data != 1)


@pytest.mark.parametrize("layout", {
    "fortran": np.asfortranarray,
    "step_sliced": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "negative_stride": lambda a: np.flip(np.flip(a).copy()),
    "channels_last": lambda a: np.moveaxis(np.moveaxis(a, 1, -1).copy(), -1, 1),
}.items(), ids=lambda p: p[0] if isinstance(p, tuple) else p)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_input_gives_the_contiguous_result(layout, training, dtype, rng):
    x, stats, params, cot = _draw(rng, (3, 4, 5, 6), "weight and bias")
    contiguous = _run(impl, F.batch_norm, x, stats, params, dtype, cot, training=training)
    strided = _run(impl, F.batch_norm, x, stats, params, dtype, cot, layout=layout[1],
                   training=training)
    np.testing.assert_array_equal(strided[0], contiguous[0])
    for a, b in zip(strided[1] + strided[2], contiguous[1] + contiguous[2]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("training", [True, False])
def test_evaluation_gradients_are_the_affine_ones(training, rng):
    # In evaluation the statistics are constants: dx = g * weight / sqrt(running_var + eps).
    x, stats, params, cot = _draw(rng, (4, 3, 5), "weight and bias")
    _, (gx, gw, gb), _ = _run(impl, F.batch_norm, x, stats, params, np.float64, cot,
                              training=False, eps=1e-3)
    per_channel = (1, 3, 1)
    invstd = (1 / np.sqrt(stats[1] + 1e-3)).reshape(per_channel)
    np.testing.assert_allclose(gx, cot * params[0].reshape(per_channel) * invstd, rtol=1e-12)
    xhat = (x - stats[0].reshape(per_channel)) * invstd
    np.testing.assert_allclose(gw, (cot * xhat).sum(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(gb, cot.sum(axis=(0, 2)), rtol=1e-12)


def test_input_gradient_alone_and_parameter_gradients_alone(rng):
    x, stats, (w, b), cot = _draw(rng, (4, 3, 5), "weight and bias")
    for training in (True, False):
        for grad_x in (True, False):
            ti = [torch.tensor(a, requires_grad=r) for a, r in ((x, grad_x), (w, not grad_x),
                                                                 (b, not grad_x))]
            ii = [impl.tensor(a, requires_grad=r) for a, r in ((x, grad_x), (w, not grad_x),
                                                               (b, not grad_x))]
            TF.batch_norm(ti[0], *map(torch.tensor, stats), ti[1], ti[2],
                          training=training).backward(torch.tensor(cot))
            F.batch_norm(ii[0], *map(impl.tensor, stats), ii[1], ii[2],
                         training=training).backward(impl.tensor(cot))
            for i, t in zip(ii, ti):
                assert (i.grad is None) == (t.grad is None)
                if t.grad is not None:
                    np.testing.assert_allclose(i.grad.data, t.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0), (2, 3, 0, 5)], ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_empty_batch(shape, training, rng):
    # torch: an empty output, zero weight and bias gradients, running statistics untouched.
    x, stats, params, cot = _draw(rng, shape, "weight and bias")
    have = _run(impl, F.batch_norm, x, stats, params, np.float64, cot, training=training)
    _compare(have, _run(torch, TF.batch_norm, x, stats, params, np.float64, cot,
                        training=training), np.float64)
    np.testing.assert_array_equal(have[2][0], stats[0])
    np.testing.assert_array_equal(have[2][1], stats[1])


def test_training_without_running_statistics(rng):
    x, stats, params, cot = _draw(rng, (5, 3, 4), "weight and bias", running=False)
    have = _run(impl, F.batch_norm, x, stats, params, np.float64, cot, training=True)
    _compare(have, _run(torch, TF.batch_norm, x, stats, params, np.float64, cot,
                        training=True), np.float64)


def test_weight_of_another_shape_gets_a_gradient_of_its_shape():
    # torch accepts any weight of C elements in the forward (its backward then fails).
    x, w = impl.randn(4, 3, requires_grad=True), impl.ones(1, 3, requires_grad=True)
    F.batch_norm(x, None, None, w, training=True).backward(impl.randn(4, 3))
    assert w.grad.shape == (1, 3)


def _bad_calls():
    """(description, call with lib's tensors) of calls torch rejects."""
    x, c3 = np.ones((2, 3)), np.ones(3)
    return [
        ("one value per channel", lambda L, f: f(L.ones(1, 3), L.zeros(3), L.ones(3),
                                                 training=True)),
        ("one value per channel, 4-D", lambda L, f: f(L.ones(1, 3, 1, 1), None, None,
                                                      training=True)),
        ("running_mean size", lambda L, f: f(L.tensor(x), L.zeros(4), L.ones(3))),
        ("running_var size", lambda L, f: f(L.tensor(x), L.zeros(3), L.ones(2),
                                            training=True)),
        ("running_mean 2-D", lambda L, f: f(L.tensor(x), L.zeros(1, 3), L.ones(3))),
        ("running_mean 0-D for 1 channel", lambda L, f: f(L.ones(2, 1), L.zeros(()),
                                                          L.ones(()))),
        ("weight size", lambda L, f: f(L.tensor(x), L.zeros(3), L.ones(3), L.ones(4))),
        ("bias size", lambda L, f: f(L.tensor(x), None, None, None, L.ones(2),
                                     training=True)),
        ("stats None in evaluation", lambda L, f: f(L.tensor(x), None, None)),
        ("running_var None in evaluation", lambda L, f: f(L.tensor(x), L.zeros(3), None)),
        ("one stat None in training", lambda L, f: f(L.tensor(x), None, L.ones(3),
                                                     training=True)),
        ("1-D input with stats", lambda L, f: f(L.ones(3), L.zeros(3), L.ones(3))),
        ("1-D input in training", lambda L, f: f(L.ones(3), None, None, training=True)),
        ("0-D input in training", lambda L, f: f(L.ones(()), None, None, training=True)),
        ("0-D input in evaluation", lambda L, f: f(L.ones(()), L.zeros(3), L.ones(3))),
        ("integer input", lambda L, f: f(L.ones(2, 3, dtype=L.int64), None, None,
                                         training=True)),
        ("float64 stats, float32 input", lambda L, f: f(L.ones(2, 3), L.zeros(3, dtype=L.float64),
                                                        L.ones(3, dtype=L.float64))),
        ("float64 weight, float32 input", lambda L, f: f(L.ones(2, 3), L.zeros(3), L.ones(3),
                                                         L.ones(3, dtype=L.float64))),
        ("negative eps", lambda L, f: f(L.tensor(x), L.zeros(3), L.ones(3), eps=-1.0)),
        ("eps 0 in training", lambda L, f: f(L.tensor(x), None, None, training=True, eps=0.0)),
        ("momentum None", lambda L, f: f(L.tensor(x), L.zeros(3), L.ones(3), training=True,
                                         momentum=None)),
        ("input not a tensor", lambda L, f: f(x, L.zeros(3), L.ones(3))),
        ("running_mean not a tensor", lambda L, f: f(L.tensor(x), c3, L.ones(3))),
        ("running_mean requires grad", lambda L, f: f(
            L.tensor(x), L.zeros(3, requires_grad=True), L.ones(3), training=True)),
    ]


@pytest.mark.parametrize("description, call", _bad_calls(), ids=[d for d, _ in _bad_calls()])
def test_bad_input_raises_as_torch(description, call):
    with pytest.raises(Exception) as torch_error:
        call(torch, TF.batch_norm)
    with pytest.raises(type(torch_error.value), match="batch_norm"):
        call(impl, F.batch_norm)


def test_running_statistics_requiring_grad_are_fine_without_grad():
    with impl.no_grad():
        F.batch_norm(impl.randn(4, 3), impl.zeros(3, requires_grad=True), impl.ones(3),
                     training=True)


def test_read_only_running_statistics_in_training():
    frozen = np.zeros(3, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(RuntimeError, match="batch_norm.*running_mean"):
        F.batch_norm(impl.randn(4, 3), impl.from_numpy(frozen), impl.ones(3), training=True)
    F.batch_norm(impl.randn(4, 3), impl.from_numpy(frozen), impl.ones(3))  # read in evaluation


# -- modules ------------------------------------------------------------------------------------

MODULES = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (6, 3, 5)), ("BatchNorm2d", (4, 3, 5, 5))]
CONFIGS = [
    dict(), dict(momentum=None), dict(momentum=0.5, eps=1e-3), dict(affine=False),
    dict(track_running_stats=False), dict(momentum=None, track_running_stats=False),
    dict(affine=False, track_running_stats=False), dict(bias=False),
]


def _pair(name, config):
    mine, theirs = getattr(impl.nn, name)(3, **config), getattr(torch.nn, name)(3, **config)
    rng = np.random.default_rng(7)
    for p, tp in zip(mine.parameters(), theirs.parameters()):  # non-trivial affine parameters
        values = rng.standard_normal(p.shape)
        p.data[...] = values
        with torch.no_grad():
            tp.copy_(torch.tensor(values))
    return mine, theirs


def _assert_state_equal(mine, theirs, tol):
    state, tstate = mine.state_dict(), theirs.state_dict()
    assert list(state) == list(tstate)
    for key, value in tstate.items():
        assert state[key].dtype == value.numpy().dtype, key
        np.testing.assert_allclose(state[key].data, value.numpy(), **tol, err_msg=key)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("name, shape", MODULES, ids=str)
def test_module_train_then_eval_matches_torch(name, shape, config):
    mine, theirs = _pair(name, config)
    rng = np.random.default_rng(1)
    for step in range(5):
        if step == 3:
            mine.eval()
            theirs.eval()
        x = rng.standard_normal(shape).astype(np.float32) * 3 + 1
        cot = rng.standard_normal(shape).astype(np.float32)
        xi, xt = impl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = mine(xi), theirs(xt)
        y.backward(impl.tensor(cot))
        ty.backward(torch.tensor(cot))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[np.float32])
        np.testing.assert_allclose(xi.grad.data, xt.grad.numpy(), **TOL[np.float32])
        for p, tp in zip(mine.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), **TOL[np.float32])
        _assert_state_equal(mine, theirs, STATS_TOL[np.float32])


def test_cumulative_average_with_momentum_none():
    # momentum=None: after k batches the running mean is the plain average of the k means.
    bn = impl.nn.BatchNorm1d(2, momentum=None)
    rng = np.random.default_rng(3)
    means = []
    for _ in range(4):
        x = rng.standard_normal((8, 2)) + rng.standard_normal(2)
        bn(impl.tensor(x, dtype=impl.float32))
        means.append(x.astype(np.float32).mean(axis=0))
    np.testing.assert_allclose(bn.running_mean.data, np.mean(means, axis=0), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 4


def test_module_defaults_and_state_dict():
    for name in ("BatchNorm1d", "BatchNorm2d"):
        mine, theirs = getattr(impl.nn, name)(5), getattr(torch.nn, name)(5)
        assert repr(mine) == repr(theirs)
        _assert_state_equal(mine, theirs, dict(rtol=0, atol=0))
        assert mine.num_batches_tracked.dtype == np.int64 and mine.num_batches_tracked.ndim == 0
        assert [n for n, _ in mine.named_parameters()] == ["weight", "bias"]
        assert [n for n, _ in mine.named_buffers()] == ["running_mean", "running_var",
                                                        "num_batches_tracked"]
        untracked = getattr(impl.nn, name)(5, affine=False, track_running_stats=False)
        assert repr(untracked) == repr(getattr(torch.nn, name)(5, affine=False,
                                                               track_running_stats=False))
        assert list(untracked.state_dict()) == [] and list(untracked.parameters()) == []


def test_module_dtype_and_load_state_dict_from_torch():
    theirs = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    theirs(torch.randn(4, 3, 2, 2, dtype=torch.float64) * 2 + 1)  # move the running statistics
    mine = impl.nn.BatchNorm2d(3, dtype=impl.float64)
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    _assert_state_equal(mine, theirs, dict(rtol=0, atol=0))
    assert mine.weight.dtype == np.float64 and mine.num_batches_tracked.item() == 1
    mine.reset_running_stats()
    assert mine.num_batches_tracked.item() == 0 and np.all(mine.running_var.data == 1)


def test_num_batches_tracked_counts_training_batches_only():
    bn = impl.nn.BatchNorm2d(2)
    state = bn.state_dict()  # shares memory with the buffers, as torch's
    for _ in range(3):
        bn(impl.randn(2, 2, 3, 3))
    bn.eval()
    bn(impl.randn(2, 2, 3, 3))
    assert bn.num_batches_tracked.item() == 3 and state["num_batches_tracked"].item() == 3


@pytest.mark.parametrize("name, ndim", [("BatchNorm1d", 4), ("BatchNorm1d", 1),
                                        ("BatchNorm2d", 3), ("BatchNorm2d", 5)])
def test_module_rejects_wrong_ranks(name, ndim):
    shape = (2, 3, 4, 4, 4)[:ndim]
    with pytest.raises(ValueError, match=f"expected .*input \\(got {ndim}D input"):
        getattr(torch.nn, name)(3)(torch.ones(shape))
    with pytest.raises(ValueError, match=f"{name}: expected .*input \\(got {ndim}D input"):
        getattr(impl.nn, name)(3)(impl.ones(*shape))
