"""OpSpecs of the pooling ops (impl.ops.pool): nn.functional.max_pool2d, avg_pool2d,
adaptive_avg_pool2d and adaptive_max_pool2d.

The strategies draw consistent parameters: a kernel, a padding of at most half the kernel, a
stride (default, or one that need not divide the padded size), a dilation for max pooling,
ceil_mode, and an image at least as large as the dilated kernel once padded — as large exactly
now and then, which gives an output of size 1 and, without padding, a kernel equal to the input.
Curated cases are mixed in: ceil_mode windows that would start in the right padding (torch drops
them), a kernel equal to the input, an output of size 1 from the padding alone. Batched (N, C,
H, W, sometimes N = 0) and unbatched (C, H, W) inputs.

Max pooling is smooth only away from ties, so its values are unique (0.05 apart); the tie
variants (fd=False) hold few distinct values and test the first-max rule and the indices against
torch. The NaN variants mix in NaN and ±inf. JAX's max-pool gradient may pick another element of
a tie than torch's CPU rule: that is an oracle disagreement, and impl follows torch.

The JAX oracles: max_pool2d and avg_pool2d by ``lax.reduce_window`` (padded with -inf and 0;
ceil_mode by extra padding on the right), the average's divisor counted per window as torch
does; the indices, dilated max pooling (jax has no VJP of a dilated max reduce_window) and
adaptive max pooling by gathering each window's elements and applying torch's rule (the last
NaN, else the first maximum); adaptive average pooling as a mean over tiles where the windows
tile the input, else as the product with averaging matrices over rows and columns.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, register
from properties.strategies import seeds, values

FAMILY = "pool"


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v) * (2 if len(v) == 1 else 1)


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


def _geometry(shape, kw):
    """Per spatial axis: (size, n_out, kernel, stride, padding, dilation)."""
    k = _pair(kw["kernel_size"])
    s = k if kw.get("stride") in (None, ()) else _pair(kw["stride"])
    p = _pair(kw.get("padding", 0))
    d = _pair(kw.get("dilation", 1))
    ceil = kw.get("ceil_mode", False)
    return [(n, _out_size(n, *a, ceil), *a) for n, a in zip(shape[-2:], zip(k, s, p, d))]


# -- strategies ---------------------------------------------------------------------------------

# (H, W, kernel, stride, padding, ceil_mode) chosen for the cases random draws seldom hit.
_CURATED = [
    (4, 5, 2, 3, 1, True),  # ceil_mode: a third window would start in the right padding
    (6, 6, 3, 4, 1, True),  # the same along both axes
    (3, 4, (3, 4), None, 0, False),  # kernel equal to the input: output 1x1
    (2, 2, 3, 2, 1, False),  # output size 1 from the padding alone
    (7, 5, 2, 3, 0, True),  # a stride that does not divide, ceil_mode clips the last window
    (1, 1, 1, 1, 0, False),  # a 1x1 image
]


@st.composite
def _pool_params(draw, dilation):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.sampled_from([1, 1, 2])), draw(st.sampled_from([1, 1, 2]))) if dilation \
        else (1, 1)
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    s = draw(st.sampled_from([None, 1, 2, 3, (1, 2), (3, 1), (2, 3)]))
    ceil = draw(st.booleans())
    extent = [di * (ki - 1) + 1 for di, ki in zip(d, k)]
    # The smallest image the padded kernel fits (output size 1), or more.
    h = max(1, extent[0] - 2 * p[0]) + draw(st.sampled_from([0, 0, 1, 2, 3, 5]))
    w = max(1, extent[1] - 2 * p[1]) + draw(st.sampled_from([0, 0, 1, 2, 4, 6]))
    kw = {"kernel_size": k[0] if k[0] == k[1] and draw(st.booleans()) else k, "stride": s,
          "padding": p[0] if p[0] == p[1] else p, "ceil_mode": ceil}
    if dilation:
        kw["dilation"] = d[0] if d[0] == d[1] else d
    return h, w, kw


def _curated(case):
    h, w, k, s, p, ceil = case
    return h, w, {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil}


def _has_empty_window(h, w, kw):
    """A dilated window can fall between the input's edges (torch then returns -inf and an index
    outside the window): such examples are left out."""
    for size, n_out, k, s, p, d in _geometry((h, w), kw):
        if np.any((_taps(size, n_out, k, s, p, d) < 0).all(axis=1)):
            return True
    return False


@st.composite
def _pool(draw, kind, domain):
    """An input and the keyword arguments of max_pool2d ("max") or avg_pool2d ("avg")."""
    h, w, kw = draw(st.one_of(_pool_params(kind == "max"),
                              st.sampled_from(_CURATED).map(_curated)))
    if kind == "max":
        kw["return_indices"] = draw(st.booleans())
    else:
        kw["count_include_pad"] = draw(st.booleans())
        kw["divisor_override"] = draw(st.sampled_from([None, None, None, 2, -3]))
    batch = draw(st.sampled_from([(1,), (2,), (3,), (0,), ()]))
    shape = batch + (draw(st.integers(1, 3)), h, w)
    return Example((values(draw(seeds), shape, domain),), kw)


@st.composite
def _adaptive(draw, kind, domain):
    batch = draw(st.sampled_from([(1,), (2,), (0,), ()]))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    # Smaller, equal and larger outputs; None keeps the input's size. (An output size of 0 is
    # valid in torch's forward, but its backward refuses it.)
    side = st.one_of(st.integers(1, 10), st.just(1), st.none())
    size = draw(st.one_of(st.integers(1, 6), st.tuples(side, side)))
    kw = {"output_size": size}
    if kind == "max":
        kw["return_indices"] = draw(st.booleans())
    shape = batch + (draw(st.integers(1, 3)), h, w)
    return Example((values(draw(seeds), shape, domain),), kw)


def _max_examples(domain):
    return _pool("max", domain).filter(
        lambda ex: not _has_empty_window(*ex.args[0].shape[-2:], ex.kwargs))


# -- JAX oracles --------------------------------------------------------------------------------


def _reduce_window(J, x, kw, init, op):
    """``op`` over each window with ``init`` as the padding; ceil_mode's last windows come from
    extra padding on the right, cut to torch's output size."""
    dims, strides, pads, dil, outs = [], [], [], [], []
    for size, n_out, k, s, p, d in _geometry(x.shape, kw):
        extent = d * (k - 1) + 1
        dims.append(k)
        strides.append(s)
        dil.append(d)
        pads.append((p, max(p, (n_out - 1) * s + extent - size - p)))
        outs.append(n_out)
    lead = x.ndim - 2
    out = J.lax.reduce_window(x, np.asarray(init, x.dtype), op, (1,) * lead + tuple(dims),
                              (1,) * lead + tuple(strides), ((0, 0),) * lead + tuple(pads),
                              window_dilation=(1,) * lead + tuple(dil))
    return out[..., :outs[0], :outs[1]]


