"""What the conv → batch norm → relu → pool chain does with memory: conv2d in chunks of the
batch (chunk edges that do not divide the batch, groups, stride, padding, dilation), the
channels-major (C, N, H, W) layout that conv2d's output has and batch norm, relu and pooling
keep without a copy, the same bits from every input layout, and the kernels' bounds on the
layouts they newly take."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import impl
import impl.nn.functional as F
from impl import _kernels
from impl._kernels import _norm, _relu, col2im, reference_conv, reference_norm
from impl.ops.conv import Conv2d as Conv2dFunction

# torch warns that its own 'same' padding of an even kernel may copy the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-11, atol=1e-11)}

LAYOUTS = {
    "contiguous": lambda a: a,
    "channels major": lambda a: np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1),
    "channels last": lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
    "step sliced": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "reversed": lambda a: np.ascontiguousarray(a[:, ::-1])[:, ::-1],
}


def _channels_major(a):
    return not a.flags.c_contiguous and a.swapaxes(0, 1).flags.c_contiguous


def _conv_run(x, w, b, params, cot, layout=lambda a: a):
    """impl's conv2d forward and backward on ``x`` given in ``layout``: output, gradients."""
    xs = impl.from_numpy(layout(x)).requires_grad_(True)
    ws = impl.from_numpy(w).requires_grad_(True)
    bs = impl.from_numpy(b).requires_grad_(True)
    y = F.conv2d(xs, ws, bs, **params)
    y.backward(impl.from_numpy(layout(cot) if cot.ndim == 4 else cot))
    return [y.data, xs.grad.data, ws.grad.data, bs.grad.data]


def _torch_run(x, w, b, params, cot):
    ts = [torch.from_numpy(a).requires_grad_(True) for a in (x, w, b)]
    y = torch.nn.functional.conv2d(*ts, **params)
    y.backward(torch.from_numpy(cot))
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts]


