"""The tolerance policy: derived from the oracles' own errors, never hand-tuned per op.

Truth is float64 (torch float64; jax float64 is the second opinion). Each element of an output
is measured against its own truth. Element i may be off by

    allowed_i = factor · max(E_i, peers(E)_i, q90(E / |truth|) · |truth_i|)
                + ULPS · eps · growth(terms) · max(|truth_i|, terms_i)

where E_i is how far the oracles' own results are from the truth at that element (in float32:
torch's and jax's float32 runs against their float64 runs; in float64: torch's and jax's
float64 runs against each other), so an element that every implementation computes by
cancelling large terms gets the noise the oracles show there, and one they compute to the last
bit is held to a few ulps of itself. The oracles' own error at one element can be small by luck
(their rounding happened to agree with the truth's where another correct implementation's does
not), so E_i is raised to the oracles' errors among its peers — the elements of nearest
magnitude (at least 17, sqrt(n) for n elements), which rounding treats alike: cancellations
next to cancellations, tiny softmax probabilities next to tiny ones; a smaller peer's absolute
error, a larger peer's relative error scaled to this element — and no element is held tighter,
relative to itself, than the
oracles' typical relative error (the 90th percentile). In float64 runs E also holds float32's
noise (torch's float32 run against its truth, where the truth is inside float32's normal range)
scaled by the epsilons' ratio: how much rounding moves each element, measured rather than
assumed. The ulps term grows with the logarithm of the terms an element sums (pairwise
summation); the measured oracle errors carry any more (|truth_i| is never taken below the
dtype's smallest normal number, so subnormal results are held to it). Where an element is a
small remainder of large terms, its ulps are the terms': for the ops that are sums of products
of their arguments (matmul, linear, conv2d, sums, average pooling) terms_i is the root-sum-square
of the element's terms — the op evaluated on the squares of its arguments, square-rooted: the
scale at which rounding errors of random signs add up — and a gradient's terms are never taken
below the cotangent's largest value. A relative error of 1e-4
(float32) or 1e-9 (float64) on any normal element is far outside the allowance.

Every comparison records the subject's relative error at its worst element and the allowance
there, both relative to max(|truth|, floor) at that element — the floor an ulp of the largest
input or cotangent value — and the oracles' own worst relative errors.
"""

from __future__ import annotations

import math

import numpy as np

ULPS = 4.0  # the allowance where the oracles are exact: this many epsilons, grown by log2(terms)
PEERS = 17  # an element's noise is the largest among at least this many elements of nearest
#            magnitude
QUANTILE = 0.9  # and no element is held tighter, relative to itself, than this quantile of the
#                 oracles' relative errors


def eps(dtype):
    return float(np.finfo(dtype).eps)


def accuracy_ratio(subject, best_oracle, dtype):
    """How many times as far from the float64 truth the subject is as the most accurate oracle
    (both worst relative element errors, as :func:`relative` measures them). Errors below half
    an epsilon of ``dtype`` are correct rounding and count as half an epsilon, so two exact
    results compare as 1. Works elementwise on arrays."""
    half = np.finfo(dtype).eps / 2
    return np.maximum(subject, half) / np.maximum(best_oracle, half)


def magnitude(*arrays):
    """The largest finite absolute value among ``arrays`` (0 when there is none)."""
    m = 0.0
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        finite = a[np.isfinite(a)]
        if finite.size:
            m = max(m, float(np.abs(finite).max()))
    return m


def floor(dtype, *arrays):
    """An ulp (in ``dtype``) of the largest of ``arrays`` — the op's inputs and cotangent — and
    never below the dtype's smallest normal number."""
    return max(eps(dtype) * magnitude(*arrays), float(np.finfo(dtype).tiny))


def in_range(truth, dtype):
    """``truth`` as ``dtype`` can hold it: beyond the largest finite value it is ±inf (the
    correctly rounded result of an overflowing float32 op), else unchanged."""
    t = np.asarray(truth, np.float64)
    big = float(np.finfo(dtype).max)
    if t.size and np.any(np.abs(t[np.isfinite(t)]) > big):
        t = np.where(np.abs(t) > big, np.copysign(np.inf, t), t)
    return t


def structure(actual, truth, dtype=np.float64, signed_zeros=False):
    """(actual, truth) as float64 arrays, or a description of a structural difference: shape,
    dtype kind, integer values, NaN or infinity placement, and the sign of zeros when
    ``signed_zeros``; (None, None) for equal integer outputs."""
    actual, truth = np.asarray(actual), np.asarray(truth)
    if actual.shape != truth.shape:
        return f"shape {actual.shape} != {truth.shape}"
    if truth.dtype.kind in "iub":
        if actual.dtype.kind not in "iub" or not np.array_equal(actual, truth):
            return "integer outputs differ"
        return None, None
    if actual.dtype.kind not in "fc":
        return f"{actual.dtype} output where {truth.dtype} is expected"
    a, t = actual.astype(np.float64), in_range(truth, dtype)
    if not np.array_equal(np.isnan(a), np.isnan(t)):
        return "NaN in different places"
    inf_t = np.isinf(t)
    if not np.array_equal(np.isinf(a), inf_t) or np.any(a[inf_t] != t[inf_t]):
        return "infinities differ"
    if signed_zeros:
        zero = t == 0
        if np.any(np.signbit(a[zero]) != np.signbit(t[zero])):
            return "the sign of a zero differs"
    return a, t


