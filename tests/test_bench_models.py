"""The model benchmarks of ``tenshell bench`` (reports/bench.py): a training step of the same
architecture in impl and torch, and the peak memory of one measured in a fresh process per
library — on a network small enough to run in seconds."""

from __future__ import annotations

import pytest

from oracles.base import NotApplicable
from oracles.subject import load_subject
from reports import bench

TINY = bench.ModelWork("resnet_small", (("widths", (4, 8)), ("layers", (1, 1)),
                                        ("num_classes", 3)), 2, 8, 3, True)


@pytest.mark.parametrize("name", ["impl", "torch"])
def test_model_step_runs_again_and_again(name):
    step = bench.model_step(load_subject(name), TINY)
    for _ in range(2):
        loss = step.forward()  # the forward gives the loss; the backward takes it
        step.backward(loss)
    assert bench.sample(step, 1)[1] > 0


def test_a_library_without_the_model_is_not_applicable():
    library = load_subject("impl")
    with pytest.raises(NotApplicable, match="no_such_model"):
        bench.model_step(library, bench.ModelWork("no_such_model", (), 1, 8, 2, False))


def test_peak_memory_is_measured_in_a_process_of_its_own():
    impl_peak = bench._peak_rss("impl", TINY, 1)
    torch_peak = bench._peak_rss("torch", TINY, 1)
    # torch's libraries alone take more than impl and NumPy: the child imported only its own
    assert 20 << 20 < impl_peak < torch_peak < 4 << 30


def test_model_benchmarks_time_and_measure_subject_and_torch():
    libraries = {"subject": load_subject("impl"), "torch": load_subject("torch")}
    benches = {b.name: b for b in bench.model_benchmarks(libraries, "impl", 1)}
    assert set(benches) == {name for name, *_ in bench.MODELS}
    small = benches["resnet-small train step 3x32x32 b32"]
    assert small.target == 1.5 and small.memory is None and set(small.setups) == set(libraries)
    assert small.family == "model" and "backward and SGD momentum step" in small.description
    r50 = benches["resnet50 fwd+bwd 3x224x224 b8"]
    assert set(r50.memory) == {"subject", "torch"} and r50.memory_target == 2.0
    # a subject given as an object cannot be loaded again in a child: time only
    (r50,) = [b for b in bench.model_benchmarks(libraries, libraries["subject"], 1)
              if b.name.startswith("resnet50")]
    assert r50.memory is None
