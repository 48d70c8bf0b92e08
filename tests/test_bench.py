"""The timing report of ``tenshell bench`` (reports/bench.py): forward and backward timed apart
through every adapter kind, the report's fields, ratios with their spread, GFLOP/s against the
measured peak, a size sweep's slope, and atomic writes. Real measurements, kept short."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from oracles.base import Example
from oracles.subject import load_subject
from properties.spec import load_registry
from reports import atomic, bench

FAST = bench.Policy(repeats=3, max_samples=3, min_seconds=0.01, settle=0.01)


@pytest.mark.parametrize("name", ["impl", "torch", "jax"])
def test_forward_and_backward_are_timed_apart(name):
    spec = load_registry()["mm"]
    ex = Example((np.ones((64, 32)), np.ones((32, 16)))).cast(np.float32, spec.diff)
    cot, _ = bench.cotangent(spec, ex)
    step = load_subject(name).stepper(spec, ex, cot)
    handles = [step.forward() for _ in range(2)]  # forwards record; backwards come later
    for handle in reversed(handles):
        step.backward(handle)
    forward, backward = bench.sample(step, 20)
    assert forward > 0 and backward > 0
    assert (step.compile_seconds > 0) == (name == "jax")  # JAX's compile is reported apart


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import torch
    from threadpoolctl import threadpool_limits

    import impl

    before = torch.get_num_threads(), impl.get_num_threads()
    with threadpool_limits(limits=None):  # the run sets threads for the process: restore them
        results, meta, _ = bench.run(["engine_chain_1000", "nn.functional.linear"],
                                     libraries=("torch", "jax"), policy=FAST, threads=1,
                                     progress=lambda *a: None)
    torch.set_num_threads(before[0])
    impl.set_num_threads(before[1])
    out = tmp_path_factory.mktemp("timing")
    bench.write(results, meta, {}, out)
    return json.loads((out / "timing.json").read_text()), out


def test_the_report_has_its_schema(report):
    data, out = report
    assert data["schema"] == "tenshell-timing/1"
    assert {"threads", "cpu_model", "cores", "blas", "versions", "python", "subject",
            "peak_gflops", "policy"} <= set(data["meta"])
    assert data["meta"]["threads"]["torch"] == data["meta"]["threads"]["blas"] == 1
    assert data["meta"]["blas"]["pools"] and data["meta"]["policy"]["repeats"] == 3
    results = {r["name"]: r for r in data["results"]}
    chain = results["engine_chain_1000"]
    assert chain["family"] == "engine" and set(chain["seconds"]) == {"subject", "torch", "jax"}
    for phases in chain["seconds"].values():
        assert set(phases) == {"forward", "backward", "total"}
        for stats in phases.values():
            assert stats["n"] == 3 and 0 < stats["q1"] <= stats["median"] <= stats["q3"]
    assert set(chain["ratios"]) == {"torch", "jax"} and chain["compile_seconds"]["jax"] > 0
    assert set(chain["compile_seconds"]) == {"jax"}
    for ratios in chain["ratios"].values():
        for stats in ratios.values():
            assert 0 < stats["q1"] <= stats["median"] <= stats["q3"]
    assert "meets_target" in chain and "peak_rss" in chain and data["sweeps"] == {}
    assert "## Against torch" in (out / "timing.md").read_text()


def test_a_matmul_reports_gflops_against_the_measured_peak(report):
    data, _ = report
    (linear,) = [r for r in data["results"] if r["name"].startswith("nn.functional.linear")]
    forward = 2 * 256 * 1024 * 1024
    assert linear["flops"] == {"forward": forward, "backward": 2 * forward}
    assert data["meta"]["peak_gflops"] > 0
    for lib in ("subject", "torch", "jax"):
        rates = linear["gflops"][lib]
        assert rates["total"] > 0 and rates["of_peak"] == pytest.approx(
            rates["total"] / data["meta"]["peak_gflops"])
    (chain,) = [r for r in data["results"] if r["name"] == "engine_chain_1000"]
    assert chain["gflops"] == {} and chain["flops"] is None


def test_an_elementwise_sweep_grows_linearly_and_is_plotted(tmp_path):
    libraries = {"subject": load_subject("impl"), "torch": load_subject("torch")}
    data = bench.sweep("elementwise", libraries, sizes=[2 ** 16, 2 ** 18, 2 ** 20],
                       policy=bench.Policy(repeats=3, max_samples=3, min_seconds=0.02,
                                           settle=0.02))
    assert data["work"] == data["sizes"] and set(data["seconds"]) == set(libraries)
    for lib, slope in data["slope"].items():
        assert 0.5 < slope < 1.5, (lib, data["seconds"])
    assert data["slope_large"] == pytest.approx(data["slope"])  # three sizes: the same fit
    meta = {"subject": "impl", "cpu_model": "x", "cores": 2, "threads": {}, "blas": {},
            "peak_gflops": 1.0, "versions": {}, "python": "3", "policy": {}}
    paths = bench.write([], meta, {"elementwise": data}, tmp_path)
    png = tmp_path / "timing_sweep_elementwise.png"
    assert str(png) in paths and png.read_bytes().startswith(b"\x89PNG")
    assert "(timing_sweep_elementwise.png)" in (tmp_path / "timing.md").read_text()


def test_the_quick_subset_exists_and_spans_the_families():
    libraries = {"subject": load_subject("impl"), "torch": load_subject("torch")}
    benches = {b.name: b for b in bench.all_benchmarks(libraries, models=False)}
    assert set(bench.QUICK) <= set(benches)
    families = {benches[name].family for name in bench.QUICK}
    assert {"engine", "conv", "nn"} <= families and len(bench.QUICK) <= 8
    assert any(benches[name].flops for name in bench.QUICK if benches[name].family == "nn")


def test_an_atomic_write_failing_midway_leaves_the_old_file(tmp_path, disk_full):
    path = tmp_path / "timing.json"
    atomic.write_text(path, "old")
    with disk_full(), pytest.raises(OSError, match="No space"):
        atomic.write_text(path, "new contents")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["timing.json"]
