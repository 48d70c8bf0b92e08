"""impl.nn.functional against torch where the conformance registry cannot look (the per-op
comparisons, argument forms, warnings and bad inputs live in properties/specs/nn.py): a forward
whose torch backward fails, class weights that must not require grad (torch checks that only
when it records a graph, the registry's bad inputs run without one), and inf and nan passing
through forward and backward without a warning (the registry runs with NumPy's warnings off)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import impl
import impl.nn.functional as F


def test_nll_loss_of_a_1d_input_takes_a_one_element_target():
    # torch's forward takes a (1,) target for a (C,) input; its backward fails ("size mismatch")
    x, t = np.array([0.3, -1.2, 2.0]), np.array([1])
    out = F.nll_loss(impl.tensor(x), impl.tensor(t))
    want = TF.nll_loss(torch.tensor(x), torch.tensor(t))
    assert out.shape == tuple(want.shape)
    np.testing.assert_array_equal(out.data, want.numpy())


@pytest.mark.parametrize("fn, target", [
    ("nll_loss", np.array([0, 2, 1])), ("cross_entropy", np.array([0, 2, 1])),
    ("binary_cross_entropy", np.full((3, 3), 0.5))])
def test_class_weights_must_not_require_grad(fn, target):
    x = np.random.default_rng(0).uniform(0.1, 0.9, (3, 3))
    calls = [(lib, getattr(mod, fn), lambda a, lib=lib: lib.tensor(a))
             for lib, mod in ((impl, F), (torch, TF))]
    for lib, op, tensor in calls:
        weight = tensor(np.ones(3)).requires_grad_(True)
        with pytest.raises(RuntimeError) as caught:
            op(tensor(x).requires_grad_(True), tensor(target), weight)
        assert lib is torch or str(caught.value).startswith(fn)
        with lib.no_grad():  # nothing is recorded: a weight that requires grad is fine
            op(tensor(x), tensor(target), weight)


_ROWS = np.array([[-np.inf, 1e3, 2e3], [np.inf, 0, 1], [np.nan, 0, 1], [-np.inf] * 3])
_TARGETS = np.array([1, 0, 2, 1])


@pytest.mark.parametrize("call, x", [
    (lambda x: F.softmax(x, 1), _ROWS), (lambda x: F.log_softmax(x, 1), _ROWS),
    (lambda x: F.cross_entropy(x, impl.tensor(_TARGETS), label_smoothing=0.1), _ROWS),
    (lambda x: F.nll_loss(x, impl.tensor(_TARGETS), reduction="sum"), _ROWS),
    (lambda x: F.binary_cross_entropy(x, impl.tensor(np.array([1.0, 0.0, 1.0, 0.0]))),
     np.array([0.0, 1.0, 1.0, 0.0])),
], ids=["softmax", "log_softmax", "cross_entropy", "nll_loss", "binary_cross_entropy"])
def test_inf_and_nan_pass_through_silently(call, x):
    x = impl.tensor(x, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="warn", under="ignore"):  # NumPy's default
        warnings.simplefilter("error")
        out = call(x)
        out.backward(impl.tensor(np.ones(out.shape)))
