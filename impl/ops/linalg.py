"""Matrix products: matmul (and the ``@`` operator), mm, bmm.

matmul follows torch's (and NumPy's) rules: a 1-D first operand is a row vector and a 1-D
second operand a column vector, the added dim removed from the result; dims before the last two
are batch dims and broadcast.
"""

from __future__ import annotations

import numpy as np

from impl.function import Function
from impl.ops._args import check_tensor, takes_out

__all__ = ["matmul", "mm", "bmm"]


class Matmul(Function):
    def forward(self, a, b):
        self.save(a, b)
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.saved
        # A 1-D a acts as a (1, k) matrix and a 1-D b as a (k, 1) one; g lacks the matching
        # size-1 dims. Batch dims that were broadcast are summed by the base.
        a2 = a if a.ndim > 1 else a[None, :]
        b2 = b if b.ndim > 1 else b[:, None]
        g2 = g if b.ndim > 1 else g[..., None]
        g2 = g2 if a.ndim > 1 else g2[..., None, :]
        ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
        gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
        return (ga if a.ndim > 1 else ga[..., 0, :]), (gb if b.ndim > 1 else gb[..., 0])


def _shape(x):
    return "x".join(map(str, x.shape))


@takes_out
def matmul(input, other):
    """Matrix product with torch's rules for 1-D operands (a vector on the left is a row, on the
    right a column) and broadcast batch dims (torch.matmul, the ``@`` operator)."""
    check_tensor(input, "matmul")
    check_tensor(other, "matmul", "other")
    return _matmul(input, other, "matmul", "other")


def _matmul(input, other, op, name):
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"{op}: both arguments to matmul need to be at least 1D, but they are "
                           f"{input.ndim}D and {other.ndim}D")
    if input.dtype != other.dtype:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, but got "
                           f"{input.dtype} and {other.dtype}")
    k = other.shape[-2] if other.ndim > 1 else other.shape[0]
    if input.shape[-1] != k:
        raise RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied ({_shape(input)} "
                           f"and {_shape(other)}): size {input.shape[-1]} of the last dim of "
                           f"'input' must equal size {k} of the contracted dim of '{name}'")
    try:
        np.broadcast_shapes(input.shape[:-2], other.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: the batch dims of 'input' {input.shape} and '{name}' "
                           f"{other.shape} (all but the last two) are not broadcastable") from None
    return Matmul.apply(input, other)


@takes_out
def mm(input, mat2):
    """Product of two matrices (2-D tensors), no broadcasting (torch.mm)."""
    for name, x in (("input", input), ("mat2", mat2)):
        if check_tensor(x, "mm", name).ndim != 2:
            raise RuntimeError(f"mm: '{name}' must be a matrix (2-D), got shape {x.shape}")
    return _matmul(input, mat2, "mm", "mat2")


@takes_out
def bmm(input, mat2):
    """Batched product of (b, n, k) and (b, k, m) tensors, no broadcasting (torch.bmm)."""
    for name, x in (("input", input), ("mat2", mat2)):
        if check_tensor(x, "bmm", name).ndim != 3:
            raise RuntimeError(f"bmm: '{name}' must be a 3-D tensor, got shape {x.shape}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes must match, got shapes {input.shape} and "
                           f"{mat2.shape}")
    return _matmul(input, mat2, "bmm", "mat2")


METHODS = {
    "matmul": matmul, "__matmul__": matmul,
    "__rmatmul__": lambda self, other: matmul(other, self), "mm": mm, "bmm": bmm,
}
