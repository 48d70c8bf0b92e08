"""The compiled kernels against their NumPy references, and the routing in ``sum_to_shape``."""

import importlib
import inspect
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from impl import _kernels
from impl._kernels import parallel, reference, sum_to_shape

ROOT = pathlib.Path(__file__).resolve().parents[1]
KERNEL_DIR = ROOT / "impl" / "_kernels"
DTYPES = [np.float32, np.float64]


def _public_functions(module, kind):
    return {name: f for name, f in vars(module).items()
            if not name.startswith("_") and type(f).__name__ == kind
            and getattr(f, "__module__", module.__name__) == module.__name__}


COMPILED_MODULES = ["impl._kernels." + p.stem for p in sorted(KERNEL_DIR.glob("*.pyx"))]
COMPILED = {name: f for m in COMPILED_MODULES
            for name, f in _public_functions(importlib.import_module(m),
                                             "cython_function_or_method").items()}
REFERENCE = {name: f for p in sorted(KERNEL_DIR.glob("reference*.py"))
             for name, f in _public_functions(
                 importlib.import_module("impl._kernels." + p.stem), "function").items()}


# -- argument builders: (generator, case, dtype) -> the kernel's arguments ---------------------
def _reduce_args(rng, shape, dtype):
    return [rng.standard_normal(shape).astype(dtype), np.empty(shape[1], dtype)]


def _conv_geometry(case):
    n, c, h, w, (kh, kw), (sh, sw), (ph, pw), (dh, dw), c0, cg, _ = case
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return (n, c, h, w), (cg * kh * kw, n, ho, wo), ((kh, kw), (sh, sw), (ph, pw), (dh, dw), c0)


def _image(rng, shape, channels_last, dtype):
    """An (N, C, H, W) image, C-contiguous or a view of an (N, H, W, C) array."""
    if not channels_last:
        return rng.standard_normal(shape).astype(dtype)
    n, c, h, w = shape
    return rng.standard_normal((n, h, w, c)).astype(dtype).transpose(0, 3, 1, 2)


def _im2col_args(rng, case, dtype):
    x_shape, cols_shape, params = _conv_geometry(case)
    return [_image(rng, x_shape, case[-1], dtype),
            rng.standard_normal(cols_shape).astype(dtype), *params]


def _col2im_args(rng, case, dtype):
    x_shape, cols_shape, params = _conv_geometry(case)
    return [rng.standard_normal(cols_shape).astype(dtype),
            rng.standard_normal(x_shape).astype(dtype), *params]


def _per_channel(rng, k, low=-1.0, high=1.0):
    return rng.uniform(low, high, k)


def _channel_stats_args(rng, shape, dtype):
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)
    return [x, np.empty(shape[1]), np.empty(shape[1])]


def _channel_grad_sums_args(rng, shape, dtype):
    k = shape[1]
    return [rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype),
            _per_channel(rng, k), np.empty(k), np.empty(k)]


def _channel_affine_args(rng, shape, dtype):
    k = shape[1]
    return [rng.standard_normal(shape).astype(dtype), _per_channel(rng, k),
            _per_channel(rng, k, 0.5, 2.0), _per_channel(rng, k), np.empty(shape, dtype)]


def _channel_combine_args(rng, shape, dtype):
    k = shape[1]
    return [rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype),
            _per_channel(rng, k), _per_channel(rng, k), _per_channel(rng, k),
            _per_channel(rng, k), np.empty(shape, dtype)]


