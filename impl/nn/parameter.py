"""Parameter: the tensor a Module registers as one of its learnable weights."""

from __future__ import annotations

import numpy as np

from impl.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that a :class:`~impl.nn.Module` registers as a parameter when assigned as
    an attribute (torch.nn.Parameter). It shares memory with ``data`` and requires grad by
    default; ``Parameter()`` is an empty float32 parameter."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = Tensor(np.empty(0, np.float32))
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: argument 'data' must be Tensor, not {type(data).__name__}")
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def zero_grad_(params, set_to_none=True):
    """Clear the ``.grad`` of each tensor in ``params``: drop it (``set_to_none``) or zero it in
    place, as ``Module.zero_grad`` and ``Optimizer.zero_grad`` do."""
    for p in params:
        if p.grad is not None:
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0
