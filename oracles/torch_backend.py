"""PyTorch as an oracle: the op by its public name, VJPs by ``torch.autograd.grad``."""

from __future__ import annotations

import numpy as np

from oracles.base import Backend, Unsupported, as_outputs, resolve


class TorchBackend(Backend):
    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch

    def _call(self, spec, example, requires_grad):
        torch = self.torch
        args = [torch.from_numpy(np.array(a, order="C")).requires_grad_(
                    requires_grad and i in spec.diff)
                if isinstance(a, np.ndarray) else a for i, a in enumerate(example.args)]
        try:
            fn = resolve(torch, spec.torch_name or spec.name, args)
        except AttributeError as exc:
            raise Unsupported(f"torch has no {spec.torch_name or spec.name}") from exc
        out = (spec.call or (lambda f, *a, **k: f(*a, **k)))(fn, *args, **example.kwargs)
        return args, out

    def forward(self, spec, example, no_grad=True):
        with self.torch.no_grad():
            _, out = self._call(spec, example, False)
        return as_outputs(out, lambda t: t.numpy() if hasattr(t, "numpy") else t)

    def vjp(self, spec, example, cotangent):
        args, out = self._call(spec, example, True)
        first = out[0] if isinstance(out, (tuple, list)) else out
        inputs = [args[i] for i in spec.diff]
        grads = self.torch.autograd.grad(first, inputs, self.torch.from_numpy(cotangent),
                                         allow_unused=True)
        grads = [np.zeros(x.shape, x.detach().numpy().dtype) if g is None else g.numpy()
                 for x, g in zip(inputs, grads)]
        return as_outputs(out, lambda t: t.detach().numpy()), grads
