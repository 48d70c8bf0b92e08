"""Finite differences as a gradient backend: float64 central differences of any backend's forward.

The step is h = eps^(1/3) · max(1, |x|), the balance of truncation (O(h²)) and rounding
(O(eps/h)) errors for central differences; a second evaluation at h/2 gives a Richardson-
extrapolated derivative and, from the two estimates' difference, an error estimate that is
recorded with every comparison.
"""

from __future__ import annotations

import numpy as np

from oracles.base import Backend

EPS = float(np.finfo(np.float64).eps)


class FiniteDifferences(Backend):
    name = "fd"

    def __init__(self, of):
        self.of = of  # the backend whose forward is differentiated

    def _f(self, spec, ex, diff_values):
        args = list(ex.args)
        for i, v in zip(spec.diff, diff_values):
            args[i] = np.asarray(v)
        return self.of.forward(spec, ex.replace(args))[0].astype(np.float64)

    def jvp(self, spec, ex, directions):
        """(J·u, error estimate): the derivative of the first output along ``directions``
        (one array per differentiable argument)."""
        x = [ex.args[i].astype(np.float64) for i in spec.diff]
        h = EPS ** (1 / 3) * max(1.0, max(float(np.abs(a).max(initial=0.0)) for a in x))

        def central(step):
            plus = self._f(spec, ex, [a + step * u for a, u in zip(x, directions)])
            minus = self._f(spec, ex, [a - step * u for a, u in zip(x, directions)])
            return (plus - minus) / (2 * step), max(np.abs(plus).max(initial=0.0),
                                                     np.abs(minus).max(initial=0.0))

        d1, m = central(h)
        d2, _ = central(h / 2)
        with np.errstate(invalid="ignore"):
            est = (4 * d2 - d1) / 3
            diff = np.abs(d2 - d1)
        err = float(diff[np.isfinite(diff)].max(initial=0.0)) + 4 * EPS * m / h
        return est, err

    def jacobian(self, spec, ex):
        """(J, error estimate) with J of shape (outputs, inputs), inputs being the differentiable
        arguments' elements in order."""
        sizes = [ex.args[i].size for i in spec.diff]
        cols, err = [], 0.0
        for k in range(sum(sizes)):
            u = np.zeros(sum(sizes))
            u[k] = 1.0
            parts = np.split(u, np.cumsum(sizes)[:-1])
            col, e = self.jvp(spec, ex, [p.reshape(ex.args[i].shape)
                                         for p, i in zip(parts, spec.diff)])
            cols.append(col.ravel())
            err = max(err, e)
        return np.stack(cols, axis=1), err

    def vjp(self, spec, example, cotangent):
        """Jᵀ·cotangent from the full finite-difference Jacobian (small inputs only)."""
        jac, _ = self.jacobian(spec, example)
        g = cotangent.astype(np.float64).ravel() @ jac
        sizes = [example.args[i].size for i in spec.diff]
        parts = np.split(g, np.cumsum(sizes)[:-1])
        grads = [p.reshape(example.args[i].shape) for p, i in zip(parts, spec.diff)]
        return self.of.forward(spec, example), grads

    def forward(self, spec, example, no_grad=False):
        return self.of.forward(spec, example)
