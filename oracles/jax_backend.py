"""JAX as a second oracle: each spec's own jax function, VJPs by ``jax.vjp`` (x64 enabled)."""

from __future__ import annotations

import types

import numpy as np

from oracles.base import Backend, as_outputs

# Each call is one jit-compiled function: eager JAX would compile every primitive of the op
# separately for each new shape, several times slower for these one-off calls. The oracle's
# shapes are new almost every call, so on small inputs compile time is its cost: XLA's backend
# optimizations and fusion emitters are turned off for those compiles (2.2x faster to compile,
# measured on small graphs; IEEE arithmetic either way — the oracle's own float32 error is
# measured, not assumed). On large inputs the run costs more than the compile (an unoptimized
# float64 grouped convolution's VJP: 11-16 s instead of 2.5 s), so they compile as usual. A spec
# adds options its jax function needs (``OpSpec.jax_options``: conv2d turns off the algebraic
# simplifier, which aborts jaxlib 0.10.2 on some float64 convolution weight gradients). This
# applies to the oracle's compiles only, never to a user's JAX.
QUICK_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
LARGE = 20_000  # elements in the arguments above which the compiled code's speed matters more


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

    def _compiled(self, spec, fn, *args):
        size = sum(np.size(a) for a in self.jax.tree_util.tree_leaves(args))
        options = {**({} if size > LARGE else QUICK_COMPILE), **spec.jax_options}
        return self.jax.jit(fn).lower(*args).compile(compiler_options=options)(*args)

    def forward(self, spec, example, no_grad=False):
        diff = [example.args[i] for i in spec.diff]
        return as_outputs(self._compiled(spec, self._fn(spec, example), *diff), np.asarray)

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
        outs, grads = self._compiled(spec, step, [example.args[i] for i in spec.diff], cotangent)
        return as_outputs(outs, np.asarray), [np.asarray(g) for g in grads]
