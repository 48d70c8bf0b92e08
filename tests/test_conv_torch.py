"""The convolution kernels against their NumPy references, what the conv2d OpSpecs cannot see
(chained convolutions reading a channels-major output, gradients of some inputs only, the graph
a no-grad call leaves), the Conv2d module and its init against torch, and the memory a conv
takes."""

import math
import tracemalloc

import numpy as np
import pytest
import torch

import impl
import impl.nn.functional as F
from impl import _kernels
from impl._kernels import reference_conv
from impl.ops.conv import Conv2d as Conv2dFunction

# torch warns that its own 'same' padding of an even kernel may copy the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
DTYPES = [np.float32, np.float64]
# conv sums C/groups * kh * kw products per output: a few ulps of the magnitude per term
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-11, atol=1e-11)}


# -- kernels against their references ---------------------------------------------------------

def _window(rng):
    """Random image and window parameters, the kernel at least once inside the padded image."""
    while True:
        n, h, w = rng.integers(0, 3), rng.integers(1, 9), rng.integers(1, 9)
        groups, cg = rng.integers(1, 4), rng.integers(0, 4)
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(p) for p in rng.integers(0, 3, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
        ho = (h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
        wo = (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
        if ho >= 1 and wo >= 1:
            c0 = int(rng.integers(0, groups)) * cg
            return (n, groups * cg, h, w), (kernel[0] * kernel[1] * cg, n, ho, wo), \
                (kernel, stride, padding, dilation, c0)


IMAGE_LAYOUTS = {
    "contiguous": lambda a: a,
    "step sliced": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "reversed": lambda a: np.ascontiguousarray(a[..., ::-1])[..., ::-1],
    "channels last": lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
}


@pytest.mark.parametrize("layout", IMAGE_LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_and_col2im_equal_their_references(dtype, layout, rng):
    for _ in range(100):
        x_shape, cols_shape, params = _window(rng)
        x = IMAGE_LAYOUTS[layout](rng.standard_normal(x_shape).astype(dtype))
        x_before = x.copy()
        cols, ref = np.full(cols_shape, np.nan, dtype), np.full(cols_shape, np.nan, dtype)
        _kernels.im2col(x, cols, *params)
        reference_conv.im2col(x, ref, *params)
        np.testing.assert_array_equal(cols, ref)
        np.testing.assert_array_equal(x, x_before)
        # col2im sums the same terms in the same order as its reference: equal bit for bit
        d = rng.standard_normal(cols_shape).astype(dtype)
        out, ref_out = np.full(x_shape, 7, dtype), np.full(x_shape, 7, dtype)
        _kernels.col2im(d, out, *params)
        reference_conv.col2im(d, ref_out, *params)
        np.testing.assert_array_equal(out, ref_out)
        # and it is im2col's adjoint: <im2col(x), d> = <x, col2im(d)> on the group's channels
        c0, cg = params[4], cols_shape[0] // (params[0][0] * params[0][1])
        lhs, rhs = np.vdot(cols, d), np.vdot(x[:, c0:c0 + cg], out[:, c0:c0 + cg])
        assert abs(lhs - rhs) <= 1e-4 * (1 + np.abs(d).sum())


@pytest.mark.parametrize("call", [
    lambda: _kernels.im2col(np.zeros((1, 2, 4, 4)), np.zeros((10, 1, 2, 2)), (3, 3), (1, 1),
                            (0, 0), (1, 1), 0),  # 10 rows are not 9 taps of whole channels
    lambda: _kernels.im2col(np.zeros((1, 2, 4, 4)), np.zeros((18, 1, 2, 2)), (3, 3), (1, 1),
                            (0, 0), (1, 1), 1),  # channels 1..2 of 2
    lambda: _kernels.im2col(np.zeros((1, 2, 4, 4)), np.zeros((18, 1, 2, 2)), (3, 3), (0, 1),
                            (0, 0), (1, 1), 0),  # stride 0
    lambda: _kernels.col2im(np.zeros((18, 2, 2, 2)), np.zeros((1, 2, 4, 4)), (3, 3), (1, 1),
                            (0, 0), (1, 1), 0),  # batch sizes differ
    lambda: _kernels.col2im(np.zeros((18, 1, 2, 2), np.float32), np.zeros((1, 2, 4, 4)),
                            (3, 3), (1, 1), (0, 0), (1, 1), 0),  # dtypes differ
    lambda: _kernels.col2im(np.zeros((18, 1, 2, 2)), np.zeros((1, 2, 4, 4)), (3, 3), (1, 1),
                            (0,), (1, 1), 0),  # one padding value
])
def test_kernels_reject_inconsistent_arrays(call):
    with pytest.raises(ValueError):
        call()


# -- conv2d against torch where the OpSpecs cannot look ----------------------------------------
# (the per-op comparisons — shapes, parameters, layouts, edge cases — are the conv2d OpSpecs of
# properties/specs/conv.py)


def _pair_of_runs(x, w, b, kwargs, wants):
    """Forward and backward (random cotangent) of impl and torch: [(output, leaves)] of each."""
    runs = []
    for lib, fn in ((impl, F.conv2d), (torch, torch.nn.functional.conv2d)):
        xs, ws = lib.from_numpy(x), lib.from_numpy(w)
        bs = None if b is None else lib.from_numpy(b)
        leaves = [t for t in (xs, ws, bs) if t is not None]
        for t, want in zip(leaves, wants):
            t.requires_grad_(want)
        out = fn(xs, ws, bs, **kwargs)
        runs.append((out, leaves))
    cot = np.random.default_rng(1).standard_normal(runs[1][0].shape).astype(x.dtype)
    runs[0][0].backward(impl.from_numpy(cot))
    runs[1][0].backward(torch.from_numpy(cot))
    return runs


def _assert_runs_match(runs, dtype):
    (out, leaves), (tout, tleaves) = runs
    assert out.dtype == dtype and out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **TOLERANCE[dtype])
    for t, tt in zip(leaves, tleaves):
        if tt.grad is None:
            assert t.grad is None
            continue
        assert t.grad.dtype == dtype and t.grad.shape == tuple(tt.grad.shape)
        np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), **TOLERANCE[dtype])


def test_conv2d_output_is_a_channels_last_view_that_chains(rng):
    """The output is an (N, C, H, W) view of a (C, N, H, W) buffer; a following conv reads it as
    it is and the gradients through both match torch's."""
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w1 = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((4, 5, 3, 3)).astype(np.float32)
    results = []
    for lib, fn in ((impl, F.conv2d), (torch, torch.nn.functional.conv2d)):
        leaves = [lib.from_numpy(a).requires_grad_(True) for a in (x, w1, w2)]
        y = fn(fn(leaves[0], leaves[1], padding=1).relu(), leaves[2], stride=2)
        y.sum().backward()
        results.append((y, leaves))
    (y, leaves), (ty, tleaves) = results
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOLERANCE[np.float32])
    for t, tt in zip(leaves, tleaves):
        np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), **TOLERANCE[np.float32])
    h = F.conv2d(impl.from_numpy(x), impl.from_numpy(w1), padding=1)
    assert h.data.transpose(1, 0, 2, 3).flags.c_contiguous


