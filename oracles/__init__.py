"""Backends that compute an op's outputs and VJPs: torch, jax, finite differences, subjects.

Oracles and subjects share one protocol (:mod:`oracles.base`), and adapters build it for any
tape-style or functional library (:mod:`oracles.adapter`). ``backend(name)`` gives the shared
oracle instance by name; :func:`oracles.subject.load_subject` finds a library under test.
"""

_CACHE = {}


def backend(name):
    """The shared instance of backend ``name``: the torch or jax oracle, or impl."""
    if name not in _CACHE:
        if name == "torch":
            from oracles.torch_backend import TorchBackend as make
        elif name == "jax":
            from oracles.jax_backend import JaxBackend as make
        elif name == "impl":
            from oracles.subject import load_subject

            def make():
                return load_subject("impl")
        else:
            raise ValueError(f"unknown backend {name!r}: use torch, jax or impl")
        _CACHE[name] = make()
    return _CACHE[name]
