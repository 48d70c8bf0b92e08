"""Model specs: torch and impl pass them, and a defect planted in one block is named by its
``state_dict`` path — in the forward (a shortcut that drops the main branch, as the tutorial's
pseudo-code does) and in the backward (a shortcut whose gradient is doubled, forward intact)."""

import types

import numpy as np
import pytest

import impl
import impl.models
from impl.function import Function
from oracles.adapter import ModuleAdapter
from properties import models, runner
from properties.models import ModelSpec, example

CASES = [
    example("resnet_small", 2, 10, True, 7, block="basic", layers=(1, 2), widths=(4, 8),
            in_channels=2, num_classes=4),
    example("resnet_small", 3, 9, True, 8, block="bottleneck", layers=(1, 1, 1),
            widths=(4, 4, 8), in_channels=1, num_classes=3),
]


def rows_of(subject, cases=CASES, dtypes=("float32", "float64")):
    run = runner.make_run("impl", profile="quick", dtypes=dtypes)
    run.subject = subject
    spec = ModelSpec("models.resnet_small", cases=[(ex.describe(), ex) for ex in cases])
    return {(r.check, r.dtype): r for r in run.spec_rows(spec) if r.check != "region"}


@pytest.mark.parametrize("name", ["impl", "torch"])
def test_subject_passes_the_model_checks(name):
    from oracles.subject import load_subject

    rows = rows_of(load_subject(name))
    assert set(rows) == {(c, d) for c in models.CHECKS for d in ("float32", "float64")}
    failing = {k: (r.error, r.tolerance, r.detail) for k, r in rows.items() if r.status != "pass"}
    assert not failing
    assert all(r.examples == len(CASES) for r in rows.values())


class _Scale(Function):
    """Identity forward, gradient times ``factor``: a backward-only defect."""

    def forward(self, x, *, factor):
        self.factor = factor
        return x.copy()

    def backward(self, grad):
        return grad * self.factor


def _drop_main(self, x):
    identity = x if self.downsample is None else self.downsample(x)
    return self.relu(identity)


def _double_shortcut_grad(self, x):
    identity = x if self.downsample is None else self.downsample(x)
    out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
    if hasattr(self, "bn3"):
        out = self.bn3(self.conv3(self.relu(out)))
    return self.relu(out + _Scale.apply(identity, factor=2.0))


class Planted(ModuleAdapter):
    """impl, but ``resnet_small``'s first block of the last stage runs ``forward``."""

    def __init__(self, forward):
        super().__init__(impl, "planted")
        self.forward_of_block = forward

    @property
    def models(self):
        def resnet_small(**kwargs):
            model = impl.models.resnet_small(**kwargs)
            block = getattr(model, f"layer{len(kwargs['layers'])}")[0]
            block.forward = types.MethodType(self.forward_of_block, block)
            return model
        return types.SimpleNamespace(resnet_small=resnet_small)


@pytest.mark.parametrize("case", CASES, ids=["basic", "bottleneck"])
def test_a_block_that_drops_its_main_branch_is_named(case):
    rows = rows_of(Planted(_drop_main), [case], ("float64",))
    block = f"layer{len(case.arguments['layers'])}.0"
    for check in ("logits", "loss", "grad", "eval"):
        assert rows[(check, "float64")].status == "fail"
    detail = rows[("logits", "float64")].detail
    assert f"first diverging module (forward): {block}, output" in detail, detail
    assert "on the way: " in detail


@pytest.mark.parametrize("case", CASES, ids=["basic", "bottleneck"])
def test_a_block_with_a_wrong_backward_is_named(case):
    rows = rows_of(Planted(_double_shortcut_grad), [case], ("float32",))
    block = f"layer{len(case.arguments['layers'])}.0"
    for check in ("logits", "loss", "eval", "buffers"):
        assert rows[(check, "float32")].status == "pass", rows[(check, "float32")].detail
    grad = rows[("grad", "float32")]
    assert grad.status == "fail"
    assert "(forward)" not in grad.detail
    assert f"first diverging module (backward): {block}, input gradient" in grad.detail, \
        grad.detail


def test_a_library_without_models_gets_not_applicable_rows():
    from oracles.subject import load_subject

    rows = rows_of(load_subject("mygrad"), CASES[:1], ("float64",))
    assert {r.status for r in rows.values()} == {"not-applicable"}


def test_model_specs_run_through_the_runner_with_regions():
    run = runner.make_run("impl", profile="quick", dtypes=("float64",))
    (spec,) = runner.select(["models.resnet_small"])
    rows = run.spec_rows(spec)
    keys = {(r.op, r.check, r.oracle, r.dtype, r.layout) for r in rows}
    assert keys == set(runner.expected_keys(spec, run))
    assert all(r.status in ("pass", "not-exercised") for r in rows), \
        [(r.check, r.layout, r.status, r.detail) for r in rows if r.status != "pass"]
    assert any(r.check == "region" and r.examples for r in rows)
    assert np.isfinite([r.error for r in rows]).all()
