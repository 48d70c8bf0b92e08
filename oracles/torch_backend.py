"""PyTorch as the oracle, or as the subject: a tape-style adapter over the ``torch`` module.

As the oracle every input is copied into a fresh contiguous tensor (its answer must not depend
on the layout a check presents); as the subject the arrays are shared, strides and all, so the
memory-layout checks reach torch's kernels — but for negative strides, which torch tensors
cannot have (those rows are not applicable).
"""

from __future__ import annotations

import numpy as np

from oracles.adapter import ModuleAdapter, first_output
from oracles.base import NotApplicable, resolve


class TorchBackend(ModuleAdapter):
    conventions = {"*": "torch"}

    def __init__(self, subject=False):
        import torch

        super().__init__(torch, "torch")
        self.torch, self.subject = torch, subject

    def tensor(self, array, requires_grad=False):
        if not self.subject:
            array = np.array(array, order="C")
        elif any(s < 0 for s in array.strides):
            raise NotApplicable("torch tensors cannot have negative strides")
        t = self.torch.from_numpy(array)
        return t.requires_grad_(True) if requires_grad else t

    def empty(self, dtype):
        return self.torch.empty(0, dtype=getattr(self.torch, np.dtype(dtype).name))

    def depends(self, spec, example, i):
        """Whether the op's (first) output requires grad when argument ``i`` alone does: False
        where the call does not use it (a bound left out, an affine part switched off)."""
        out = self.call(spec, self._tensors(example, (i,)), example.kwargs)
        return bool(first_output(out).requires_grad)

    @property
    def models(self):
        """The torchvision architectures written with torch.nn (torchvision itself does not
        install beside the pinned CPU torch)."""
        from oracles import torch_models

        return torch_models

    def takes_out(self, spec):
        """Whether torch documents an ``out=`` argument for the op."""
        if spec.name.startswith("Tensor."):
            return False
        doc = resolve(self.torch, spec.name).__doc__ or ""
        return "out (Tensor" in doc or "out (tuple" in doc


class TorchSubject(TorchBackend):
    """torch as the subject (the harness's own false-positive check), with the defects of
    torch 2.13's CPU kernels this harness found, each reproducible in a few lines of torch."""

    xfail = {
        # x = torch.randn(2, 2, 3, 1).as_strided((2, 2, 3, 1), (6, 1, 2, 1)): channels-last,
        # its size-1 width with a stride other than the channels'. batch_norm(x, None, None,
        # w, b, training=True) backward for a contiguous cotangent g gives b.grad != g.sum((0,
        # 2, 3)) (and wrong weight and input gradients); x.contiguous() gives the right ones.
        ("nn.functional.batch_norm", "cotangent", "self", "*", "*"):
            "torch bug: batch_norm's backward mixes memory formats when the input is "
            "channels-last with a size-1 dimension of another stride (wrong gradients)",
        # float32 x = randn(16, 8, 9, 9) * 0.1 + 30: the channels-last result is 6x as far from
        # the float64 truth as the contiguous one (1.3e-4 against 2.2e-5)
        ("nn.functional.batch_norm", "layout", "self", "*", "*"):
            "torch's batch_norm takes another CPU kernel for channels-last and strided inputs, "
            "less accurate in float32 (and wrong in the case above)",
        # x = torch.randn(3, 5, 6).permute(2, 0, 1).unsqueeze(0): (1, 6, 3, 5), strides (6, 1,
        # 30, 6); w = torch.randn(4, 3, 4, 3).contiguous(memory_format=torch.channels_last):
        # conv2d(x, w, None, 2, 1, 1, groups=2) backward gives a weight gradient 5.6 away from
        # x.contiguous()'s (float64; groups=1 is right)
        **dict.fromkeys([("nn.functional.conv2d", "layout", "self", "*", layout)
                         for layout in ("channels_last", "permuted")],
                        "torch bug: grouped conv2d's weight gradient is wrong for a channels-last "
                        "weight and a channels-last input whose batch of 1 has another stride"),
        # x = torch.randn(2, 3, 3, 2).transpose(2, 3).requires_grad_(); t = randint(0, 3,
        # (2, 2, 3)); nll_loss(x, t).backward() raises; x.contiguous() works
        ("nn.functional.nll_loss", "layout", "self", "*", "*"):
            "torch bug: nll_loss's backward of a non-contiguous 4-d input raises 'grad_input "
            "must be contiguous'",
        # documented in the spec of var[dim=()]: the forward reduces every dim, the backward
        # divides by 1 - correction as if none were reduced
        **dict.fromkeys([("var[dim=()]", check, "fd", "*", "*") for check in ("fd", "jacobian")],
                        "torch bug: var(x, dim=()) backward divides by 1 - correction (wrong "
                        "gradient)"),
        ("Tensor.view", "layout", "self", "*", "*"):
            "torch's view raises where the input's strides allow no view (documented: "
            "reshape copies there)",
    }

    def __init__(self):
        super().__init__(subject=True)
