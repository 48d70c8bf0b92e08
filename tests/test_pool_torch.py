"""Pooling where the OpSpecs cannot look (a window in the padding only, an empty adaptive output,
non-float inputs), the pooling, Flatten and Identity modules against torch, and the pooling
kernels against their NumPy references on random window geometries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import impl
import impl.nn as nn
import impl.nn.functional as F
from impl._kernels import _pool, reference_pool
from impl.ops import pool as P

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _values(rng, shape, kind):
    if kind == "unique":
        return (rng.permutation(int(np.prod(shape))) * 0.1).reshape(shape) - 3.0
    if kind == "ties":
        return rng.integers(-2, 3, shape).astype(np.float64)
    x = rng.standard_normal(shape)
    x.flat[::5] = np.nan
    x.flat[1::7] = np.inf
    x.flat[2::7] = -np.inf
    return x


# -- what the pooling OpSpecs cannot see --------------------------------------------------------
# (the per-op comparisons with torch — parameters, layouts, the tie and NaN rules, errors — are
# the OpSpecs of properties/specs/pool.py)


def test_dilated_window_in_the_padding_only():
    """Torch accepts a dilated window that skips the whole input (H = 1, kernel 2, dilation 2,
    padding 1): the output is -inf and the window passes no gradient. (Torch's own backward
    writes outside the plane there, so the registry cannot compare with it.)"""
    x = impl.tensor([[[[1.5]]]], requires_grad=True)
    out = F.max_pool2d(x, 2, 1, padding=1, dilation=2)
    assert out.shape == (1, 1, 1, 1) and out.item() == -np.inf
    out.backward(impl.ones(1, 1, 1, 1))
    assert x.grad.item() == 0.0


@pytest.mark.parametrize("fn", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
def test_adaptive_pool_to_an_empty_output_as_torch(fn):
    """An output size of 0 is torch's empty forward; its backward refuses (the registry draws no
    example whose torch backward raises)."""
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    want = getattr(TF, fn)(torch.from_numpy(x).requires_grad_(), (0, 2))
    got = getattr(F, fn)(impl.from_numpy(x).requires_grad_(), (0, 2))
    assert got.shape == tuple(want.shape) == (2, 3, 0, 2)
    with pytest.raises(RuntimeError):
        want.sum().backward()
    with pytest.raises(RuntimeError, match=f"{fn}_backward"):
        got.sum().backward()


@pytest.mark.parametrize("fn, kwargs", [("max_pool2d", dict(kernel_size=2)),
                                        ("avg_pool2d", dict(kernel_size=2)),
                                        ("adaptive_avg_pool2d", dict(output_size=2)),
                                        ("adaptive_max_pool2d", dict(output_size=2))])
def test_non_float_input_is_refused_clearly(fn, kwargs):
    with pytest.raises(NotImplementedError, match=fn):
        getattr(F, fn)(impl.from_numpy(np.ones((1, 4, 4), np.int64)), **kwargs)
    with pytest.raises(TypeError, match=fn):
        getattr(F, fn)(np.ones((1, 4, 4)), **kwargs)


# -- modules ------------------------------------------------------------------------------------

MODULES = [
    ("MaxPool2d", (3,), dict(stride=2, padding=1)),
    ("MaxPool2d", ((2, 3),), dict(dilation=(1, 2), ceil_mode=True)),
    ("MaxPool2d", (2, 1, 0, 1, True), {}),  # positional: return_indices before ceil_mode
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", (2, None, 1, True, True, 3), {}),
    ("AdaptiveAvgPool2d", ((None, 3),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveMaxPool2d", (2,), dict(return_indices=True)),
    ("Flatten", (), {}),
    ("Flatten", (0, 2), {}),
    ("Flatten", (), dict(start_dim=-2)),
    ("Identity", (3,), dict(unused="ignored")),
]


@pytest.mark.parametrize("name, args, kwargs", MODULES)
def test_modules_match_torch(name, args, kwargs, rng):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x = _values(rng, (2, 3, 7, 6), "unique").astype(np.float32)
    got, want = ours(impl.from_numpy(x)), theirs(torch.from_numpy(x))
    if isinstance(want, tuple):
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        got, want = got[0], want[0]
    assert got.shape == tuple(want.shape) and got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL[np.float32])


def test_flatten_gradient_and_identity_passthrough():
    x = impl.randn(2, 3, 4, requires_grad=True)
    y = nn.Flatten()(x)
    assert y.shape == (2, 12)
    y.backward(impl.ones(2, 12))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3, 4), np.float32))
    assert nn.Identity()(x) is x


# -- kernels against their references -----------------------------------------------------------

KERNELS = ["max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward"]


def _random_geometry(rng, dilated):
    """Window bounds as the ops compute them: strided (with padding, ceil_mode and, for max
    pooling, dilation) or adaptive, drawn independently along rows and columns."""
    planes = int(rng.integers(0, 5))
    axes = []
    for _ in range(2):
        size = int(rng.integers(1, 12))
        if rng.random() < 0.3:
            n_out = int(rng.integers(1, 14))
            axes.append((size, *P._adaptive(size, n_out), 1))
            continue
        k = int(rng.integers(1, min(size, 5) + 1))
        s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)) if dilated else 1
        p = int(rng.integers(0, k // 2 + 1))
        n_out = P._output_size(size, k, s, p, d, bool(rng.integers(2)))
        if n_out < 1:
            n_out, k, s, p, d = size, 1, 1, 0, 1
        _, end, first = P._strided(size, n_out, k, s, p, d)
        axes.append((size, first, end, d))
    (h, r0, r1, dh), (w, c0, c1, dw) = axes
    return planes, h, w, (r0, r1, c0, c1), (dh, dw)


def _kernel_args(name, rng, dtype, layout_values):
    planes, h, w, bounds, (dh, dw) = _random_geometry(rng, dilated=name.startswith("max"))
    oh, ow = len(bounds[0]), len(bounds[2])
    x = _values(rng, (planes, h, w), layout_values).astype(dtype)
    if name.startswith("max"):
        out, idx = np.empty((planes, oh, ow), dtype), np.empty((planes, oh, ow), np.int64)
        if name == "max_pool_forward":
            return [x, *bounds, dh, dw, out, idx], (7, 8)
        _pool.max_pool_forward(x, *bounds, dh, dw, out, idx)
        g = rng.standard_normal((planes, oh, ow)).astype(dtype)
        return [g, idx, *bounds, np.empty_like(x)], (6,)
    divisor = np.outer(bounds[1] - bounds[0], bounds[3] - bounds[2]).astype(np.float64)
    divisor = np.maximum(divisor, 1)
    if name == "avg_pool_forward":
        return [x, *bounds, divisor, np.empty((planes, oh, ow), dtype)], (6,)
    g = rng.standard_normal((planes, oh, ow)).astype(dtype)
    return [g, *bounds, divisor, np.empty_like(x)], (6,)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_kernel_equals_reference_on_random_geometry(name, dtype, seed):
    rng = np.random.default_rng(seed)
    args, outputs = _kernel_args(name, rng, dtype, ["unique", "ties", "nan"][seed % 3])
    ref = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    getattr(_pool, name)(*args)
    getattr(reference_pool, name)(*ref)
    for i in outputs:
        if args[i].dtype.kind == "i":
            np.testing.assert_array_equal(args[i], ref[i])
        else:
            np.testing.assert_allclose(args[i], ref[i], **TOL[dtype])


def _fixed_args(name):
    """Arguments of kernel ``name`` on 2 planes of 5x5 with two 3x3 windows per axis."""
    start, end = np.array([0, 2]), np.array([3, 5])
    x, g = np.ones((2, 5, 5)), np.ones((2, 2, 2))
    bounds = [start, end, start.copy(), end.copy()]
    divisor = np.full((2, 2), 9.0)
    return {"max_pool_forward": [x, *bounds, 1, 1, np.empty((2, 2, 2)),
                                 np.empty((2, 2, 2), np.int64)],
            "max_pool_backward": [g, np.zeros((2, 2, 2), np.int64), *bounds, np.empty_like(x)],
            "avg_pool_forward": [x, *bounds, divisor, np.empty((2, 2, 2))],
            "avg_pool_backward": [g, *bounds, divisor, np.empty_like(x)]}[name]


@pytest.mark.parametrize("bound", range(4))
@pytest.mark.parametrize("name", KERNELS)
def test_kernels_refuse_windows_outside_the_plane(name, bound):
    args = _fixed_args(name)
    getattr(_pool, name)(*args)  # the valid geometry runs
    first = 2 if name == "max_pool_backward" else 1
    bad = args[first + bound].copy()
    bad[-1] = 6 if bound % 2 else -1  # a window ending past the plane, or starting before it
    args[first + bound] = bad
    with pytest.raises(ValueError, match=name):
        getattr(_pool, name)(*args)
