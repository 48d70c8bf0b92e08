"""impl.nn.functional against torch.nn.functional: values, gradients for a random cotangent
(float32 and float64), warnings, and the errors raised for bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import impl
import impl.nn.functional as F

_rng = np.random.default_rng(0)
F64 = object()  # the ``dtype=`` argument: impl.float64 / torch.float64


def randn(*shape, scale=1.0):
    return _rng.standard_normal(shape) * scale


def ints(high, *shape):
    return _rng.integers(0, high, shape)


def probs(*shape):
    e = np.exp(randn(*shape))
    return e / e.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


def unit(*shape, edges=False):
    """Uniform on (0.02, 0.98); with ``edges`` the first four entries are 0, 1, 0, 1 exactly."""
    a = _rng.uniform(0.02, 0.98, shape)
    if edges:
        a.flat[:4] = (0.0, 1.0, 0.0, 1.0)
    return a


def to_lib(value, lib, dtype=None, requires_grad=False):
    """A NumPy argument as an impl or torch tensor (floats in ``dtype`` when given)."""
    if value is F64:
        return impl.float64 if lib is impl else torch.float64
    if not isinstance(value, np.ndarray):
        return value
    if dtype is not None and value.dtype.kind == "f":
        value = value.astype(dtype)
    if lib is impl:
        return impl.tensor(value, requires_grad=requires_grad)
    return torch.tensor(value, requires_grad=requires_grad)


def case(fn, grads=("input",), id=None, **kwargs):
    return pytest.param(fn, kwargs, grads, id=id or fn)


SOFTMAX_ARGS = [
    dict(input=randn(2, 3, 4), dim=1), dict(input=randn(2, 3, 4), dim=-1),
    dict(input=randn(2, 3, 4), dim=0), dict(input=randn(5, 3)), dict(input=randn(2, 3, 4)),
    dict(input=randn(4)), dict(input=np.array(1.5), dim=0),
    dict(input=randn(3, 4), dim=1, dtype=F64),
    dict(input=np.array([[-1e4, 1e4, 0.0, 5e3], [1e4, 1e4 - 1, -1e4, 0.0]]), dim=1),
    dict(input=np.array([[-np.inf, 1, 2], [np.inf, 0, 1], [np.nan, 0, 1], [-np.inf] * 3]), dim=1),
]
RELU_INPUT = randn(3, 4)
RELU_INPUT[0, :2] = 0.0
BCE_INPUT, BCE_TARGET = unit(3, 4, edges=True), unit(3, 4)
BCE_TARGET.flat[:4] = (0.0, 1.0, 1.0, 0.0)  # (x, y) = (0, 0), (1, 1), (0, 1), (1, 0)
IGNORED = np.array([0, -100, 2, 1, -100])
ALL_IGNORED = np.full(5, -100)
LARGE_LOGITS = np.array([[-1e4, 1e4, 0.0], [1e4, -1e4, 1e4], [3.0, -1e4, 2.0]])
REDUCTIONS = ("none", "mean", "sum")

CASES = [
    case("relu", input=RELU_INPUT), case("sigmoid", input=randn(3, 4, scale=3)),
    case("tanh", input=randn(3, 4, scale=2)),
    *[case(fn, id=f"{fn}-{i}", **args) for fn in ("softmax", "log_softmax")
      for i, args in enumerate(SOFTMAX_ARGS)],
    case("linear", ("input", "weight", "bias"), input=randn(5, 4), weight=randn(3, 4),
         bias=randn(3)),
    case("linear", ("input", "weight"), id="linear-nobias", input=randn(5, 4), weight=randn(3, 4)),
    case("linear", ("input", "weight", "bias"), id="linear-3d", input=randn(2, 5, 4),
         weight=randn(3, 4), bias=randn(3)),
    case("linear", ("input", "weight", "bias"), id="linear-1d-input", input=randn(4),
         weight=randn(3, 4), bias=randn(3)),
    case("linear", ("input", "weight"), id="linear-1d-weight", input=randn(5, 4),
         weight=randn(4)),
    case("linear", ("input", "weight", "bias"), id="linear-2d-bias", input=randn(5, 4),
         weight=randn(3, 4), bias=randn(5, 3)),
    *[case("mse_loss", ("input", "target"), id=f"mse_loss-{r}", input=randn(3, 4),
           target=randn(3, 4), reduction=r) for r in REDUCTIONS],
    case("mse_loss", ("input", "target"), id="mse_loss-broadcast", input=randn(3, 4),
         target=randn(4)),
    *[case("mse_loss", ("input", "target", "weight"), id=f"mse_loss-weight-{r}",
           input=randn(3, 4), target=randn(3, 4), weight=unit(3, 4), reduction=r)
      for r in REDUCTIONS],
    case("mse_loss", ("input", "target"), id="mse_loss-legacy", input=randn(3, 4),
         target=randn(3, 4), size_average=False),
    *[case("binary_cross_entropy", ("input", "target"), id=f"bce-{r}", input=BCE_INPUT,
           target=BCE_TARGET, reduction=r) for r in REDUCTIONS],
    *[case("binary_cross_entropy", ("input", "target"), id=f"bce-weight-{r}", input=BCE_INPUT,
           target=BCE_TARGET, weight=unit(4), reduction=r) for r in REDUCTIONS],
    *[case("nll_loss", id=f"nll_loss-{r}", input=randn(5, 3), target=ints(3, 5), reduction=r)
      for r in REDUCTIONS],
    *[case("nll_loss", id=f"nll_loss-weight-ignore-{r}", input=randn(5, 3), target=IGNORED,
           weight=unit(3), reduction=r) for r in REDUCTIONS],
    *[case("nll_loss", id=f"nll_loss-all-ignored-{r}", input=randn(5, 3), target=ALL_IGNORED,
           reduction=r) for r in REDUCTIONS],
    case("nll_loss", id="nll_loss-ignore-class", input=randn(5, 3),
         target=np.array([0, 1, 2, 1, 1]), weight=unit(3), ignore_index=1),
    case("nll_loss", id="nll_loss-1d", input=randn(3), target=np.array(2), reduction="none"),
    # torch's backward fails for a (1,) target of a 1-D input ("size mismatch"): forward only
    case("nll_loss", (), id="nll_loss-1d-target1", input=randn(3), target=np.array([1])),
    case("nll_loss", id="nll_loss-uint8", input=randn(5, 3), target=ints(3, 5).astype(np.uint8)),
    *[case("nll_loss", id=f"nll_loss-kdim-{r}", input=randn(2, 3, 4, 5), target=ints(3, 2, 4, 5),
           weight=unit(3), reduction=r) for r in REDUCTIONS],
    *[case("cross_entropy", id=f"ce-{r}", input=randn(5, 3), target=ints(3, 5), reduction=r)
      for r in REDUCTIONS],
    *[case("cross_entropy", id=f"ce-weight-ignore-{r}", input=randn(5, 3), target=IGNORED,
           weight=unit(3), reduction=r) for r in REDUCTIONS],
    case("cross_entropy", id="ce-all-ignored", input=randn(5, 3), target=ALL_IGNORED),
    *[case("cross_entropy", id=f"ce-ls-{r}-{w}", input=randn(5, 3), target=IGNORED,
           weight=unit(3) if w else None, reduction=r, label_smoothing=0.2)
      for r in REDUCTIONS for w in (False, True)],
    case("cross_entropy", id="ce-ls-all-ignored", input=randn(5, 3), target=ALL_IGNORED,
         label_smoothing=0.1),
    case("cross_entropy", id="ce-ls-negative", input=randn(5, 3), target=ints(3, 5),
         label_smoothing=-0.3),
    case("cross_entropy", id="ce-ls-1", input=randn(5, 3), target=ints(3, 5),
         label_smoothing=1.0),
    *[case("cross_entropy", ("input", "target"), id=f"ce-prob-{r}-{w}-{ls}", input=randn(5, 3),
           target=probs(5, 3), weight=unit(3) if w else None, reduction=r, label_smoothing=ls)
      for r in REDUCTIONS for w in (False, True) for ls in (0.0, 0.25)],
    case("cross_entropy", ("input", "target", "weight"), id="ce-prob-weight-grad",
         input=randn(5, 3), target=probs(5, 3), weight=unit(3)),
    *[case("cross_entropy", id=f"ce-kdim-{r}", input=randn(2, 3, 4, 5),
           target=np.where(ints(4, 2, 4, 5) == 3, -100, ints(3, 2, 4, 5)), weight=unit(3),
           reduction=r, label_smoothing=0.1) for r in REDUCTIONS],
    *[case("cross_entropy", ("input", "target"), id=f"ce-kdim-prob-{r}", input=randn(2, 3, 4),
           target=probs(2, 3, 4), weight=unit(3), reduction=r, label_smoothing=0.1)
      for r in REDUCTIONS],
    case("cross_entropy", id="ce-1d", input=randn(3), target=np.array(1), label_smoothing=0.1),
    case("cross_entropy", ("input", "target"), id="ce-1d-prob", input=randn(3), target=probs(3),
         reduction="none"),
    case("cross_entropy", id="ce-large-logits", input=LARGE_LOGITS, target=np.array([1, 0, 1]),
         reduction="none"),
    case("cross_entropy", id="ce-infinite-logit", input=np.array([[-np.inf, 1, 2], [0, 1, 2]]),
         target=np.array([1, -100]), weight=unit(3), label_smoothing=0.1),
    case("cross_entropy", ("input", "target"), id="ce-large-logits-prob", input=LARGE_LOGITS,
         target=probs(3, 3), label_smoothing=0.1),
    case("mse_loss", ("input", "target"), id="mse_loss-empty", input=randn(0, 3),
         target=randn(0, 3)),
    case("binary_cross_entropy", ("input", "target"), id="bce-empty", input=unit(0),
         target=unit(0)),
    case("cross_entropy", ("input", "target"), id="ce-empty-prob", input=randn(0, 3),
         target=probs(0, 3)),
    case("cross_entropy", id="ce-empty-batch", input=randn(0, 3),
         target=np.zeros(0, np.int64)),
]


def _run(lib, fn, kwargs, grads, dtype):
    """Call ``fn`` of impl or torch; return the tensors made and the warnings' categories."""
    module = F if lib is impl else TF
    args = {k: to_lib(v, lib, dtype, k in grads) for k, v in kwargs.items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = getattr(module, fn)(**args)
    return out, args, sorted({w.category.__name__ for w in caught})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn, kwargs, grads", CASES)
def test_matches_torch(fn, kwargs, grads, dtype):
    out, args, warned = _run(impl, fn, kwargs, grads, dtype)
    t_out, t_args, t_warned = _run(torch, fn, kwargs, grads, dtype)
    assert warned == t_warned
    rtol, atol = (1e-5, 1e-5) if dtype == np.float32 else (1e-12, 1e-12)
    assert str(out.dtype) == str(t_out.dtype).removeprefix("torch.")
    assert out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=rtol, atol=atol)
    if not grads:
        return
    cotangent = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inf and nan propagate silently, as in torch
        out.backward(cotangent)
    t_out.backward(torch.from_numpy(cotangent))
    for name in grads:
        g, t_g = args[name].grad, t_args[name].grad.numpy()
        assert g.dtype == args[name].dtype, name
        scale = np.abs(t_g[np.isfinite(t_g)]).max(initial=1.0)
        np.testing.assert_allclose(g.data, t_g, rtol=rtol, atol=atol * scale, err_msg=name)


