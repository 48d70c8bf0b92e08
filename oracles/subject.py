"""The library under test, as a backend: any module exposing impl's (torch's) API.

Each op is resolved by its public name on the module *at call time*, so a module that re-exports
impl with one function replaced is checked as it is. Arrays reach the subject through
``from_numpy`` (sharing memory, strides kept) so that memory layouts are really exercised.
"""

from __future__ import annotations

import importlib

import numpy as np

from oracles.base import Backend, Unsupported, as_outputs, is_missing_keyword
from properties.spec import resolve


def load_subject(name):
    """A subject backend from ``impl`` (or another backend name) or ``package.module[:object]``."""
    if name in ("torch", "jax"):
        from oracles import backend

        return backend(name)
    module_name, _, attr = name.partition(":")
    obj = importlib.import_module(module_name)
    if attr:
        obj = getattr(obj, attr)
    return obj if isinstance(obj, Backend) else ModuleSubject(obj, name)


class ModuleSubject(Backend):
    def __init__(self, module, name=None):
        self.module = module
        self.name = name or module.__name__

    def tensor(self, array, requires_grad=False):
        t = self.module.from_numpy(array)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def call(self, spec, args, kwargs):
        try:
            fn = resolve(self.module, spec.name, args)
        except AttributeError as exc:
            raise Unsupported(f"{self.name} has no {spec.name}") from exc
        try:
            return (spec.call or (lambda f, *a, **k: f(*a, **k)))(fn, *args, **kwargs)
        except TypeError as exc:
            if is_missing_keyword(exc):
                raise Unsupported(f"{self.name}.{spec.name}: {exc}") from exc
            raise

    def _tensors(self, spec, example, requires_grad):
        return [self.tensor(a, requires_grad and i in spec.diff) if isinstance(a, np.ndarray)
                else a for i, a in enumerate(example.args)]

    def forward(self, spec, example):
        out = self.call(spec, self._tensors(spec, example, False), example.kwargs)
        return as_outputs(out, _numpy)

    def vjp(self, spec, example, cotangent, args=None):
        args = args or self._tensors(spec, example, True)
        out = self.call(spec, args, example.kwargs)
        first = out[0] if isinstance(out, (tuple, list)) else out
        first.backward(self.tensor(cotangent))
        grads = []
        for i in spec.diff:
            g = args[i].grad
            grads.append(np.zeros(example.args[i].shape, example.args[i].dtype) if g is None
                         else np.array(_numpy(g)))
        return as_outputs(out, _numpy), grads


def _numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
