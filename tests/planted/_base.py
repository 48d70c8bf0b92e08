"""Build a planted-bug subject: impl's public API with one name replaced.

A planted module calls ``plant(globals(), {"exp": broken_exp})`` after defining its defect. Its
namespace then holds every public name of :mod:`impl`, and an ``nn`` whose ``functional`` copies
:mod:`impl.nn.functional`, so the harness resolves each op by its public name exactly as it does
on impl, and meets the defect only in the replaced op. impl itself is left untouched: the
replacement lives in the planted module's own copies of the namespaces (Tensor methods, which
live on the one shared class, are therefore never replaced).
"""

from __future__ import annotations

import types

import impl
import impl.nn.functional


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
            owner = vars(owner[part] if isinstance(owner, dict) else getattr(owner, part))
        if attr not in owner:
            raise AttributeError(f"impl has no public {dotted!r} to plant a defect in")
        owner[attr] = replacement