def f32(a):
    return np.asarray(a, np.float32)


def i64(a):
    return np.asarray(a, np.int64)


BAD = [
    case("linear", (), input=f32(randn(3, 2)), weight=f32(randn(4, 3))),
    case("linear", (), id="linear-bias", input=f32(randn(3, 2)), weight=f32(randn(4, 2)),
         bias=f32(randn(3))),
    case("linear", (), id="linear-bias-1d-weight", input=f32(randn(3, 2)), weight=f32(randn(2)),
         bias=f32(randn())),
    case("linear", (), id="linear-dtype", input=f32(randn(3, 2)), weight=randn(4, 2)),
    case("linear", (), id="linear-bias-dtype", input=f32(randn(3, 2)), weight=f32(randn(4, 2)),
         bias=randn(4)),
    case("linear", (), id="linear-0d", input=f32(randn()), weight=f32(randn(4, 2))),
    case("linear", (), id="linear-3d-weight", input=f32(randn(3, 2)), weight=f32(randn(4, 2, 1))),
    case("softmax", (), input=f32(randn(3)), dim=1),
    case("softmax", (), id="softmax-int", input=i64([1, 2]), dim=0),
    case("log_softmax", (), input=f32(randn(3, 2)), dim=-3),
    case("log_softmax", (), id="log_softmax-int", input=i64([1, 2]), dim=0),
    case("mse_loss", (), input=f32(randn(3, 2)), target=f32(randn(3, 2)), reduction="avg"),
    case("mse_loss", (), id="mse_loss-shape", input=f32(randn(3, 2)), target=f32(randn(3))),
    case("mse_loss", (), id="mse_loss-weight", input=f32(randn(3, 2)), target=f32(randn(3, 2)),
         weight=f32(randn(2))),
    case("binary_cross_entropy", (), input=f32([0.5, 1.5]), target=f32([0, 1])),
    case("binary_cross_entropy", (), id="bce-nan", input=f32([0.5, np.nan]), target=f32([0, 1])),
    case("binary_cross_entropy", (), id="bce-target", input=f32([0.5, 0.5]), target=f32([0, 2])),
    case("binary_cross_entropy", (), id="bce-shape", input=f32([0.5, 0.5]), target=f32([0])),
    case("binary_cross_entropy", (), id="bce-dtype", input=f32([0.5, 0.5]), target=randn(2)),
    case("binary_cross_entropy", (), id="bce-int", input=i64([0, 1]), target=i64([0, 1])),
    case("binary_cross_entropy", (), id="bce-weight", input=f32([0.5, 0.5]), target=f32([0, 1]),
         weight=f32([1, 2, 3])),
    case("binary_cross_entropy", (), id="bce-weight-big", input=f32([0.5, 0.5]),
         target=f32([0, 1]), weight=f32(np.ones((2, 2)))),
    case("binary_cross_entropy", ("weight",), id="bce-weight-grad", input=f32([0.5, 0.5]),
         target=f32([0, 1]), weight=f32([1, 2])),
    case("binary_cross_entropy", (), id="bce-reduction", input=f32([0.5]), target=f32([0]),
         reduction="mena"),
    case("nll_loss", (), input=f32(randn(4, 3)), target=i64([0, 1, 5, 1])),
    case("nll_loss", (), id="nll-negative", input=f32(randn(4, 3)), target=i64([0, 1, -1, 1])),
    case("nll_loss", (), id="nll-float-target", input=f32(randn(4, 3)), target=f32([0, 1, 2, 1])),
    case("nll_loss", (), id="nll-int32-target", input=f32(randn(4, 3)),
         target=np.array([0, 1, 2, 1], np.int32)),
    case("nll_loss", (), id="nll-batch", input=f32(randn(4, 3)), target=i64([0, 1, 2])),
    case("nll_loss", (), id="nll-weight", input=f32(randn(4, 3)), target=i64([0, 1, 2, 1]),
         weight=f32(np.ones(4))),
    case("nll_loss", (), id="nll-weight-dtype", input=f32(randn(4, 3)), target=i64([0, 1, 2, 1]),
         weight=np.ones(3)),
    case("nll_loss", ("weight",), id="nll-weight-grad", input=f32(randn(4, 3)),
         target=i64([0, 1, 2, 1]), weight=f32(np.ones(3))),
    case("nll_loss", (), id="nll-0d", input=f32(randn()), target=i64(1)),
    case("nll_loss", (), id="nll-2d-target", input=f32(randn(4, 3)), target=i64(np.zeros((4, 1)))),
    case("nll_loss", (), id="nll-kdim-target", input=f32(randn(2, 3, 4, 5)),
         target=i64(np.zeros((2, 4, 6)))),
    case("nll_loss", (), id="nll-kdim-target-ndim", input=f32(randn(2, 3, 4, 5)),
         target=i64(np.zeros((2, 4)))),
    case("nll_loss", (), id="nll-1d-input", input=f32(randn(3)), target=i64([1, 2])),
    case("nll_loss", (), id="nll-int-input", input=i64(np.ones((4, 3))), target=i64([0, 1, 2, 1])),
    case("nll_loss", (), id="nll-reduction", input=f32(randn(4, 3)), target=i64([0, 1, 2, 1]),
         reduction="avg"),
    case("cross_entropy", (), input=f32(randn(4, 3)), target=i64([0, 1, 5, 1])),
    case("cross_entropy", (), id="ce-float-target", input=f32(randn(4, 3)), target=f32(randn(4))),
    case("cross_entropy", (), id="ce-batch", input=f32(randn(4, 3)), target=i64([0, 1, 2])),
    case("cross_entropy", (), id="ce-prob-int", input=f32(randn(4, 3)),
         target=i64(np.ones((4, 3)))),
    case("cross_entropy", (), id="ce-prob-ignore", input=f32(randn(4, 3)),
         target=f32(probs(4, 3)), ignore_index=1),
    case("cross_entropy", (), id="ce-ls", input=f32(randn(4, 3)), target=i64([0, 1, 2, 1]),
         label_smoothing=1.5),
    case("cross_entropy", (), id="ce-prob-ls", input=f32(randn(4, 3)), target=f32(probs(4, 3)),
         label_smoothing=1.5),
    case("cross_entropy", (), id="ce-prob-weight", input=f32(randn(4, 3)),
         target=f32(probs(4, 3)), weight=f32(np.ones(4))),
    case("cross_entropy", (), id="ce-ls-weight-dtype", input=f32(randn(4, 3)),
         target=i64([0, 1, 2, 1]), weight=np.ones(3), label_smoothing=0.1),
    case("cross_entropy", (), id="ce-0d", input=f32(randn()), target=i64(0)),
    case("cross_entropy", (), id="ce-0d-prob", input=f32(randn()), target=f32(randn())),
    case("cross_entropy", (), id="ce-reduction", input=f32(randn(4, 3)),
         target=i64([0, 1, 2, 1]), reduction="elementwise"),
]


@pytest.mark.parametrize("fn, kwargs, grads", BAD)
def test_bad_input_raises_like_torch(fn, kwargs, grads):
    with pytest.raises(Exception) as t_exc, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run(torch, fn, kwargs, grads, None)
    with pytest.raises(Exception) as exc, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run(impl, fn, kwargs, grads, None)
    assert type(exc.value) is type(t_exc.value), (exc.value, t_exc.value)
    assert str(exc.value).startswith(fn), exc.value
