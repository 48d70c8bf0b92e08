"""The subject: the library under test, found by name.

``load_subject`` takes a built-in name (``impl``, ``torch``, ``jax``, ``mygrad``), the name an
installed package registers in the ``tenshell.subjects`` entry-point group (its value a
``package.module:object``), or a ``package.module[:object]`` path (importable, or under the
current directory). The object may be a backend
(an adapter instance), a backend class (instantiated without arguments) or a module with
torch's API (impl's, or impl re-exported with one op replaced), wrapped in a
:class:`~oracles.adapter.ModuleAdapter` that reads the module's declarations
(``__tenshell_unsupported__`` and the like).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
from importlib.metadata import entry_points

from oracles.adapter import ModuleAdapter
from oracles.base import Backend

BUILTIN = {"impl": "impl", "torch": "oracles.torch_backend:TorchSubject",
           "jax": "oracles.jax_backend:JaxSubject", "mygrad": "oracles.mygrad_adapter:MyGrad"}
GROUP = "tenshell.subjects"


def load_subject(name, allow_unsupported=()):
    """The subject backend called ``name``; ``allow_unsupported`` names ops (or spec ids) that
    may be unsupported without a declaration."""
    path = BUILTIN.get(name)
    if path is None:
        found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
        path = found[0].value if found else name
    module_name, _, attr = path.partition(":")
    if os.getcwd() not in sys.path:  # a module of the project the command runs in, as python -m
        sys.path.append(os.getcwd())
    obj = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    subject = as_backend(obj, name)
    subject.allowed = frozenset(allow_unsupported)
    return subject


def as_backend(obj, name):
    """A backend from an adapter, an adapter class or a module with torch's API."""
    if inspect.isclass(obj) and issubclass(obj, Backend):
        obj = obj()
    if isinstance(obj, Backend):
        return obj
    if isinstance(obj, types.ModuleType):
        return ModuleAdapter(obj, name)
    raise TypeError(f"subject {name!r} is a {type(obj).__name__}: give a module with torch's "
                    f"API, an oracles.base.Backend or a Backend class")
