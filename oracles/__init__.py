"""Backends that compute an op's outputs and VJPs: torch, jax, finite differences, subjects.

Oracles and subjects share one protocol (:mod:`oracles.base`): forward and VJP of an OpSpec on an
Example. ``backend(name)`` makes one by name; :func:`oracles.subject.load_subject` also takes
``package.module[:object]`` for a library under test.
"""

_CACHE = {}


def backend(name):
    """The shared instance of backend ``name`` (torch, jax or impl)."""
    if name not in _CACHE:
        if name == "torch":
            from oracles.torch_backend import TorchBackend as cls
        elif name == "jax":
            from oracles.jax_backend import JaxBackend as cls
        elif name == "impl":
            import impl
            from oracles.subject import ModuleSubject

            _CACHE[name] = ModuleSubject(impl, "impl")
            return _CACHE[name]
        else:
            raise ValueError(f"unknown backend {name!r}: use torch, jax or impl")
        _CACHE[name] = cls()
    return _CACHE[name]
