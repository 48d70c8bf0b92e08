"""`tenshell compare`, the regression gate: it fails when an op is made less accurate (within
its tolerance), slower, or unsupported, or when coverage shrinks, and refuses unusable files
with one line."""

import json
import subprocess
import sys

import pytest

from properties import runner
from reports import compare, conformance, tables

OPS = "exp,softmax"


def tenshell(*args):
    return subprocess.run([sys.executable, "-m", "reports", *args], capture_output=True,
                          text=True)


def _conform(folder, subject):
    run = runner.make_run(subject, profile="quick", dtypes=("float32",))
    specs = runner.select(OPS)
    rows = runner.as_dicts(runner.run(run, specs))
    meta = {"subject": subject, "oracles": ["torch", "jax", "fd"], "profile": "quick",
            "seed": 0, "dtypes": ["float32"], "jobs": 1, "wall_seconds": 0.0,
            "families": {s.id: s.family for s in specs}, **conformance.environment(subject)}
    conformance.write(folder, rows, meta)
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return _conform(tmp_path_factory.mktemp("runs") / "impl", "impl")


def test_the_same_run_passes(base):
    out = tenshell("compare", str(base), str(base))
    assert out.returncode == 0 and "no regressions" in out.stdout, out.stdout + out.stderr


def test_an_op_made_less_accurate_within_its_tolerance_fails(base, tmp_path):
    current = _conform(tmp_path / "sloppy", "tests.regressed.exp_less_accurate")
    report = tables.read(current / "conformance.json")
    assert report["summary"]["fail"] == 0  # invisible to the conformance checks
    out = tenshell("compare", str(base), str(current))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "accuracy:" in out.stdout and "exp:" in out.stdout and "softmax" not in out.stdout
    out = tenshell("compare", str(base), str(current), "--accuracy-factor", "10")
    assert out.returncode == 0, out.stdout  # the threshold is an option
    md = tenshell("compare", str(base), str(current), "--markdown").stdout
    assert md.startswith("### tenshell compare:") and "| accuracy | exp |" in md


def test_an_op_made_unsupported_fails(base, tmp_path):
    current = _conform(tmp_path / "lacking", "tests.regressed.softmax_unsupported")
    out = tenshell("compare", str(base), str(current), "--json", str(tmp_path / "found.json"))
    assert out.returncode == 1
    assert "nn.functional.softmax: pass -> unsupported" in out.stdout, out.stdout
    found = json.loads((tmp_path / "found.json").read_text())["regressions"]
    assert found and all(f["op"].startswith("nn.functional.softmax") for f in found)
    assert {(f["kind"], f["base"], f["current"]) for f in found} == {
        ("status", "pass", "unsupported")}


def test_shrinking_coverage_fails(base, tmp_path):
    report = tables.read(base / "conformance.json")
    report["rows"] = [r for r in report["rows"] if r["op"] != "exp[subnormal]"]
    region = next(r for r in report["rows"] if r["check"] == "region" and r["examples"])
    region["examples"] = 0
    (tmp_path / "conformance.json").write_text(json.dumps(report))
    out = tenshell("compare", str(base), str(tmp_path / "conformance.json"))
    assert out.returncode == 1
    assert "op spec exp[subnormal]: checked -> absent" in out.stdout
    assert f"region {region['op']} / {region['dtype']} / {region['layout']}" in out.stdout


def _timing(ratios):
    """A timing report whose one benchmark has these (q1, median, q3) ratios to torch."""
    q1, median, q3 = ratios
    seconds = {"median": 1e-3, "q1": 1e-3, "q3": 1e-3, "n": 5}
    phases = {p: seconds for p in ("forward", "backward", "total")}
    return {"schema": tables.schema("timing"), "meta": {"subject": "impl"},
            "results": [{"name": "mm 256", "family": "linalg",
                         "seconds": {"subject": phases, "torch": phases},
                         "ratios": {"torch": {p: {"median": median, "q1": q1, "q3": q3}
                                              for p in ("forward", "backward", "total")}}}]}


@pytest.mark.parametrize("base_ratio, current_ratio, regressed", [
    ((0.95, 1.0, 1.05), (1.45, 1.5, 1.55), True),  # 50 % slower, tight spreads
    ((0.95, 1.0, 1.05), (1.15, 1.2, 1.25), False),  # 20 %: under the threshold
    ((0.7, 1.0, 1.3), (1.3, 1.5, 1.7), False),  # 50 %, but within the runs' spread
    ((0.95, 1.0, 1.05), (0.5, 0.6, 0.7), False),  # faster
])
def test_timing_ratio_growth_beyond_the_spread(base_ratio, current_ratio, regressed):
    found = compare.timing(_timing(base_ratio), _timing(current_ratio))
    assert bool(found) == regressed, found


def test_a_slower_op_fails(tmp_path):
    base, current = tmp_path / "impl", tmp_path / "slow"
    for folder, subject in ((base, "impl"), (current, "tests.regressed.linear_slower")):
        out = tenshell("bench", "--only", "nn.functional.linear", "--repeats", "5",
                       "--subject", subject, "--libraries", "torch", "--no-sweep",
                       "--out", str(folder))
        assert out.returncode == 0, out.stderr
    out = tenshell("compare", str(base), str(current))
    assert out.returncode == 1 and "timing:" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("content, says", [
    ('{"schema": "tenshell-conformance/2", "meta": {', "truncated"),
    ("\x00\x01garbage", "corrupt"),
    ("", "empty file"),
    ('{"rows": []}', "not a Tenshell report"),
    ('{"schema": "tenshell-conformance/1", "meta": {}, "summary": {}, "rows": []}',
     "schema version 1"),
    ('{"schema": "tenshell-conformance/2", "meta": {}, "summary": {}, "rows": [{"op": "x"}]}',
     "row 0 lacks"),
])
def test_unusable_files_get_one_line(base, tmp_path, content, says):
    bad = tmp_path / "conformance.json"
    bad.write_text(content)
    out = tenshell("compare", str(base), str(bad))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and str(bad) in out.stderr and says in out.stderr, \
        out.stderr
    assert "Traceback" not in out.stderr


def test_a_missing_report_and_other_kinds_are_named(base, tmp_path):
    out = tenshell("compare", str(base), str(tmp_path / "nothing"))
    assert out.returncode == 2 and "no such file or folder" in out.stderr
    (tmp_path / "t.json").write_text(json.dumps(_timing((1, 1, 1))))
    out = tenshell("compare", str(base), str(tmp_path / "t.json"))
    # a timing report where the base has conformance: nothing in common is a lost report
    assert out.returncode == 1 and "conformance report: present -> absent" in out.stdout