def _windows(size, spec):
    """Per-output [start, end) bounds on a dilated grid, as the pooling ops fold them: a
    ("pool", kernel, stride, padding, dilation) window clipped to the input, an
    ("adaptive", n_out) one, or ("empty", n_out) windows holding nothing."""
    if spec[0] == "adaptive":
        n = spec[1]
        start = np.arange(n) * size // n
        return start, -(-(np.arange(n) + 1) * size // n), 1
    if spec[0] == "empty":
        return np.full(spec[1], size // 2), np.full(spec[1], size // 2), 1
    _, k, s, p, d = spec
    n = (size + 2 * p - d * (k - 1) - 1) // s + 1
    first = np.arange(n) * s - p
    first = first + -(-np.maximum(-first, 0) // d) * d  # the first tap inside the input
    end = np.minimum(np.arange(n) * s - p + d * (k - 1) + 1, size)
    return first, np.maximum(end, first), d


def _pool_geometry(case):
    (planes, h, w), row_spec, col_spec, values = case
    rs, re, dh = _windows(h, row_spec)
    cs, ce, dw = _windows(w, col_spec)
    return (planes, h, w), (planes, len(rs), len(cs)), (rs, re, cs, ce), (dh, dw), values


def _pool_input(rng, shape, values, dtype):
    x = rng.standard_normal(shape)
    if values == "ties":
        x = np.round(x)
    elif values == "nan":
        x.flat[::7] = np.nan
    return x.astype(dtype)


def _divisor(bounds, dilation):
    rs, re, cs, ce = bounds
    rows = np.maximum(-(-(re - rs) // dilation[0]), 0)
    cols = np.maximum(-(-(ce - cs) // dilation[1]), 0)
    return np.maximum(np.outer(rows, cols), 1).astype(np.float64)


def _max_pool_forward_args(rng, case, dtype):
    shape, out_shape, bounds, dilation, values = _pool_geometry(case)
    return [_pool_input(rng, shape, values, dtype), *bounds, *dilation,
            np.empty(out_shape, dtype), np.empty(out_shape, np.int64)]


def _max_pool_backward_args(rng, case, dtype):
    forward = _max_pool_forward_args(rng, case, dtype)
    COMPILED["max_pool_forward"](*forward)
    x, bounds, out, indices = forward[0], forward[1:5], forward[7], forward[8]
    return [rng.standard_normal(out.shape).astype(dtype), indices, *bounds,
            np.empty(x.shape, dtype)]


def _avg_pool_forward_args(rng, case, dtype):
    shape, out_shape, bounds, dilation, values = _pool_geometry(case)
    return [_pool_input(rng, shape, values, dtype), *bounds, _divisor(bounds, dilation),
            np.empty(out_shape, dtype)]


def _avg_pool_backward_args(rng, case, dtype):
    shape, out_shape, bounds, dilation, _ = _pool_geometry(case)
    return [rng.standard_normal(out_shape).astype(dtype), *bounds, _divisor(bounds, dilation),
            np.empty(shape, dtype)]


def _relu_values(rng, n, dtype):
    """n values with the special ones among them: ±0, NaN and ±inf."""
    x = rng.standard_normal(n)
    x[:min(n, 6)] = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1.0][:min(n, 6)]
    return rng.permutation(x).astype(dtype)


def _relu_forward_args(rng, n, dtype):
    return [_relu_values(rng, n, dtype), np.empty(n, dtype)]


def _relu_backward_args(rng, n, dtype):
    y = np.maximum(_relu_values(rng, n, dtype), 0)
    y[rng.random(n) < 0.2] = 0.0  # the output is 0 where the input was <= 0
    return [_relu_values(rng, n, dtype), y, np.empty(n, dtype)]


REDUCE_SHAPES = [(1, 1, 1), (2, 3, 4), (5, 7, 11), (1, 1000, 1), (64, 3, 1), (1, 3, 64),
                 (300, 1, 300), (0, 3, 2), (3, 0, 2), (2, 3, 0), (0, 0, 0)]
# (N, C, H, W, kernel, stride, padding, dilation, first channel, channels, channels-last image)
CONV_CASES = [
    (2, 3, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1), 0, 3, False),
    (1, 2, 7, 8, (2, 3), (2, 2), (0, 0), (1, 1), 0, 2, True),
    (2, 3, 9, 7, (3, 2), (1, 2), (2, 0), (2, 3), 0, 3, False),
    (2, 6, 6, 6, (3, 3), (2, 1), (1, 2), (1, 1), 2, 2, True),
    (3, 4, 4, 5, (1, 1), (1, 1), (0, 0), (1, 1), 0, 4, False),
    (1, 1, 2, 2, (3, 3), (1, 1), (1, 1), (1, 1), 0, 1, False),
    (2, 2, 3, 1, (3, 3), (1, 1), (1, 2), (1, 2), 0, 2, False),  # a tap wholly in the padding
    (1, 2, 3, 3, (1, 1), (1, 1), (2, 2), (1, 1), 1, 1, True),
    (2, 3, 1, 9, (1, 3), (1, 4), (0, 1), (1, 2), 0, 3, False),
    (0, 3, 5, 5, (3, 3), (1, 1), (1, 1), (1, 1), 0, 3, False),
]
RELU_SIZES = [0, 1, 7, 100, 3 * parallel.GRAIN + 5]  # the last: blocks and a short one
NORM_SHAPES = [(4, 3, 5), (8, 2, 1), (1, 5, 30), (2, 1, 0), (0, 3, 4), (16, 4, 9)]
POOL_CASES = [
    ((3, 6, 7), ("pool", 2, 2, 0, 1), ("pool", 3, 2, 1, 1), "normal"),
    ((2, 8, 8), ("pool", 3, 1, 1, 2), ("pool", 2, 3, 0, 1), "ties"),
    ((2, 5, 9), ("adaptive", 3), ("adaptive", 4), "normal"),
    ((4, 7, 7), ("pool", 3, 2, 1, 1), ("adaptive", 2), "nan"),
    ((1, 4, 4), ("empty", 2), ("pool", 2, 2, 0, 1), "normal"),
    ((2, 1, 1), ("adaptive", 3), ("adaptive", 1), "normal"),
    ((0, 4, 4), ("pool", 2, 2, 0, 1), ("pool", 2, 2, 0, 1), "normal"),
]

# kernel -> (argument builder, cases, indices of the arguments it writes)
KERNELS = {
    "reduce_outer_inner": (_reduce_args, REDUCE_SHAPES, (1,)),
    "im2col": (_im2col_args, CONV_CASES, (1,)),
    "col2im": (_col2im_args, CONV_CASES, (1,)),
    "channel_stats": (_channel_stats_args, NORM_SHAPES, (1, 2)),
    "channel_grad_sums": (_channel_grad_sums_args, NORM_SHAPES, (3, 4)),
    "channel_affine": (_channel_affine_args, NORM_SHAPES, (4,)),
    "channel_combine": (_channel_combine_args, NORM_SHAPES, (6,)),
    "max_pool_forward": (_max_pool_forward_args, POOL_CASES, (7, 8)),
    "max_pool_backward": (_max_pool_backward_args, POOL_CASES, (6,)),
    "avg_pool_forward": (_avg_pool_forward_args, POOL_CASES, (6,)),
    "avg_pool_backward": (_avg_pool_backward_args, POOL_CASES, (6,)),
    "relu_forward": (_relu_forward_args, RELU_SIZES, (1,)),
    "relu_backward": (_relu_backward_args, RELU_SIZES, (2,)),
}
CASES = [(name, i) for name, (_, cases, _) in KERNELS.items() for i in range(len(cases))]


def test_every_kernel_has_a_reference_and_a_test():
    assert sorted(COMPILED) == sorted(KERNELS), "add a KERNELS entry for each compiled kernel"
    missing = sorted(set(COMPILED) - set(REFERENCE))
    assert not missing, f"compiled kernels without a NumPy reference: {missing}"
    for name, kernel in COMPILED.items():
        assert inspect.signature(kernel).parameters.keys() == \
            inspect.signature(REFERENCE[name]).parameters.keys(), name


def _tolerance(dtype):
    # Both sides accumulate in double; results may differ by the rounding of the last steps.
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(params=["one thread", "split in 3"])
def threads(request, monkeypatch):
    """Run a kernel on one thread, or with its loop cut into 3 ranges however small it is (the
    ranges' edges are where a race or an off-by-one would show)."""
    if request.param == "split in 3":
        monkeypatch.setattr(parallel, "GRAIN", 1)
        monkeypatch.setattr(parallel, "_num_threads", 3)
    else:
        monkeypatch.setattr(parallel, "_num_threads", 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, case", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_kernel_equals_reference(name, case, dtype, rng, threads):
    if name not in REFERENCE:
        pytest.fail(f"{name} has no NumPy reference in impl/_kernels/reference*.py")
    build, cases, outputs = KERNELS[name]
    args = build(rng, cases[case], dtype)
    ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    inputs = {i: a.copy() for i, a in enumerate(args)
              if isinstance(a, np.ndarray) and i not in outputs}
    COMPILED[name](*args)
    REFERENCE[name](*ref_args)
    for i in outputs:
        got, want = args[i], ref_args[i]
        if got is None:
            continue
        assert got.dtype == want.dtype and got.shape == want.shape
        if got.dtype.kind == "f":
            # the inputs' dtype bounds the agreement (float32 data may be summed in float32
            # blocks before the double accumulation)
            np.testing.assert_allclose(got, want, **_tolerance(dtype))
        else:
            np.testing.assert_array_equal(got, want)
    for i, before in inputs.items():
        np.testing.assert_array_equal(args[i], before)  # inputs untouched


@pytest.mark.parametrize("name", ["im2col", "col2im"])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_kernels_write_nothing_outside_their_output(name, case, rng, threads):
    # The output lies inside a larger NaN-filled buffer: every element around it must stay NaN.
    args = KERNELS[name][0](rng, CONV_CASES[case], np.float64)
    (i,) = KERNELS[name][2]  # the output
    out = args[i]
    buffer = np.full(out.size + 64, np.nan)
    args[i] = buffer[32:32 + out.size].reshape(out.shape)
    COMPILED[name](*args)
    assert np.isnan(buffer[:32]).all() and np.isnan(buffer[32 + out.size:]).all()
    if name == "im2col":
        assert not np.isnan(args[i]).any()  # every element of the output written


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_kernel_rejects_outputs_of_the_wrong_shape(name, dtype, rng):
    build, cases, outputs = KERNELS[name]
    for i in outputs:
        args = build(rng, cases[0], dtype)
        args[i] = np.empty((args[i].shape[0] + 1,) + args[i].shape[1:], args[i].dtype)
        with pytest.raises(ValueError, match=name):
            COMPILED[name](*args)


def test_reduce_outer_inner_rejects_a_short_out_like_its_reference(rng):
    g, out = _reduce_args(rng, (2, 3, 4), np.float64)
    for fn in (COMPILED["reduce_outer_inner"], REFERENCE["reduce_outer_inner"]):
        with pytest.raises(ValueError, match="reduce_outer_inner"):
            fn(g, out[:2])


@pytest.mark.parametrize("layout", [(1, 1, -1), (-1, 1, 1)], ids=["along_b", "along_a"])
def test_reduce_outer_inner_accumulates_float32_in_double(layout):
    # 1 + 2**-24 rounds back to 1 in float32: a float32 accumulator would lose every small term.
    g = np.full(8193, 2.0**-24, np.float32)
    g[0] = 1.0
    for fn in (COMPILED["reduce_outer_inner"], REFERENCE["reduce_outer_inner"]):
        out = np.empty(1, np.float32)
        fn(g.reshape(layout), out)
        assert out[0] == 1 + 2.0**-11


def numpy_sum_to(g, shape):
    """Plain NumPy: sum the leading axes away, then every axis where ``shape`` has a 1."""
    s = g.sum(axis=tuple(range(g.ndim - len(shape))), dtype=np.float64)
    return s.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


# (gradient shape, input shape, whether contiguous float gradients go through the kernel)
SUM_TO_SHAPE = [
    ((3, 4), (4,), True), ((3, 4), (3, 1), True), ((3, 4), (1, 4), True), ((3, 4), (), True),
    ((3, 4), (1, 1), True), ((5,), (), True), ((5,), (1,), True), ((2, 3, 4), (3, 1), True),
    ((2, 3, 4), (1, 3, 1), True), ((2, 3, 4, 5), (3, 4, 1), True), ((4, 1, 1, 5), (1, 1, 5), True),
    ((2, 1, 3), (1, 3), True), ((6, 2, 1, 3), (2, 1, 1), True), ((0, 3), (3,), True),
    ((3, 0), (1, 0), True), ((3, 0), (3, 1), True), ((0,), (), True),
    ((2, 3, 4), (2, 1, 4), False), ((2, 3, 4, 5), (1, 3, 1, 5), False),
    ((2, 3, 4), (2, 3, 4), False), ((1, 5), (5,), False), ((1, 1, 3), (1, 3), False),
]
LAYOUTS = {
    "contiguous": lambda a: a,
    "fortran": np.asfortranarray,
    "negative_strides": lambda a: np.flip(np.flip(a).copy()),
    "step_sliced": lambda a: np.repeat(a, 2, axis=-1)[..., ::2] if a.ndim else a,
    "broadcast_view": lambda a: np.broadcast_to(a[..., :1], a.shape) if a.ndim and a.shape[-1]
    else a,
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES + [np.int64])
@pytest.mark.parametrize("g_shape, shape, kernel", SUM_TO_SHAPE,
                         ids=[f"{g}->{s}" for g, s, _ in SUM_TO_SHAPE])
def test_sum_to_shape_equals_numpy(g_shape, shape, kernel, dtype, layout, rng, monkeypatch):
    g = LAYOUTS[layout]((10 * rng.standard_normal(g_shape)).astype(dtype))
    calls = []

    def spy(*args):
        calls.append(args)
        return reference.reduce_outer_inner(*args)

    monkeypatch.setattr(_kernels, "reduce_outer_inner", spy)
    before = g.copy()
    out = sum_to_shape(g, shape)
    assert out.shape == shape and out.dtype == dtype
    want = numpy_sum_to(g, shape)
    tol = 4 * np.finfo(dtype).eps * np.abs(g).sum() if dtype != np.int64 else 0
    np.testing.assert_allclose(out, want.astype(dtype) if dtype == np.int64 else want, atol=tol)
    np.testing.assert_array_equal(g, before)
    uses_kernel = kernel and dtype != np.int64 and g.flags.c_contiguous
    assert bool(calls) == uses_kernel


@pytest.mark.parametrize("module", COMPILED_MODULES)
def test_missing_extension_gives_a_clear_import_error(module):
    code = (f"import sys\nsys.modules[{module!r}] = None  # as if the extension were not built\n"
            "try:\n    import impl\nexcept ImportError as e:\n"
            "    print(type(e).__name__, e)\nelse:\n    print('imported')\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ImportError")
    assert "not built" in run.stdout and "build_ext --inplace" in run.stdout
    assert "pip install" in run.stdout



# -- the threads the kernels run on (impl._kernels.parallel) ------------------------------------
def test_threads_per_loop(monkeypatch):
    monkeypatch.setattr(parallel, "_num_threads", 3)
    assert parallel.threads(10, 3 * parallel.GRAIN) == 3
    assert parallel.threads(2, 3 * parallel.GRAIN) == 2  # no more threads than tasks
    assert parallel.threads(10, 2 * parallel.GRAIN - 1) == 1  # little work: the caller alone
    assert parallel.threads(0, 0) == 1


def test_kernels_called_from_many_threads_at_once_agree_with_one_call(monkeypatch, rng):
    # One team per module runs one call at a time; a call that finds it busy runs alone.
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(parallel, "GRAIN", 1)
    x = rng.standard_normal((4, 8, 16, 16))
    geometry = ((3, 3), (1, 1), (1, 1), (1, 1), 0)
    want = np.empty((72, 4, 16, 16))
    COMPILED["im2col"](x, want, *geometry)

    def one(_):
        cols = np.empty_like(want)
        COMPILED["im2col"](x, cols, *geometry)
        return np.array_equal(cols, want)
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(one, range(200)))


def test_set_num_threads_is_torchs(monkeypatch):
    import impl

    monkeypatch.setattr(parallel, "_num_threads", parallel.get_num_threads())
    impl.set_num_threads(1)
    assert impl.get_num_threads() == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(RuntimeError, match="set_num_threads"):
            impl.set_num_threads(bad)


def test_kernels_run_in_a_forked_child():
    # The child has none of the parent's worker threads; it must start its own, not wait on the
    # dead ones forever.
    code = """
import multiprocessing as mp, numpy as np
from impl._kernels import im2col, parallel
parallel.set_num_threads(2)
x = np.random.default_rng(0).standard_normal((8, 16, 32, 32)).astype(np.float32)
cols = np.empty((16 * 9, 8, 32, 32), np.float32)
im2col(x, cols, (3, 3), (1, 1), (1, 1), (1, 1), 0)  # the parent's workers start here
def child(q):
    c = np.empty_like(cols)
    im2col(x, c, (3, 3), (1, 1), (1, 1), (1, 1), 0)
    q.put(bool(np.array_equal(c, cols)))
q = mp.get_context("fork").Queue()
p = mp.get_context("fork").Process(target=child, args=(q,))
p.start()
print(q.get(timeout=60))
p.join()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