@pytest.mark.parametrize("wants", [(True, False, False), (False, True, False),
                                   (False, False, True), (True, True, False)])
def test_conv2d_gradients_only_where_required(wants, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    _assert_runs_match(_pair_of_runs(x, w, b, dict(stride=2, padding=1), wants), np.float64)


def test_conv2d_rejects_integer_tensors():
    x = impl.from_numpy(np.ones((1, 1, 3, 3), np.int64))
    with pytest.raises(NotImplementedError, match="conv2d"):
        F.conv2d(x, x)


def test_conv2d_without_grad_saves_nothing(rng):
    x = impl.from_numpy(rng.standard_normal((1, 2, 5, 5)).astype(np.float32))
    w = impl.from_numpy(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    y = F.conv2d(x, w)
    assert y.grad_fn is None and y.dtype == np.float32


# -- the Conv2d module ------------------------------------------------------------------------

MODULES = [
    dict(in_channels=3, out_channels=8, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(2, 1), padding=(1, 0),
         dilation=(1, 2), groups=2, bias=False),
    dict(in_channels=2, out_channels=4, kernel_size=4, padding="same"),
    dict(in_channels=2, out_channels=2, kernel_size=3, padding="valid", stride=2),
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=1, padding_mode="reflect"),
    dict(in_channels=3, out_channels=5, kernel_size=(3, 2), padding=(2, 1),
         padding_mode="replicate"),
    dict(in_channels=3, out_channels=5, kernel_size=4, padding="same", padding_mode="circular"),
]


@pytest.mark.parametrize("kwargs", MODULES)
def test_conv2d_module_matches_torch(kwargs, rng):
    layer, ref = impl.nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs)
    assert repr(layer) == repr(ref)
    assert list(layer.state_dict()) == list(ref.state_dict())
    for name, p in ref.named_parameters():
        mine = getattr(layer, name)
        assert isinstance(mine, impl.nn.Parameter) and mine.shape == tuple(p.shape)
        assert mine.dtype == np.float32
    layer.load_state_dict({k: impl.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                 "groups", "padding_mode", "output_padding", "transposed"):
        assert getattr(layer, attr) == getattr(ref, attr), attr
    x = rng.standard_normal((2, kwargs["in_channels"], 7, 6)).astype(np.float32)
    xi, xt = impl.from_numpy(x).requires_grad_(), torch.from_numpy(x).requires_grad_()
    y, ty = layer(xi), ref(xt)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOLERANCE[np.float32])
    cot = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(impl.from_numpy(cot))
    ty.backward(torch.from_numpy(cot))
    np.testing.assert_allclose(xi.grad.data, xt.grad.numpy(), **TOLERANCE[np.float32])
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(getattr(layer, name).grad.data, p.grad.numpy(),
                                   **TOLERANCE[np.float32])


