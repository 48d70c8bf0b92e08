"""JAX as a second oracle: each spec's own jax function, VJPs by ``jax.vjp`` (x64 enabled)."""

from __future__ import annotations

import types

import numpy as np

from oracles.base import Backend, as_outputs


class JaxBackend(Backend):
    name = "jax"

    def __init__(self):
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as jnp

        self.jax = jax
        self.J = types.SimpleNamespace(jax=jax, jnp=jnp, lax=jax.lax, nn=jax.nn)

    def _fn(self, spec, example):
        """The op as a function of its differentiable arguments only."""
        args = list(example.args)

        def f(*diff_args):
            for i, a in zip(spec.diff, diff_args):
                args[i] = a
            return spec.jax(self.J, *args, **example.kwargs)
        return f

    # Each call is one jit-compiled function: eager JAX would compile every primitive of the op
    # separately for each new shape, several times slower for these one-off calls.
    def forward(self, spec, example):
        f = self._fn(spec, example)
        out = self.jax.jit(f)(*[example.args[i] for i in spec.diff])
        return as_outputs(out, np.asarray)

    def vjp(self, spec, example, cotangent):
        f = self._fn(spec, example)
        jax = self.jax

        def first(*diff_args):
            out = f(*diff_args)
            outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            return outs[0], outs

        def step(diff_args, cot):
            y, pullback, outs = jax.vjp(first, *diff_args, has_aux=True)
            return outs, pullback(cot.astype(y.dtype))
        outs, grads = jax.jit(step)([example.args[i] for i in spec.diff], cotangent)
        return as_outputs(outs, np.asarray), [np.asarray(g) for g in grads]
