"""What `tenshell` shows people: `tenshell list` (what can be checked), conform's progress and
end summary in a log (no terminal), and oracle warnings noted on rows instead of printed."""

import json
import re
import subprocess
import sys
import warnings

import numpy as np
from hypothesis import strategies as st

from oracles.base import Example
from properties import checks, runner
from properties.spec import OpSpec


def tenshell(*args):
    return subprocess.run([sys.executable, "-m", "reports", *args], capture_output=True,
                          text=True)


def _linear():
    (spec,) = [s for s in runner.select(["nn.functional.linear"]) if not s.variant]
    return spec


def test_list_shows_families_spec_ids_regions_and_bench_shapes():
    spec = _linear()
    out = tenshell("list")
    assert out.returncode == 0, out.stderr
    for text in ("nn (", "elementwise (", "model (", "nn.functional.linear[no bias]",
                 next(iter(spec.regions)), spec.bench_shapes[0][0], "models.resnet18",
                 "profiles: ci, deep"):
        assert text in out.stdout, text


def test_list_one_family():
    out = tenshell("list", "--family", "nn")
    assert out.returncode == 0 and "nn.functional.mse_loss" in out.stdout
    assert "elementwise (" not in out.stdout and "\n  exp\n" not in out.stdout
    out = tenshell("list", "--family", "no_such_family")
    assert out.returncode == 2 and out.stdout == "" and "families: " in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_list_json_for_machines():
    out = tenshell("list", "--json")
    families = json.loads(out.stdout)["families"]
    linear = next(s for s in families["nn"] if s["id"] == "nn.functional.linear")
    spec = _linear()
    assert linear["regions"] == list(spec.regions)
    assert linear["bench_shapes"] == [label for label, _ in spec.bench_shapes]
    models = {s["id"]: s for s in families["model"]}
    assert models["models.resnet50"]["profiles"] == ["deep"]
    ids = [s["id"] for specs in families.values() for s in specs]
    assert sorted(ids) == sorted(s.id for s in runner.select())


def test_progress_in_a_log_is_a_line_per_spec_then_a_summary(tmp_path):
    out = tenshell("conform", "--ops", "neg,t", "--profile", "quick", "--jobs", "1", "--out",
                   str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    progress = [line for line in lines if re.match(r"\[\s*\d+/4\] ", line)]
    assert len(progress) == 4 and all(" ok " in line for line in progress), out.stdout
    assert "spec/s" not in out.stdout + out.stderr and "\r" not in out.stdout  # no bar
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["rows", "pass",
                                                                             "fail"])
    table = {line.split()[0]: line.split()[1:] for line in lines[header + 1:header + 4]}
    assert set(table) == {"elementwise", "shape", "total"}
    report = json.loads((tmp_path / "conformance.json").read_text())
    assert int(table["total"][0]) == report["summary"]["rows"]
    assert int(table["total"][1]) == report["summary"]["pass"]
    assert any(line.startswith("wrote ") and "conformance.json" in line for line in lines)


# -- oracle warnings ---------------------------------------------------------------------------

def _mse_with_a_broadcast_target():
    """mse_loss of a (3, 1) input and a (3,) target, called plainly (the registry's spec notes
    the warning as an output instead): torch warns that it broadcasts, and so does impl."""
    x = np.array([[0.5], [-1.0], [2.0]])
    t = np.array([0.25, -0.5, 1.0])
    return OpSpec("nn.functional.mse_loss", "nn", variant="broadcast target",
                  examples=st.just(Example((x, t))), diff=(0,),
                  jax=lambda J, x, t: J.jnp.mean((x - t) ** 2), layouts=False,
                  call=lambda fn, x, t: fn(x, t))


def test_oracle_warnings_are_noted_on_the_rows_not_shown(monkeypatch):
    monkeypatch.setattr(checks, "_SHOWN", set())
    run = runner.make_run("impl", profile="quick", dtypes=("float64",))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        rows = run.spec_rows(_mse_with_a_broadcast_target())
    said = [str(w.message) for w in shown]
    assert not [s for s in said if "torch.Size" in s], said  # torch's: not shown
    assert [s for s in said if s.startswith("mse_loss: Using a target size")], said  # impl's
    by_key = {(r.check, r.oracle): r for r in rows}
    for key in (("forward", "torch"), ("vjp", "torch")):
        row = by_key[key]
        assert row.status == "pass", row
        assert "oracle warnings: torch: UserWarning: Using a target size (torch.Size([3]))" in \
            row.detail, row.detail
        assert len(row.detail) < 300, row.detail
    assert checks.NOTE not in by_key[("forward", "jax")].detail  # jax warned nothing
    assert checks.NOTE not in by_key[("layout", "self")].detail


def test_the_subjects_warning_is_shown_once_per_place(monkeypatch):
    monkeypatch.setattr(checks, "_SHOWN", set())
    run = runner.make_run("impl", profile="quick", dtypes=("float32", "float64"))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        run.spec_rows(_mse_with_a_broadcast_target())
    assert len([w for w in shown if str(w.message).startswith("mse_loss:")]) == 1
