"""Any library as the subject: found by name, by path and by entry point; torch and JAX checked
against themselves without false positives; a tiny third-party library (tests/tinytape.py) and
MyGrad checked end to end through their adapters; the layering of oracles/ below properties/."""

import ast
import json
import pathlib
import sys
from importlib.metadata import EntryPoint

import pytest

from oracles import subject as subjects
from oracles.adapter import FunctionalAdapter, ModuleAdapter, TapeAdapter
from properties import runner
from reports import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # plain `pytest` puts tests/ on sys.path; the adapter is tests.*
    sys.path.append(str(ROOT))

TINY = "tests.tinytape_adapter:TinyTape"


def _conform(tmp_path, subject, ops, profile="quick"):
    code = cli.main(["conform", "--subject", subject, "--ops", ops, "--profile", profile,
                     "--jobs", "1", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "conformance.json").read_text())
    assert (tmp_path / "conformance.md").read_text().startswith("# Conformance")
    return code, report["rows"]


def _unexpected(rows, profile="quick"):
    return [(r["op"], r["check"], r["oracle"], r["dtype"], r["layout"], r["detail"][:120])
            for r in rows if runner.unexpected(r["status"], profile)]


def test_subjects_are_found_by_name_path_and_entry_point(monkeypatch):
    assert isinstance(subjects.load_subject("impl"), ModuleAdapter)
    assert isinstance(subjects.load_subject("torch"), TapeAdapter)
    assert isinstance(subjects.load_subject("jax"), FunctionalAdapter)
    assert subjects.load_subject("mygrad").name == "mygrad"
    assert subjects.load_subject(TINY).name == "tinytape"
    found = [EntryPoint("tiny", TINY, subjects.GROUP)]
    monkeypatch.setattr(subjects, "entry_points", lambda group: found if group ==
                        subjects.GROUP else [])
    assert subjects.load_subject("tiny").name == "tinytape"
    with pytest.raises(TypeError, match="Backend"):
        subjects.load_subject("tests.tinytape:add")


def test_oracles_import_nothing_from_properties():
    for path in (ROOT / "oracles").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.split(".")[0] in ("properties", "reports")], path


@pytest.mark.parametrize("subject, ops", [
    ("torch", "add,sum,Tensor.__getitem__,matmul,nn.functional.softmax,nn.functional.conv2d,"
              "nn.functional.max_pool2d,nn.functional.cross_entropy"),
    ("jax", "add,sum,matmul,nn.functional.softmax"),
])
def test_an_oracle_as_the_subject_has_no_unexplained_row(tmp_path, subject, ops):
    """The harness's own false-positive check: torch or JAX against torch-and-JAX oracles
    passes, or says why not (not applicable, a documented convention)."""
    code, rows = _conform(tmp_path, subject, ops)
    assert code == 0 and not _unexpected(rows), _unexpected(rows)
    assert all(r["detail"] for r in rows if r["status"] not in ("pass", "not-exercised")), [
        r for r in rows if r["status"] not in ("pass", "not-exercised") and not r["detail"]]
    if subject == "jax":  # a functional library: no engine state to check
        assert {r["check"] for r in rows if r["status"] == "not-applicable"} >= {
            "layout", "cotangent", "retain_graph", "no_grad", "bad_input"}


def test_a_tiny_third_party_library_runs_end_to_end(tmp_path):
    """tinytape (NumPy's spelling, a backward() without a gradient) through its adapter: what
    it lacks is unsupported where declared, the engine checks run, and the harness finds its
    one kind of defect — NumPy's type promotion: a Python scalar or a float64 operand makes a
    float32 input's result or gradient float64 (torch keeps float32)."""
    code, rows = _conform(tmp_path, TINY, "add,sub,mul,exp,tanh,sum,mm")
    failed = _unexpected(rows)
    assert code == 1 and failed and all(
        f[1] == "dtype" and ("[scalar other]" in f[0] or "[mixed dtypes]" in f[0])
        for f in failed), failed
    statuses = {(r["check"], r["status"]) for r in rows}
    assert {("forward", "pass"), ("vjp", "pass"), ("retain_graph", "pass"),
            ("layout", "pass"), ("cotangent", "pass"), ("no_grad", "pass"),
            ("forward", "unsupported"), ("out", "not-applicable")} <= statuses, statuses


def test_mygrad_defects_are_found(tmp_path):
    """Two MyGrad 2.5 defects the README reports: maximum(x, x) has no gradient (its tie rule
    gives neither argument any), and var's backward divides by zero where N - ddof is 0."""
    code, rows = _conform(tmp_path, "mygrad", "maximum,var[values]")
    failed = {(r["op"], r["check"]) for r in rows if r["status"] == "fail"}
    assert code == 1 and ("maximum", "alias") in failed, sorted(failed)
    assert any(r["op"] == "var[values]" and r["check"] == "vjp" and "ZeroDivisionError" in
               r["detail"] for r in rows), sorted(failed)


def test_bench_times_any_subject_through_its_adapter(tmp_path):
    code = cli.main(["bench", "--subject", "mygrad", "--only", "engine_chain_1000",
                     "--libraries", "torch", "--repeats", "1", "--out", str(tmp_path)])
    (result,) = json.loads((tmp_path / "timing.json").read_text())["results"]
    assert code == 0 and result["seconds"]["subject"]["total"]["median"] > 0
    assert result["ratios"]["torch"]["total"]["median"] > 0


def test_a_compiled_function_is_not_reused_with_other_constants():
    """JAX's compiled functions are cached by shape: the arguments that are constants in them
    (the others, when one alone requires grad) are part of the key."""
    import numpy as np

    from oracles.base import Example

    jax = subjects.load_subject("jax")
    (spec,) = runner.select(["mm"])
    rng = np.random.default_rng(0)
    for _ in range(2):
        a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
        trace = jax.trace(spec, Example((a, b)), np.ones((2, 2)), requires=(0,))
        assert np.allclose(trace.grads[0], np.ones((2, 2)) @ b.T) and trace.grads[1] is None
