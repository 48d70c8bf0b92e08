"""JAX as a second oracle, or as the subject: each spec's own jax function (the harness's JAX
spelling of the op), VJPs by ``jax.vjp`` (x64 enabled), as a functional adapter."""

from __future__ import annotations

import collections
import time
import types

import numpy as np

from oracles.adapter import FunctionalAdapter

# Each call is one jit-compiled function: eager JAX would compile every primitive of the op
# separately for each new shape, several times slower for these one-off calls. The oracle's
# shapes are new almost every call, so on small inputs compile time is its cost: XLA's backend
# optimizations and fusion emitters are turned off for those compiles (2.2x faster to compile,
# measured on small graphs; IEEE arithmetic either way — the oracle's own float32 error is
# measured, not assumed). On large inputs the run costs more than the compile (an unoptimized
# float64 grouped convolution's VJP: 11-16 s instead of 2.5 s), so they compile as usual. A spec
# adds options its jax function needs (``OpSpec.jax_options``: conv2d turns off the algebraic
# simplifier, which aborts jaxlib 0.10.2 on some float64 convolution weight gradients). JAX as
# the subject compiles the same way: a run compiles thousands of one-off functions.
QUICK_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
LARGE = 20_000  # elements in the arguments above which the compiled code's speed matters more


class JaxBackend(FunctionalAdapter):
    """JAX through each spec's own jax function, jit-compiled and cached per shape and dtype:
    the oracle, or the subject (where torch and JAX disagree it gives JAX's answer)."""

    name = "jax"
    CACHED = 256  # compiled functions kept (the finite-difference checks call one repeatedly)

    def __init__(self):
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as jnp

        self.jax = jax
        self.J = types.SimpleNamespace(jax=jax, jnp=jnp, lax=jax.lax, nn=jax.nn)
        self._cache = collections.OrderedDict()

    def function(self, spec, example):
        return lambda *args: spec.jax(self.J, *args, **example.kwargs)

    def array(self, a):
        return self.jax.device_put(a)

    def pullback(self, f, primals):
        y, pull, aux = self.jax.vjp(f, *primals, has_aux=True)
        return y, aux, pull

    def compile(self, spec, fn, *arrays, options=None):
        """``fn`` jit-compiled for arguments like ``arrays`` (pytrees: a pullback is one),
        with XLA ``options`` (by default the spec's own: full optimization), as a function that
        waits for its results; and the seconds compiling took."""
        start = time.perf_counter()
        compiled = self.jax.jit(fn).lower(*arrays).compile(
            compiler_options=spec.jax_options if options is None else options)
        return ((lambda *a: self.jax.block_until_ready(compiled(*a))),
                time.perf_counter() - start)

    def run(self, spec, example, key, fn, *arrays):
        leaves = self.jax.tree_util.tree_leaves(arrays)
        key = (key, tuple((np.shape(a), np.result_type(a).str) for a in leaves))
        compiled = self._cache.pop(key, None)
        if compiled is None:
            # by the example's size, not the arguments': every run of one example compiles
            # alike, whichever arguments it differentiates (XLA's passes change results at
            # infinities)
            size = sum(np.size(a) for a in example.args if isinstance(a, np.ndarray))
            options = {**({} if size > LARGE else QUICK_COMPILE),
                       **spec.jax_options}
            compiled, _ = self.compile(spec, fn, *arrays, options=options)
        self._cache[key] = compiled
        while len(self._cache) > self.CACHED:
            self._cache.popitem(last=False)
        return compiled(*arrays)


class JaxSubject(JaxBackend):
    """JAX as the subject: each op through the harness's own JAX spelling of torch's op (the
    oracle's)."""

    cannot = {**JaxBackend.cannot, "bad_input":
              "is called through the harness's JAX spelling of each torch op, written for "
              "valid arguments: rejecting torch's bad arguments is torch's API, not JAX's"}
    conventions = {"*": "jax"}
    xfail = {("*[subnormal]", "*", "*", "*", "*"):
             "XLA's CPU backend flushes subnormal results to zero (jax.jit(lambda a, b: a + b)"
             "(1e-39, 1e-39) in float32 is 0)",
             ("nn.functional.binary_cross_entropy[at 0 and 1]", "requires_grad", "self", "*",
              "*"):
             "observed: the target's gradient where the input is exactly 0 or 1 (log 0) is "
             "infinite in one compiled program and not in the other, when the program "
             "differentiates the target alone (the input a compile-time constant)",
             **{(op, check, "*", "*", "*"):
                "XLA's CPU min/max reductions skip NaN on larger inputs: jax.jit(lambda a: "
                "a.min(-1)) of a (33, 32, 32) array with NaNs returns none; torch and NumPy "
                "propagate NaN" for op in ("amax", "amin", "max", "min")
                for check in ("forward", "inference")}}

