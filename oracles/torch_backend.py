"""PyTorch as an oracle: the op by its public name, VJPs by ``torch.autograd.grad``."""

from __future__ import annotations

import functools

import numpy as np

from oracles.base import Backend, Unsupported, as_outputs, resolve


class TorchBackend(Backend):
    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch

    def _call(self, spec, example, requires=(), bind=None):
        """The op on the example's arrays as tensors, those at the indices ``requires`` requiring
        grad; ``bind``: keywords bound to the op itself (out=)."""
        torch = self.torch
        args = [torch.from_numpy(np.array(a, order="C")).requires_grad_(i in requires)
                if isinstance(a, np.ndarray) else a for i, a in enumerate(example.args)]
        try:
            fn = resolve(torch, spec.torch_name or spec.name, args)
        except AttributeError as exc:
            raise Unsupported(f"torch has no {spec.torch_name or spec.name}") from exc
        fn = functools.partial(fn, **bind) if bind else fn
        out = (spec.call or (lambda f, *a, **k: f(*a, **k)))(fn, *args, **example.kwargs)
        return args, out

    def forward(self, spec, example, no_grad=True):
        with self.torch.no_grad():
            _, out = self._call(spec, example)
        return as_outputs(out, lambda t: t.numpy() if hasattr(t, "numpy") else t)

    def depends(self, spec, example, i):
        """Whether the op's (first) output requires grad when argument ``i`` alone does: False
        where the call does not use it (a bound left out, an affine part switched off)."""
        _, out = self._call(spec, example, (i,))
        return bool((out[0] if isinstance(out, (tuple, list)) else out).requires_grad)

    def takes_out(self, spec):
        """Whether torch documents an ``out=`` argument for the op."""
        if (spec.torch_name or spec.name).startswith("Tensor."):
            return False
        doc = resolve(self.torch, spec.torch_name or spec.name).__doc__ or ""
        return "out (Tensor" in doc or "out (tuple" in doc

    def forward_out(self, spec, example, dtypes):
        torch = self.torch
        outs = [torch.empty(0, dtype=getattr(torch, np.dtype(d).name)) for d in dtypes]
        with torch.no_grad():
            _, out = self._call(spec, example,
                                bind={"out": outs[0] if len(outs) == 1 else tuple(outs)})
        return as_outputs(out, lambda t: t.numpy()), as_outputs(outs, lambda t: t.numpy())

    def vjp(self, spec, example, cotangent):
        args, out = self._call(spec, example, spec.diff)
        first = out[0] if isinstance(out, (tuple, list)) else out
        inputs = [args[i] for i in spec.diff]
        grads = self.torch.autograd.grad(first, inputs, self.torch.from_numpy(cotangent),
                                         allow_unused=True)
        grads = [np.zeros(x.shape, x.detach().numpy().dtype) if g is None else g.numpy()
                 for x, g in zip(inputs, grads)]
        return as_outputs(out, lambda t: t.detach().numpy()), grads
