"""OpSpecs of the convolution (impl.ops.conv): nn.functional.conv2d with a bias, without one,
with padding='same', and on one unbatched image.

The strategies draw consistent parameters: channel counts for groups 1, groups > 1 and depthwise
(groups = in_channels), a kernel and dilation, a stride (that need not divide the padded size),
a padding (an int, a pair, 'valid', or 'same' at stride 1, where an even dilated kernel extent
puts the extra row and column at the bottom and right), an image at least as large as the
dilated kernel once padded — as large exactly now and then, which gives an output of size 1 —
and the call's form: the parameters by position, by keyword or left at their defaults, as ints,
tuples or lists. The small tier holds a few channels and images of a few pixels; the large tier
16 to 128 channels, 16 to 56 pixel sides straddling block widths and batches up to 32, bounded
by the work and size of one call (the plane, then the kernel, then the batch shrink); a curated
case of 64 -> 64 channels holds the tolerance's floor at the channel counts networks use. A
convolution is bilinear: smooth everywhere, real-valued inputs throughout.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np

from properties.spec import BadInput, Example, OpSpec, register
from properties.strategies import STRADDLE, seeds, values

FAMILY = "conv"
_PARAMS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}  # conv2d's, in its order


def pair(v):
    """torch's int-or-tuple argument (an int, or a sequence of one or two ints) as a pair."""
    return (v, v) if isinstance(v, int) else tuple(v) * (2 if len(v) == 1 else 1)


