"""The examples run and do what they say: the seed network's losses equal torch's for the same
network and steps; the digits MLP reaches >= 95 % test accuracy."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import impl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_network_matches_torch(capsys):
    steps, lr, seed = 8, 0.5, 3
    losses = load_example("seed_network").main(steps=steps, lr=lr, seed=seed)
    assert "x8 =" in capsys.readouterr().out
    assert len(losses) == steps and all(b < a for a, b in zip(losses, losses[1:]))
    # The same network and gradient descent in torch, from the same initial weights.
    gen = impl.Generator(seed)
    w_hidden = torch.tensor(impl.randn(4, 2, generator=gen).numpy(), requires_grad=True)
    w_out = torch.tensor(impl.randn(1, 4, generator=gen).numpy(), requires_grad=True)
    b_hidden = torch.zeros(4, requires_grad=True)
    b_out = torch.zeros(1, requires_grad=True)
    x = torch.tensor([0.05, 0.10])
    expected = []
    for _ in range(steps):
        x7 = torch.sigmoid(torch.sigmoid(x @ w_hidden.T + b_hidden) @ w_out.T + b_out)
        x8 = (0.5 * (x7 - 0.9) ** 2).sum()
        x8.backward()
        with torch.no_grad():
            for p in (w_hidden, b_hidden, w_out, b_out):
                p -= lr * p.grad
                p.grad = None
        expected.append(x8.item())
    np.testing.assert_allclose(losses, expected, rtol=1e-5)


def test_digits_mlp_reaches_95_percent(capsys):
    accuracy = load_example("digits_mlp").main(epochs=15, seed=0)
    assert accuracy >= 0.95
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 15 and lines[-1].startswith("epoch 15")


def test_seed_network_runs_as_a_script():
    env = {**os.environ, "PYTHONPATH": str(Path(impl.__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, str(EXAMPLES / "seed_network.py")], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.count("x8 =") == 10