def deviation(actual, truth, dtype=np.float64):
    """|actual - truth| per element, 0 where the truth is not finite (or inf everywhere on a
    structural difference)."""
    found = structure(actual, truth, dtype)
    t = np.asarray(truth)
    if isinstance(found, str):
        return np.full(t.shape, np.inf)
    a, t = found
    if a is None:
        return np.zeros(np.shape(truth))
    finite = np.isfinite(t)
    return np.where(finite, np.abs(np.where(finite, a - t, 0.0)), 0.0)


def growth(terms):
    """Rounding growth of a sum of ``terms`` terms (pairwise summation: logarithmic)."""
    return 1.0 + math.log2(max(terms, 1))


def allowance(truth, noise, dtype, terms=1, factor=4.0, scale=None):
    """Per element, the absolute error the subject may make (see the module docstring);
    ``noise`` is E (per element, or None where the oracles measured none); ``scale`` the size
    of the terms each element sums, where known (the ulps are of it, when it is the larger)."""
    t = np.abs(np.nan_to_num(np.asarray(truth, np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    size = t if scale is None else np.maximum(t, scale)
    ulps = ULPS * eps(dtype) * growth(terms) * np.maximum(size, float(np.finfo(dtype).tiny))
    if noise is None or np.size(noise) == 0:
        return ulps
    noise = np.where(np.isfinite(noise), noise, 0.0)
    normal = t >= float(np.finfo(dtype).tiny)
    relative = float(np.quantile(noise[normal] / t[normal], QUANTILE)) if normal.any() else 0.0
    return factor * np.maximum(_among_peers(noise, t), relative * t) + ulps


def _among_peers(noise, t):
    """Each element's noise, raised to what rounding does among its peers — the elements of
    nearest magnitude (a window of the elements sorted by |truth|, of PEERS or sqrt(n) elements,
    the more, up to 255): to the absolute noise of a smaller peer, and to the relative noise of
    a larger one (scaled to this element: the noise of 1.0 says little about 1e-4). A subject's
    worst of n elements lies further out than the oracles' worst of a few: the window grows with
    n."""
    flat, size = noise.reshape(-1), np.abs(t).reshape(-1)
    reach = min(max(PEERS, int(flat.size ** 0.5)), 255, flat.size) // 2
    if reach < 1:
        return noise
    order = np.argsort(size, kind="stable")
    ranked, sizes = flat[order], size[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(sizes > 0, ranked / sizes, 0.0)
    peak = np.maximum(_running_max(ranked, reach, ahead=False),
                      sizes * _running_max(relative, reach, ahead=True))
    out = np.empty_like(flat)
    out[order] = peak
    return out.reshape(noise.shape)


def _running_max(a, reach, ahead):
    """The maximum of ``a`` over each element and the ``reach`` elements after it (``ahead``) or
    before it, by doubling spans: n log(reach) work."""
    peak, span = a.copy(), 1
    while span <= reach:
        step = min(span, reach - span + 1)
        shifted = (np.concatenate([peak[step:], peak[-1:].repeat(step)]) if ahead else
                   np.concatenate([peak[:1].repeat(step), peak[:-step]]))
        peak = np.maximum(peak, shifted)
        span += step
    return peak


def compare(actual, truth, allowed, dtype, lowest, signed_zeros=False):
    """(error, tolerance, mismatch): the subject's relative error at its worst element (the one
    furthest beyond, or nearest to, its allowance) and the allowance there, both relative to
    max(|truth|, floor) at that element; ``mismatch`` a structural difference or None."""
    found = structure(actual, truth, dtype, signed_zeros)
    if isinstance(found, str):
        return np.inf, 0.0, found
    a, t = found
    if a is None:
        return 0.0, 0.0, None
    finite = np.isfinite(t)
    if not finite.any():
        return 0.0, 0.0, None
    a, t, allowed = a[finite], t[finite], np.broadcast_to(allowed, finite.shape)[finite]
    dev = np.abs(a - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(dev > 0, dev / allowed, 0.0)
    w = int(np.argmax(z))
    scale = max(abs(float(t[w])), lowest)
    return float(dev[w]) / scale, float(allowed[w]) / scale, None


def relative(actual, truth, dtype, lowest):
    """The worst relative error, each element against max(|truth|, floor): how far an
    oracle's own run is from the truth, for the report."""
    dev = deviation(actual, truth, dtype)
    if not dev.size:
        return 0.0
    t = np.abs(np.nan_to_num(np.asarray(truth, np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    return float((dev / np.maximum(t, lowest)).max())
