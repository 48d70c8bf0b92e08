"""reports.train: the digits training loop behind ``tenshell train`` (both engines, CSV and PNG
out) and the trajectory check — it passes for impl and fails when impl's weights are planted
with a defect. Tiny models and few steps: the long runs are measured, not unit-tested."""

import csv

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")
torch = pytest.importorskip("torch")

from properties.models import TRAJECTORY_RTOL  # noqa: E402
from reports import cli, train  # noqa: E402

TINY = {"mlp": {"widths": (16,)}, "resnet-small": {"widths": (4, 8), "layers": (1, 1)}}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def restore_threads():
    """The runs here use one thread (``threads=1``); give the other tests theirs back."""
    import impl

    saved = torch.get_num_threads(), impl.get_num_threads()
    yield
    torch.set_num_threads(saved[0])
    impl.set_num_threads(saved[1])


def _args(model, *extra):
    return ["train", "--model", model, "--widths", ",".join(map(str, TINY[model]["widths"])),
            "--threads", "1", *extra]


@pytest.mark.parametrize("engine", ["impl", "torch"])
def test_cli_trains_and_writes_metrics_csv_and_png(engine, tmp_path, capsys):
    assert cli.main(_args("mlp", "--engine", engine, "--epochs", "2", "--schedule", "step",
                          "--out", str(tmp_path))) == 0
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert list(rows[0]) == list(train.METRICS)
    assert float(rows[0]["lr"]) == 0.05
    assert 0.5 < float(rows[-1]["test_acc"]) <= 1
    assert (tmp_path / "metrics.png").read_bytes().startswith(PNG)
    assert "final test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["mlp", "resnet-small"])
def test_trajectory_float64_agrees_step_for_step(model):
    result = train.trajectory(model, steps=6, dtype="float64", batch_size=32, threads=1,
                              **TINY[model])
    assert result["passed"], result["detail"]
    assert result["error"] < 1e-12 and result["tolerance"] < 2 * TRAJECTORY_RTOL
    assert len(result["impl_loss"]) == len(result["torch_loss"]) == 6
    assert result["lr_curve"][0] == 0.05 > result["lr_curve"][-1]
    assert result["impl_test_acc"] == result["torch_test_acc"]


def test_cli_trajectory_float32_writes_both_curves(tmp_path, capsys):
    assert cli.main(_args("mlp", "--trajectory", "--steps", "8", "--dtype", "float32",
                          "--out", str(tmp_path))) == 0
    with open(tmp_path / "trajectory.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert {"impl_loss", "torch_loss", "truth_loss", "tolerances"} <= set(rows[0])
    for r in rows:
        assert float(r["impl_error"]) <= float(r["tolerances"])
    assert (tmp_path / "trajectory.png").read_bytes().startswith(PNG)
    assert capsys.readouterr().out.startswith("PASS")


@pytest.fixture
def planted_weight(monkeypatch):
    """Transplant the weights faithfully, then move one of impl's by 1e-3: a defect in impl's
    model that its first forward already shows."""
    transplant = train.transplant

    def planted(weights, model, engine):
        transplant(weights, model, engine)
        if engine == "impl":
            list(model.parameters())[-1].data[0] += 1e-3

    monkeypatch.setattr(train, "transplant", planted)


def test_trajectory_fails_when_a_weight_differs(planted_weight):
    result = train.trajectory("mlp", steps=4, dtype="float64", batch_size=32, threads=1,
                              **TINY["mlp"])
    assert not result["passed"]
    assert result["error"] > 1e3 * result["tolerance"]
    assert "4 of 4 steps out of tolerance, first at step 1" in result["detail"]


def test_cli_trajectory_exits_nonzero_on_failure(planted_weight, tmp_path, capsys):
    assert cli.main(_args("mlp", "--trajectory", "--steps", "3", "--dtype", "float32",
                          "--out", str(tmp_path))) == 1
    assert capsys.readouterr().out.startswith("FAIL")
    assert (tmp_path / "trajectory.png").exists()


def test_cli_rejects_layers_for_other_models(capsys):
    assert cli.main(["train", "--model", "mlp", "--layers", "1,1"]) == 2
    assert "--layers" in capsys.readouterr().err
