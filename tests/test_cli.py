"""The ``tenshell`` command: help, version, conform's reports and exit code, bench's output."""

import json
import subprocess
import sys

import pytest

import impl


def tenshell(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "reports", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_help_and_version():
    out = tenshell("--help")
    assert out.returncode == 0 and "conform" in out.stdout and "bench" in out.stdout
    out = tenshell("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"tenshell {impl.__version__}"


def test_conform_writes_json_and_markdown(tmp_path):
    out = tenshell("conform", "--ops", "mul,exp", "--profile", "quick", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads((tmp_path / "conformance.json").read_text())
    assert report["summary"]["unexpected"] == 0
    assert {r["op"].split("[")[0] for r in report["rows"]} == {"mul", "exp"}
    keys = {(r["check"], r["oracle"], r["dtype"]) for r in report["rows"]}
    for check in ("forward", "vjp"):
        for oracle in ("torch", "jax"):
            for dtype in ("float32", "float64"):
                assert (check, oracle, dtype) in keys
    assert ("fd", "fd", "float64") in keys
    row = report["rows"][0]
    for field in ("examples", "status", "error", "tolerance", "oracle_errors", "seconds"):
        assert field in row
    assert report["meta"]["versions"]["torch"] and report["meta"]["machine"]["cpus"]
    assert "# Conformance: impl" in (tmp_path / "conformance.md").read_text()


def test_conform_unknown_op_is_a_clear_error(tmp_path):
    out = tenshell("conform", "--ops", "no_such_op", "--out", str(tmp_path))
    assert out.returncode != 0 and "no_such_op" in out.stderr


@pytest.mark.parametrize("subject", ["no_such_module", "impl:no_such_object"])
def test_conform_bad_subject_is_a_clear_error(tmp_path, subject):
    out = tenshell("conform", "--subject", subject, "--ops", "exp", "--out", str(tmp_path))
    assert out.returncode != 0 and subject.split(":")[-1] in out.stderr


def test_bench_writes_ratios(tmp_path):
    out = tenshell("bench", "--only", "engine_chain_1000", "--repeats", "1", "--libraries",
                   "torch", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert f"wrote {tmp_path / 'timing.json'}" in out.stdout
    (result,) = json.loads((tmp_path / "timing.json").read_text())["results"]
    assert result["name"] == "engine_chain_1000"
    subject, torch = result["seconds"]["subject"], result["seconds"]["torch"]
    for phase in ("forward", "backward"):
        assert subject[phase]["median"] > 0 and torch[phase]["median"] > 0
    # one round: the ratio's spread is that one round's ratio
    assert result["ratios"]["torch"]["total"]["median"] == pytest.approx(
        subject["total"]["median"] / torch["total"]["median"])


def test_the_bench_extra_installs_what_the_benchmarks_import():
    # `nox -s bench` installs only `.[bench]`: the benchmarks come from the registry, so the
    # extra must hold the harness's dependencies (and MyGrad).
    from pathlib import Path

    import tomllib

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    assert set(extras["harness"]) <= set(extras["bench"])
    assert any(req.startswith("mygrad") for req in extras["bench"])
