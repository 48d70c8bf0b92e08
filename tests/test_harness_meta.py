"""The harness checks itself: every planted bug (tests/planted/) must make a ci-profile run fail,
naming the defective op and the check meant to catch it, while impl passes the same specs; the
catalogue covers every family and every kind of harness power; subjects that lack an op or a
keyword are unsupported only where they say so.

Each planted module declares KIND (the defect), REQUIRES (what the harness needs to see it: the
inference path, float32 only, a size threshold, a cotangent layout, a second backward, a region
of the parameter space, …), AFFECTS (the ids of the specs to run: specs of the defective op whose
examples can show the defect), EXPECT_CHECK (the check that must fail), DTYPES (where the defect
shows) and optionally EXPECT_DETAIL (a phrase the failing row must contain).
"""

import importlib
import os
import pathlib
import pkgutil
import sys
import types

import numpy as np
import pytest

import impl

ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # plain `pytest` puts tests/ on sys.path; subjects are tests.planted.*
    sys.path.append(ROOT)

import tests.planted as planted  # noqa: E402
from oracles import backend  # noqa: E402
from oracles.adapter import ModuleAdapter  # noqa: E402
from oracles.base import resolve  # noqa: E402
from properties import runner  # noqa: E402
from properties.checks import check_bad_inputs  # noqa: E402
from reports import cli  # noqa: E402
from tests.planted._base import plant  # noqa: E402

CATALOG = {m.name: importlib.import_module(f"{planted.__name__}.{m.name}")
           for m in pkgutil.iter_modules(planted.__path__) if not m.name.startswith("_")}
# what the catalogue must hold: a defect of each kind the harness must see ...
KINDS = {"inference path", "float32 only", "size threshold", "cotangent layout",
         "second backward", "region", "argument form", "partial requires_grad"}
# ... and one in each family and each op group the issue names
GROUPS = {"elementwise": "elementwise", "reduction": "reduction", "shape": "shape",
          "linalg": "linalg", "nn": "nn", "conv": "conv", "pool": "pool", "norm": "norm",
          "indexing": "Tensor.__getitem__", "cat/stack": ("cat", "stack"), "matmul": "matmul",
          "mse_loss": "nn.functional.mse_loss",
          "binary_cross_entropy": "nn.functional.binary_cross_entropy",
          "nll_loss": "nn.functional.nll_loss", "cross_entropy": "nn.functional.cross_entropy"}


SEEDS = [int(s) for s in os.environ.get("TENSHELL_SEEDS", "0").split(",")]


def _specs(ids):
    """The specs with these ids (a name alone is the id of its spec without a variant)."""
    specs = [s for s in runner.select(ids) if s.id in ids]
    assert {s.id for s in specs} == set(ids), f"no specs {set(ids) - {s.id for s in specs}}"
    return specs


def _run(subject, ops, dtypes=("float32", "float64"), seed=0, profile="ci"):
    """The rows of a run of ``ops`` on ``subject`` (a subject name or a backend)."""
    name = subject if isinstance(subject, str) else "impl"
    run = runner.make_run(name, profile=profile, dtypes=tuple(dtypes), seed=seed)
    if not isinstance(subject, str):
        run.subject, run.subject_name = subject, subject.name
    return runner.run(run, _specs(ops))


@pytest.mark.parametrize("name", list(CATALOG))
def test_planted_bug_is_caught(name):
    mod = CATALOG[name]
    rows = _run(f"{planted.__name__}.{name}", mod.AFFECTS, mod.DTYPES)
    failed = [r for r in rows if runner.unexpected(r.status, "ci")]
    assert failed, f"{name}: the harness missed the planted bug ({mod.KIND})"
    affected = {s.id for s in _specs(mod.AFFECTS)}
    detail = getattr(mod, "EXPECT_DETAIL", "")
    caught = [r for r in failed
              if r.op in affected and r.check == mod.EXPECT_CHECK and detail in r.detail]
    assert caught, (f"{name}: no failing {mod.EXPECT_CHECK!r} row saying {detail!r}; failures: "
                    f"{sorted({(r.op, r.check, r.layout, r.detail[:80]) for r in failed})}")


