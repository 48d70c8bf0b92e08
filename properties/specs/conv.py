"""OpSpecs of the convolution (impl.ops.conv): nn.functional.conv2d, with and without a bias,
with 'same' padding, and on one unbatched image.

The strategy draws consistent parameters: channel counts that are multiples of ``groups``, a
kernel and dilation, a stride (that need not divide the padded size), a padding (an int, a pair,
'valid', or 'same' at stride 1, where an even kernel puts the extra row and column at the
bottom and right), and an image at least as large as the dilated kernel once padded — as large
exactly one time in four or so, which gives an output of size 1 and a kernel covering the whole
input. A convolution is bilinear: smooth everywhere, real-valued inputs throughout.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, register
from properties.strategies import seeds, values

FAMILY = "conv"


def _edges(padding, kernel, dilation):
    """(top, bottom, left, right) padding as torch computes it."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return (ph, ph, pw, pw)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@st.composite
def _conv(draw, bias=True, same=False, unbatched=False):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = draw(st.sampled_from([1, 1, 2, (1, 2), (2, 1)]))
    if same:
        stride, padding = 1, "same"
    else:
        stride = draw(st.sampled_from([1, 2, 3, (1, 2), (3, 1)]))
        padding = draw(st.sampled_from([0, 1, 2, (0, 1), (2, 0), "valid"]))
    top, bottom, left, right = _edges(padding, kernel, _pair(dilation))
    extent = [d * (k - 1) + 1 for d, k in zip(_pair(dilation), kernel)]
    # The smallest image the padded kernel fits (kernel = padded input: output size 1), or more.
    h = max(1, extent[0] - top - bottom) + draw(st.sampled_from([0, 1, 2, 3, 5]))
    w = max(1, extent[1] - left - right) + draw(st.sampled_from([0, 1, 2, 4, 6]))
    batch = () if unbatched else (draw(st.sampled_from([1, 2, 3, 0])),)
    s = draw(seeds)
    args = (values(s, batch + (cin, h, w)), values(s + 1, (cout, cin // groups) + kernel),
            values(s + 2, (cout,)) if bias else None)
    return Example(args, {"stride": stride, "padding": padding, "dilation": dilation,
                          "groups": groups})


def _jax_conv2d(J, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    top, bottom, left, right = _edges(padding, weight.shape[2:], _pair(dilation))
    batched = x if x.ndim == 4 else x[None]
    out = J.lax.conv_general_dilated(
        batched, weight, window_strides=_pair(stride), padding=[(top, bottom), (left, right)],
        rhs_dilation=_pair(dilation), dimension_numbers=("NCHW", "OIHW", "NCHW"),
        feature_group_count=groups, precision=J.lax.Precision.HIGHEST)
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out if x.ndim == 4 else out[0]


def _terms(ex):
    """Products summed per output element: C / groups · kh · kw (and the bias)."""
    w = ex.args[1]
    return w.shape[1] * w.shape[2] * w.shape[3] + 1


def _bad(description, x, w, b=None, raises=RuntimeError, **kwargs):
    return BadInput(description, lambda: Example(
        (np.ones(x), np.ones(w), None if b is None else np.ones(b)), kwargs), (raises,))


_BAD = [
    _bad("kernel 3x3 larger than the 2x2 input", (1, 1, 2, 2), (1, 1, 3, 3)),
    _bad("kernel 5x5 larger than the padded 4x4 input", (1, 1, 2, 2), (1, 1, 5, 5), padding=1),
    _bad("dilated kernel (5x5) larger than the 4x4 input", (1, 1, 4, 4), (1, 1, 3, 3),
         dilation=2),
    _bad("stride 0", (1, 1, 4, 4), (1, 1, 3, 3), stride=0),
    _bad("negative stride", (1, 1, 4, 4), (1, 1, 3, 3), stride=(1, -1)),
    _bad("input has 4 channels, weight expects 3", (1, 4, 4, 4), (2, 3, 3, 3)),
    _bad("input has 4 channels, weight x groups expects 8", (1, 4, 4, 4), (2, 4, 3, 3),
         groups=2),
    _bad("3 out channels not divisible by 2 groups", (1, 4, 4, 4), (3, 2, 3, 3), groups=2),
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


def _mygrad_conv2d(mg, x, weight, bias, stride, padding, dilation, groups):
    """MyGrad's conv_nd (timing only): it wants the stride to divide the padded size minus the
    kernel, so the input loses the rows and columns torch would not reach anyway — the same
    work and output shape (the values at the border differ: they are not compared)."""
    from mygrad.nnet.layers import conv_nd

    h, w = x.shape[2:]
    k = weight.shape[2]
    cut = [(size + 2 * padding - k) % stride for size in (h, w)]
    x = x[:, :, :h - cut[0], :w - cut[1]]
    out = conv_nd(x, weight, stride=stride, padding=padding, dilation=dilation)
    return out + bias[None, :, None, None]


def _quiet(fn, *args, **kwargs):
    """torch warns that 'same' padding of an even kernel may copy the input (its own cost)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def _spec(variant, examples, diff=(0, 1, 2), **kw):
    return OpSpec("nn.functional.conv2d", FAMILY, variant, examples, _jax_conv2d, diff=diff,
                  accumulation=_terms, **kw)


register(
    _spec("bias", _conv(), bad_inputs=_BAD, mygrad=_mygrad_conv2d, bench_target=1.5,
          bench_shapes=[
              _bench(32, 64, 64, 32, 3, 1, 1), _bench(32, 128, 128, 16, 3, 1, 1),
              _bench(32, 256, 256, 8, 3, 1, 1), _bench(32, 512, 512, 4, 3, 1, 1),
              _bench(32, 64, 128, 32, 3, 2, 1), _bench(32, 64, 128, 32, 1, 2, 0),
              _bench(8, 3, 64, 224, 7, 2, 3)]),
    _spec("no bias", _conv(bias=False), diff=(0, 1)),
    _spec("same", _conv(same=True), call=_quiet),
    _spec("unbatched", _conv(unbatched=True)),
)
