"""The library under test, as a backend: any module exposing impl's (torch's) API.

Each op is resolved by its public name on the module *at call time*, so a module that re-exports
impl with one function replaced is checked as it is. Arrays reach the subject through
``from_numpy`` (sharing memory, strides kept) so that memory layouts — of the inputs and of the
cotangents — are really exercised.

A call the op's own signature refuses (an unexpected keyword, a positional form it does not
take) is :class:`~oracles.base.Unsupported`; a TypeError raised anywhere inside the op is an
ordinary failure. A module declares what it does not implement in ``__tenshell_unsupported__``:
a mapping from public op names (or spec ids) to ``None`` (the whole op) or the argument names it
lacks (``"positional"`` for a positional form); the key ``"*"`` stands for every op. Anything
else found unsupported is unexpected.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re

import numpy as np

from oracles.base import Backend, NotApplicable, Trace, Unsupported, as_outputs, resolve


def load_subject(name, allow_unsupported=()):
    """A subject backend from ``impl`` (or another backend name) or ``package.module[:object]``;
    ``allow_unsupported`` names ops (or spec ids) that may be unsupported without a
    declaration."""
    if name in ("torch", "jax"):
        from oracles import backend

        return backend(name)
    module_name, _, attr = name.partition(":")
    obj = importlib.import_module(module_name)
    if attr:
        obj = getattr(obj, attr)
    subject = obj if isinstance(obj, Backend) else ModuleSubject(obj, name)
    subject.allowed = set(allow_unsupported)
    return subject


def _argument(exc):
    """The argument a refused call named (a keyword), or 'positional'."""
    found = re.search(r"keyword argument '(\w+)'", str(exc))
    return found.group(1) if found else "positional"


def _entry(fn, name, subject):
    """``fn`` behind a check of its own signature: a call it refuses is Unsupported."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check first
        return fn

    def entry(*args, **kwargs):
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise Unsupported(f"{subject}.{name}: {exc}", name, _argument(exc)) from None
        return fn(*args, **kwargs)
    return entry


class ModuleSubject(Backend):
    def __init__(self, module, name=None):
        self.module = module
        self.name = name or module.__name__
        self.declared = dict(getattr(module, "__tenshell_unsupported__", {}))
        self.allowed = set()

    def declares(self, spec, argument):
        """Whether the subject declares (or the run allows) ``spec`` unsupported, entirely or in
        ``argument``."""
        for key in (spec.id, spec.name, "*"):
            if key in self.allowed:
                return True
            lacking = self.declared.get(key, ())
            if lacking is None or argument in lacking:
                return True
        return False

    def tensor(self, array, requires_grad=False):
        t = self.module.from_numpy(array)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def call(self, spec, args, kwargs, bind=None):
        """The op on ``args``/``kwargs`` through the spec's call form; ``bind``: keywords bound
        to the op itself (an argument form the spec's call does not know, such as out=)."""
        try:
            fn = resolve(self.module, spec.name, args)
        except AttributeError as exc:
            raise Unsupported(f"{self.name} has no {spec.name}", spec.name) from exc
        fn = _entry(fn, spec.name, self.name)
        fn = functools.partial(fn, **bind) if bind else fn
        return (spec.call or (lambda f, *a, **k: f(*a, **k)))(fn, *args, **kwargs)

    def _tensors(self, example, requires=()):
        """The example's arrays as tensors, those at the indices ``requires`` requiring grad."""
        return [self.tensor(a, i in requires) if isinstance(a, np.ndarray) else a
                for i, a in enumerate(example.args)]

    def forward(self, spec, example, no_grad=False):
        if not no_grad:
            out = self.call(spec, self._tensors(example), example.kwargs)
            return as_outputs(out, _numpy)
        if not hasattr(self.module, "no_grad"):
            raise NotApplicable(f"{self.name} has no no_grad")
        args = self._tensors(example, spec.diff)
        with self.module.no_grad():
            out = self.call(spec, args, example.kwargs)
        return as_outputs(out, _numpy)

    def forward_out(self, spec, example, dtypes):
        outs = [self.tensor(np.empty(0, d)) for d in dtypes]
        out = self.call(spec, self._tensors(example), example.kwargs,
                        {"out": outs[0] if len(outs) == 1 else tuple(outs)})
        return as_outputs(out, _numpy), as_outputs(outs, _numpy)

    def vjp(self, spec, example, cotangent):
        t = self.trace(spec, example, cotangent)
        return t.outputs, t.grads

    def trace(self, spec, example, cotangent, twice=False, reuse=None, alias=None,
              requires=None):
        args = self._tensors(example, spec.diff if requires is None else requires)
        if alias:
            args[alias[1]] = args[alias[0]]
        out = self.call(spec, args, example.kwargs)
        first = out[0] if isinstance(out, (tuple, list)) else out
        outputs = as_outputs(out, _numpy)
        if reuse:
            c1, c2 = (self.tensor(c) for c in reuse)
            (first * c1 + first * c2).backward(self.tensor(np.ones_like(cotangent)))
        elif twice:
            first.backward(self.tensor(cotangent), retain_graph=True)
        else:
            first.backward(self.tensor(cotangent))
        grads = self._grads(spec, example, args, requires)
        again = None
        if twice:
            first.backward(self.tensor(cotangent))
            again = self._grads(spec, example, args, requires)
        return Trace(outputs, grads, as_outputs(out, _numpy), again)

    def _grads(self, spec, example, args, requires=None):
        grads = []
        for i in spec.diff:
            g = args[i].grad
            if g is None and requires is not None and i not in requires:
                grads.append(None)  # no gradient asked for, none given
                continue
            grads.append(np.zeros(example.args[i].shape, example.args[i].dtype) if g is None
                         else np.array(_numpy(g)))
        return grads


def _numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