def _window_max(J, x, rows, cols):
    """Max and torch's argmax (flat ih * W + iw) of windows reading input rows ``rows`` (OH, KH)
    and columns ``cols`` (OW, KW), -1 marking padding: the last NaN, else the first maximum in
    scan order among the window's elements (its first element when all are -inf)."""
    jnp = J.jnp
    width = x.shape[-1]
    r, c = np.maximum(rows, 0), np.maximum(cols, 0)
    valid = ((rows >= 0)[:, None, :, None] & (cols >= 0)[None, :, None, :])
    patches = x[..., r[:, None, :, None], c[None, :, None, :]]  # (..., OH, OW, KH, KW)
    taps = rows.shape[1] * cols.shape[1]
    vals = jnp.where(valid, patches, -jnp.inf).reshape(patches.shape[:-2] + (taps,))
    valid = valid.reshape(valid.shape[:2] + (taps,))
    pos = (r[:, None, :, None] * width + c[None, :, None, :]).reshape(valid.shape)
    top = jnp.max(vals, axis=-1)
    nan = jnp.isnan(vals)
    last_nan = vals.shape[-1] - 1 - jnp.argmax(nan[..., ::-1], axis=-1)
    first_max = jnp.argmax(valid & (vals == top[..., None]), axis=-1)
    k = jnp.where(nan.any(axis=-1), last_nan, first_max)
    index = jnp.take_along_axis(jnp.broadcast_to(pos, vals.shape), k[..., None], axis=-1)
    return top, index[..., 0].astype(jnp.int64)


def _max_pool_taps(shape, kw):
    return [_taps(size, n_out, k, s, p, d) for size, n_out, k, s, p, d in _geometry(shape, kw)]


def _jax_max_pool2d(J, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                    return_indices=False):
    kw = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
          "dilation": dilation, "ceil_mode": ceil_mode}
    if _pair(dilation) == (1, 1):
        out = _reduce_window(J, x, kw, -np.inf, J.lax.max)
    else:  # jax has no VJP of a max reduce_window with window dilation
        out = _window_max(J, x, *_max_pool_taps(x.shape, kw))[0]
    if not return_indices:
        return out
    return out, _window_max(J, x, *_max_pool_taps(x.shape, kw))[1]


def _jax_avg_pool2d(J, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True, divisor_override=None):
    kw = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
          "ceil_mode": ceil_mode}
    total = _reduce_window(J, x, kw, 0.0, J.lax.add)
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
    size = _pair(output_size) if isinstance(output_size, int) else output_size
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


