"""Batch normalization: the compiled kernels against their NumPy references, what the registry
cannot express of nn.functional.batch_norm (the running statistics updated in place, partial
requires_grad, calls the spec's copies of the running statistics keep from the op), and the
BatchNorm1d/BatchNorm2d modules against torch (initialisation, state_dict, train/eval,
momentum=None, track_running_stats=False)."""

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
# The modules run in float32: sums of N·L terms, a few ulps of the result per term at most.
TOL = dict(rtol=1e-4, atol=1e-5)
# Running statistics: one rounding of a double computation, in torch and impl alike.
STATS_TOL = dict(rtol=1e-6, atol=1e-7)


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
            # The per-channel sums are in double in both, from float32 inputs too; the
            # per-element results, in the input's dtype, differ by the last roundings only.
            rtol = 1e-5 if have.dtype == np.float32 else 1e-12
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


# -- the functional: what the registry cannot express ---------------------------------------------
# properties/specs/norm.py compares nn.functional.batch_norm with torch (values, gradients, the
# running statistics' update, layouts, empty batches, argument forms, bad calls). Its call hands
# the op copies of the running statistics in the input's dtype and makes every differentiable
# argument require grad together, so the calls below cannot go through it.

def test_running_statistics_are_updated_in_place():
    rm, rv = impl.zeros(3), impl.ones(3)
    rm_data, rv_data = rm.data, rv.data
    F.batch_norm(impl.randn(4, 3, 2), rm, rv, training=True)
    assert rm.data is rm_data and rv.data is rv_data
    assert np.all(rm_data != 0) and np.all(rv_data != 1)


def test_input_gradient_alone_and_parameter_gradients_alone(rng):
    x, w, b, cot = (rng.standard_normal(s) for s in ((4, 3, 5), 3, 3, (4, 3, 5)))
    stats = (rng.standard_normal(3), rng.uniform(0.5, 2.0, 3))
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


def test_weight_of_another_shape_gets_a_gradient_of_its_shape():
    # torch accepts any weight of C elements in the forward (its backward then fails).
    x, w = impl.randn(4, 3, requires_grad=True), impl.ones(1, 3, requires_grad=True)
    F.batch_norm(x, None, None, w, training=True).backward(impl.randn(4, 3))
    assert w.grad.shape == (1, 3)


def _bad_calls():
    """(description, call with lib's tensors) of calls torch rejects."""
    x = np.ones((2, 3))
    return [
        ("float64 stats, float32 input", lambda L, f: f(L.ones(2, 3), L.zeros(3, dtype=L.float64),
                                                        L.ones(3, dtype=L.float64))),
        ("running_mean requires grad", lambda L, f: f(
            L.tensor(x), L.zeros(3, requires_grad=True), L.ones(3), training=True)),
        ("eps a 0-d tensor requiring grad", lambda L, f: f(
            L.tensor(x), L.zeros(3), L.ones(3), eps=L.tensor(0.5, requires_grad=True))),
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
        np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL)
        np.testing.assert_allclose(xi.grad.data, xt.grad.numpy(), **TOL)
        for p, tp in zip(mine.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), **TOL)
        _assert_state_equal(mine, theirs, STATS_TOL)


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