def test_conv2d_default_init_is_torchs_distribution():
    impl.manual_seed(0)
    layer = impl.nn.Conv2d(64, 128, 3, groups=2)
    bound = 1 / math.sqrt(32 * 9)  # fan_in = in_channels / groups * kh * kw
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    impl.manual_seed(0)
    np.testing.assert_array_equal(impl.nn.Conv2d(64, 128, 3, groups=2).weight.data,
                                  layer.weight.data)
    assert impl.nn.Conv2d(1, 1, 1, dtype=impl.float64).weight.dtype == np.float64


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=3, out_channels=4, kernel_size=3, groups=0),
    dict(in_channels=3, out_channels=4, kernel_size=3, groups=2),
    dict(in_channels=4, out_channels=3, kernel_size=3, groups=2),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding="full"),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding="same", stride=2),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding_mode="mirror"),
])
def test_conv2d_module_rejects_what_torch_rejects(kwargs):
    with pytest.raises(ValueError):
        torch.nn.Conv2d(**kwargs)
    with pytest.raises(ValueError, match="Conv2d"):
        impl.nn.Conv2d(**kwargs)


@pytest.mark.parametrize("mode, padding", [("reflect", 3), ("circular", 4)])
def test_conv2d_padding_mode_too_large_raises_as_torch(mode, padding):
    x = np.ones((1, 1, 3, 3), np.float32)
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(1, 1, 3, padding=padding, padding_mode=mode)(torch.from_numpy(x))
    with pytest.raises(RuntimeError, match=mode):
        impl.nn.Conv2d(1, 1, 3, padding=padding, padding_mode=mode)(impl.from_numpy(x))


