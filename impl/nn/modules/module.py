"""Module: the base class of layers and models, with torch.nn.Module's registration rules.

Assigning a :class:`Parameter` or a :class:`Module` as an attribute registers it (in
``_parameters`` / ``_modules``); ``register_buffer`` registers non-learnable state. Everything
that walks the tree — ``parameters``, ``state_dict``, ``train``, ``to`` — follows those registries,
and the names it produces are torch's ("0.weight", "encoder.layer.bias"). Forward pre-hooks,
forward hooks and full backward hooks run around a call as torch's do.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from impl import _grad_mode
from impl.creation import _check_dtype
from impl.function import Function
from impl.hooks import RemovableHandle
from impl.nn.parameter import Parameter, zero_grad_
from impl.tensor import Tensor


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def _addindent(s, num_spaces):
    first, *rest = s.split("\n")
    return "\n".join([first] + [" " * num_spaces + line for line in rest])


def _check_name(name, kind, container, module):
    """torch's checks on a name being registered as a ``kind`` (parameter, buffer, module)."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f"{kind} name can't contain \".\", got: {name}")
    if name == "":
        raise KeyError(f"{kind} name can't be empty string \"\"")
    if hasattr(module, name) and name not in container:
        raise KeyError(f"attribute '{name}' already exists")


# The hooks of a module, each an OrderedDict keyed by the RemovableHandle's id (as torch: the
# ``*_with_kwargs`` and ``*_always_called`` dicts flag the hooks registered with those options).
_HOOK_DICTS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
               "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_backward_hooks")


