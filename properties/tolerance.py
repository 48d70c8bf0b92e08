"""The tolerance policy: derived from the oracles' own errors, never hand-tuned per op.

Truth is float64 (torch float64; jax float64 is the second opinion). In float32 the subject's
error against truth may be ``factor`` times the worse of torch's and jax's own float32 errors on
the same example, plus a floor of a few float32 ulps of the values' magnitude per accumulated
term. In float64 the same form holds, with the two oracles' float64 disagreement as their error.
Every comparison records the subject's error, the oracles' errors and the tolerance it used.
"""

from __future__ import annotations

import numpy as np

ULPS = 4.0  # floor: this many epsilons of the magnitude per accumulated term


def eps(dtype):
    return float(np.finfo(dtype).eps)


def magnitude(*arrays):
    """The largest finite absolute value among ``arrays`` (0 when there is none)."""
    m = 0.0
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        finite = a[np.isfinite(a)]
        if finite.size:
            m = max(m, float(np.abs(finite).max()))
    return m


def error(actual, truth):
    """(max abs error over finite entries, mismatch) of ``actual`` against ``truth``.

    ``mismatch`` describes a structural difference (shape, dtype kind, NaN or infinity placement)
    or is None. Integer outputs (indices) must be equal.
    """
    actual, truth = np.asarray(actual), np.asarray(truth)
    if actual.shape != truth.shape:
        return np.inf, f"shape {actual.shape} != {truth.shape}"
    if truth.dtype.kind in "iub":
        if actual.dtype.kind not in "iub" or not np.array_equal(actual, truth):
            return np.inf, "integer outputs differ"
        return 0.0, None
    a, t = actual.astype(np.float64), truth.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(t)):
        return np.inf, "NaN in different places"
    inf_t = np.isinf(t)
    if not np.array_equal(np.isinf(a), inf_t) or np.any(a[inf_t] != t[inf_t]):
        return np.inf, "infinities differ"
    finite = np.isfinite(t)
    if not finite.any():
        return 0.0, None
    return float(np.abs(a[finite] - t[finite]).max()), None


def tolerance(dtype, oracle_errors, scale, accumulation=1, factor=4.0):
    """The subject's allowed absolute error: ``factor`` × the worst finite oracle error, plus
    ``ULPS`` epsilons of ``scale`` per accumulated term."""
    finite = [e for e in oracle_errors if np.isfinite(e)]
    return factor * max(finite, default=0.0) + ULPS * eps(dtype) * max(accumulation, 1) * scale
