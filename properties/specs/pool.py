"""OpSpecs of the pooling ops (impl.ops.pool): nn.functional.max_pool2d, avg_pool2d,
adaptive_avg_pool2d and adaptive_max_pool2d.

The strategies draw consistent parameters: a kernel, a padding of at most half the kernel (at
that maximum often), a stride (default, explicit, or one that does not divide the padded size),
a dilation for max pooling, ceil_mode (whose last window may hang past the padded input, or be
dropped when it would start in the right padding), count_include_pad and divisor_override for
average pooling, return_indices for max pooling, an image at least as large as the dilated
kernel once padded — as large exactly now and then: an output of size 1 and, unpadded, a kernel
equal to the input — and the call's form (positional, keyword or default parameters, as ints,
tuples or lists). Batched (N, C, H, W, sometimes N = 0) and unbatched (C, H, W) inputs; the
small tier holds planes of a few pixels, the large tier planes of 16 to 112 pixels a side that
straddle block widths, several of them (the kernels run planes in parallel). Adaptive pooling
draws outputs smaller than, equal to and larger than the input, sizes that do not divide it,
None (the input's size) and 1 (the global pool).

Max pooling is smooth only away from ties, so its values are unique (0.05 apart); the tie
variants (fd=False) hold few distinct values, zeros of both signs among them, and test the
first-max rule, its gradient, the sign of a zero output and the indices against torch. The NaN
variants mix in NaN and ±inf.

The JAX oracles: max pooling (fixed and adaptive) gathers each window's elements and reads the
one torch's rule picks (the last NaN, else the first maximum in scan order), which also takes
the whole gradient; avg_pool2d sums by ``lax.reduce_window`` (padded with 0; ceil_mode by extra
padding on the right) and divides by the divisor torch counts per window; adaptive average
pooling is a mean over tiles where the windows tile the input, else the product with averaging
matrices over rows and columns.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from properties.spec import BadInput, Example, OpSpec, register
from properties.specs.conv import bound, call_forms, pair, pick, side
from properties.strategies import seeds, values

FAMILY = "pool"
# each op's parameters after the input, in its signature's order, with their defaults
_MAX = {"kernel_size": None, "stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
        "return_indices": False}
_AVG = {"kernel_size": None, "stride": None, "padding": 0, "ceil_mode": False,
        "count_include_pad": True, "divisor_override": None}
_ADAPTIVE = {"output_size": None, "return_indices": False}


def _out_size(size, k, s, p, d, ceil_mode):
    """torch's pooling_output_shape."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _taps(size, n_out, k, s, p, d):
    """(n_out, k) input positions each window reads, -1 where it reads padding."""
    pos = np.arange(n_out)[:, None] * s - p + np.arange(k)[None, :] * d
    return np.where((pos >= 0) & (pos < size), pos, -1)


def _stride(kernel, stride):
    """The stride pair; None or an empty sequence is the default, the kernel."""
    return kernel if stride is None or (not isinstance(stride, int) and not len(stride)) \
        else pair(stride)


def _geometry(shape, kw):
    """Per spatial axis: (size, n_out, kernel, stride, padding, dilation)."""
    k = pair(kw["kernel_size"])
    s = _stride(k, kw.get("stride"))
    p = pair(kw.get("padding", 0))
    d = pair(kw.get("dilation", 1))
    ceil = kw.get("ceil_mode", False)
    return [(n, _out_size(n, *a, ceil), *a) for n, a in zip(shape[-2:], zip(k, s, p, d))]


def _has_empty_window(shape, kw):
    """Whether a dilated window falls between the input's edges, in the padding only: torch then
    returns -inf and an index outside the window, and its backward writes through that index
    outside the plane (the strategies leave such windows out)."""
    return any(np.any((_taps(size, n_out, k, s, p, d) < 0).all(axis=1))
               for size, n_out, k, s, p, d in _geometry(shape, kw))


# -- strategies ---------------------------------------------------------------------------------

_SMALL_STRIDES = [None, None, 1, 2, 3, (1, 2), (3, 1), [2, 3], (2,), ()]
_LARGE_STRIDES = [None, None, 1, 2, 3, (2, 1), (1, 3), [4, 2]]
_LARGE_KERNELS = [(2, 2), (3, 3), (3, 3), (5, 5), (7, 7), (1, 3), (3, 2), (4, 4), (2, 5)]


