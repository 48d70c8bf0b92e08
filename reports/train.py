"""Training on real data: scikit-learn's 8x8 digits, trained with impl or with torch by one loop
written over a torch-shaped library namespace; and trajectory conformance — the same initial
weights, the same batches and the same optimizer in both libraries, step for step.

    tenshell train --model resnet-small --epochs 15 --batch-size 32 --weight-decay 2e-3 --out out
    tenshell train --trajectory --model resnet-small --steps 50 --dtype float32 --out out/traj

The full-size ResNets (resnet18 … resnet152) take the 8x8 images as they are: torchvision's stem
(7x7 stride-2 conv, stride-2 max pool) leaves 2x2 planes, and the later stages' stride-2 3x3
convolutions (padding 1) keep a 1x1 plane at 1x1, so every stage runs; nothing is upsampled.
They train, in either library, to far lower accuracy than resnet-small (about 70 % after 10
epochs for resnet18): the stem keeps 2x2 of the 8x8 pixels. resnet-small (3x3 stride-1 stem, no
max pool) is the model for these images: the first command above reaches 98.9-99.3 % with impl
over seeds 0-2, in 15-30 s on two cores.
"""

from __future__ import annotations

import csv
import math
import os
import time
from types import SimpleNamespace

import numpy as np

from properties.models import batch_order, judge_trajectory, load_digits

