"""Optimizer: parameter groups, per-parameter state, ``zero_grad``, ``step`` and state dicts
(torch.optim.Optimizer).

A subclass validates its hyper-parameters, passes them as ``defaults`` and implements
``_update(param, grad, group)``: one parameter's update, in place on ``param.data``, with the
group's options — torch's single-tensor (``foreach=False``) formulas.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from itertools import chain

from impl._grad_mode import enable_grad
from impl.nn.parameter import zero_grad_
from impl.tensor import Tensor


class Optimizer:
    """Base class of the optimizers: ``params`` is an iterable of tensors or of dicts (parameter
    groups with their own options, e.g. ``{"params": [...], "lr": 0.1}``); options missing from
    a group take the values of ``defaults``."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its options (missing ones from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        param_group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        ids = {id(p) for p in param_group["params"]}
        if len(ids) != len(param_group["params"]):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        if any(id(p) in ids for group in self.param_groups for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Drop (``set_to_none``) or zero the gradient of every parameter."""
        zero_grad_(chain.from_iterable(g["params"] for g in self.param_groups), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluating and returning
        the loss) is called first, with gradients enabled, and its loss returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.data, group)
        return loss

    def _update(self, param, grad, group):
        raise NotImplementedError

    def state_dict(self):
        """``{"state": {index: state}, "param_groups": [options with "params" as indices]}``,
        parameters numbered in group order, as torch."""
        index = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            groups.append({**group, "params": [index[id(p)] for p in group["params"]]})
        state = {index[id(p)]: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore the options and per-parameter state saved by :meth:`state_dict` (copied;
        floating state tensors other than "step" cast to their parameter's dtype)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"])
               for g, s in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        params = {i: p for g, s in zip(self.param_groups, saved_groups)
                  for i, p in zip(s["params"], g["params"])}
        self.state = defaultdict(dict)
        for i, saved in state_dict["state"].items():
            p = params[i]
            self.state[p] = {k: _state_copy(v, p, k) for k, v in saved.items()}
        self.param_groups = [{**copy.deepcopy({k: v for k, v in s.items() if k != "params"}),
                              "params": g["params"]}
                             for g, s in zip(self.param_groups, saved_groups)]

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _state_copy(value, param, key):
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    dtype = value.data.dtype
    if key != "step" and dtype.kind == "f":
        dtype = param.data.dtype
    return Tensor(value.data.astype(dtype))
