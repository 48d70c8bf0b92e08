"""The Function base: one graph node per primitive op.

A primitive subclasses :class:`Function` and writes ``forward`` (NumPy arrays in, one array out)
and ``backward`` (the output's gradient in, one gradient per tensor input out) side by side.
``apply`` runs the forward, and — when gradients are enabled and an input requires them — records
the node in the graph. Gradients that come back with a broadcast shape are reduced to the input's
shape here, once, so no op ever sums over broadcast axes itself.
"""

from __future__ import annotations

import numpy as np

from impl import _grad_mode
from impl._kernels import sum_to_shape


class Function:
    """A primitive op and, once applied, the graph node that produced its output tensor.

    ``parents`` are the input tensors in order; ``saved`` holds the arrays the backward needs
    (set with :meth:`save`); it becomes ``None`` when the graph is freed after a backward.
    ``last_use`` is true during a backward after which the saved arrays are freed: a backward
    may then overwrite the buffers it saved itself (never an input's array) as scratch.
    """

    last_use = False
    hooks = None  # the gradient hooks of the output tensor (Tensor.register_hook), by handle id

    def save(self, *arrays):
        self.saved = arrays

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on tensors ``inputs`` with non-tensor keyword ``params``; return a Tensor."""
        from impl.tensor import Tensor

        fn = cls()
        fn.saved = ()
        # NumPy's SIMD loops (AVX-512's exp and log among them) take a scalar path, rounding
        # differently by an ulp, for negative strides: such inputs are copied first, so that
        # results never depend on the layout.
        arrays = [t.data if min(t.data.strides, default=0) >= 0 else
                  np.ascontiguousarray(t.data) for t in inputs]
        # NumPy ufuncs return scalars for 0-d inputs; a tensor always holds an ndarray.
        out = np.asarray(fn.forward(*arrays, **params))
        if _grad_mode.enabled and any(t.requires_grad for t in inputs):
            fn.parents = inputs
            return Tensor._from_op(out, fn)
        return Tensor._from_op(out, None)

    def input_grads(self, grad, last_use=False):
        """Run ``backward`` and bring each gradient to its parent's shape and dtype;
        ``last_use``: the saved arrays are freed afterwards."""
        if self.saved is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward: trying to backward through the graph a second "
                "time (or to access saved tensors after they have already been freed). Specify "
                "retain_graph=True on the first backward() if you need to backward twice.")
        self.last_use = last_use
        grads = self.backward(grad)
        if not isinstance(grads, tuple):
            grads = (grads,)
        out = []
        for parent, g in zip(self.parents, grads):
            if g is None or not parent.requires_grad:
                out.append(None)
                continue
            g = np.asarray(g)
            if g.shape != parent.data.shape:
                g = sum_to_shape(g, parent.data.shape)
            if g.dtype != parent.data.dtype:
                g = g.astype(parent.data.dtype)
            out.append(g)
        return out

    def release(self):
        """Free the saved arrays (after a backward without retain_graph)."""
        self.saved = None

