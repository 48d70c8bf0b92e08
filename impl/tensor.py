"""Tensor and the reverse sweep.

A Tensor wraps a NumPy array. A tensor made by an op that needs gradients points to its
``grad_fn``: the :class:`~impl.function.Function` node that made it, whose ``parents`` are the
op's input tensors. That is the seed's computation graph: ``backward()`` orders the nodes
topologically and sweeps them in reverse, accumulating ``grad[parent] += vjp(grad[node])`` into
every parent, so a tensor used twice receives both contributions. Leaves that require grad
collect their total in ``.grad``. Op methods (``+``, ``sum``, ``reshape`` …) are attached in
:mod:`impl.ops`.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np

from impl.hooks import RemovableHandle

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_INFERRED_DTYPES = (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_))


class Tensor:
    """An n-dimensional array that can record the ops applied to it (torch.Tensor)."""

    # ``_hooks`` (a leaf's gradient hooks) is set only by register_hook: read it with getattr.
    __slots__ = ("data", "grad", "grad_fn", "_requires_grad", "_retains_grad", "_hooks",
                 "__weakref__")
    # Make NumPy defer to Tensor's reflected operators (ndarray + Tensor -> Tensor.__radd__).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False):
        from impl.creation import as_array

        self.data = as_array(data)
        self.grad = None
        self.grad_fn = None
        self._retains_grad = False
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, data, grad_fn):
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._retains_grad = False
        return t

    # -- autograd state -------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad: you can only change requires_grad flags of leaf variables.")
        if flag and self.data.dtype not in FLOAT_DTYPES:
            raise RuntimeError(
                "requires_grad: only Tensors of floating point dtype can require gradients, "
                f"got dtype {self.data.dtype}")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError(
                "retain_grad: can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient each time a backward computes it; a
        tensor it returns replaces the gradient (of the same shape). A non-leaf's hooks run
        once its gradient is complete, before it flows on (and before ``retain_grad``'s
        ``.grad``); a leaf's before the gradient accumulates into ``.grad``. Returns a handle
        whose ``remove()`` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        if self.grad_fn is not None:  # a non-leaf's hooks live on the node that computes it
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = OrderedDict()
            hooks = self.grad_fn.hooks
        else:
            hooks = getattr(self, "_hooks", None)
            if hooks is None:
                hooks = self._hooks = OrderedDict()
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._from_op(self.data, None)

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) · ``gradient`` into ``.grad`` of every leaf that requires it.

        ``gradient`` may be omitted only for a one-element tensor (it is then 1). The graph's
        saved arrays are freed afterwards unless ``retain_graph=True``.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    "backward: grad can be implicitly created only for scalar outputs; "
                    f"this tensor has shape {self.shape}, pass gradient= of that shape")
            gradient = np.ones_like(self.data)
        else:
            gradient = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
            if gradient.shape != self.data.shape:
                raise RuntimeError(
                    f"backward: gradient has shape {tuple(gradient.shape)} but the tensor has "
                    f"shape {self.shape}; they must match")
            gradient = gradient.astype(self.data.dtype, copy=False)
        if self.grad_fn is None:
            _accumulate(self, _hooked(getattr(self, "_hooks", None), gradient))
            return
        order = _topological_order(self.grad_fn)
        grads = {self.grad_fn: gradient}
        retained = {self.grad_fn: self} if self._retains_grad else {}
        hooked_leaves = {}  # id -> (leaf, its summed gradient): hooks see the whole gradient
        for fn in order:
            grad = grads.pop(fn, None)
            if grad is None:  # every path to this node had a None (non-differentiable) gradient
                continue
            if fn.hooks:
                grad = _hooked(fn.hooks, grad)
            if fn in retained:
                _accumulate(retained.pop(fn), grad)
            for parent, g in zip(fn.parents, fn.input_grads(grad, last_use=not retain_graph)):
                if g is None:
                    continue
                node = parent.grad_fn
                if node is None and getattr(parent, "_hooks", None):
                    leaf, total = hooked_leaves.get(id(parent), (parent, None))
                    hooked_leaves[id(parent)] = (leaf, g if total is None else total + g)
                elif node is None:
                    _accumulate(parent, g, steal=True)
                else:
                    grads[node] = grads[node] + g if node in grads else g
                    if parent._retains_grad:
                        retained[node] = parent
            if not retain_graph:
                fn.release()
        for leaf, g in hooked_leaves.values():
            _accumulate(leaf, _hooked(leaf._hooks, g))

    # -- array-like accessors ---------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return self.data.size

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self):
        """The underlying array (shared, not copied), as torch's ``.numpy()``."""
        if self._requires_grad:
            raise RuntimeError(
                "numpy: can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy()")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"item: a Tensor with {self.data.size} elements cannot be converted to Scalar")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(
                "bool: Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        return np.array(self.data, dtype=dtype, copy=copy)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype not in _INFERRED_DTYPES:  # as torch: shown unless tensor() infers it
            extra += f", dtype=impl.{self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{type(self.grad_fn).__name__}Backward>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__


# References to a gradient in Tensor.backward's loop when _accumulate(steal=True) counts them:
# the loop's ``g``, the (parent, g) tuple the zip keeps for reuse, input_grads' list, the ``g``
# parameter and getrefcount's argument. More means someone else holds it (tested in test_engine).
_ENGINE_REFS = 5


def _hooked(hooks, grad):
    """``grad`` after each of ``hooks`` (an OrderedDict of ``hook(grad) -> None or tensor``)."""
    for hook in tuple((hooks or {}).values()):
        new = hook(Tensor._from_op(grad, None))
        if new is not None:
            new = new.data if isinstance(new, Tensor) else np.asarray(new)
            if new.shape != grad.shape:
                raise RuntimeError(f"register_hook: hook returned a gradient of shape "
                                   f"{tuple(new.shape)} for a tensor of shape {grad.shape}")
            grad = new.astype(grad.dtype, copy=False)
    return grad


def _accumulate(t, g, steal=False):
    # The first contribution becomes .grad. As torch's AccumulateGrad, it is taken as it is when
    # nothing else can see it (``steal``: an array that owns its memory, referred to only from
    # the engine's loop — a backward's fresh result), else copied, so that .grad never aliases
    # a graph buffer, the caller's cotangent or another leaf's gradient. np.array also turns the
    # NumPy scalar that a sum of 0-d arrays gives back into an array.
    if t.grad is not None:
        g = np.asarray(t.grad.data + g)
    elif not (steal and type(g) is np.ndarray and g.base is None and g.flags.writeable
              and sys.getrefcount(g) <= _ENGINE_REFS):
        g = np.array(g)
    t.grad = Tensor._from_op(g, None)


def _topological_order(root):
    """Nodes reachable from ``root``, each before all the nodes it depends on."""
    order, visited = [], {root}
    stack = [(root, iter(root.parents))]
    while stack:
        fn, parents = stack[-1]
        for p in parents:
            node = p.grad_fn
            if node is not None and node not in visited:
                visited.add(node)
                stack.append((node, iter(node.parents)))
                break
        else:
            stack.pop()
            order.append(fn)
    order.reverse()
    return order
