"""Build a planted-bug subject: impl's public API with one op replaced by a defective one.

A planted module defines its defect — a Function subclass of impl's primitive, or a wrapper of
impl's public function — and calls ``plant(globals(), {"exp": broken_exp})``. Its namespace then
holds every public name of :mod:`impl` and an ``nn`` whose ``functional`` copies
:mod:`impl.nn.functional`, so the harness resolves each op by its public name as it does on impl
and meets the defect in the replaced op only. impl itself is never modified: replacements go
into the planted module's own copies of the namespaces (so Tensor methods, which live on the one
shared class, keep impl's behaviour).

Each planted module also declares what the harness must find: ``KIND`` (the class of defect),
``AFFECTS`` (the ids of the specs to run), ``EXPECT_CHECK`` (the check that must fail) and
``DTYPES`` (the dtypes in which the defect shows); see tests/test_harness_meta.py.
"""

from __future__ import annotations

import types

import impl
import impl.nn.functional


def substitute(fn, old, new):
    """impl's public function ``fn`` running ``new`` wherever its code names ``old`` (a global or
    a closure variable): impl's own argument checks and conversions around a planted primitive.
    The name must be one ``fn`` itself uses; a helper it calls keeps its own globals. A
    decorated ``fn`` (``__wrapped__``, such as impl's out= form) gets its inner function
    substituted, inside a copy of the wrapper."""
    inner = getattr(fn, "__wrapped__", None)
    if inner is None:
        return _substitute(fn, old, new)
    planted = substitute(inner, old, new)
    copy = _substitute(fn, inner, planted)
    copy.__dict__.update(fn.__dict__, __wrapped__=planted)
    return copy


def _substitute(fn, old, new):
    found = False

    def swap(value, used=True):
        nonlocal found
        if value is old and used:
            found = True
            return new
        return value

    namespace = {k: swap(v, k in fn.__code__.co_names) for k, v in fn.__globals__.items()}
    closure = fn.__closure__ and tuple(types.CellType(swap(c.cell_contents))
                                       for c in fn.__closure__)
    if not found:
        raise ValueError(f"{fn.__qualname__} does not use {old!r}")
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, closure)
    copy.__kwdefaults__, copy.__doc__ = fn.__kwdefaults__, fn.__doc__
    return copy


def _copy(module, name):
    copy = types.ModuleType(name, module.__doc__)
    copy.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    return copy


def _tensor_with(methods):
    """A subclass of impl's Tensor with ``methods`` replaced, and a ``from_numpy`` that makes
    its instances: the harness calls ``Tensor.<method>`` specs on the tensors the subject's
    ``from_numpy`` returns, so the defect meets the method on those inputs only."""
    planted = type("Tensor", (impl.Tensor,), {"__slots__": (), **methods})

    def from_numpy(array):
        t = impl.from_numpy(array)
        t.__class__ = planted
        return t
    return planted, from_numpy


def plant(namespace, overrides):
    """Fill the module globals ``namespace`` with impl's public API and apply ``overrides``, a
    mapping of dotted public names (``"exp"``, ``"nn.functional.softmax"``,
    ``"Tensor.__getitem__"``) to replacements."""
    name = namespace["__name__"]
    namespace.update({k: v for k, v in vars(impl).items()
                      if not k.startswith("_") or k.startswith("__tenshell_")})
    nn = namespace["nn"] = _copy(impl.nn, f"{name}.nn")
    nn.functional = _copy(impl.nn.functional, f"{name}.nn.functional")
    methods = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("Tensor.")}
    if methods:
        namespace["Tensor"], namespace["from_numpy"] = _tensor_with(methods)
    for dotted, replacement in overrides.items():
        if dotted.startswith("Tensor."):
            continue
        *path, attr = dotted.split(".")
        owner = namespace
        for part in path:
            owner = vars(owner[part])
        if attr not in owner:
            raise AttributeError(f"impl has no public {dotted!r} to plant a defect in")
        owner[attr] = replacement