def test_a_planted_bug_fails_the_cli_naming_op_and_check(tmp_path, capsys):
    """End to end: `tenshell conform --profile ci` on a planted subject exits 1 and prints the
    op and the check that caught it."""
    code = cli.main(["conform", "--subject", f"{planted.__name__}.exp_inference_offset",
                     "--ops", "exp", "--profile", "ci", "--dtypes", "float64", "--jobs", "1",
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert code == 1 and " exp " in first and "FAIL" in first, out
    assert "fail: inference vs torch float64" in out, out


def _public(namespace):
    return {k: v for k, v in vars(namespace).items() if not k.startswith("_")}


@pytest.mark.parametrize("name", list(CATALOG))
def test_planted_module_differs_from_impl_in_one_affected_op(name):
    mod = CATALOG[name]
    changed = [k for k, v in _public(impl).items()
               if k not in ("nn", "Tensor", "from_numpy") and getattr(mod, k) is not v]
    changed += [f"nn.functional.{k}" for k, v in _public(impl.nn.functional).items()
                if getattr(mod.nn.functional, k) is not v]
    if mod.Tensor is not impl.Tensor:  # a planted method, on the tensors from_numpy makes
        changed += [f"Tensor.{k}" for k in vars(mod.Tensor) if k != "__slots__"
                    and not k.startswith("__module") and k != "__doc__"]
    planted_in = {mod.PLANTED} if hasattr(mod, "PLANTED") else {s.name for s in _specs(mod.AFFECTS)}
    assert len(changed) == 1 and planted_in == {changed[0]}, changed
    assert mod.__doc__ and mod.KIND and mod.REQUIRES and mod.EXPECT_CHECK and mod.DTYPES


def test_catalog_covers_every_kind_and_family():
    assert len(CATALOG) >= 40, len(CATALOG)
    kinds = {mod.REQUIRES for mod in CATALOG.values()}
    assert KINDS <= kinds, sorted(KINDS - kinds)
    specs = [s for mod in CATALOG.values() for s in _specs(mod.AFFECTS)]
    missing = [group for group, key in GROUPS.items()
               if not any(s.family == key or s.name in (key if isinstance(key, tuple) else (key,))
                          for s in specs)]
    assert not missing, missing


def _catalog_specs():
    """The catalogue's spec ids, by the dtypes its modules run them in."""
    covered = {}
    for mod in CATALOG.values():
        covered.setdefault(tuple(mod.DTYPES), set()).update(mod.AFFECTS)
    return covered


@pytest.mark.parametrize("seed", SEEDS)
def test_impl_passes_the_catalog_specs(seed):
    """impl is clean where the planted bugs are caught (seeds 0-4: `nox -s planted`)."""
    rows = [r for dtypes, ops in _catalog_specs().items()
            for r in _run("impl", sorted(ops), dtypes, seed)]
    failed = [(r.op, r.check, r.oracle, r.dtype, r.layout, r.detail[:80]) for r in rows
              if runner.unexpected(r.status, "ci")]
    assert rows and not failed, failed


def test_bad_input_check_flags_a_returned_value():
    spec = next(s for s in runner.select(["clamp"]) if s.id == "clamp")
    subject = ModuleAdapter(CATALOG["clamp_without_bounds"])
    (outcome,) = check_bad_inputs(spec, subject, backend("torch"))
    assert outcome.status == "fail" and outcome.detail.startswith("returned a value"), outcome
    (outcome,) = check_bad_inputs(spec, backend("impl"), backend("torch"))
    assert outcome.status == "pass", outcome


def _clamp_without_max(input, min=None):
    return impl.clamp(input, min=min)


def _clamp_raising_type_error(input, min=None, max=None):
    raise TypeError("clamp() got an unexpected keyword argument 'max'")  # from inside the op


def _module(op, overrides, missing=None, declared=None):
    module = types.ModuleType(f"impl_without_{op}")
    plant(vars(module), overrides)
    if missing:
        delattr(module, missing)
    if declared is not None:
        module.__tenshell_unsupported__ = declared
    return ModuleAdapter(module)


@pytest.mark.parametrize("op, overrides, missing, declared, checks", [
    ("maximum", {}, "maximum", {"maximum": None}, {"forward", "vjp", "bad_input"}),
    ("clamp", {"clamp": _clamp_without_max}, None, {"clamp": ("max",)}, {"forward", "vjp"}),
], ids=["missing op", "missing keyword"])
def test_unsupported_is_expected_only_where_declared(op, overrides, missing, declared, checks):
    quiet = _run(_module(op, overrides, missing, declared), [op], ("float64",), profile="quick")
    unsupported = {r.check for r in quiet if r.status == "unsupported"}
    assert checks <= unsupported, sorted((r.op, r.check, r.status, r.detail) for r in quiet)
    assert not [r for r in quiet if r.status == "fail"], [r for r in quiet if r.status == "fail"]
    loud = _run(_module(op, overrides, missing), [op], ("float64",), profile="quick")
    failed = {r.check for r in loud if r.status == "fail" and "does not declare" in r.detail}
    assert checks <= failed, sorted((r.op, r.check, r.status, r.detail) for r in loud)


def test_a_type_error_inside_the_op_is_a_failure_not_unsupported():
    rows = _run(_module("clamp", {"clamp": _clamp_raising_type_error}), ["clamp"], ("float64",),
                profile="quick")
    forward = [r for r in rows if r.check == "forward"]
    assert forward and all(r.status == "fail" and "raised TypeError" in r.detail
                           for r in forward), forward


# -- the tolerance floor -------------------------------------------------------------------------

FLOOR = ("sum", "softmax", "nn.functional.batch_norm[training]", "matmul",
         "nn.functional.conv2d[bias]")


def _largest_case(spec):
    """The spec's curated case of the most input elements: where the issue pins the floor (a
    sum over 10^4 elements, softmax of ~1e4 logits, batch norm, a 256x256 matmul, a 64-channel
    conv2d)."""
    return max(spec.cases, key=lambda case: sum(np.size(a) for a in case[1].args
                                                 if isinstance(a, np.ndarray)))


def _perturbing(fn, relative, where):
    """impl with op ``fn``'s first output off by ``relative`` in one element: the first, the
    middle or the last of those whose value is a normal number (a relative error of 1e-4 on a
    float32 subnormal is a few units in its last place: rounding)."""

    def wrapped(*args, **kwargs):
        out = resolve(impl, fn)(*args, **kwargs)
        data = (out[0] if isinstance(out, tuple) else out).data  # perhaps a strided view
        nonzero = np.flatnonzero(np.abs(data) >= np.finfo(data.dtype).tiny)
        k = np.unravel_index(nonzero[{"first": 0, "middle": len(nonzero) // 2,
                                      "last": -1}[where]], data.shape)
        data[k] = data[k] * (1 + relative)
        return out

    module = types.ModuleType(f"impl_{fn}_off_by_{relative}")
    plant(vars(module), {fn: wrapped})
    return ModuleAdapter(module)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("dtype, relative", [("float32", 1e-4), ("float64", 1e-9)])
def test_tolerance_catches_a_small_relative_error_in_one_element(dtype, relative, where):
    from properties.checks import check_example

    oracles = {"torch": backend("torch"), "jax": backend("jax")}
    for spec in _specs(FLOOR):
        spec_id, (_, example) = spec.id, _largest_case(spec)
        clean = check_example(spec, dtype, example, 0, backend("impl"), oracles, layouts=(),
                              fd=False)
        assert not [o for o in clean if o.status == "fail"], (spec_id, [
            (o.check, o.oracle, o.detail) for o in clean if o.status == "fail"])
        off = check_example(spec, dtype, example, 0, _perturbing(spec.name, relative, where),
                            oracles, layouts=(), fd=False)
        caught = [o for o in off if o.check == "forward" and o.status == "fail"]
        assert len(caught) == 2, (spec_id, dtype, where, [
            (o.check, o.oracle, o.status, o.error, o.tolerance) for o in off
            if o.check == "forward"])