# (N, C, Cout, H, W, kernel, params): batches of 5 and 7 cut into chunks of 2 and 3 images
CONV_CASES = [
    (5, 4, 6, 9, 8, (3, 3), dict(padding=1)),
    (7, 6, 4, 10, 7, (3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    (5, 3, 3, 8, 8, (3, 3), dict(stride=2, padding=2, dilation=2, groups=3)),
    (7, 4, 8, 6, 6, (1, 1), dict(stride=2)),
    (5, 4, 8, 6, 6, (1, 1), dict(groups=2)),
    (3, 2, 4, 5, 5, (2, 2), dict(padding="same")),
]


@pytest.mark.parametrize("images", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_in_chunks_matches_torch_and_one_chunk(case, dtype, images, rng, monkeypatch):
    n, c, cout, h, w, kernel, params = CONV_CASES[case]
    groups = params.get("groups", 1)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((cout, c // groups) + kernel).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    out = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wt), **params)
    cot = rng.standard_normal(out.shape).astype(dtype)
    whole = _conv_run(x, wt, b, params, cot)
    itemsize = np.dtype(dtype).itemsize
    image = c * kernel[0] * kernel[1] * out.shape[2] * out.shape[3] * itemsize
    monkeypatch.setattr(Conv2dFunction, "chunk_bytes", images * image)
    chunked = _conv_run(x, wt, b, params, cot)
    for got, one, want in zip(chunked, whole, _torch_run(x, wt, b, params, cot)):
        np.testing.assert_allclose(got, want, **TOLERANCE[dtype])
        np.testing.assert_allclose(got, one, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_gives_the_same_bits_for_every_input_layout(case, dtype, rng, monkeypatch):
    n, c, cout, h, w, kernel, params = CONV_CASES[case]
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((cout, c // params.get("groups", 1)) + kernel).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    cot = rng.standard_normal(F.conv2d(impl.from_numpy(x), impl.from_numpy(wt), **params)
                              .shape).astype(dtype)
    monkeypatch.setattr(Conv2dFunction, "chunk_bytes", 1)  # one image a chunk
    want = _conv_run(x, wt, b, params, cot)
    for name, layout in LAYOUTS.items():
        got = _conv_run(x, wt, b, params, cot, layout)
        for g, v in zip(got, want):
            np.testing.assert_array_equal(g, v, err_msg=name)


def test_conv2d_input_gradient_takes_a_channels_major_input_layout(rng):
    x = LAYOUTS["channels major"](rng.standard_normal((3, 4, 6, 6)))
    for k in (1, 3):
        xs = impl.from_numpy(x).requires_grad_(True)
        F.conv2d(xs, impl.from_numpy(rng.standard_normal((5, 4, k, k))), padding=k // 2) \
            .sum().backward()
        assert _channels_major(xs.grad.data)
    xs = impl.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    F.conv2d(xs, impl.from_numpy(rng.standard_normal((5, 4, 3, 3)))).sum().backward()
    assert xs.grad.data.flags.c_contiguous


def test_conv2d_empty_batch_in_chunks(monkeypatch):
    monkeypatch.setattr(Conv2dFunction, "chunk_bytes", 1)
    x = impl.zeros(0, 3, 5, 5).requires_grad_(True)
    w = impl.ones(4, 3, 3, 3).requires_grad_(True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (0, 4, 5, 5)
    y.sum().backward()
    assert x.grad.shape == x.shape and not w.grad.data.any()


# -- im2col and col2im on the layouts they take ------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h, w, kernel, padding, dilation", [
    (8, 8, (3, 3), (1, 1), (1, 1)), (4, 4, (3, 3), (2, 2), (2, 2)), (5, 7, (1, 3), (0, 1), (1, 1)),
    (6, 2, (2, 3), (1, 2), (1, 2)), (1, 9, (3, 3), (1, 1), (1, 1)), (3, 3, (5, 5), (4, 4), (2, 2)),
    (40, 40, (3, 3), (1, 1), (1, 1)),
])
def test_im2col_reads_nothing_outside_each_plane(h, w, kernel, padding, dilation, dtype, rng):
    # Planes with NaN between them: a tap block copied as the shifted plane ('same' padding,
    # stride 1, short rows) must take no element from outside its own plane.
    n, c = 3, 2
    gap = 5
    buffer = np.full(n * c * (h * w + gap) + gap, np.nan, dtype)
    x = np.lib.stride_tricks.as_strided(
        buffer[gap:], (n, c, h, w),
        np.array([c * (h * w + gap), h * w + gap, w, 1]) * buffer.itemsize)
    x[...] = rng.standard_normal((n, c, h, w))
    ho = h + 2 * padding[0] - dilation[0] * (kernel[0] - 1)
    wo = w + 2 * padding[1] - dilation[1] * (kernel[1] - 1)
    cols = np.full((c * kernel[0] * kernel[1], n, ho, wo), 7, dtype)
    ref = np.empty_like(cols)
    params = (kernel, (1, 1), padding, dilation, 0)
    _kernels.im2col(x, cols, *params)
    reference_conv.im2col(np.ascontiguousarray(x), ref, *params)
    np.testing.assert_array_equal(cols, ref)



@pytest.mark.parametrize("dtype", DTYPES)
def test_col2im_into_channels_major_images_and_batch_slices(dtype, rng):
    params = ((3, 2), (2, 1), (1, 1), (1, 2), 2)  # kernel, stride, padding, dilation, c0
    cols = rng.standard_normal((2 * 6, 4, 3, 3)).astype(dtype)  # channels 2..3 of 5
    for n0, n1 in ((0, 4), (1, 3)):
        buffer = np.full((5 + 2, 4, 5, 4), np.nan, dtype)  # (C, N, H, W) between NaN planes
        images = buffer[1:-1].swapaxes(0, 1)
        images[...] = 7
        chunk = np.ascontiguousarray(cols[:, n0:n1])
        col2im(chunk, images[n0:n1], *params)
        want = np.full((n1 - n0, 5, 5, 4), 7, dtype)
        reference_conv.col2im(chunk, want, *params)
        np.testing.assert_array_equal(images[n0:n1], want)
        assert np.isnan(buffer[0]).all() and np.isnan(buffer[-1]).all()
        assert (images[:n0] == 7).all() and (images[n1:] == 7).all()  # other images untouched


@pytest.mark.parametrize("image", [
    lambda: np.zeros((2, 3, 4, 4))[..., ::2],  # rows not contiguous
    lambda: np.zeros((2, 3, 4, 4)).transpose(0, 1, 3, 2),  # transposed planes
    lambda: np.broadcast_to(np.zeros((1, 3, 4, 4)), (2, 3, 4, 4)),  # planes on each other
    lambda: np.lib.stride_tricks.as_strided(np.zeros(64), (2, 3, 4, 4), (64, 8, 32, 8)),
    lambda: np.zeros((2, 3, 4, 4))[::-1],  # planes in reverse
])
def test_col2im_refuses_images_whose_planes_overlap_or_are_scattered(image):
    with pytest.raises(ValueError, match="col2im"):
        col2im(np.zeros((27, 2, 2, 2)), image(), (3, 3), (1, 1), (0, 0), (1, 1), 0)


# -- batch norm ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3, 5), (8, 5, 1), (3, 7, 300), (64, 4, 3), (1, 2, 9)])
def test_norm_kernels_give_the_same_bits_channels_major(shape, dtype, rng):
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    mean, c1, c2, c3 = (rng.standard_normal(c) for _ in range(4))
    cm = LAYOUTS["channels major"]
    results = []
    for lay in (lambda a: a, cm):
        out = np.empty((c, shape[0], shape[2]), dtype).swapaxes(0, 1) if lay is cm \
            else np.empty(shape, dtype)
        stats = np.empty(c), np.empty(c)
        _norm.channel_stats(lay(x), *stats)
        sums = np.empty(c), np.empty(c)
        _norm.channel_grad_sums(lay(g), lay(x), mean, *sums)
        _norm.channel_combine(lay(g), lay(x), mean, c1, c2, c3, out)
        combined = out.copy()
        _norm.channel_affine(lay(x), mean, c1, c2, out)
        results.append([*stats, *sums, combined, out.copy()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    ref = np.empty(shape, dtype)
    reference_norm.channel_combine(g, x, mean, c1, c2, c3, ref)
    np.testing.assert_allclose(results[1][4], ref, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_norm_kernels_refuse_mixed_layouts(rng):
    x = rng.standard_normal((4, 3, 5))
    cm = LAYOUTS["channels major"](x)
    with pytest.raises(ValueError, match="channel_affine"):
        _norm.channel_affine(cm, *(np.zeros(3),) * 3, np.empty((4, 3, 5)))
    with pytest.raises(ValueError, match="channel_grad_sums"):
        _norm.channel_grad_sums(x, cm, np.zeros(3), np.empty(3), np.empty(3))
    with pytest.raises(ValueError, match="channel_stats"):
        _norm.channel_stats(x[:, :, ::2], np.empty(3), np.empty(3))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_keeps_a_channels_major_input_where_it_lies(training, rng):
    x = rng.standard_normal((6, 4, 5, 5)).astype(np.float32)
    weight, bias = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4)
    cot = rng.standard_normal(x.shape).astype(np.float32)
    runs = []
    for lay in (LAYOUTS["contiguous"], LAYOUTS["channels major"], LAYOUTS["channels last"]):
        xs = impl.from_numpy(lay(x)).requires_grad_(True)
        ws = impl.from_numpy(weight).requires_grad_(True)
        bs = impl.from_numpy(bias.astype(np.float32)).requires_grad_(True)
        y = F.batch_norm(xs, impl.zeros(4), impl.ones(4), ws, bs, training=training)
        if lay is LAYOUTS["channels major"]:
            assert _channels_major(y.data)
            assert np.shares_memory(y.grad_fn.saved[0], xs.data)  # no copy of the input
        y.backward(impl.from_numpy(lay(cot)))
        if lay is LAYOUTS["channels major"]:
            assert _channels_major(xs.grad.data)
        runs.append([y.data, xs.grad.data, ws.grad.data, bs.grad.data])
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a, b)


# -- relu ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_keeps_signed_zeros_nan_and_the_layout(dtype, rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    x.flat[:5] = [-0.0, 0.0, np.nan, -np.inf, np.inf]
    cot = rng.standard_normal(x.shape).astype(dtype)
    t = torch.from_numpy(x).requires_grad_(True)
    ty = torch.relu(t)
    ty.backward(torch.from_numpy(cot))
    want = ty.detach().numpy()
    for name, lay in LAYOUTS.items():
        xs = impl.from_numpy(lay(x)).requires_grad_(True)
        y = impl.relu(xs)
        if name in ("contiguous", "channels major", "channels last"):
            assert y.data.strides == xs.data.strides, name  # laid out as its input
        y.backward(impl.from_numpy(cot))
        np.testing.assert_array_equal(y.data, want, err_msg=name)
        np.testing.assert_array_equal(np.signbit(y.data), np.signbit(want))
        np.testing.assert_array_equal(xs.grad.data, t.grad.numpy(), err_msg=name)


def test_relu_of_integers_and_scalars():
    assert impl.relu(impl.tensor([-2, 0, 3])).tolist() == [0, 0, 3]
    x = impl.tensor(-1.5, requires_grad=True)
    y = impl.relu(x)
    y.backward()
    assert y.item() == 0 and x.grad.item() == 0


@pytest.mark.parametrize("name", ["relu_forward", "relu_backward"])
def test_relu_kernels_write_nothing_outside_their_output(name, rng):
    n = 3 * 32768 + 5  # blocks and a short last one, however many threads
    x = rng.standard_normal(n)
    buffer = np.full(n + 64, np.nan)
    out = buffer[32:32 + n]
    if name == "relu_forward":
        _relu.relu_forward(x, out)
    else:
        _relu.relu_backward(x, np.maximum(x, 0), out)
    assert np.isnan(buffer[:32]).all() and np.isnan(buffer[32 + n:]).all()
    assert not np.isnan(out).any()


@pytest.mark.parametrize("args", [
    lambda: (np.zeros(4), np.zeros(5)),  # lengths differ
    lambda: (np.zeros(4, np.float32), np.zeros(4)),  # dtypes differ
    lambda: (np.zeros(8)[::2], np.zeros(4)),  # not contiguous
    lambda: (np.zeros((2, 2)), np.zeros((2, 2))),  # not 1-D
    lambda: (np.zeros(4, np.int64), np.zeros(4, np.int64)),  # not float
])
def test_relu_kernels_refuse_inconsistent_arrays(args):
    with pytest.raises(ValueError, match="relu_forward"):
        _relu.relu_forward(*args())


def test_relu_kernels_refuse_a_read_only_output():
    out = np.zeros(4)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="relu_backward"):
        _relu.relu_backward(np.zeros(4), np.zeros(4), out)


# -- pooling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("pool", [
    lambda x: F.max_pool2d(x, 3, 2, 1),
    lambda x: F.avg_pool2d(x, 2),
    lambda x: F.adaptive_avg_pool2d(x, 1),
    lambda x: F.adaptive_max_pool2d(x, (2, 3)),
])
def test_pooling_keeps_a_channels_major_input_where_it_lies(pool, rng):
    x = rng.standard_normal((3, 4, 7, 8)).astype(np.float32)
    runs = []
    for name, lay in LAYOUTS.items():
        xs = impl.from_numpy(lay(x)).requires_grad_(True)
        y = pool(xs)
        if name == "channels major":
            assert _channels_major(y.data)
        cot = rng.standard_normal(y.shape).astype(np.float32) if not runs else runs[0][2]
        y.backward(impl.from_numpy(cot))
        runs.append([y.data, xs.grad.data, cot])
    for run in runs[1:]:
        np.testing.assert_array_equal(run[0], runs[0][0])
        np.testing.assert_array_equal(run[1], runs[0][1])