# -- memory -----------------------------------------------------------------------------------

@pytest.mark.parametrize("retain_graph", [False, True])
@pytest.mark.parametrize("n, c, cout, size, k, stride, padding", [
    (8, 64, 64, 32, 3, 1, 1), (8, 256, 256, 8, 3, 1, 1), (8, 512, 512, 4, 3, 1, 1),
    (2, 3, 64, 112, 7, 2, 3), (8, 64, 128, 32, 3, 2, 1), (8, 64, 128, 32, 1, 2, 0),
    (8, 64, 64, 32, 1, 1, 0),
])
def test_conv_memory_is_bounded_by_a_chunk_of_the_columns(n, c, cout, size, k, stride, padding,
                                                          retain_graph, rng):
    """tracemalloc sees NumPy's allocations. The forward keeps the input and the weight as they
    are and allocates, beyond its output, one chunk of the columns at most (a 1x1 stride-1
    kernel: the input in channels-major order, when it is not laid out so). The backward
    allocates at most: the output gradient in channels-major order, the input's (in the input's
    layout), the weight's (twice: a chunk's product before it is added) and the bias's
    gradients, and one chunk of the columns — never the full column matrix, whether or not the
    graph is kept."""
    x = impl.from_numpy(rng.standard_normal((n, c, size, size)).astype(np.float32))
    w = impl.from_numpy(rng.standard_normal((cout, c, k, k)).astype(np.float32))
    b = impl.from_numpy(rng.standard_normal(cout).astype(np.float32))
    for t in (x, w, b):
        t.requires_grad_(True)
    direct = (k, stride, padding) == (1, 1, 0)
    out_pixels = ((size + 2 * padding - k) // stride + 1) ** 2
    image_cols = c * k * k * out_pixels * 4
    chunk = 0 if direct else min(n, max(1, Conv2dFunction.chunk_bytes // image_cols)) * image_cols
    tracemalloc.start()
    try:
        y = F.conv2d(x, w, b, stride=stride, padding=padding)
        forward_peak = tracemalloc.get_traced_memory()[1]
        kept = tracemalloc.get_traced_memory()[0]
        assert kept <= y.data.nbytes + (1 << 16)
        assert isinstance(y.grad_fn, Conv2dFunction)
        assert y.grad_fn.saved[0] is x.data  # the input itself, no copy and no columns
        assert forward_peak <= y.data.nbytes + chunk + (x.data.nbytes if direct else 0) \
            + (1 << 16)
        assert chunk < n * image_cols or n * image_cols <= Conv2dFunction.chunk_bytes
        cot = impl.from_numpy(rng.standard_normal(y.shape).astype(np.float32))
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        y.backward(cot, retain_graph=retain_graph)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # a 1x1 stride-1 kernel's input gradient comes channels-major, copied into the leaf's .grad;
    # the input in channels-major order is a copy too
    bound = y.data.nbytes + x.data.nbytes * (3 if direct else 1) + 2 * w.data.nbytes \
        + b.data.nbytes + chunk + (1 << 16)
    assert peak <= bound, (peak, bound, chunk)


def test_conv_backward_twice_with_retain_graph_gives_the_same_gradients(rng):
    # The backward builds its columns again and writes into nothing the graph keeps.
    x = impl.from_numpy(rng.standard_normal((2, 3, 6, 6))).requires_grad_(True)
    w = impl.from_numpy(rng.standard_normal((4, 3, 3, 3))).requires_grad_(True)
    y = F.conv2d(x, w, padding=1)
    cot = impl.from_numpy(rng.standard_normal(y.shape))
    y.backward(cot, retain_graph=True)
    first = x.grad.numpy().copy(), w.grad.numpy().copy()
    x.grad = w.grad = None
    y.backward(cot)
    np.testing.assert_array_equal(x.grad.numpy(), first[0])
    np.testing.assert_array_equal(w.grad.numpy(), first[1])
