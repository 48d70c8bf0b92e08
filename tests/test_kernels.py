"""The compiled kernels against their NumPy references, and the routing in ``sum_to_shape``."""

import inspect
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from impl import _kernels
from impl._kernels import reference, sum_to_shape

ROOT = pathlib.Path(__file__).resolve().parents[1]
DTYPES = [np.float32, np.float64]


def _reduce_outer_inner_args(rng, shape, dtype):
    return [rng.standard_normal(shape).astype(dtype), np.empty(shape[1], dtype)]


# kernel name -> (argument builder, shapes, index of the output argument)
KERNELS = {
    "reduce_outer_inner": (_reduce_outer_inner_args, [
        (1, 1, 1), (2, 3, 4), (5, 7, 11), (1, 1000, 1), (64, 3, 1), (1, 3, 64), (300, 1, 300),
        (0, 3, 2), (3, 0, 2), (2, 3, 0), (0, 0, 0),
    ], 1),
}
REFERENCES = [name for name, f in vars(reference).items()
              if inspect.isfunction(f) and not name.startswith("_")]
CASES = [(name, shape) for name, (_, shapes, _) in KERNELS.items() for shape in shapes]


def test_every_kernel_has_a_reference_and_a_test():
    assert sorted(KERNELS) == sorted(REFERENCES)
    for name in REFERENCES:
        compiled = getattr(_kernels, name)
        assert not inspect.isfunction(compiled), f"impl._kernels.{name} is not the compiled one"
        assert inspect.signature(compiled).parameters.keys() == \
            inspect.signature(getattr(reference, name)).parameters.keys()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_kernel_equals_reference(name, shape, dtype, rng):
    build, _, out_index = KERNELS[name]
    args = build(rng, shape, dtype)
    ref_args = [a.copy() for a in args]
    before = [a.copy() for i, a in enumerate(args) if i != out_index]
    getattr(_kernels, name)(*args)
    getattr(reference, name)(*ref_args)
    # Both accumulate in double; float32 results may differ by the final rounding only.
    rtol = 2 * np.finfo(dtype).eps if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(args[out_index], ref_args[out_index], rtol=rtol, atol=1e-12)
    assert args[out_index].dtype == dtype
    for a, b in zip([a for i, a in enumerate(args) if i != out_index], before):
        np.testing.assert_array_equal(a, b)  # inputs untouched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("delta", [-1, 1])
def test_kernel_rejects_an_out_of_the_wrong_shape(name, delta, dtype, rng):
    build, shapes, out_index = KERNELS[name]
    args = build(rng, shapes[1], dtype)
    args[out_index] = np.empty(args[out_index].size + delta, dtype)
    for fn in (getattr(_kernels, name), getattr(reference, name)):
        with pytest.raises(ValueError, match=name):
            fn(*args)


def test_reduce_outer_inner_accumulates_float32_in_double():
    g = np.full((1, 1, 2**25), 1.0, np.float32)  # float32 accumulation would stall at 2**24
    out = np.empty(1, np.float32)
    _kernels.reduce_outer_inner(g, out)
    assert out[0] == 2**25


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


def _compiled_modules():
    return ["impl._kernels." + p.stem for p in sorted((ROOT / "impl" / "_kernels").glob("*.pyx"))]


@pytest.mark.parametrize("module", _compiled_modules())
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

