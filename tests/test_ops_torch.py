"""argmax/argmin against torch (index-valued: no OpSpec): values and the exception type for bad
inputs; integer and bool inputs of the reductions, cat, matmul and indexing (the registry draws
float inputs only). The float cases and bad inputs of every differentiable op live in their
OpSpecs (properties/specs/).

Each case is one function ``fn(m, *inputs)`` run once with ``m = impl`` and once with
``m = torch`` on the same float inputs, so the two calls are the same source code.
"""

import numpy as np
import pytest
import torch

import impl


def case(name, fn, *shapes, init="randn", grad=True):
    return pytest.param(fn, shapes, init, grad, id=name)


CASES = [
    # argmax and argmin: index-valued, so no OpSpec (the registry checks max/min along a dim,
    # whose indices are argmax's, but not the index into the flattened tensor)
    case("argmax_all", lambda m, x: m.argmax(x), (3, 4), init="ties"),
    case("argmax_dim_keepdim", lambda m, x: x.argmax(1, keepdim=True), (3, 4), init="ties"),
    case("argmin_all_keepdim", lambda m, x: m.argmin(x, keepdim=True), (3, 4), init="ties"),
]


def _inputs(shapes, init, dtype, rng):
    if init == "ties":  # few distinct values: many tied maxima and minima
        return [rng.integers(-2, 3, s).astype(dtype) for s in shapes]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _outputs(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("fn, shapes, init, grad", CASES)
def test_matches_torch(fn, shapes, init, grad, dtype, rng):
    arrays = _inputs(shapes, init, dtype, rng)
    before = [a.copy() for a in arrays]
    xs = [impl.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, refs = _outputs(fn(impl, *xs)), _outputs(fn(torch, *ts))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        assert isinstance(o, impl.Tensor)
        assert o.shape == tuple(r.shape)
        assert o.dtype == r.detach().numpy().dtype
        np.testing.assert_allclose(o.data, r.detach().numpy(), **tol)
    out, ref = outs[0], refs[0]
    assert out.requires_grad == ref.requires_grad
    if grad and ref.requires_grad:
        cot = rng.standard_normal(out.shape).astype(dtype)
        out.backward(cot)
        ref.backward(torch.tensor(cot))
        for x, t in zip(xs, ts):
            assert x.grad.dtype == dtype and x.grad.shape == x.shape
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), **tol)
    for x, a in zip(xs, before):
        np.testing.assert_array_equal(x.data, a)  # no op writes into its input


@pytest.mark.parametrize("fn", [
    lambda m: m.sum(m.tensor([[1, 2], [3, 4]], dtype=m.int32), 1),
    lambda m: m.sum(m.tensor([True, False, True])),
    lambda m: m.amax(m.tensor([[1, 5], [7, 2]]), 0),
    lambda m: m.max(m.tensor([[1, 5], [7, 2]]), 1),
    lambda m: m.argmin(m.tensor([3, 1, 1])),
    lambda m: m.cat([m.ones(2, dtype=m.float32), m.tensor([1, 2])]),
    lambda m: m.tensor([[1, 2], [3, 4]]) @ m.tensor([5, 6]),
    lambda m: m.tensor([[1, 2], [3, 4]])[m.tensor([1, 0], dtype=m.int32)],
])
def test_integer_and_mixed_dtypes(fn):
    for o, r in zip(_outputs(fn(impl)), _outputs(fn(torch))):
        assert o.dtype == r.numpy().dtype and o.shape == tuple(r.shape)
        np.testing.assert_array_equal(o.data, r.numpy())


BAD = [
    ("argmax", lambda m: m.argmax(m.zeros(0, 3))),
    ("argmin", lambda m: m.argmin(m.zeros(2, 0), 1)),
]


@pytest.mark.parametrize("op, fn", BAD, ids=[f"{op}-{i}" for i, (op, _) in enumerate(BAD)])
def test_bad_input_raises_like_torch(op, fn):
    with pytest.raises(Exception) as ref:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(impl)
    assert type(got.value) is type(ref.value), f"torch raised {ref.value!r}"
    assert op in str(got.value)