MODELS = ("mlp", "resnet-small", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
# Digits-sized defaults: the MLP's hidden widths (17 k parameters); resnet-small's stages (78 k)
DEFAULTS = {"mlp": {"widths": (128, 64)},
            "resnet-small": {"widths": (16, 32, 64), "layers": (1, 1, 1)}}
NUM_CLASSES = 10


def namespace(engine):
    """The library (``lib.nn``, ``lib.optim``, ``lib.no_grad``, ``lib.tensor``, …) and the model
    zoo of ``engine``: impl with impl.models, or torch with oracles.torch_models."""
    if engine == "impl":
        import impl

        return SimpleNamespace(name="impl", lib=impl, models=impl.models)
    if engine == "torch":
        import torch

        from oracles import torch_models

        return SimpleNamespace(name="torch", lib=torch, models=torch_models)
    raise ValueError(f"engine must be 'impl' or 'torch', got {engine!r}")


def build_model(name, engine, **kwargs):
    """Model ``name`` (one of MODELS) in ``engine``'s namespace, for 64-pixel, 1-channel inputs
    and 10 classes; ``kwargs`` override DEFAULTS (``widths`` for the MLP's hidden layers,
    ``widths``/``layers``/``block`` for resnet-small, torchvision's keywords for the others)."""
    ns = namespace(engine)
    kwargs = {**DEFAULTS.get(name, {}), **kwargs}
    if name == "mlp":
        nn, widths = ns.lib.nn, (64, *kwargs.pop("widths"))
        if kwargs:
            raise TypeError(f"mlp: unexpected arguments {sorted(kwargs)}")
        hidden = [m for a, b in zip(widths, widths[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
        return nn.Sequential(*hidden, nn.Linear(widths[-1], NUM_CLASSES))
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {name!r}")
    return getattr(ns.models, name.replace("-", "_"))(in_channels=1, num_classes=NUM_CLASSES,
                                                      **kwargs)


def as_inputs(model_name, x):
    """Flat (N, 64) pixels for the MLP, (N, 1, 8, 8) images for the ResNets."""
    return x if model_name == "mlp" else x.reshape(len(x), 1, 8, 8)


def make_optimizer(ns, model, *, lr, momentum, weight_decay, schedule, period):
    """SGD with momentum and weight decay, and its scheduler over ``period`` scheduler steps:
    cosine annealing to 0 (T_max = period) or a step decay by 10x every third of the period."""
    optimizer = ns.lib.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                                 weight_decay=weight_decay)
    schedulers = ns.lib.optim.lr_scheduler
    if schedule == "cosine":
        return optimizer, schedulers.CosineAnnealingLR(optimizer, T_max=period)
    if schedule == "step":
        return optimizer, schedulers.StepLR(optimizer, step_size=max(1, period // 3), gamma=0.1)
    raise ValueError(f"schedule must be 'cosine' or 'step', got {schedule!r}")


def train_step(ns, model, optimizer, x, y):
    """One SGD step on the batch ``(x, y)`` (NumPy arrays, x in the model's dtype): returns the
    batch's mean cross-entropy and its number of correct predictions."""
    x, y = ns.lib.tensor(x), ns.lib.tensor(y)
    out = model(x)
    loss = ns.lib.nn.functional.cross_entropy(out, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item(), (out.argmax(dim=1) == y).sum().item()


def evaluate(ns, model, x, y, batch_size=512):
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)`` in eval mode, without grad."""
    model.eval()
    total, correct = 0.0, 0
    with ns.lib.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = ns.lib.tensor(x[start:start + batch_size]), ns.lib.tensor(
                y[start:start + batch_size])
            out = model(xb)
            total += ns.lib.nn.functional.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(dim=1) == yb).sum().item()
    return total / len(x), correct / len(x)


METRICS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")


def train(model="resnet-small", *, engine="impl", epochs=15, seed=0, dtype="float32",
          batch_size=64, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine", out=None,
          progress=True, threads=None, **model_kwargs):
    """Train ``model`` on the digits for ``epochs`` epochs with ``engine`` (impl or torch):
    SGD, the learning rate scheduled per epoch, train mode for the steps and eval mode without
    grad for the test set after each epoch. Writes ``metrics.csv`` and ``metrics.png`` to
    ``out`` (if given); returns the list of per-epoch metric dicts (keys METRICS). ``threads``:
    set the engine's thread count (``set_num_threads``) first."""
    from tqdm import tqdm

    ns = namespace(engine)
    if threads:
        ns.lib.set_num_threads(threads)
    ns.lib.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_digits(seed)
    x_train, x_test = (as_inputs(model, x).astype(dtype) for x in (x_train, x_test))
    net = build_model(model, engine, **model_kwargs).to(getattr(ns.lib, dtype))
    optimizer, scheduler = make_optimizer(ns, net, lr=lr, momentum=momentum,
                                          weight_decay=weight_decay, schedule=schedule,
                                          period=epochs)
    batches = batch_order(len(x_train), batch_size, seed)
    steps = math.ceil(len(x_train) / batch_size)
    rows = []
    for epoch in range(1, epochs + 1):
        start, rate = time.perf_counter(), optimizer.param_groups[0]["lr"]
        net.train()
        total, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{epochs}", disable=not progress,
                   leave=False)
        for _ in bar:
            idx = next(batches)
            loss, hits = train_step(ns, net, optimizer, x_train[idx], y_train[idx])
            total, correct, seen = total + loss * len(idx), correct + hits, seen + len(idx)
            bar.set_postfix(loss=f"{total / seen:.4f}", acc=f"{correct / seen:.4f}")
        scheduler.step()
        test_loss, test_acc = evaluate(ns, net, x_test, y_test)
        rows.append(dict(zip(METRICS, (epoch, rate, total / seen, correct / seen, test_loss,
                                       test_acc, time.perf_counter() - start))))
        if progress:
            tqdm.write(f"epoch {epoch:3d}  lr {rate:.4g}  train loss {total / seen:.4f} "
                       f"acc {correct / seen:.4f}  test loss {test_loss:.4f} acc {test_acc:.4f}"
                       f"  {rows[-1]['seconds']:.1f} s")
    if out is not None:
        write_csv(os.path.join(out, "metrics.csv"), rows, METRICS)
        plot_metrics(rows, os.path.join(out, "metrics.png"),
                     f"{model} on digits, {engine} {dtype}")
    return rows


def trajectory(model="resnet-small", steps=50, dtype="float64", seed=0, batch_size=64, *,
               lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine", threads=None,
               **model_kwargs):
    """Trajectory conformance of impl against torch: build ``model`` in torch (seeded
    ``seed``, initialised in float32), transplant its weights into impl's model by
    ``state_dict`` (as NumPy arrays), run ``steps`` SGD steps in both in ``dtype`` on the same
    batches with the learning rate scheduled per step, then evaluate both on the test set.

    The truth is torch's trajectory in float64; the verdict is
    :func:`properties.models.judge_trajectory`'s (the rule of the conformance report's
    trajectory rows): impl's relative deviation within 4× the largest so far of torch's own
    rounding-level twin (its float32 run; in float64 its run on inputs moved by one ulp) plus
    8 float32 ulps or 1e-9, and final test accuracies within one point.

    Returns a plain dict: ``passed``, ``error`` (relative loss difference at the worst step,
    worst relative to its tolerance), ``tolerance`` (at that step), ``detail``, the curves
    (``impl_loss``, ``torch_loss``, ``truth_loss``, ``twin_loss``, ``impl_error``,
    ``twin_error``, ``tolerances``), ``lr_curve``, the test accuracies and the settings.
    ``threads``: set both libraries' thread counts first."""
    if threads:
        for engine in ("impl", "torch"):
            namespace(engine).lib.set_num_threads(threads)
    x_train, y_train, x_test, y_test = load_digits(seed)
    x_train, x_test = as_inputs(model, x_train), as_inputs(model, x_test)
    namespace("torch").lib.manual_seed(seed)
    weights = {k: v.numpy().copy()
               for k, v in build_model(model, "torch", **model_kwargs).state_dict().items()}
    options = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, schedule=schedule)

    def run(engine, run_dtype, inputs=x_train):
        ns = namespace(engine)
        net = build_model(model, engine, **model_kwargs)
        transplant(weights, net, engine)
        net.to(getattr(ns.lib, run_dtype))
        optimizer, scheduler = make_optimizer(ns, net, period=steps, **options)
        batches = batch_order(len(inputs), batch_size, seed)
        xs, losses, rates = inputs.astype(run_dtype), [], []
        net.train()
        for _ in range(steps):
            idx = next(batches)
            rates.append(optimizer.param_groups[0]["lr"])
            losses.append(train_step(ns, net, optimizer, xs[idx], y_train[idx])[0])
            scheduler.step()
        return np.array(losses), rates, evaluate(ns, net, x_test.astype(run_dtype), y_test)[1]

    impl_loss, rates, impl_acc = run("impl", dtype)
    torch_loss, _, torch_acc = run("torch", dtype)
    if dtype == "float64":
        truth = torch_loss
        signs = np.random.default_rng(seed).choice([-np.inf, np.inf], size=x_train.shape)
        twin = run("torch", dtype, np.nextafter(x_train, signs))[0]
    else:
        truth, twin = run("torch", "float64")[0], torch_loss
    verdict = judge_trajectory(impl_loss, truth, twin, dtype, impl_acc, torch_acc, "impl")
    return dict(verdict, detail=f"{model}: {verdict['detail']}", model=model, steps=steps,
                dtype=dtype, seed=seed, batch_size=batch_size, **options, lr_curve=rates,
                impl_loss=impl_loss.tolist(), torch_loss=torch_loss.tolist(),
                truth_loss=truth.tolist(), twin_loss=twin.tolist(),
                impl_error=verdict["errors"], twin_error=verdict["twin_errors"],
                impl_test_acc=impl_acc, torch_test_acc=torch_acc)


def transplant(weights, model, engine):
    """Copy ``weights`` (NumPy arrays by ``state_dict`` key) into ``engine``'s ``model``."""
    model.load_state_dict({k: namespace(engine).lib.from_numpy(v) for k, v in weights.items()})


def write_trajectory(result, out):
    """``trajectory.csv`` (one row per step) and ``trajectory.png`` (both loss curves and the
    relative deviation against its tolerance) in ``out``."""
    columns = ["impl_loss", "torch_loss", "truth_loss", "twin_loss", "impl_error", "twin_error",
               "tolerances"]
    rows = [{"step": i + 1, "lr": result["lr_curve"][i],
             **{c: result[c][i] for c in columns}} for i in range(result["steps"])]
    write_csv(os.path.join(out, "trajectory.csv"), rows, ["step", "lr", *columns])
    plt = _pyplot()
    fig, (ax, ax_err) = plt.subplots(1, 2, figsize=(11, 4))
    steps = np.arange(1, result["steps"] + 1)
    ax.plot(steps, result["torch_loss"], label=f"torch {result['dtype']}", lw=2.5, alpha=0.6)
    ax.plot(steps, result["impl_loss"], "--", label=f"impl {result['dtype']}")
    ax.set(xlabel="SGD step", ylabel="training loss (batch)",
           title=f"{result['model']}: same weights, same batches")
    ax.legend()
    ax_err.semilogy(steps, np.maximum(result["impl_error"], 1e-18), label="impl vs truth")
    twin = "torch float32" if result["dtype"] == "float32" else "torch, inputs ±1 ulp,"
    ax_err.semilogy(steps, np.maximum(result["twin_error"], 1e-18), label=f"{twin} vs truth")
    ax_err.semilogy(steps, result["tolerances"], "k:", label="tolerance")
    ax_err.set(xlabel="SGD step", ylabel="relative loss difference",
               title="PASS" if result["passed"] else "FAIL")
    ax_err.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "trajectory.png"), dpi=100)
    plt.close(fig)


def write_csv(path, rows, columns):
    """Write ``rows`` (dicts) as CSV with a header of ``columns``, creating the folder."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def plot_metrics(rows, path, title):
    """Loss and accuracy curves (train and test) per epoch, side by side, saved to ``path``."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, what in zip(axes, ("loss", "acc")):
        for split in ("train", "test"):
            ax.plot(epochs, [r[f"{split}_{what}"] for r in rows], marker="o", ms=3, label=split)
        ax.set(xlabel="epoch", ylabel="accuracy" if what == "acc" else "cross-entropy")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