# -- accumulation, bad inputs, benchmarks -------------------------------------------------------


def _window_terms(ex):
    k = _pair(ex.kwargs["kernel_size"])
    return k[0] * k[1]


def _adaptive_terms(ex):
    x = ex.args[0]
    terms = 1
    for size, n_out in zip(x.shape[-2:], _adaptive_sizes(x.shape, ex.kwargs["output_size"])):
        start, end = _adaptive_bounds(size, n_out)
        terms *= int((end - start).max())
    return terms


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
    ]
    if dilation:
        return bad + [
            _bad("dilation 0", (1, 1, 6, 6), kernel_size=2, dilation=0),
            _bad("dilated kernel (5x5) larger than the 4x4 input", (1, 1, 4, 4),
                 kernel_size=3, dilation=2),
            _bad("2-D input", (6, 6), kernel_size=2),
        ]
    return bad + [
        _bad("2-D input", (6, 6), IndexError, kernel_size=2),
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
    ]
    if kind == "max":
        bad.append(_bad("4-D input with no channels", (2, 0, 6, 6), output_size=2))
    return bad


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


def _mygrad_max_pool2d(mg, x, kernel_size, stride=None, padding=0):
    """MyGrad's max_pool has no padding and needs windows that tile the input exactly: the input
    is padded with -inf on the top and left by ``padding``, and on the bottom and right as far
    as torch's last window reaches (or cut where no window reaches)."""
    from mygrad.nnet.layers import max_pool

    stride = stride or kernel_size

    def edge(n, axis):
        shape = list(x.shape)
        shape[axis] = n
        return [np.full(shape, -np.inf, x.dtype)] if n > 0 else []

    for axis in (2, 3):
        size = x.shape[axis]
        n_out = _out_size(size, kernel_size, stride, padding, 1, False)
        after = (n_out - 1) * stride + kernel_size - size - padding
        body = x[(slice(None),) * axis + (slice(0, size + min(after, 0)),)]
        parts = edge(padding, axis) + [body] + edge(after, axis)
        x = mg.concatenate(parts, axis=axis) if len(parts) > 1 else body
    return max_pool(x, (kernel_size, kernel_size), stride)


# -- registry -----------------------------------------------------------------------------------

_MAX_NONSMOOTH = ("max picks one element per window: not differentiable at ties; values are "
                  "unique, 0.05 apart")


def _spec(name, variant, examples, jax, **kw):
    return OpSpec(f"nn.functional.{name}", FAMILY, variant, examples, jax, **kw)


register(
    _spec("max_pool2d", "", _max_examples("unique"), _jax_max_pool2d, nonsmooth=_MAX_NONSMOOTH,
          bad_inputs=_window_bad(dilation=True), bench_shapes=_MAX_BENCH, bench_target=2.0,
          mygrad=_mygrad_max_pool2d),
    _spec("max_pool2d", "ties", _max_examples("ties"), _jax_max_pool2d, fd=False,
          nonsmooth="about the tie rule: the first maximum in scan order wins and takes the "
                    "gradient (torch's CPU rule); jax's gradient may pick another"),
    _spec("max_pool2d", "nan/inf", _max_examples("special"), _jax_max_pool2d, fd=False,
          nonsmooth="NaN/inf propagation: the last NaN of a window wins"),
    _spec("avg_pool2d", "", _pool("avg", "real"), _jax_avg_pool2d, accumulation=_window_terms,
          bad_inputs=_window_bad(dilation=False), bench_shapes=_AVG_BENCH, bench_target=2.0),
    _spec("avg_pool2d", "nan/inf", _pool("avg", "special"), _jax_avg_pool2d, fd=False,
          accumulation=_window_terms, nonsmooth="NaN/inf propagation: no finite differences"),
    _spec("adaptive_avg_pool2d", "", _adaptive("avg", "real"), _jax_adaptive_avg_pool2d,
          accumulation=_adaptive_terms, bad_inputs=_adaptive_bad("avg"),
          bench_shapes=_ADAPTIVE_BENCH, bench_target=2.0),
    _spec("adaptive_max_pool2d", "", _adaptive("max", "unique"), _jax_adaptive_max_pool2d,
          nonsmooth=_MAX_NONSMOOTH, bad_inputs=_adaptive_bad("max")),
    _spec("adaptive_max_pool2d", "ties", _adaptive("max", "ties"), _jax_adaptive_max_pool2d,
          fd=False, nonsmooth="about the tie rule: the first maximum in scan order wins"),
    _spec("adaptive_max_pool2d", "nan/inf", _adaptive("max", "special"),
          _jax_adaptive_max_pool2d, fd=False, nonsmooth="NaN/inf propagation"),
)