def call_forms(rng, head, params, defaults):
    """One call of ``head`` (the leading positional arguments) and ``params`` (name -> value,
    in the signature's order): the first few parameters by position, the rest by keyword, and
    of those the ones equal to their default (``defaults``) left out half the time."""
    names = list(params)
    n = int(rng.choice([0, 0, 1, len(names) // 2, len(names)]))
    kwargs = {k: params[k] for k in names[n:]
              if k not in defaults or params[k] != defaults[k] or rng.random() < 0.5}
    return Example(tuple(head) + tuple(params[k] for k in names[:n]), kwargs)


def pick(rng, options):
    """One of ``options`` (any values: tuples, lists, strings), uniformly."""
    return options[int(rng.integers(len(options)))]


def side(rng, low, high):
    """A size in [low, high] that straddles a block width (7, 8, 9, 15, 16, 17, ...) seven times
    in ten, else an odd one."""
    inside = [n for n in STRADDLE if low <= n <= high]
    if inside and rng.random() < 0.7:
        return pick(rng, inside)
    return int(rng.integers(low // 2, (high - 1) // 2 + 1)) * 2 + 1


def bound(ex, head, defaults):
    """The parameters of a call drawn by :func:`call_forms`, by name, defaults filled in."""
    return {**defaults, **dict(zip(defaults, ex.args[head:])), **ex.kwargs}


def _edges(padding, kernel, dilation):
    """(top, bottom, left, right) padding as torch computes it."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)


def _geometry(ex):
    """The call's geometry: stride, dilation and extent pairs, the (top, bottom, left,
    right) padding, the padded image's size, groups, the raw padding argument and the batch
    (None for an unbatched image)."""
    p = bound(ex, 3, _PARAMS)
    x, w = ex.args[0], ex.args[1]
    kernel, dilation = w.shape[2:], pair(p["dilation"])
    edges = _edges(p["padding"], kernel, dilation)
    return {"stride": pair(p["stride"]), "dilation": dilation,
            "extent": [d * (k - 1) + 1 for d, k in zip(dilation, kernel)], "edges": edges,
            "padded": (x.shape[-2] + edges[0] + edges[1], x.shape[-1] + edges[2] + edges[3]),
            "groups": p["groups"], "channels": x.shape[-3], "padding": p["padding"],
            "batch": x.shape[0] if x.ndim == 4 else None}


# -- strategies ---------------------------------------------------------------------------------

_STRIDE = [1, 1, 2, 3, (1, 2), (2, 1), [3, 2], (2,)]
_UNIT_STRIDE = [1, (1, 1), [1], (1,)]  # the forms of stride 1 ('same' allows no other)
_DILATION = [1, 1, 1, 2, (1, 2), (2, 1), [2, 2]]
_PADDING = [0, 1, 2, (0, 1), (2, 1), [1, 0], (1,), "valid", "valid", "same", "same"]


def _channels(rng, large, kind):
    """(groups, in_channels, out_channels) of one kind: groups 1, groups > 1 with several
    channels per group, or depthwise (groups = in_channels, 1 or 2 filters each)."""
    if kind == "1":
        if large:
            return 1, side(rng, 16, 128), side(rng, 16, 128)
        return 1, int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if kind == "depthwise":
        c = side(rng, 16, 128) if large else int(rng.integers(2, 5))
        return c, c, c * pick(rng, [1, 2] if c <= 64 else [1])
    g = pick(rng, [2, 4, 8] if large else [2, 3])
    if large:
        return g, g * side(rng, max(2, 16 // g), 128 // g), g * side(rng, max(1, 16 // g),
                                                                     128 // g)
    return g, g * int(rng.integers(2, 4)), g * int(rng.integers(1, 3))


_LARGE_KERNELS = [(3, 3), (3, 3), (1, 1), (2, 2), (4, 4), (5, 5), (7, 7), (3, 1), (1, 3), (3, 2)]
_SAME_KERNELS = [(2, 2), (4, 4), (3, 3), (2, 3), (1, 2), (4, 5)]


def _conv(seed, bias=True, same=False, unbatched=False, large=False, work=(2e7, 1.5e5)):
    """conv2d's input, weight, bias (or None) and parameters, drawn from ``seed``; ``large``:
    real sizes within ``work`` (multiply-adds of the forward, elements of the input and of the
    output)."""
    rng = np.random.default_rng(seed)
    groups, cin, cout = _channels(rng, large, pick(rng, ["1", "groups", "depthwise"]))
    if large:
        kernel = pick(rng, _SAME_KERNELS if same else _LARGE_KERNELS)
    else:
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
    dilation = pick(rng, _DILATION)
    padding = "same" if same else pick(rng, _PADDING)
    stride = pick(rng, _UNIT_STRIDE if padding == "same" else _STRIDE)
    top, bottom, left, right = _edges(padding, kernel, pair(dilation))
    extent = [d * (k - 1) + 1 for d, k in zip(pair(dilation), kernel)]
    if large:
        h, w = side(rng, 16, 56), side(rng, 16, 56)
        h, w, batch, kernel = _fit(h, w, pick(rng, [1, 2, 3, 7, 8, 9, 16, 17, 31, 32]), kernel,
                                   (cin, cout, groups), pair(stride),
                                   (top + bottom, left + right), extent, *work)
    elif same:  # images of 2 to 7 pixels a side, where a misplaced extra row or column shows
        h, w = (int(n) for n in rng.integers(2, 8, 2))
        batch = pick(rng, [1, 2, 3, 1, 2, 0])
    else:  # the smallest image the padded kernel fits (output size 1), or more
        h = max(1, extent[0] - top - bottom) + pick(rng, [0, 1, 2, 3, 5])
        w = max(1, extent[1] - left - right) + pick(rng, [0, 1, 2, 4, 6])
        batch = pick(rng, [1, 2, 3, 1, 2, 0])
    s = int(rng.integers(2**32))
    head = (values(s, (() if unbatched else (batch,)) + (cin, h, w)),
            values(s + 1, (cout, cin // groups) + tuple(kernel)))
    params = {"bias": values(s + 2, (cout,)) if bias else None, "stride": stride,
              "padding": padding, "dilation": dilation, "groups": groups}
    if bias:  # an array: by position always (the harness differentiates positional arrays)
        head += (params.pop("bias"),)
    return call_forms(rng, head, params, {"bias": None, **_PARAMS})


def _fit(h, w, batch, kernel, channels, stride, pad, extent, work, elements):
    """The plane, batch and kernel of a large example within budget: one forward of at most
    ``work`` multiply-adds, input and output of at most ``elements`` each. The plane shrinks
    first (to odd sides, not below 15) while one image is over budget, then the kernel (to
    1x1), then the batch."""
    cin, cout, groups = channels

    def per_image():
        oh, ow = [(n + p - e) // s + 1 for n, p, e, s in zip((h, w), pad, extent, stride)]
        return max(1, oh * ow * cout * cin // groups * kernel[0] * kernel[1]), \
            max(1, cin * h * w, cout * oh * ow)

    while (per_image()[0] > work or per_image()[1] > elements) and max(h, w) > 16:
        if h >= w:
            h = max(15, (h // 2) | 1)
        else:
            w = max(15, (w // 2) | 1)
    if per_image()[0] > work:
        kernel = (1, 1)
    macs, size = per_image()
    return h, w, max(1, min(batch, int(work // macs), int(elements // size))), kernel


# -- the JAX oracle -------------------------------------------------------------------------------


def _jax_conv2d(J, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    top, bottom, left, right = _edges(padding, weight.shape[2:], pair(dilation))
    batched = x if x.ndim == 4 else x[None]
    out = J.lax.conv_general_dilated(
        batched, weight, window_strides=pair(stride), padding=[(top, bottom), (left, right)],
        rhs_dilation=pair(dilation), dimension_numbers=("NCHW", "OIHW", "NCHW"),
        feature_group_count=groups, precision=J.lax.Precision.HIGHEST)
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out if x.ndim == 4 else out[0]


def _terms(ex):
    """Products summed per output element: C / groups · kh · kw (and the bias)."""
    w = ex.args[1]
    return w.shape[1] * w.shape[2] * w.shape[3] + 1


# -- regions --------------------------------------------------------------------------------------


def _axes(ex, test):
    g = _geometry(ex)
    return any(test(g, i) for i in (0, 1))


_REGIONS = {
    "odd kernel": lambda ex: all(k % 2 for k in ex.args[1].shape[2:]),
    "even kernel": lambda ex: any(k % 2 == 0 for k in ex.args[1].shape[2:]),
    "1x1 kernel": lambda ex: ex.args[1].shape[2:] == (1, 1),
    "stride 1": lambda ex: _geometry(ex)["stride"] == (1, 1),
    "stride > 1": lambda ex: max(_geometry(ex)["stride"]) > 1,
    "stride not dividing the padded size": lambda ex: _axes(
        ex, lambda g, i: (g["padded"][i] - g["extent"][i]) % g["stride"][i]),
    "padding int": lambda ex: isinstance(_geometry(ex)["padding"], int),
    "padding pair": lambda ex: isinstance(_geometry(ex)["padding"], (tuple, list)),
    "padding 'valid'": lambda ex: _geometry(ex)["padding"] == "valid",
    "padding 'same'": lambda ex: _geometry(ex)["padding"] == "same",
    # an even dilated extent: odd total padding, the extra row or column at the bottom or right
    "'same' with odd total padding": lambda ex: _geometry(ex)["padding"] == "same" and any(
        e % 2 == 0 for e in _geometry(ex)["extent"]),
    "kernel covering the padded input": lambda ex: _axes(
        ex, lambda g, i: g["padded"][i] == g["extent"][i]),
    "padding beyond the kernel's reach": lambda ex: _axes(
        ex, lambda g, i: g["edges"][2 * i] >= g["extent"][i]),
    "dilation 1": lambda ex: _geometry(ex)["dilation"] == (1, 1),
    "dilation > 1": lambda ex: max(_geometry(ex)["dilation"]) > 1,
    "groups 1": lambda ex: _geometry(ex)["groups"] == 1,
    "groups > 1": lambda ex: 1 < _geometry(ex)["groups"] < _geometry(ex)["channels"],
    "depthwise": lambda ex: 1 < _geometry(ex)["groups"] == _geometry(ex)["channels"],
    "batch 0": lambda ex: _geometry(ex)["batch"] == 0,
    "batch 1": lambda ex: _geometry(ex)["batch"] == 1,
    "batch > 1": lambda ex: (_geometry(ex)["batch"] or 0) > 1,
    "positional parameters": lambda ex: len(ex.args) > 3,
    "keyword parameters": lambda ex: bool(ex.kwargs),
    "bias omitted": lambda ex: len(ex.args) < 3 and "bias" not in ex.kwargs,
    "bias None": lambda ex: len(ex.args) >= 3 or "bias" in ex.kwargs,
}
_COMMON = ("odd kernel", "even kernel", "dilation 1", "dilation > 1", "groups 1", "groups > 1",
           "depthwise", "keyword parameters", "positional parameters")
_BATCH = ("batch 0", "batch 1", "batch > 1")
_STRIDES = ("stride 1", "stride > 1", "stride not dividing the padded size")
_PADDINGS = ("padding int", "padding pair", "padding 'valid'", "padding 'same'",
             "'same' with odd total padding")


def _regions(*names):
    return {name: _REGIONS[name] for name in names}


# -- curated cases, bad inputs, benchmarks --------------------------------------------------------


def _case(x, w, **kwargs):
    return Example((values(0, x), values(1, w), values(2, (w[0],))), kwargs)


_CASES = [
    # A relative error of 1e-4 in one element of a 64-channel convolution must show (float32;
    # 1e-9 in float64): the floor of the tolerance at the channel counts real networks use.
    ("64 -> 64 channels, 3x3, 16x16, batch 2", _case((2, 64, 16, 16), (64, 64, 3, 3),
                                                     padding=1)),
]


def _bad(description, x, w, b=None, raises=RuntimeError, **kwargs):
    return BadInput(description, lambda: Example(
        (np.ones(x), np.ones(w), None if b is None else np.ones(b)), kwargs), (raises,))


_BAD = [
    _bad("kernel 3x3 larger than the 2x2 input", (1, 1, 2, 2), (1, 1, 3, 3)),
    _bad("kernel 5x5 larger than the padded 4x4 input", (1, 1, 2, 2), (1, 1, 5, 5), padding=1),
    _bad("dilated kernel (5x5) larger than the 4x4 input", (1, 1, 4, 4), (1, 1, 3, 3),
         dilation=2),
    _bad("empty image rows with padding", (1, 1, 0, 4), (1, 1, 3, 3), padding=2),
    _bad("stride 0", (1, 1, 4, 4), (1, 1, 3, 3), stride=0),
    _bad("negative stride", (1, 1, 4, 4), (1, 1, 3, 3), stride=(1, -1)),
    _bad("input has 4 channels, weight expects 3", (1, 4, 4, 4), (2, 3, 3, 3)),
    _bad("input has 4 channels, weight x groups expects 8", (1, 4, 4, 4), (2, 4, 3, 3),
         groups=2),
    _bad("3 out channels not divisible by 2 groups", (1, 4, 4, 4), (3, 2, 3, 3), groups=2),
    _bad("no out channels", (1, 1, 4, 4), (0, 1, 3, 3)),
    _bad("empty kernel", (1, 1, 4, 4), (1, 1, 0, 3)),
    _bad("padding='same' with stride 2", (1, 1, 4, 4), (1, 1, 3, 3), stride=2,
         padding="same"),
    _bad("padding string 'full'", (1, 1, 4, 4), (1, 1, 3, 3), padding="full"),
    _bad("2-D input", (4, 4), (1, 1, 3, 3)),
    _bad("5-D input", (1, 1, 1, 4, 4), (1, 1, 3, 3)),
    _bad("3-D weight", (1, 1, 4, 4), (1, 1, 3)),
    _bad("bias of 3 elements for 2 out channels", (1, 1, 4, 4), (2, 1, 3, 3), (3,)),
    _bad("2-D bias", (1, 1, 4, 4), (2, 1, 3, 3), (2, 1)),
    _bad("negative padding", (1, 1, 4, 4), (1, 1, 3, 3), padding=-1),
    _bad("dilation 0", (1, 1, 4, 4), (1, 1, 3, 3), dilation=0),
    _bad("groups 0", (1, 1, 4, 4), (1, 1, 3, 3), groups=0),
    _bad("stride of 3 values", (1, 1, 4, 4), (1, 1, 3, 3), stride=(1, 1, 1)),
    _bad("float stride", (1, 1, 4, 4), (1, 1, 3, 3), stride=1.5, raises=TypeError),
    _bad("float padding", (1, 1, 4, 4), (1, 1, 3, 3), padding=1.0, raises=TypeError),
    BadInput("a nested list as the input", lambda: Example(
        ([[[[1.0]]]], np.ones((1, 1, 1, 1)))), (TypeError,)),
    BadInput("float64 weight for a float32 input", lambda: Example(
        (np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3)))), (RuntimeError,)),
    BadInput("float64 bias for a float32 input", lambda: Example(
        (np.ones((1, 1, 4, 4), np.float32), np.ones((2, 1, 3, 3), np.float32), np.ones(2))),
        (RuntimeError,)),
]


def _bench(n, c, cout, size, kernel, stride, padding):
    def make():
        s = 0
        return Example((values(s, (n, c, size, size)), values(s + 1, (cout, c, kernel, kernel)),
                        values(s + 2, (cout,))),
                       {"stride": stride, "padding": padding, "dilation": 1, "groups": 1})
    return (f"{kernel}x{kernel} stride {stride} pad {padding}, {c}->{cout} ch {size}x{size}, "
            f"batch {n}", make)


def _quiet(fn, *args, **kwargs):
    """torch warns that 'same' padding of an even kernel may copy the input (its own cost)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


# jaxlib 0.10.2's algebraic simplifier aborts the process (a CHECK failure, "Window dimensions
# do not match RHS shape") on the float64 weight gradient of some strided convolutions, e.g.
# x (1, 6, 4, 4), w (9, 2, 2, 4), stride 2, padding 1, groups 3: the oracle compiles without it
_JAX_OPTIONS = {"xla_disable_hlo_passes": "algsimp"}


def _spec(variant, regions, diff=(0, 1, 2), work=(2e7, 1.5e5), **kw):
    flags = {"bias": diff == (0, 1, 2), "same": variant == "same",
             "unbatched": variant == "unbatched"}
    return OpSpec("nn.functional.conv2d", FAMILY, variant, seeds.map(partial(_conv, **flags)),
                  _jax_conv2d, diff=diff, accumulation=_terms, call=_quiet, multilinear=True,
                  jax_options=_JAX_OPTIONS,
                  large=seeds.map(partial(_conv, **flags, large=True, work=work)),
                  regions=_regions(*regions), **kw)


register(
    _spec("bias", _COMMON + _BATCH + _STRIDES + _PADDINGS + (
              "1x1 kernel", "kernel covering the padded input",
              "padding beyond the kernel's reach"),
          cases=_CASES, bad_inputs=_BAD, bench_target=1.5,
          bench_shapes=[
              _bench(32, 64, 64, 32, 3, 1, 1), _bench(32, 128, 128, 16, 3, 1, 1),
              _bench(32, 256, 256, 8, 3, 1, 1), _bench(32, 512, 512, 4, 3, 1, 1),
              _bench(32, 64, 128, 32, 3, 2, 1), _bench(32, 64, 128, 32, 1, 2, 0),
              _bench(8, 3, 64, 224, 7, 2, 3)]),
    _spec("no bias", _COMMON + ("stride 1", "stride > 1", "padding int", "padding pair",
                                "padding 'valid'", "bias omitted", "bias None"),
          diff=(0, 1), work=(1e7, 1e5)),
    _spec("same", _COMMON + _BATCH + ("'same' with odd total padding",), work=(1e7, 1e5)),
    _spec("unbatched", _COMMON + ("stride 1", "stride > 1", "padding int", "padding pair",
                                  "padding 'valid'", "padding 'same'"), work=(1e7, 1e5)),
)