class Module:
    """Base class for all neural network modules (torch.nn.Module).

    Subclasses call ``super().__init__()`` first, assign their parameters and submodules as
    attributes, and implement ``forward``; calling the module runs ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        for name in _HOOK_DICTS:
            object.__setattr__(self, name, OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        # Every layer's hot path: without hooks, a call is just the forward.
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        """torch's ``_call_impl``: pre-hooks may replace the arguments, then the full backward
        hooks wrap the input and output, the forward runs, and forward hooks may replace the
        output. If anything raises, the ``always_call`` forward hooks not yet run still run."""
        called, result = set(), None
        try:
            for hook_id, hook in tuple(self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    new = hook(self, args, kwargs)
                    if new is not None:
                        if not (isinstance(new, tuple) and len(new) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple of "
                                               f"(new_args, new_kwargs), but got {new}.")
                        args, kwargs = new
                else:
                    new = hook(self, args)
                    if new is not None:
                        args = new if isinstance(new, tuple) else (new,)
            backward_hook = None
            if self._backward_hooks:
                backward_hook = _BackwardHook(self, tuple(self._backward_hooks.values()))
                args = backward_hook.setup_input_hook(args)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in tuple(self._forward_hooks.items()):
                called.add(hook_id)
                result = self._forward_hook(hook_id, hook, args, kwargs, result)
            if backward_hook is not None:
                result = backward_hook.setup_output_hook(result)
            return result
        except Exception:
            for hook_id, hook in tuple(self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called and hook_id not in called:
                    try:
                        result = self._forward_hook(hook_id, hook, args, kwargs, result)
                    except Exception as exc:
                        warnings.warn("module forward hook with ``always_call=True`` raised an "
                                      "exception that was silenced as another error was raised "
                                      f"in forward: {exc}", stacklevel=2)
            raise

    def _forward_hook(self, hook_id, hook, args, kwargs, result):
        """The output after one forward hook: its return value, or ``result`` if None."""
        new = (hook(self, args, kwargs, result) if hook_id in self._forward_hooks_with_kwargs
               else hook(self, args, result))
        return result if new is None else new

    # -- hooks ----------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each forward; it returns None or the new ``args``
        (a non-tuple is wrapped in a tuple). ``with_kwargs``: ``hook(module, args, kwargs)``
        returning None or ``(args, kwargs)``. ``prepend``: run it before the hooks already
        registered. Returns a :class:`RemovableHandle`."""
        return _add_hook("register_forward_pre_hook", self._forward_pre_hooks, hook, prepend,
                         [(self._forward_pre_hooks_with_kwargs, with_kwargs)])

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Call ``hook(module, args, output)`` after each forward; it returns None or a
        replacement output. ``with_kwargs``: ``hook(module, args, kwargs, output)``.
        ``always_call``: also call it when the forward (or a hook) raises. ``prepend``: run it
        before the hooks already registered. Returns a :class:`RemovableHandle`."""
        return _add_hook("register_forward_hook", self._forward_hooks, hook, prepend,
                         [(self._forward_hooks_with_kwargs, with_kwargs),
                          (self._forward_hooks_always_called, always_call)])

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` once per backward, when the gradient
        with respect to the module's input is computed (or, if no input requires grad, when
        the gradient with respect to its output is); it returns None or a replacement
        ``grad_input``. Both are tuples aligned with the positional arguments and outputs, None
        for non-tensors and inputs that do not require grad. impl supports calls with at most
        one input tensor requiring grad and one output tensor. Returns a
        :class:`RemovableHandle`."""
        return _add_hook("register_full_backward_hook", self._backward_hooks, hook, prepend, [])

    # -- registration -------------------------------------------------------------------------
    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for an absent one) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name(name, "parameter", self._parameters, self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (impl.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add non-learnable state ``tensor`` (or None) under ``name``; a persistent buffer is
        part of ``state_dict``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name(name, "buffer", self._buffers, self)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(impl Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add the child ``module`` (or None) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        _check_name(name, "module", self._modules, self)
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name):
        # Only reached when normal lookup fails: registered members live in the three dicts.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Parameter):
            if "_parameters" not in d:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_member(name, keep=self._parameters)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if "_modules" not in d:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_member(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in d and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(impl.nn.Parameter or None expected)")
            self._parameters[name] = None
        elif "_modules" in d and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (impl.nn.Module or None expected)")
            self._modules[name] = None
        elif "_buffers" in d and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(impl Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._remove_member(name)
        else:
            object.__delattr__(self, name)

    def _remove_member(self, name, keep=None):
        # ``keep``: the registry being assigned to, where the name keeps its place in the order.
        for registry in (self.__dict__, self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # -- walking the tree ---------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(name, module)`` for this module and every descendant, each once."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                                remove_duplicate)

    def modules(self):
        """Yield this module and every descendant."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, module)`` for the immediate children."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def children(self):
        """Yield the immediate children."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        memo = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or value in memo:
                    continue
                if remove_duplicate:
                    memo.add(value)
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(name, parameter)``, names dotted from this module ("0.weight")."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Yield the parameters of this module (and of its descendants if ``recurse``)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(name, buffer)``, names dotted from this module."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """Yield the buffers of this module (and of its descendants if ``recurse``)."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn):
        """Call ``fn`` on every child (recursively) and then on this module; return self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients --------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (``mode=False``: evaluation mode) on this module and all
        descendants; return self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter; return self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Drop (``set_to_none``) or zero the gradient of every parameter."""
        zero_grad_(self.parameters(), set_to_none)

    # -- dtype ------------------------------------------------------------------------------------
    def to(self, dtype):
        """Cast the floating-point parameters (and their gradients) and buffers to ``dtype`` in
        place — the Parameter objects stay the same; return self."""
        dt = _check_dtype(dtype, "Module.to")
        if dt.kind != "f":
            raise TypeError("nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={dt}")
        for t in [*self.parameters(), *self.buffers()]:
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dt, copy=False)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dt, copy=False)
        return self

    def float(self):
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self):
        """Cast floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    # -- state dict -----------------------------------------------------------------------------
    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer by dotted name; the values
        are detached tensors sharing memory with the module's (the objects if ``keep_vars``)."""
        if destination is None:
            destination = OrderedDict()
        for name, value in self._parameters.items():
            if value is not None:
                destination[prefix + name] = value if keep_vars else value.detach()
        for name, value in self._buffers.items():
            if value is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = value if keep_vars else value.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy the values of ``state_dict`` into this module's parameters and buffers, in place.

        Shapes must match. With ``strict``, the keys must match ``state_dict()``'s exactly.
        Raises RuntimeError listing every problem, as torch; returns the missing and unexpected
        keys otherwise.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, (Tensor, np.ndarray)):
                errors.append(f'While copying the parameter named "{key}", expected impl Tensor '
                              f"or ndarray from checkpoint but received {type(value)}")
                continue
            value = value.data if isinstance(value, Tensor) else value
            if value.shape != target.data.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(value.shape)} from checkpoint, the shape in current model "
                              f"is {tuple(target.data.shape)}.")
                continue
            target.data[...] = value
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # -- repr -----------------------------------------------------------------------------------
    def extra_repr(self):
        """The module's own settings for its repr, e.g. "in_features=3, out_features=4"."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


# -- hooks ----------------------------------------------------------------------------------------
def _add_hook(op, hooks, hook, prepend, flags):
    """Register ``hook`` in ``hooks`` (first if ``prepend``) under a new handle's id, flagged in
    each dict of the (dict, flag) pairs ``flags`` whose flag is set."""
    if not callable(hook):
        raise TypeError(f"{op}: hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, extra_dict=[d for d, _ in flags])
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    for flagged, flag in flags:
        if flag:
            flagged[handle.id] = True
    return handle


class BackwardHookFunction(Function):
    """Identity on one tensor whose backward hands the gradient to ``on_backward`` and passes
    on what it returns: the node torch puts on a module's input and output when the module has
    full backward hooks (its ``grad_fn`` is named as torch's)."""

    def forward(self, x, *, on_backward):
        self.on_backward = on_backward
        return x.view()  # as torch, the forward (and the caller) get a view of the tensor

    def backward(self, grad):
        return self.on_backward(grad)


class _BackwardHook:
    """One module call's full backward hooks (torch.utils.hooks.BackwardHook): the output's
    node records grad_output; the input's node, reached once the gradient with respect to the
    input is complete, calls the hooks and passes on the grad_input they return. When no input
    requires grad, the output's node calls them, with grad_input all None."""

    def __init__(self, module, hooks):
        self.module, self.hooks = module, hooks
        self.grad_outputs = None
        self.n_inputs, self.input_index = 0, None

    def _unsupported(self, what):
        return NotImplementedError(
            f"{type(self.module).__name__}: impl's full backward hooks support module calls with "
            f"at most one input tensor that requires grad and one output tensor; this call has "
            f"{what}")

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        needed = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not needed or not _grad_mode.enabled:
            return args
        if len(needed) > 1:
            raise self._unsupported(f"{len(needed)} input tensors that require grad")
        (self.input_index,) = needed
        args = list(args)
        args[self.input_index] = BackwardHookFunction.apply(args[self.input_index],
                                                            on_backward=self._input_grad)
        return tuple(args)

    def setup_output_hook(self, result):
        if isinstance(result, Tensor):
            if result.requires_grad and _grad_mode.enabled:
                return BackwardHookFunction.apply(result, on_backward=self._output_grad)
        elif isinstance(result, (tuple, list)):
            if _grad_mode.enabled and any(isinstance(r, Tensor) and r.requires_grad
                                          for r in result):
                raise self._unsupported(f"a {type(result).__name__} of outputs")
        else:
            warnings.warn("For backward hooks to be called, module output should be a Tensor or "
                          f"a tuple of Tensors but received {type(result)}", stacklevel=3)
        return result

    def _output_grad(self, grad):
        self.grad_outputs = (Tensor._from_op(grad, None),)
        if self.input_index is None:
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients.", stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                new = hook(self.module, grad_inputs, self.grad_outputs)
                if new is not None and not (isinstance(new, tuple)
                                            and all(g is None for g in new)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return grad

    def _input_grad(self, grad):
        if self.grad_outputs is None:  # the gradient reached the input around the output
            return grad
        grads = [None] * self.n_inputs
        grads[self.input_index] = Tensor._from_op(grad, None)
        grads = tuple(grads)
        for hook in self.hooks:
            new = hook(self.module, grads, self.grad_outputs)
            if new is None:
                continue
            if len(new) != len(grads):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, got "
                                   f"{len(new)}, but expected {len(grads)}")
            grads = tuple(new)
        self.grad_outputs = None
        out = grads[self.input_index]
        if out is None:
            return None
        out = out.data if isinstance(out, Tensor) else np.asarray(out)
        if out.shape != grad.shape:
            raise RuntimeError(f"{type(self.module).__name__} backward hook: grad_input"
                               f"[{self.input_index}] has shape {tuple(out.shape)} but the input "
                               f"has shape {tuple(grad.shape)}")
        return out
