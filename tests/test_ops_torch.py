"""Reduction, shape and linalg ops against torch: values, input gradients for a random cotangent
(float32 and float64), dtypes, and the exception type for bad inputs.

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
    # reductions
    case("sum", lambda m, x: m.sum(x), (3, 4)),
    case("sum_dims_keepdim", lambda m, x: x.sum(dim=(0, -1), keepdim=True), (2, 3, 4)),
    case("sum_empty_tuple_is_all", lambda m, x: m.sum(x, ()), (2, 3)),
    case("sum_of_empty", lambda m, x: m.sum(x, 0), (0, 3)),
    case("sum_0d", lambda m, x: m.sum(x, 0), ()),
    case("mean", lambda m, x: m.mean(x), (3, 4)),
    case("mean_dim_keepdim", lambda m, x: x.mean(-1, keepdim=True), (2, 3, 4)),
    case("mean_of_empty_is_nan", lambda m, x: m.mean(x, 0), (0, 3)),
    case("var", lambda m, x: m.var(x), (3, 4)),
    case("var_dims_correction0", lambda m, x: m.var(x, (0, 2), correction=0, keepdim=True),
         (3, 2, 4)),
    case("var_unbiased_false", lambda m, x: x.var(1, False), (3, 5)),
    case("var_one_element_nan", lambda m, x: m.var(x), (1,)),
    case("var_dof_negative_inf", lambda m, x: m.var(x, correction=3), (2,), grad=False),
    case("amax_ties", lambda m, x: m.amax(x, (0, -1)), (3, 2, 4), init="ties"),
    case("amin_ties_keepdim", lambda m, x: x.amin(1, keepdim=True), (3, 5), init="ties"),
    case("amax_zero_size_kept_dim", lambda m, x: m.amax(x, 1), (0, 3)),
    case("max_all_ties", lambda m, x: m.max(x), (4, 5), init="ties"),
    case("min_all_ties", lambda m, x: x.min(), (4, 5), init="ties"),
    case("max_dim_ties_first_index", lambda m, x: m.max(x, 1, keepdim=True), (4, 6), init="ties"),
    case("min_dim_negative", lambda m, x: x.min(dim=-2), (3, 4, 2), init="ties"),
    case("max_dim_0d", lambda m, x: m.max(x, 0), ()),
    case("max_other_is_maximum", lambda m, x, y: m.max(x, y), (2, 3), (3,)),
    case("argmax_all", lambda m, x: m.argmax(x), (3, 4), init="ties"),
    case("argmax_dim_keepdim", lambda m, x: x.argmax(1, keepdim=True), (3, 4), init="ties"),
    case("argmin_all_keepdim", lambda m, x: m.argmin(x, keepdim=True), (3, 4), init="ties"),
    # shapes
    case("reshape_infer", lambda m, x: m.reshape(x, (4, -1)), (2, 3, 4)),
    case("view_ints", lambda m, x: x.view(-1, 2, 2), (2, 6)),
    case("flatten", lambda m, x: m.flatten(x, 1, -1), (2, 3, 4)),
    case("flatten_0d", lambda m, x: m.flatten(x), ()),
    case("transpose_negative", lambda m, x: m.transpose(x, -1, 0), (2, 3, 4)),
    case("T_and_t", lambda m, x: x.T * 2 + x.t(), (2, 3)),
    case("permute", lambda m, x: x.permute(2, 0, 1), (2, 3, 4)),
    case("unsqueeze_negative", lambda m, x: m.unsqueeze(x, -2), (2, 3)),
    case("squeeze_all", lambda m, x: m.squeeze(x), (1, 3, 1)),
    case("squeeze_dims", lambda m, x: m.squeeze(x, (0, 1, -1)), (1, 3, 1)),
    case("expand", lambda m, x: x.expand(4, -1, 3), (2, 1)),
    case("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), (3, 1)),
    case("cat_negative_dim", lambda m, x, y, z: m.cat([x, y, z], -1), (2, 3), (2, 1), (2, 4)),
    case("stack", lambda m, x, y: m.stack((x, y), dim=-1), (2, 3), (2, 3)),
    case("index_int_slice", lambda m, x: x[1, 1:4:2], (3, 5)),
    case("index_none_ellipsis", lambda m, x: x[None, ..., -1], (2, 3, 4)),
    case("index_repeated_list", lambda m, x: x[[0, 2, 0, 0]], (3, 4)),
    case("index_int64_tensor_and_slice", lambda m, x: x[m.tensor([[0, 1], [1, 1]]), 1:], (2, 3)),
    case("index_two_arrays", lambda m, x: x[[0, 1, 0], :, [1, 1, 1]], (2, 3, 4)),
    case("index_bool_mask", lambda m, x: x[x > 0], (3, 4)),
    case("index_bool_rows", lambda m, x: x[m.tensor([True, False, True])], (3, 2)),
    case("gather_repeated", lambda m, x: m.gather(x, 1, m.tensor([[0, 0, 2], [1, 1, 1]])), (2, 3)),
    case("gather_dim0_smaller", lambda m, x: x.gather(-2, m.tensor([[2, 0], [2, 2]])), (3, 4)),
    # matmul
    case("matmul_2d", lambda m, x, y: m.matmul(x, y), (2, 3), (3, 4)),
    case("matmul_vec_mat", lambda m, x, y: x @ y, (3,), (3, 4)),
    case("matmul_mat_vec", lambda m, x, y: x.matmul(y), (2, 3), (3,)),
    case("matmul_dot", lambda m, x, y: x @ y, (3,), (3,)),
    case("matmul_batch_broadcast", lambda m, x, y: x @ y, (2, 1, 3, 4), (5, 4, 2)),
    case("matmul_vec_batch", lambda m, x, y: x @ y, (4,), (2, 4, 3)),
    case("matmul_batch_vec", lambda m, x, y: x @ y, (2, 3, 4), (4,)),
    case("matmul_empty_inner", lambda m, x, y: x @ y, (2, 0), (0, 3)),
    case("mm", lambda m, x, y: m.mm(x, y), (2, 3), (3, 4)),
    case("bmm", lambda m, x, y: m.bmm(x, y), (2, 2, 3), (2, 3, 4)),
]


def _inputs(shapes, init, dtype, rng):
    if init == "ties":  # few distinct values: many tied maxima and minima
        return [rng.integers(-2, 3, s).astype(dtype) for s in shapes]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _outputs(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")
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
    lambda m: m.cat([m.ones(2, dtype=m.float32), m.ones(1, dtype=m.float64)]),
    lambda m: m.cat([m.ones(2, 1), m.zeros(0)], 1),
    lambda m: m.tensor([[1, 2], [3, 4]]) @ m.tensor([5, 6]),
    lambda m: m.tensor([[1, 2], [3, 4]])[m.tensor([1, 0], dtype=m.int32)],
])
def test_integer_and_mixed_dtypes(fn):
    for o, r in zip(_outputs(fn(impl)), _outputs(fn(torch))):
        assert o.dtype == r.numpy().dtype and o.shape == tuple(r.shape)
        np.testing.assert_array_equal(o.data, r.numpy())


BAD = [
    ("sum", lambda m: m.sum(m.zeros(2, 3), 2)),
    ("sum", lambda m: m.sum(m.zeros(2, 3), (0, -2))),
    ("sum", lambda m: m.sum(m.zeros(2, 3), 1.0)),
    ("mean", lambda m: m.mean(m.tensor([1, 2]))),
    ("var", lambda m: m.var(m.tensor([1, 2]))),
    ("amax", lambda m: m.amax(m.zeros(0, 3))),
    ("amax", lambda m: m.amax(m.zeros(0, 3), 0)),
    ("max", lambda m: m.max(m.zeros(0, 3))),
    ("min", lambda m: m.min(m.zeros(0, 3), 0)),
    ("argmax", lambda m: m.argmax(m.zeros(0, 3))),
    ("argmin", lambda m: m.argmin(m.zeros(2, 0), 1)),
    ("reshape", lambda m: m.zeros(2, 3).reshape(4, 2)),
    ("reshape", lambda m: m.zeros(2, 3).reshape(-1, -1)),
    ("reshape", lambda m: m.zeros(0, 3).reshape(-1, 0)),
    ("reshape", lambda m: m.reshape(m.zeros(2, 3), 6)),
    ("view", lambda m: m.zeros(2, 3).view(-1, 4)),
    ("flatten", lambda m: m.flatten(m.zeros(2, 3), 1, 0)),
    ("transpose", lambda m: m.transpose(m.zeros(2, 3), 0, 2)),
    ("t", lambda m: m.zeros(2, 3, 4).t()),
    ("permute", lambda m: m.permute(m.zeros(2, 3), (0, 0))),
    ("permute", lambda m: m.permute(m.zeros(2, 3), (0,))),
    ("unsqueeze", lambda m: m.unsqueeze(m.zeros(2, 3), 3)),
    ("squeeze", lambda m: m.squeeze(m.zeros(1, 2), 2)),
    ("expand", lambda m: m.zeros(2, 3).expand(3, 3)),
    ("expand", lambda m: m.zeros(2, 3).expand(3)),
    ("expand", lambda m: m.zeros(2, 3).expand(-1, 2, 3)),
    ("broadcast_to", lambda m: m.broadcast_to(m.zeros(2, 3), (2, 2))),
    ("cat", lambda m: m.cat([m.zeros(2, 3), m.zeros(3, 4)], 1)),
    ("cat", lambda m: m.cat([m.zeros(2, 3), m.zeros(2, 3, 1)])),
    ("cat", lambda m: m.cat([])),
    ("cat", lambda m: m.cat([m.zeros(()), m.zeros(())])),
    ("cat", lambda m: m.cat(m.zeros(2, 3))),
    ("stack", lambda m: m.stack([m.zeros(2, 3), m.zeros(2, 4)])),
    ("stack", lambda m: m.stack([])),
    ("__getitem__", lambda m: m.zeros(2, 3)[5]),
    ("__getitem__", lambda m: m.zeros(2, 3)[0, 0, 0]),
    ("__getitem__", lambda m: m.zeros(2, 3)[1.5]),
    ("__getitem__", lambda m: m.zeros(2, 3)[::-1]),
    ("__getitem__", lambda m: m.zeros(2, 3)[[0, 5]]),
    ("__getitem__", lambda m: m.zeros(2, 3)[m.tensor([0.0, 1.0])]),
    ("__getitem__", lambda m: m.zeros(2, 3)[m.tensor([True, False, True])]),
    ("gather", lambda m: m.gather(m.zeros(2, 3), 1, m.tensor([[0], [5]]))),
    ("gather", lambda m: m.gather(m.zeros(2, 3), 1, m.tensor([[-1], [0]]))),
    ("gather", lambda m: m.gather(m.zeros(2, 3), 1, m.tensor([0, 1]))),
    ("gather", lambda m: m.gather(m.zeros(2, 3), 1, m.tensor([[0.0]]))),
    ("gather", lambda m: m.gather(m.zeros(2, 3), 1, m.zeros(3, 1, dtype=m.int64))),
    ("matmul", lambda m: m.zeros(2, 3) @ m.zeros(4, 5)),
    ("matmul", lambda m: m.zeros(2, 3) @ m.zeros(4)),
    ("matmul", lambda m: m.zeros(3) @ m.zeros(4)),
    ("matmul", lambda m: m.zeros(2, 2, 3) @ m.zeros(2, 4, 5)),
    ("matmul", lambda m: m.zeros(2, 2, 3) @ m.zeros(3, 3, 5)),
    ("matmul", lambda m: m.matmul(m.zeros(()), m.zeros(2, 3))),
    ("matmul", lambda m: m.zeros(2, 3) @ m.zeros(3, 2, dtype=m.float64)),
    ("matmul", lambda m: m.matmul(m.zeros(2, 3), 3)),
    ("mm", lambda m: m.mm(m.zeros(3), m.zeros(3, 2))),
    ("bmm", lambda m: m.bmm(m.zeros(2, 3), m.zeros(3, 2))),
    ("bmm", lambda m: m.bmm(m.zeros(2, 2, 3), m.zeros(3, 3, 2))),
]


@pytest.mark.parametrize("op, fn", BAD, ids=[f"{op}-{i}" for i, (op, _) in enumerate(BAD)])
def test_bad_input_raises_like_torch(op, fn):
    with pytest.raises(Exception) as ref:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(impl)
    assert type(got.value) is type(ref.value), f"torch raised {ref.value!r}"
    assert op in str(got.value)
