"""The harness checks itself: every planted bug (tests/planted/) must be caught by the check that
is meant to catch it, while impl passes the same ops; subjects that lack an op or a keyword are
reported ``unsupported``, not crashed on.

Each planted module declares KIND, AFFECTS (the ids of the specs to run: specs of the defective
op whose examples can show the defect), EXPECT_CHECK (the check that must fail), DTYPES (where
the defect shows), optionally EXPECT_DETAIL (a phrase the failing row must contain) and
HARNESS_GAP: a harness weakness that keeps the bug from being caught as it should be, which
turns its test into a strict xfail until the harness is fixed.
"""

import importlib
import pathlib
import pkgutil
import sys
import types

import pytest

import impl

ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # plain `pytest` puts tests/ on sys.path; subjects are tests.planted.*
    sys.path.append(ROOT)

import tests.planted as planted  # noqa: E402
from oracles import backend  # noqa: E402
from oracles.subject import ModuleSubject  # noqa: E402
from properties import runner  # noqa: E402
from properties.checks import check_bad_inputs  # noqa: E402
from tests.planted._base import plant  # noqa: E402

CATALOG = {m.name: importlib.import_module(f"{planted.__name__}.{m.name}")
           for m in pkgutil.iter_modules(planted.__path__) if not m.name.startswith("_")}
COVERED = {}  # the catalog's spec ids, by the dtypes its modules run them in
for _mod in CATALOG.values():
    COVERED.setdefault(tuple(_mod.DTYPES), set()).update(_mod.AFFECTS)


def _specs(ids):
    """The specs with these ids (a name alone is the id of its spec without a variant)."""
    specs = [s for s in runner.select(ids) if s.id in ids]
    assert {s.id for s in specs} == set(ids), f"no specs {set(ids) - {s.id for s in specs}}"
    return specs


def _run(subject, ops, dtypes=("float32", "float64"), seed=0):
    """The rows of a quick run of ``ops`` on ``subject`` (a subject name or a backend)."""
    name = subject if isinstance(subject, str) else "impl"
    run = runner.make_run(name, profile="quick", dtypes=tuple(dtypes), seed=seed)
    if not isinstance(subject, str):
        run.subject, run.subject_name = subject, subject.name
    return runner.run(run, _specs(ops))


def _param(name):
    gap = getattr(CATALOG[name], "HARNESS_GAP", None)
    return pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=gap)] if gap else [])


@pytest.mark.parametrize("name", [_param(n) for n in CATALOG])
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


def _public(namespace):
    return {k: v for k, v in vars(namespace).items() if not k.startswith("_")}


@pytest.mark.parametrize("name", list(CATALOG))
def test_planted_module_differs_from_impl_in_one_affected_op(name):
    mod = CATALOG[name]
    changed = [k for k, v in _public(impl).items() if k != "nn" and getattr(mod, k) is not v]
    changed += [f"nn.functional.{k}" for k, v in _public(impl.nn.functional).items()
                if getattr(mod.nn.functional, k) is not v]
    assert len(changed) == 1 and {s.name for s in _specs(mod.AFFECTS)} == {changed[0]}, changed
    assert mod.__doc__ and mod.KIND and mod.EXPECT_CHECK and mod.DTYPES


def test_catalog_has_twelve_distinct_kinds():
    kinds = {mod.KIND for mod in CATALOG.values()}
    assert len(kinds) >= 12, sorted(kinds)


@pytest.mark.parametrize("seed", range(5))
def test_impl_passes_the_catalog_ops(seed):
    rows = [r for dtypes, ops in COVERED.items() for r in _run("impl", sorted(ops), dtypes, seed)]
    failed = [(r.op, r.check, r.oracle, r.dtype, r.layout, r.detail[:80]) for r in rows
              if runner.unexpected(r.status, "quick")]
    assert rows and not failed, failed


def test_bad_input_check_flags_a_returned_value():
    spec = next(s for s in runner.select(["clamp"]) if s.id == "clamp")
    subject = ModuleSubject(CATALOG["clamp_without_bounds"])
    (outcome,) = check_bad_inputs(spec, subject, backend("torch"))
    assert outcome.status == "fail" and outcome.detail.startswith("returned a value"), outcome
    (outcome,) = check_bad_inputs(spec, backend("impl"), backend("torch"))
    assert outcome.status == "pass", outcome


def _clamp_without_max(input, min=None):
    return impl.clamp(input, min=min)


@pytest.mark.parametrize("op, overrides, missing, checks", [
    ("maximum", {}, "maximum", {"forward", "vjp", "bad_input"}),
    ("clamp", {"clamp": _clamp_without_max}, None, {"forward", "vjp"}),
], ids=["missing op", "missing keyword"])
def test_missing_op_or_keyword_is_unsupported(op, overrides, missing, checks):
    module = types.ModuleType(f"impl_without_{op}")
    plant(vars(module), overrides)
    if missing:
        delattr(module, missing)
    rows = _run(ModuleSubject(module), [op], ("float64",))
    unsupported = {r.check for r in rows if r.status == "unsupported"}
    assert unsupported == checks, sorted((r.op, r.check, r.status, r.detail) for r in rows)
    assert not [r for r in rows if runner.unexpected(r.status, "quick")]
