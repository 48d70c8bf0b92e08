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
    a closure variable): impl's own argument checks and conversions around a planted primitive."""
    found = False

    def swap(value):
        nonlocal found
        if value is old:
            found = True
            return new
        return value

    namespace = {k: swap(v) for k, v in fn.__globals__.items()}
    closure = fn.__closure__ and tuple(types.CellType(swap(c.cell_contents))
                                       for c in fn.__closure__)
    if not found:
        raise ValueError(f"{fn.__qualname__} does not refer to {old!r}")
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, closure)
    copy.__kwdefaults__, copy.__doc__ = fn.__kwdefaults__, fn.__doc__
    return copy


def _copy(module, name):
    copy = types.ModuleType(name, module.__doc__)
    copy.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    return copy


def plant(namespace, overrides):
    """Fill the module globals ``namespace`` with impl's public API and apply ``overrides``, a
    mapping of dotted public names (``"exp"``, ``"nn.functional.softmax"``) to replacements."""
    name = namespace["__name__"]
    namespace.update({k: v for k, v in vars(impl).items() if not k.startswith("_")})
    nn = namespace["nn"] = _copy(impl.nn, f"{name}.nn")
    nn.functional = _copy(impl.nn.functional, f"{name}.nn.functional")
    for dotted, replacement in overrides.items():
        *path, attr = dotted.split(".")
        owner = namespace
        for part in path:
            owner = vars(owner[part])
        if attr not in owner:
            raise AttributeError(f"impl has no public {dotted!r} to plant a defect in")
        owner[attr] = replacement