def _int_or_pair(rng, v):
    """A pair as torch takes it: an int when both are equal (mostly), else a tuple, a list, or
    a one-element tuple for equal values."""
    if v[0] == v[1]:
        return pick(rng, [v[0], v[0], tuple(v), (v[0],)])
    return pick(rng, [tuple(v), list(v)])


def _planes(rng, large, h, w, unbatched):
    """The input's shape: a batch of a few planes (an empty batch one time in six), or one
    unbatched image; large: as many planes (up to 48) as fit in about 1.5e5 elements."""
    if large:
        channels = max(1, min(pick(rng, [2, 3, 7, 8, 9, 16]), int(1.5e5 // (h * w))))
        batch = max(1, min(pick(rng, [1, 2, 3]), int(1.5e5 // (channels * h * w))))
    else:
        channels, batch = int(rng.integers(1, 4)), pick(rng, [1, 2, 3, 1, 2, 0])
    return ((channels,) if unbatched else (batch, channels)) + (h, w)


def _values(seed, shape, domain):
    """The input's values; "ties" holds few distinct values, its zeros +0.0 or -0.0 (a tie of
    the two: the first in scan order wins, and its sign with it)."""
    x = values(seed, shape, domain)
    if domain == "ties":
        zero = x == 0
        x[zero] = np.where(np.random.default_rng(seed + 1).random(zero.sum()) < 0.5, 0.0, -0.0)
    return x


def _window(seed, kind, domain, large=False):
    """An input and the parameters of max_pool2d ("max") or avg_pool2d ("avg")."""
    rng = np.random.default_rng(seed)
    kernel = pick(rng, _LARGE_KERNELS) if large else tuple(int(k) for k in rng.integers(1, 5, 2))
    dilation = tuple(pick(rng, [1, 1, 2, 3] if large else [1, 1, 2]) for _ in kernel) \
        if kind == "max" else (1, 1)
    # the padding at its maximum (half the kernel) half the time
    padding = tuple(k // 2 if rng.random() < 0.5 else int(rng.integers(0, k // 2 + 1))
                    for k in kernel)
    stride = pick(rng, _LARGE_STRIDES if large else _SMALL_STRIDES)
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    if large:
        h, w = side(rng, 16, 112), side(rng, 16, 112)
    elif rng.random() < 0.15:  # the kernel equal to the input
        (h, w), padding = extent, (0, 0)
    else:  # the smallest image the padded kernel fits (output size 1), or more
        h = max(1, extent[0] - 2 * padding[0]) + pick(rng, [0, 1, 2, 3, 5])
        w = max(1, extent[1] - 2 * padding[1]) + pick(rng, [0, 1, 2, 4, 6])
    params = {"kernel_size": _int_or_pair(rng, kernel), "stride": stride,
              "padding": _int_or_pair(rng, padding)}
    if kind == "max":
        params["dilation"] = _int_or_pair(rng, dilation)
        params["ceil_mode"] = bool(rng.random() < 0.5)
        if _has_empty_window((h, w), params):  # an unpadded window starts inside the input
            params["padding"], h, w = 0, max(h, extent[0]), max(w, extent[1])
        params["return_indices"] = bool(rng.random() < 0.5)
    else:
        params["ceil_mode"] = bool(rng.random() < 0.5)
        params["count_include_pad"] = bool(rng.random() < 0.5)
        params["divisor_override"] = pick(rng, [None, None, None, 2, -3])
    shape = _planes(rng, large, h, w, rng.random() < 0.2)
    x = _values(int(rng.integers(2**32)), shape, domain)
    return call_forms(rng, (x,), params, _MAX if kind == "max" else _AVG)


def _adaptive(seed, kind, domain, large=False):
    """An input and the output_size (and return_indices) of adaptive pooling: smaller, equal and
    larger outputs, sizes that do not divide the input's, None (the input's size), 1."""
    rng = np.random.default_rng(seed)
    h, w = (side(rng, 16, 112), side(rng, 16, 112)) if large else \
        tuple(int(n) for n in rng.integers(1, 10, 2))

    def out(n):
        if large:
            return pick(rng, [1, 7, 3, 5, 6, 13, None, n // 2, n - 1])
        return pick(rng, [1, None, n, int(rng.integers(1, 11)), int(rng.integers(1, 11))])
    if rng.random() < 0.3:  # one int for both sides (1: the global pool)
        size = pick(rng, [1, 1, 3, 7] if large else [1, 1, 2, 3, 5])
    else:
        size = (out(h), out(w))
        if rng.random() < 0.25:
            size = list(size)
    params = {"output_size": size}
    if kind == "max":
        params["return_indices"] = bool(rng.random() < 0.5)
    x = _values(int(rng.integers(2**32)), _planes(rng, large, h, w, rng.random() < 0.2),
                domain)
    return call_forms(rng, (x,), params, _ADAPTIVE)


# -- JAX oracles --------------------------------------------------------------------------------


def _window_sum(J, x, kw):
    """The sum of each window (padding adds 0) by ``lax.reduce_window``; ceil_mode's last
    windows come from extra padding on the right, cut to torch's output size."""
    dims, strides, pads, outs = [], [], [], []
    for size, n_out, k, s, p, _ in _geometry(x.shape, kw):
        dims.append(k)
        strides.append(s)
        pads.append((p, max(p, (n_out - 1) * s + k - size - p)))
        outs.append(n_out)
    lead = x.ndim - 2
    out = J.lax.reduce_window(x, np.asarray(0, x.dtype), J.lax.add, (1,) * lead + tuple(dims),
                              (1,) * lead + tuple(strides), ((0, 0),) * lead + tuple(pads))
    return out[..., :outs[0], :outs[1]]


def _window_max(J, x, rows, cols):
    """Max and torch's argmax (flat ih * W + iw) of windows reading input rows ``rows`` (OH, KH)
    and columns ``cols`` (OW, KW), -1 marking padding: the last NaN, else the first maximum in
    scan order among the window's elements (its first element when all are -inf). The value is
    read at that element, so the gradient goes to it alone, by torch's rule (and NaN propagates:
    XLA's max reduction on CPU drops NaNs from long rows)."""
    jnp = J.jnp
    width = x.shape[-1]
    r, c = np.maximum(rows, 0), np.maximum(cols, 0)
    valid = ((rows >= 0)[:, None, :, None] & (cols >= 0)[None, :, None, :])
    patches = x[..., r[:, None, :, None], c[None, :, None, :]]  # (..., OH, OW, KH, KW)
    taps = rows.shape[1] * cols.shape[1]
    vals = jnp.where(valid, patches, -jnp.inf).reshape(patches.shape[:-2] + (taps,))
    valid = valid.reshape(valid.shape[:2] + (taps,))
    pos = (r[:, None, :, None] * width + c[None, :, None, :]).reshape(valid.shape)
    nan = jnp.isnan(vals)
    top = jnp.max(jnp.where(nan, -jnp.inf, vals), axis=-1, keepdims=True)
    last_nan = vals.shape[-1] - 1 - jnp.argmax(nan[..., ::-1], axis=-1)
    first_max = jnp.argmax(valid & (vals == top), axis=-1)
    k = jnp.where(nan.any(axis=-1), last_nan, first_max)[..., None]
    index = jnp.take_along_axis(jnp.broadcast_to(pos, vals.shape), k, axis=-1)
    return jnp.take_along_axis(vals, k, axis=-1)[..., 0], index[..., 0].astype(jnp.int64)


def _jax_max_pool2d(J, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                    return_indices=False):
    kw = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
          "dilation": dilation, "ceil_mode": ceil_mode}
    taps = [_taps(size, n_out, k, s, p, d) for size, n_out, k, s, p, d in _geometry(x.shape, kw)]
    out, index = _window_max(J, x, *taps)
    return (out, index) if return_indices else out


def _jax_avg_pool2d(J, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True, divisor_override=None):
    kw = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
          "ceil_mode": ceil_mode}
    total = _window_sum(J, x, kw)
    if divisor_override is not None:
        return total / divisor_override
    counts = []
    for size, n_out, k, s, p, _ in _geometry(x.shape, kw):
        start = np.arange(n_out) * s - p
        if count_include_pad:  # the padding a window covers counts, up to the padding's edge
            counts.append(np.minimum(start + k, size + p) - start)
        else:
            counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
    return total / np.outer(*counts).astype(x.dtype)


def _adaptive_sizes(shape, output_size):
    size = pair(output_size) if isinstance(output_size, int) else output_size
    return [n if o is None else o for o, n in zip(size, shape[-2:])]


def _adaptive_bounds(size, n_out):
    o = np.arange(n_out)
    return o * size // n_out, -(-(o + 1) * size // n_out)


def _jax_adaptive_avg_pool2d(J, x, output_size):
    (h, w), (oh, ow) = x.shape[-2:], _adaptive_sizes(x.shape, output_size)
    if h % oh == 0 and w % ow == 0:  # equal, adjacent windows: a reshape and a mean
        tiles = x.reshape(x.shape[:-2] + (oh, h // oh, ow, w // ow))
        return tiles.mean(axis=(-3, -1))
    mats = []
    for size, n_out in zip(x.shape[-2:], _adaptive_sizes(x.shape, output_size)):
        start, end = _adaptive_bounds(size, n_out)
        i = np.arange(size)
        inside = (i >= start[:, None]) & (i < end[:, None])
        mats.append((inside / (end - start)[:, None]).astype(x.dtype))
    return J.jnp.einsum("ih,...hw,jw->...ij", mats[0], x, mats[1],
                        precision=J.lax.Precision.HIGHEST)


def _jax_adaptive_max_pool2d(J, x, output_size, return_indices=False):
    taps = []
    for size, n_out in zip(x.shape[-2:], _adaptive_sizes(x.shape, output_size)):
        start, end = _adaptive_bounds(size, n_out)
        pos = start[:, None] + np.arange((end - start).max())[None, :]
        taps.append(np.where(pos < end[:, None], pos, -1))
    out, index = _window_max(J, x, *taps)
    return (out, index) if return_indices else out


# -- accumulation, regions, curated cases ----------------------------------------------------------


def _window_terms(ex):
    k = pair(bound(ex, 1, _AVG)["kernel_size"])
    return k[0] * k[1]


def _adaptive_terms(ex):
    x = ex.args[0]
    terms = 1
    for size, n_out in zip(x.shape[-2:], _adaptive_sizes(x.shape,
                                                         bound(ex, 1, _ADAPTIVE)["output_size"])):
        start, end = _adaptive_bounds(size, n_out)
        terms *= int((end - start).max())
    return terms


def _axes(defaults, test):
    """A region of windowed pooling: ``test(kw, size, n_out, k, s, p, d)`` holds on an axis."""
    def reached(ex):
        kw = bound(ex, 1, defaults)
        return any(test(kw, *axis) for axis in _geometry(ex.args[0].shape, kw))
    return reached


def _past_edge(kw, size, n_out, k, s, p, d):
    return (n_out - 1) * s + d * (k - 1) + 1 > size + 2 * p


def _dropped(kw, size, n_out, k, s, p, d):
    return kw["ceil_mode"] and n_out < (size + 2 * p - d * (k - 1) - 1 + s - 1) // s + 1


def _window_regions(defaults, *names):
    every = {
        "ceil_mode": lambda ex: bound(ex, 1, defaults)["ceil_mode"],
        "no ceil_mode": lambda ex: not bound(ex, 1, defaults)["ceil_mode"],
        "a window past the padded edge (ceil_mode)": _axes(defaults, _past_edge),
        "ceil_mode drops a window starting in the padding": _axes(defaults, _dropped),
        "padding at its maximum": _axes(defaults, lambda kw, n, o, k, s, p, d: p == k // 2 > 0),
        "stride default": lambda ex: _stride((0, 0), bound(ex, 1, defaults)["stride"]) == (0, 0),
        "stride explicit": lambda ex: _stride((0, 0), bound(ex, 1, defaults)["stride"]) != (0, 0),
        "stride not dividing the padded size": _axes(
            defaults, lambda kw, n, o, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) % s),
        "kernel equal to the input": lambda ex: all(
            n == d * (k - 1) + 1 and p == 0
            for n, o, k, s, p, d in _geometry(ex.args[0].shape, bound(ex, 1, defaults))),
        "dilation > 1": _axes(defaults, lambda kw, n, o, k, s, p, d: d > 1),
        "indices returned": lambda ex: bound(ex, 1, defaults).get("return_indices"),
        "values only": lambda ex: not bound(ex, 1, defaults).get("return_indices"),
        "count_include_pad": lambda ex: bound(ex, 1, defaults).get("count_include_pad"),
        "count_include_pad=False": lambda ex: not bound(ex, 1, defaults).get(
            "count_include_pad"),
        "divisor_override": lambda ex: bound(ex, 1, defaults).get("divisor_override"),
        **_SHARED,
    }
    return {name: every[name] for name in names}


_SHARED = {
    "batched": lambda ex: ex.args[0].ndim == 4,
    "unbatched": lambda ex: ex.args[0].ndim == 3,
    "positional parameters": lambda ex: len(ex.args) > 1,
    "keyword parameters": lambda ex: bool(ex.kwargs),
}


def _sizes(ex):
    x = ex.args[0]
    return list(zip(x.shape[-2:], _adaptive_sizes(x.shape, bound(ex, 1, _ADAPTIVE)["output_size"])))


def _adaptive_regions(*names):
    every = {
        "output smaller than the input": lambda ex: any(o < n for n, o in _sizes(ex)),
        "output equal to the input": lambda ex: any(o == n for n, o in _sizes(ex)),
        "output larger than the input": lambda ex: any(o > n for n, o in _sizes(ex)),
        "windows of unequal sizes": lambda ex: any(n % o if o <= n else o % n
                                                   for n, o in _sizes(ex)),
        "None in output_size": lambda ex: None in np.atleast_1d(
            np.asarray(bound(ex, 1, _ADAPTIVE)["output_size"], object)),
        "int output_size": lambda ex: isinstance(bound(ex, 1, _ADAPTIVE)["output_size"], int),
        "global pool (output 1x1)": lambda ex: all(o == 1 for _, o in _sizes(ex)),
        "indices returned": lambda ex: bound(ex, 1, _ADAPTIVE)["return_indices"],
        **_SHARED,
    }
    return {name: every[name] for name in names}


_WINDOW = ("ceil_mode", "no ceil_mode", "a window past the padded edge (ceil_mode)",
           "ceil_mode drops a window starting in the padding", "padding at its maximum",
           "stride default", "stride explicit", "stride not dividing the padded size",
           "kernel equal to the input", "batched", "unbatched", "positional parameters",
           "keyword parameters")
_ADAPTIVE_ALL = ("output smaller than the input", "output equal to the input",
                 "output larger than the input", "windows of unequal sizes",
                 "None in output_size", "int output_size", "global pool (output 1x1)", "batched",
                 "unbatched", "positional parameters", "keyword parameters")

_NAN_CASES = [("all -inf, padded: each window's first element", Example(
    (np.full((1, 3, 3), -np.inf),), {"kernel_size": 2, "stride": 1, "padding": 1,
                                     "return_indices": True}))]


def _bad(description, shape, raises=RuntimeError, **kwargs):
    return BadInput(description, lambda: Example((np.ones(shape),), kwargs), (raises,))


def _window_bad(dilation):
    bad = [
        _bad("padding 2 greater than half the 3x3 kernel", (1, 1, 6, 6), kernel_size=3,
             padding=2),
        _bad("padding (0, 2) greater than half the (3, 3) kernel", (1, 1, 6, 6),
             kernel_size=(3, 3), padding=(0, 2)),
        _bad("negative padding", (1, 1, 6, 6), kernel_size=3, padding=-1),
        _bad("stride 0", (1, 1, 6, 6), kernel_size=2, stride=0),
        _bad("negative stride", (1, 1, 6, 6), kernel_size=2, stride=(1, -1)),
        _bad("kernel_size 0", (1, 1, 6, 6), kernel_size=0, stride=1),
        _bad("negative kernel_size", (1, 1, 6, 6), kernel_size=(2, -1), stride=1),
        _bad("kernel 4x4 larger than the 3x3 input", (1, 1, 3, 3), kernel_size=4),
        _bad("kernel 5x5 larger than the padded 2x2 input", (2, 2, 2), kernel_size=5,
             padding=1),
        _bad("kernel_size of 3 values", (1, 1, 6, 6), kernel_size=(2, 2, 2)),
        _bad("stride of 3 values", (1, 1, 6, 6), kernel_size=2, stride=(1, 1, 1)),
        _bad("float kernel_size", (1, 1, 6, 6), TypeError, kernel_size=2.0),
        _bad("5-D input", (1, 1, 1, 6, 6), kernel_size=2),
        _bad("4-D input with no channels", (2, 0, 6, 6), kernel_size=2),
        _bad("3-D input with an empty dimension", (2, 0, 6), kernel_size=2),
        _bad("ceil_mode=None", (1, 1, 6, 6), TypeError, kernel_size=2, ceil_mode=None),
        _bad("ceil_mode=1", (1, 1, 6, 6), TypeError, kernel_size=2, ceil_mode=1),
        _bad("kernel_size=True", (1, 1, 6, 6), TypeError, kernel_size=True),
        _bad("float stride", (1, 1, 6, 6), TypeError, kernel_size=2, stride=1.0),
        _bad("padding of 3 values", (1, 1, 6, 6), kernel_size=2, padding=(1, 1, 1)),
        BadInput("a nested list as the input", lambda: Example(([[[1.0]]],), {"kernel_size": 1}),
                 (TypeError,)),
    ]
    if dilation:
        return bad + [
            _bad("dilation 0", (1, 1, 6, 6), kernel_size=2, dilation=0),
            _bad("dilated kernel (5x5) larger than the 4x4 input", (1, 1, 4, 4),
                 kernel_size=3, dilation=2),
            _bad("2-D input", (6, 6), kernel_size=2),
            _bad("1-D input", (6,), kernel_size=1),
        ]
    return bad + [
        _bad("2-D input", (6, 6), IndexError, kernel_size=2),
        _bad("1-D input", (6,), IndexError, kernel_size=1),
        _bad("count_include_pad=None", (1, 1, 6, 6), TypeError, kernel_size=2,
             count_include_pad=None),
        _bad("divisor_override 0", (1, 1, 6, 6), kernel_size=2, divisor_override=0),
        _bad("float divisor_override", (1, 1, 6, 6), TypeError, kernel_size=2,
             divisor_override=1.5),
    ]


def _adaptive_bad(kind):
    bad = [
        _bad("output_size of 3 values", (1, 2, 6, 6), output_size=(2, 2, 2)),
        _bad("output_size of 1 value", (1, 2, 6, 6), output_size=(2,)),
        _bad("negative output_size", (1, 2, 6, 6), output_size=(2, -1)),
        _bad("float output_size", (1, 2, 6, 6), TypeError, output_size=(2.0, 2)),
        _bad("2-D input", (6, 6), output_size=2),
        _bad("2-D input with a pair output_size", (6, 6), ValueError, output_size=(2, 2)),
        _bad("5-D input", (1, 1, 1, 6, 6), output_size=2),
        _bad("empty width", (1, 2, 6, 0), output_size=2),
        _bad("negative int output_size", (1, 2, 6, 6), output_size=-1),
        _bad("output_size None", (1, 2, 6, 6), TypeError, output_size=None),
        _bad("1-D input with a pair output_size", (6,), ValueError, output_size=(1, 1)),
    ]
    if kind == "max":
        return bad + [_bad("4-D input with no channels", (2, 0, 6, 6), output_size=2),
                      _bad("1-D input", (6,), output_size=1)]
    return bad + [_bad("1-D input", (6,), IndexError, output_size=1),
                  _bad("0-d input", (), IndexError, output_size=1)]


def _example(shape, **kwargs):
    return lambda: Example((values(0, shape),), kwargs)


_FEATURES = (8, 64, 112, 112)
_MAX_BENCH = [("3x3 stride 2 pad 1, 64 ch 112x112, batch 8",
               _example(_FEATURES, kernel_size=3, stride=2, padding=1))]
_AVG_BENCH = [("3x3 stride 2 pad 1, 64 ch 112x112, batch 8",
               _example(_FEATURES, kernel_size=3, stride=2, padding=1)),
              ("2x2 stride 2, 64 ch 112x112, batch 8", _example(_FEATURES, kernel_size=2))]
_ADAPTIVE_BENCH = [("to 7x7, 64 ch 112x112, batch 8", _example(_FEATURES, output_size=7)),
                   ("to 1x1, 64 ch 112x112, batch 8", _example(_FEATURES, output_size=1)),
                   ("to 1x1, 512 ch 7x7, batch 32", _example((32, 512, 7, 7), output_size=1))]


# -- registry -----------------------------------------------------------------------------------

_MAX_NONSMOOTH = ("max picks one element per window: not differentiable at ties; values are "
                  "unique, 0.05 apart")


def _spec(name, variant, draw, kind, domain, regions, jax, **kw):
    """A spec whose small and large tiers are ``draw(seed, kind, domain, large)``."""
    return OpSpec(f"nn.functional.{name}", FAMILY, variant,
                  seeds.map(partial(draw, kind=kind, domain=domain)), jax,
                  large=seeds.map(partial(draw, kind=kind, domain=domain, large=True)),
                  regions=regions, **kw)


_TIES = "about the tie rule: the first maximum in scan order wins (+0.0 and -0.0 tie) and " \
        "takes the gradient (torch's CPU rule)"
_NAN = "NaN/inf propagation: the last NaN of a window wins"

register(
    _spec("max_pool2d", "", _window, "max", "unique",
          _window_regions(_MAX, *_WINDOW, "dilation > 1", "indices returned", "values only"),
          _jax_max_pool2d, nonsmooth=_MAX_NONSMOOTH, bad_inputs=_window_bad(dilation=True),
          cases=[("return_indices=1 by position: torch takes any true value", Example(
              (values(0, (2, 3, 7, 6), "unique"), 3, 2, 1, 1, False, 1)))],
          bench_shapes=_MAX_BENCH, bench_target=2.0),
    _spec("max_pool2d", "ties", _window, "max", "ties",
          _window_regions(_MAX, "indices returned", "values only", "padding at its maximum",
                          "dilation > 1", "a window past the padded edge (ceil_mode)"),
          _jax_max_pool2d, fd=False, nonsmooth=_TIES, signed_zeros=True),
    _spec("max_pool2d", "nan/inf", _window, "max", "special",
          _window_regions(_MAX, "indices returned", "padding at its maximum",
                          "a window past the padded edge (ceil_mode)"),
          _jax_max_pool2d, fd=False, nonsmooth=_NAN, cases=_NAN_CASES),
    _spec("avg_pool2d", "", _window, "avg", "real",
          _window_regions(_AVG, *_WINDOW, "count_include_pad", "count_include_pad=False",
                          "divisor_override"),
          _jax_avg_pool2d, accumulation=_window_terms, bad_inputs=_window_bad(dilation=False),
          multilinear=True,
          bench_shapes=_AVG_BENCH, bench_target=2.0),
    _spec("avg_pool2d", "nan/inf", _window, "avg", "special",
          _window_regions(_AVG, "count_include_pad=False", "divisor_override",
                          "a window past the padded edge (ceil_mode)"),
          _jax_avg_pool2d, fd=False, accumulation=_window_terms, multilinear=True,
          nonsmooth="NaN/inf propagation: no finite differences"),
    _spec("adaptive_avg_pool2d", "", _adaptive, "avg", "real", _adaptive_regions(*_ADAPTIVE_ALL),
          _jax_adaptive_avg_pool2d, accumulation=_adaptive_terms, multilinear=True,
          bad_inputs=_adaptive_bad("avg"), bench_shapes=_ADAPTIVE_BENCH, bench_target=2.0),
    _spec("adaptive_max_pool2d", "", _adaptive, "max", "unique",
          _adaptive_regions(*_ADAPTIVE_ALL, "indices returned"), _jax_adaptive_max_pool2d,
          nonsmooth=_MAX_NONSMOOTH, bad_inputs=_adaptive_bad("max")),
    _spec("adaptive_max_pool2d", "ties", _adaptive, "max", "ties",
          _adaptive_regions("indices returned", "windows of unequal sizes",
                            "output larger than the input"),
          _jax_adaptive_max_pool2d, fd=False, nonsmooth=_TIES, signed_zeros=True),
    _spec("adaptive_max_pool2d", "nan/inf", _adaptive, "max", "special",
          _adaptive_regions("indices returned", "windows of unequal sizes"),
          _jax_adaptive_max_pool2d, fd=False, nonsmooth=_NAN),
)
