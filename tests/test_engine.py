"""Engine semantics against torch: the same expression, evaluated with ``m = impl`` and with
``m = torch``, must give the same values, dtypes and gradients (for a random cotangent)."""

import functools
import warnings
import weakref

import numpy as np
import pytest
import torch

import impl

DTYPES = [np.float32, np.float64]


@pytest.fixture
def check_vjp(rng, to_torch, assert_matches):
    """Run ``fn(m, *leaves)`` in impl and torch on ``arrays``; compare outputs and input grads."""
    def check(fn, arrays):
        xs = [impl.tensor(a, requires_grad=True) for a in arrays]
        ts = [to_torch(a, requires_grad=True) for a in arrays]
        out, expected = fn(impl, *xs), fn(torch, *ts)
        assert_matches(out, expected)
        assert type(out.data) is np.ndarray  # never a NumPy scalar, even when 0-d
        cotangent = rng.standard_normal(out.shape).astype(out.dtype)
        out.backward(impl.tensor(cotangent))
        expected.backward(torch.from_numpy(cotangent))
        for x, t in zip(xs, ts):
            assert x.grad.dtype == x.dtype and x.grad.shape == x.shape
            assert type(x.grad.data) is np.ndarray
            assert_matches(x.grad, t.grad)
        return xs
    return check


# -- input builders: (generator, shape) -> float64 array, kept where the op is smooth ----------
def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * positive(rng, shape)


def with_zeros(rng, shape):
    x = normal(rng, shape)
    x.flat[::3] = 0.0
    return x


def at_bounds(rng, shape):
    x = rng.uniform(-1.0, 1.0, shape)
    x.flat[::4], x.flat[1::4] = 0.5, -0.5
    return x


def extreme(rng, shape):
    x = 30 * normal(rng, shape)
    x.flat[::4], x.flat[1::4] = 100.0, -100.0
    return x


def args(*makers, shape=(3, 4)):
    return lambda rng: [make(rng, shape) for make in makers]


def tied(rng):
    x, y = normal(rng, (3, 4)), normal(rng, (3, 4))
    y.flat[::2] = x.flat[::2]
    return [x, y]


ELEMENTWISE = {
    "add": (lambda m, x, y: m.add(x, y), args(normal, normal)),
    "add_alpha": (lambda m, x, y: m.add(x, y, alpha=-1.5), args(normal, normal)),
    "sub": (lambda m, x, y: x - y, args(normal, normal)),
    "sub_alpha": (lambda m, x, y: m.sub(x, y, alpha=2), args(normal, normal)),
    "mul": (lambda m, x, y: x * y, args(normal, normal)),
    "div": (lambda m, x, y: x / y, args(normal, nonzero)),
    "neg": (lambda m, x: -x, args(normal)),
    "pow_0": (lambda m, x: x ** 0, args(with_zeros)),
    "pow_2": (lambda m, x: x ** 2, args(normal)),
    "pow_3": (lambda m, x: m.pow(x, 3), args(normal)),
    "pow_half": (lambda m, x: x ** 0.5, args(positive)),
    "pow_minus_1": (lambda m, x: x ** -1, args(nonzero)),
    "pow_tensor": (lambda m, x, y: x ** y, args(positive, normal)),
    "pow_scalar_base": (lambda m, x: 2.5 ** x, args(normal)),
    "exp": (lambda m, x: m.exp(x), args(normal)),
    "log": (lambda m, x: m.log(x), args(positive)),
    "sqrt": (lambda m, x: x.sqrt(), args(positive)),
    "abs": (lambda m, x: m.abs(x), args(with_zeros)),
    "maximum": (lambda m, x, y: m.maximum(x, y), args(normal, normal)),
    "maximum_ties": (lambda m, x, y: m.maximum(x, y), tied),
    "minimum": (lambda m, x, y: m.minimum(x, y), args(normal, normal)),
    "minimum_ties": (lambda m, x, y: x.minimum(y), tied),
    "clamp": (lambda m, x: m.clamp(x, -0.5, 0.5), args(at_bounds)),
    "clamp_min": (lambda m, x: x.clamp(min=-0.5), args(at_bounds)),
    "clamp_max": (lambda m, x: m.clamp(x, max=0.5), args(at_bounds)),
    "sigmoid": (lambda m, x: m.sigmoid(x), args(normal)),
    "sigmoid_extreme": (lambda m, x: x.sigmoid(), args(extreme)),
    "tanh": (lambda m, x: m.tanh(x), args(normal)),
    "tanh_extreme": (lambda m, x: m.tanh(x), args(extreme)),
    "relu": (lambda m, x: m.relu(x), args(with_zeros)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, build", ELEMENTWISE.values(), ids=ELEMENTWISE.keys())
def test_elementwise_matches_torch(fn, build, dtype, rng, check_vjp):
    xs = check_vjp(fn, [a.astype(dtype) for a in build(rng)])
    assert fn(impl, *xs).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, build", ELEMENTWISE.values(), ids=ELEMENTWISE.keys())
def test_elementwise_on_0d_tensors(fn, build, dtype, rng, check_vjp):
    check_vjp(fn, [np.asarray(a.flat[1], dtype) for a in build(rng)])


INF, NAN = np.inf, np.nan
IEEE_SPECIALS = {
    "div_by_zero": (lambda m, x, y: x / y, [[1.0, -1.0, 0.0, INF], [0.0, 0.0, 0.0, 2.0]]),
    "div_inf": (lambda m, x, y: x / y, [[1.0, INF, -2.0], [INF, 2.0, -INF]]),
    "pow_zero_to_negative": (lambda m, x: x ** -1, [[0.0, -0.0, 2.0]]),
    "pow_half_at_zero": (lambda m, x: x ** 0.5, [[0.0, 4.0, -1.0]]),
    "pow_tensor_zero_base": (lambda m, x, y: x ** y, [[0.0, 0.0, 0.0, -1.0], [2.0, 0.5, 0.0, 0.5]]),
    "exp_overflow": (lambda m, x: m.exp(x), [[1000.0, -1000.0, INF, -INF]]),
    "log_zero_and_negative": (lambda m, x: m.log(x), [[0.0, -1.0, INF]]),
    "sqrt_negative_and_zero": (lambda m, x: m.sqrt(x), [[-1.0, 0.0, INF]]),
    "sigmoid_inf": (lambda m, x: m.sigmoid(x), [[INF, -INF, 0.0]]),
    "tanh_inf": (lambda m, x: m.tanh(x), [[INF, -INF]]),
    "nan_through_kinks": (lambda m, x, y: m.relu(x) + m.clamp(x, 0, 1) + m.maximum(x, y)
                          + 2 * m.minimum(y, x) + 3 * m.abs(x) + m.sigmoid(y),
                          [[NAN, 1.0, NAN, 0.5, -1.0], [0.0, NAN, NAN, 0.5, 2.0]]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, values", IEEE_SPECIALS.values(), ids=IEEE_SPECIALS.keys())
def test_infinities_and_nans_follow_torch_without_warnings(fn, values, dtype, check_vjp):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_vjp(fn, [np.array(v, dtype) for v in values])


LAYOUTS = {
    "transposed": lambda a: np.ascontiguousarray(a.T).T,
    "negative_strides": lambda a: np.flip(np.flip(a).copy()),
    "step_sliced": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "broadcast_view": lambda a: np.broadcast_to(a[:1], a.shape),
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("fn, build", ELEMENTWISE.values(), ids=ELEMENTWISE.keys())
def test_elementwise_on_strided_inputs_matches_contiguous(fn, build, layout, rng):
    arrays = [layout(a.astype(np.float32)) for a in build(rng)]
    copies = [a.copy() for a in arrays]
    runs = []
    for inputs in (arrays, copies):
        xs = [impl.from_numpy(a).requires_grad_() for a in inputs]
        out = fn(impl, *xs)
        out.backward(impl.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape)))
        runs.append([out.data] + [x.grad.data for x in xs])
    for got, want in zip(*runs):  # SIMD loops may differ in the last bit between layouts
        np.testing.assert_allclose(got, want, rtol=3e-7, atol=1e-30)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)  # inputs untouched


BINARY = {
    "add": lambda m, x, y: x + y,
    "sub": lambda m, x, y: x - y,
    "mul": lambda m, x, y: x * y,
    "div": lambda m, x, y: x / y,
    "pow": lambda m, x, y: x ** y,
    "maximum": lambda m, x, y: m.maximum(x, y),
    "minimum": lambda m, x, y: m.minimum(x, y),
}
BROADCAST_SHAPES = [
    ((3, 4), (4,)), ((4,), (3, 4)), ((3, 1), (1, 4)), ((), (3, 4)), ((3, 4), ()), ((1,), (3, 4)),
    ((2, 1, 4), (3, 1)), ((5, 1, 1), (1, 6, 1)), ((2, 3, 4), (1, 3, 1)), ((1, 1), (1, 1)),
    ((0, 3), (3,)), ((2, 1), (2, 0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("fn", BINARY.values(), ids=BINARY.keys())
def test_broadcasting_reduces_gradients_to_each_input_shape(fn, shapes, dtype, rng, check_vjp):
    # x > 0 keeps pow smooth, |y| >= 0.5 keeps div away from 0; continuous values: no ties
    check_vjp(fn, [positive(rng, shapes[0]).astype(dtype), nonzero(rng, shapes[1]).astype(dtype)])


GRAPHS = {
    "used_twice": lambda m, x: x * x + x,
    "both_operands": lambda m, x: m.maximum(x, x) + x / x,
    "diamond": lambda m, x: (lambda e: e * 2 + e * e - m.tanh(e))(m.exp(x)),
    "two_leaves_shared": lambda m, x, y: (x * y) * (x + y) - y * y,
    "long_chain": lambda m, x: functools.reduce(lambda t, _: t * 1.001 + 0.01, range(300), x),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", GRAPHS.values(), ids=GRAPHS.keys())
def test_shared_subgraphs_accumulate_every_contribution(fn, dtype, rng, check_vjp):
    n_inputs = fn.__code__.co_argcount - 1
    check_vjp(fn, [normal(rng, (2, 3)).astype(dtype) for _ in range(n_inputs)])


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = impl.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y + 1.0
    y.backward(impl.ones(1))
    assert x.grad.tolist() == [1.0]


def test_grad_accumulates_across_backward_calls(rng, to_torch, assert_matches):
    a = normal(rng, (4,))
    x, t = impl.tensor(a, requires_grad=True), to_torch(a, requires_grad=True)
    for _ in range(2):
        (x * x).exp().backward(impl.ones(4, dtype=impl.float64))
        (t * t).exp().backward(torch.ones(4, dtype=torch.float64))
    assert_matches(x.grad, t.grad)
    np.testing.assert_allclose(x.grad.data, 2 * 2 * a * np.exp(a * a))


def test_grad_is_not_aliased_to_the_cotangent():
    x = impl.ones(3, requires_grad=True)
    g = impl.tensor([1.0, 2.0, 3.0])
    (x + 0.0).backward(g)
    x.backward(g)
    assert g.tolist() == [1.0, 2.0, 3.0]
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


class _Probe(impl.function.Function):
    """y = x (+ x2): the backward returns what ``make(grad, saved)`` gives for each input and
    keeps a weak reference to it, to see whether .grad took that very array."""

    def forward(self, *xs, make):
        self.make = make
        self.save(np.full(xs[0].shape, 7.0))
        return sum(xs)

    def backward(self, grad):
        out = self.make(grad, self.saved[0])
        self.returned = weakref.ref(out[0])
        return out


def test_a_fresh_gradient_becomes_grad_without_a_copy():
    x = impl.ones(3, dtype=impl.float64, requires_grad=True)
    y = _Probe.apply(x, make=lambda g, saved: (g * 2,))
    y.backward(impl.ones(3, dtype=impl.float64))
    assert x.grad.data is y.grad_fn.returned()  # taken, as torch's AccumulateGrad does
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("make, two", [
    (lambda g, saved: (g,), False),  # the caller's cotangent itself
    (lambda g, saved: (saved,), False),  # a buffer the graph keeps
    (lambda g, saved: (saved.reshape(-1),), False),  # a view of it
    (lambda g, saved: (g * 2,) * 2, True),  # one array for two leaves
])
def test_grad_never_aliases_an_array_someone_else_holds(make, two):
    cot = np.array([1.0, 2.0, 3.0])
    xs = [impl.ones(3, dtype=impl.float64, requires_grad=True) for _ in range(1 + two)]
    y = _Probe.apply(*xs, make=make)
    saved = y.grad_fn.saved[0]
    y.backward(impl.from_numpy(cot), retain_graph=True)
    for x in xs:
        for other in (cot, saved) + tuple(o.grad.data for o in xs if o is not x):
            assert not np.shares_memory(x.grad.data, other)
    xs[0].grad.data[...] = -1  # writing one .grad changes nothing else
    assert cot.tolist() == [1.0, 2.0, 3.0] and saved.tolist() == [7.0] * 3
    assert all(x.grad.tolist() != [-1.0] * 3 for x in xs[1:])


# -- operands that are not tensors ------------------------------------------------------------
REFLECTED = {
    "radd": lambda m, x: 2 + x,
    "rsub": lambda m, x: 1.5 - x,
    "rmul": lambda m, x: 3 * x,
    "rtruediv": lambda m, x: 2.0 / x,
    "rpow": lambda m, x: 2 ** x,
    "add_scalar": lambda m, x: x + 2,
    "sub_scalar": lambda m, x: x - 0.25,
    "mul_scalar": lambda m, x: x * -3.0,
    "div_scalar": lambda m, x: x / 4,
    "mul_bool": lambda m, x: x * True,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", REFLECTED.values(), ids=REFLECTED.keys())
def test_python_scalar_operands(fn, dtype, rng, check_vjp):
    check_vjp(fn, [nonzero(rng, (3, 2)).astype(dtype)])


NDARRAY_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b, "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("op", NDARRAY_OPS.values(), ids=NDARRAY_OPS.keys())
@pytest.mark.parametrize("array_dtype", [np.float32, np.float64])
def test_numpy_array_operands_give_tensors(op, array_dtype, rng):
    """ndarray op Tensor and Tensor op ndarray are Tensors, as if the array were impl.tensor(a)."""
    arr = positive(rng, (2, 3)).astype(array_dtype)
    x = impl.tensor(positive(rng, (3,)).astype(np.float32), requires_grad=True)
    for out, want in ((op(arr, x), op(arr, x.data)), (op(x, arr), op(x.data, arr))):
        assert isinstance(out, impl.Tensor)
        assert out.dtype == np.result_type(arr.dtype, np.float32)
        np.testing.assert_allclose(out.data, want, rtol=1e-6)
        out.backward(impl.ones(*out.shape, dtype=out.dtype))
    assert x.grad.dtype == np.float32 and x.grad.shape == (3,)


# -- dtypes -----------------------------------------------------------------------------------
PROMOTION = {
    "f32_op_f64": lambda m: m.ones(3) * m.full((3,), 2.5, dtype=m.float64),
    "f64_op_f32": lambda m: m.ones(3, dtype=m.float64) - m.ones(2, 1),
    "int_op_float_scalar": lambda m: m.arange(3) * 2.5,
    "float_scalar_op_int": lambda m: 2.5 - m.arange(3),
    "int_op_int_scalar": lambda m: m.arange(3) + 2,
    "int_div_int": lambda m: m.arange(3) / 2,
    "int_op_float_tensor": lambda m: m.arange(3) * m.ones(3),
    "int32_op_int64": lambda m: m.arange(3, dtype=m.int32) + m.arange(3),
    "bool_op_int_scalar": lambda m: m.tensor([True, False]) + 1,
    "bool_op_float_scalar": lambda m: m.tensor([True, False]) * 1.5,
    "f32_op_0d_f64": lambda m: m.ones(3) + m.tensor(2.0, dtype=m.float64),
    "0d_f64_op_f32": lambda m: m.tensor(2.0, dtype=m.float64) / m.ones(3),
    "0d_f32_op_0d_f64": lambda m: m.tensor(1.0) + m.tensor(2.0, dtype=m.float64),
    "int_op_0d_f64": lambda m: m.arange(3) + m.tensor(2.0, dtype=m.float64),
    "f32_op_numpy_f64_scalar": lambda m: m.ones(3) * np.float64(2),
    "f32_pow_numpy_f64_scalar": lambda m: m.ones(3) ** np.float64(2),
    "int_pow_float": lambda m: m.arange(3) ** 0.5,
    "int_pow_int": lambda m: m.arange(3) ** 2,
    "float_scalar_pow_int": lambda m: 2.5 ** m.arange(3),
    "int_scalar_pow_int": lambda m: 2 ** m.arange(3),
    "exp_int": lambda m: m.exp(m.arange(3)),
    "sqrt_int": lambda m: m.sqrt(m.arange(3)),
    "tanh_bool": lambda m: m.tanh(m.tensor([True, False])),
    "relu_int": lambda m: m.relu(m.arange(-2, 2)),
    "abs_int": lambda m: m.abs(m.arange(-2, 2)),
    "neg_int": lambda m: -m.arange(3, dtype=m.int32),
    "clamp_int_float_bound": lambda m: m.clamp(m.arange(3), min=0.5),
    "clamp_int_int_bound": lambda m: m.clamp(m.arange(3), max=1),
    "maximum_f32_f64": lambda m: m.maximum(m.ones(2), m.zeros(2, dtype=m.float64)),
    "lt_int_float": lambda m: m.arange(3) < 1.5,
    "eq_f32_f64": lambda m: m.ones(2) == m.ones(2, dtype=m.float64),
    "double": lambda m: m.ones(2).double(),
    "float": lambda m: m.ones(2, dtype=m.float64).float(),
    "long": lambda m: m.full((2,), 2.7).long(),
}


@pytest.mark.parametrize("fn", PROMOTION.values(), ids=PROMOTION.keys())
def test_dtype_promotion_matches_torch(fn, assert_matches):
    assert_matches(fn(impl), fn(torch))


MIXED = {
    "mul": lambda m, x, y: x * y,
    "div": lambda m, x, y: y / x,
    "maximum": lambda m, x, y: m.maximum(x, y),
    "cast_round_trip": lambda m, x, y: x.double() * y + (y * y).float(),
}


@pytest.mark.parametrize("f64_shape", [(), (1,), (3,)], ids=str)
@pytest.mark.parametrize("fn", MIXED.values(), ids=MIXED.keys())
def test_mixed_precision_gradients_keep_each_input_dtype(fn, f64_shape, rng, check_vjp):
    check_vjp(fn, [normal(rng, (3,)).astype(np.float32), positive(rng, f64_shape)])


# -- grad mode --------------------------------------------------------------------------------
def test_no_grad_context_manager_records_nothing():
    x = impl.ones(2, requires_grad=True)
    with impl.no_grad():
        assert not impl.is_grad_enabled()
        y = x * 2
    assert impl.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert (x * 2).requires_grad


@pytest.mark.parametrize("decorator", [impl.no_grad(), impl.no_grad], ids=["called", "bare"])
def test_no_grad_decorator(decorator):
    @decorator
    def double(t):
        """Doc."""
        assert not impl.is_grad_enabled()
        return t * 2

    y = double(impl.ones(2, requires_grad=True))
    assert not y.requires_grad and impl.is_grad_enabled()
    assert double.__name__ == "double" and double.__doc__ == "Doc."


def test_nested_grad_modes_restore_the_outer_state():
    x = impl.ones(2, requires_grad=True)
    with impl.no_grad():
        with impl.no_grad():
            assert not impl.is_grad_enabled()
        assert not impl.is_grad_enabled()
        with impl.enable_grad():
            assert impl.is_grad_enabled()
            y = x * 2
        z = x * 2
        assert not impl.is_grad_enabled()
    assert impl.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad
    y.backward(impl.ones(2))
    assert x.grad.tolist() == [2.0, 2.0]


def test_enable_grad_decorator_inside_no_grad():
    @impl.enable_grad()
    def double(t):
        return t * 2

    with impl.no_grad():
        assert double(impl.ones(2, requires_grad=True)).requires_grad
        assert not impl.is_grad_enabled()


def test_grad_mode_is_restored_when_the_body_raises():
    with pytest.raises(ValueError), impl.no_grad():
        raise ValueError
    assert impl.is_grad_enabled()


def test_backward_works_under_no_grad():
    x = impl.tensor([3.0], requires_grad=True)
    y = x * x
    with impl.no_grad():
        y.backward(impl.ones(1))
    assert x.grad.tolist() == [6.0]


# -- graph state: detach, leaves, retain_grad, retain_graph -----------------------------------
def test_detach_shares_data_and_stops_gradients(rng, check_vjp):
    x = impl.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 3).detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    e = x.detach()
    assert np.shares_memory(e.data, x.data)
    check_vjp(lambda m, a: a * a.detach() + m.exp(a).detach(), [normal(rng, (3,))])


def test_is_leaf_and_requires_grad_flags_match_torch():
    for m in (impl, torch):
        x, c = m.ones(2, requires_grad=True), m.ones(2)
        y = x * c
        with m.no_grad():
            z = x * 2
        assert [t.is_leaf for t in (x, c, y, z, y.detach())] == [True, True, False, True, True]
        assert [t.requires_grad for t in (x, c, y, z, c * c)] == [True, False, True, False, False]
        assert c.requires_grad_().requires_grad and c.is_leaf


def test_requires_grad_of_a_non_leaf_cannot_be_changed():
    y = impl.ones(2, requires_grad=True) * 2
    for flag in (False, True):
        with pytest.raises(RuntimeError, match="leaf"):
            y.requires_grad = flag
    assert y.requires_grad


@pytest.mark.parametrize("make", [
    lambda m: m.tensor([1, 2], requires_grad=True),
    lambda m: m.arange(3).requires_grad_(),
    lambda m: m.zeros(2, dtype=m.int64, requires_grad=True),
    lambda m: m.tensor([True]).requires_grad_(True),
], ids=["tensor", "requires_grad_", "zeros", "bool"])
def test_integer_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError):
        make(torch)
    with pytest.raises(RuntimeError, match="floating point"):
        make(impl)


def test_retain_grad_keeps_the_grad_of_a_non_leaf(rng, to_torch, assert_matches):
    a = normal(rng, (3,))
    results = {}
    for m, x in ((impl, impl.tensor(a, requires_grad=True)), (torch, to_torch(a, True))):
        y, w = x * 2, x.exp()
        y.retain_grad()
        x.retain_grad()  # a no-op on a leaf
        (y * y * w).backward(m.ones(3, dtype=m.float64))
        assert m is torch or w.grad is None  # torch warns on reading a non-leaf's .grad
        results[m] = (x.grad, y.grad)
    for got, want in zip(results[impl], results[torch]):
        assert_matches(got, want)


def test_retain_grad_on_the_root_and_across_calls():
    x = impl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.backward(impl.tensor([1.0, -1.0]), retain_graph=True)
    y.backward(impl.tensor([1.0, -1.0]))
    assert y.grad.tolist() == [2.0, -2.0] and x.grad.tolist() == [6.0, -6.0]


def test_retain_grad_needs_requires_grad():
    with pytest.raises(RuntimeError, match="requires_grad"):
        impl.ones(2).retain_grad()


@pytest.mark.parametrize("fn", [lambda m, x: (x * x).exp(), lambda m, x: m.sigmoid(x) / x],
                         ids=["mul_exp", "sigmoid_div"])
def test_retain_graph_allows_a_second_backward(fn, rng, to_torch, assert_matches):
    a = nonzero(rng, (3,))
    x, t = impl.tensor(a, requires_grad=True), to_torch(a, requires_grad=True)
    y, u = fn(impl, x), fn(torch, t)
    g = rng.standard_normal(3)
    y.backward(impl.tensor(g), retain_graph=True)
    u.backward(torch.tensor(g), retain_graph=True)
    first = x.grad.data.copy()
    y.backward(impl.tensor(g))
    u.backward(torch.tensor(g))
    assert_matches(x.grad, t.grad)
    np.testing.assert_allclose(x.grad.data, 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        u.backward(torch.tensor(g))
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward(impl.tensor(g))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (impl.ones(1) * 2).backward()


@pytest.mark.parametrize("shape", [(3,), (2, 2), (0,)])
def test_backward_on_a_non_scalar_without_gradient_raises(shape):
    for m in (torch, impl):
        with pytest.raises(RuntimeError, match="scalar outputs"):
            (m.ones(*shape, requires_grad=True) * 2).backward()


@pytest.mark.parametrize("out_shape", [(), (1,), (1, 1)])
def test_backward_on_a_one_element_tensor_defaults_to_ones(out_shape):
    x = impl.tensor(np.full(out_shape, 3.0), requires_grad=True)
    (x * x).backward()
    assert x.grad.shape == out_shape and x.grad.data.item() == 6.0


@pytest.mark.parametrize("grad_shape", [(3,), (2, 1), (1, 2, 3), ()])
def test_backward_with_a_gradient_of_the_wrong_shape_raises(grad_shape):
    y = impl.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape .*\(2, 3\)"):
        y.backward(impl.ones(*grad_shape))


def test_backward_casts_the_gradient_to_the_tensor_dtype():
    x = impl.ones(2, requires_grad=True)
    (x * 2).backward(np.array([1.0, 2.0]))  # a float64 array for a float32 tensor
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 4.0]


def test_backward_on_a_leaf_accumulates_the_gradient():
    x = impl.ones(2, requires_grad=True)
    x.backward(impl.tensor([1.0, 2.0]))
    assert x.grad.tolist() == [1.0, 2.0]


# -- conversions and repr ---------------------------------------------------------------------
def test_item_and_conversions():
    for m in (impl, torch):
        t = m.tensor([[2.5]])
        assert t.item() == 2.5 and isinstance(t.item(), float)
        assert float(t) == 2.5 and int(m.tensor(3)) == 3 and isinstance(m.tensor(3).item(), int)
        assert bool(m.tensor([1.0])) and not bool(m.tensor(0))
        assert m.tensor([[1, 2]]).tolist() == [[1, 2]]
        assert len(m.ones(4, 2)) == 4 and m.ones(4, 2).numel() == 8 and m.ones(4, 2).dim() == 2
        assert tuple(m.ones(4, 2).size()) == (4, 2) and m.ones(4, 2).size(1) == 2
        with pytest.raises(RuntimeError):
            m.ones(2).item()
        with pytest.raises(RuntimeError):
            bool(m.ones(2))
        with pytest.raises(TypeError):
            len(m.tensor(1.0))


def test_numpy_shares_memory_and_refuses_tensors_requiring_grad():
    t = impl.zeros(3)
    t.numpy()[0] = 5.0
    assert t.tolist() == [5.0, 0.0, 0.0]
    x = impl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    with pytest.raises(RuntimeError, match="detach"):
        torch.ones(2, requires_grad=True).numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]
    t = impl.ones(2)
    assert np.shares_memory(np.asarray(t), t.data) and np.asarray(t).dtype == np.float32
    assert not np.shares_memory(np.array(t), t.data)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("make", [
    lambda m: m.tensor([[1.0, 2.0], [3.0, 4.0]]),
    lambda m: m.tensor([1, 2]),
    lambda m: m.tensor([True, False]),
    lambda m: m.tensor(3.0),
    lambda m: m.zeros(0),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.ones(2, requires_grad=True),
    lambda m: m.ones(2, dtype=m.float64, requires_grad=True),
], ids=["float", "int", "bool", "0d", "empty", "float64", "int32", "requires_grad", "f64_grad"])
def test_repr_matches_torch(make):
    assert repr(make(impl)) == repr(make(torch)).replace("torch.", "impl.")


def test_repr_names_the_grad_fn():
    assert repr(impl.ones(2, requires_grad=True) * 2).endswith(", grad_fn=<MulBackward>)")


# -- factories --------------------------------------------------------------------------------
FACTORIES = {
    "tensor_floats": lambda m: m.tensor([1.5, 2.0]),
    "tensor_ints": lambda m: m.tensor([[1, 2], [3, 4]]),
    "tensor_mixed": lambda m: m.tensor([1, 2.5]),
    "tensor_bools": lambda m: m.tensor([True, False]),
    "tensor_float_scalar": lambda m: m.tensor(3.0),
    "tensor_int_scalar": lambda m: m.tensor(3),
    "tensor_ndarray_f64": lambda m: m.tensor(np.linspace(0, 1, 5)),
    "tensor_ndarray_f32": lambda m: m.tensor(np.arange(3, dtype=np.float32)),
    "tensor_ndarray_i32": lambda m: m.tensor(np.arange(3, dtype=np.int32)),
    "tensor_numpy_scalar": lambda m: m.tensor(np.float64(1.5)),
    "tensor_dtype": lambda m: m.tensor([1, 2], dtype=m.float64),
    "tensor_empty": lambda m: m.tensor([]),
    "zeros": lambda m: m.zeros(2, 3),
    "zeros_tuple": lambda m: m.zeros((2, 3)),
    "zeros_0d": lambda m: m.zeros(()),
    "zeros_empty": lambda m: m.zeros(0, 4),
    "ones_f64": lambda m: m.ones(3, dtype=m.float64),
    "ones_int": lambda m: m.ones([2], dtype=m.int64),
    "full_float": lambda m: m.full((2, 3), 1.5),
    "full_int": lambda m: m.full((2,), 7),
    "full_bool": lambda m: m.full((2,), True),
    "full_dtype": lambda m: m.full([2], 7, dtype=m.float64),
    "arange_int": lambda m: m.arange(5),
    "arange_start_step": lambda m: m.arange(1, 8, 2),
    "arange_float_step": lambda m: m.arange(0, 1, 0.1),
    "arange_float_end": lambda m: m.arange(5.0),
    "arange_negative_step": lambda m: m.arange(0, -3, -1),
    "arange_empty": lambda m: m.arange(0),
    "arange_dtype": lambda m: m.arange(3, dtype=m.float64),
    "zeros_like": lambda m: m.zeros_like(m.ones(2, 3, dtype=m.float64)),
    "ones_like": lambda m: m.ones_like(m.arange(4)),
    "ones_like_dtype": lambda m: m.ones_like(m.arange(4), dtype=m.float32),
}


@pytest.mark.parametrize("make", FACTORIES.values(), ids=FACTORIES.keys())
def test_factories_match_torch(make, assert_matches):
    out, want = make(impl), make(torch)
    assert_matches(out, want)
    assert out.is_leaf and not out.requires_grad


def test_tensor_copies_its_data():
    a = np.zeros(2)
    t = impl.tensor(a)
    a[0] = 1.0
    assert t.tolist() == [0.0, 0.0]


RANDOM = {
    "randn": lambda m: m.randn(2, 3),
    "randn_tuple_f64": lambda m: m.randn((4,), dtype=m.float64),
    "randn_0d": lambda m: m.randn(()),
    "rand": lambda m: m.rand(5, 1),
    "rand_empty_f64": lambda m: m.rand(0, 2, dtype=m.float64),
}


@pytest.mark.parametrize("make", RANDOM.values(), ids=RANDOM.keys())
def test_random_factories_shapes_and_dtypes(make):
    out, want = make(impl), make(torch)
    assert out.shape == tuple(want.shape) and str(out.dtype) == str(want.dtype).split(".")[1]
    assert np.all(np.isfinite(out.data))


def test_random_factory_distributions():
    impl.manual_seed(0)
    u, z = impl.rand(20000).data, impl.randn(20000).data
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03


@pytest.mark.parametrize("requires_grad", [False, True])
def test_factories_accept_requires_grad(requires_grad):
    made = [impl.zeros(2, requires_grad=requires_grad), impl.ones(2, requires_grad=requires_grad),
            impl.full((2,), 1.0, requires_grad=requires_grad),
            impl.randn(2, requires_grad=requires_grad), impl.rand(2, requires_grad=requires_grad),
            impl.zeros_like(impl.ones(2), requires_grad=requires_grad),
            impl.tensor([1.0], requires_grad=requires_grad)]
    assert all(t.requires_grad == requires_grad and t.is_leaf for t in made)


@pytest.mark.parametrize("make", [
    lambda m: m.zeros(-1), lambda m: m.ones(2, -3), lambda m: m.full((-1,), 1.0),
    lambda m: m.randn(-2), lambda m: m.rand(3, -1), lambda m: m.zeros((2, -2)),
], ids=["zeros", "ones", "full", "randn", "rand", "zeros_tuple"])
def test_negative_sizes_raise(make):
    with pytest.raises(RuntimeError):
        make(torch)
    with pytest.raises(RuntimeError, match="negative dimension -"):
        make(impl)


@pytest.mark.parametrize("make", [
    lambda m: m.zeros(2.5), lambda m: m.ones("a"), lambda m: m.tensor([1.0], dtype="complex64"),
    lambda m: m.tensor([1 + 2j]), lambda m: m.tensor(["a"]),
], ids=["float_size", "str_size", "bad_dtype", "complex", "str_data"])
def test_bad_factory_arguments_raise_type_error(make):
    with pytest.raises(TypeError):
        make(impl)


@pytest.mark.parametrize("make", [lambda m: m.randn(2, dtype=m.int64),
                                  lambda m: m.rand(2, dtype=m.bool)], ids=["randn", "rand"])
def test_random_floats_need_a_float_dtype(make):
    with pytest.raises(RuntimeError):
        make(torch)
    with pytest.raises(RuntimeError, match="floating point"):
        make(impl)


def test_manual_seed_reproduces_random_tensors():
    impl.manual_seed(3)
    a, b = impl.randn(5), impl.rand(2, 2)
    impl.manual_seed(3)
    assert impl.randn(5).tolist() == a.tolist() and impl.rand(2, 2).tolist() == b.tolist()
    impl.manual_seed(4)
    assert impl.randn(5).tolist() != a.tolist()


def test_generator_is_reproducible_and_independent_of_the_global_one():
    g1, g2 = impl.Generator().manual_seed(7), impl.Generator().manual_seed(7)
    impl.manual_seed(0)
    x = impl.randn(3, generator=g1)
    after = impl.randn(3)
    assert x.tolist() == impl.randn(3, generator=g2).tolist()
    assert impl.rand(4, generator=g1).tolist() == impl.rand(4, generator=g2).tolist()
    impl.manual_seed(0)
    assert impl.randn(3).tolist() == after.tolist()  # the generators did not advance the global


def test_randint_and_randperm():
    g = impl.Generator().manual_seed(1)
    r = impl.randint(2, 5, (100,), generator=g)
    assert r.dtype == np.int64 and r.shape == (100,) and set(r.tolist()) == {2, 3, 4}
    p = impl.randperm(6, generator=g)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(6))


# -- bad input --------------------------------------------------------------------------------
BROADCAST_FAILURES = {
    "add": lambda m, x, y: m.add(x, y), "sub": lambda m, x, y: x - y,
    "mul": lambda m, x, y: x * y, "div": lambda m, x, y: m.div(x, y),
    "pow": lambda m, x, y: m.pow(x, y), "maximum": lambda m, x, y: m.maximum(x, y),
    "minimum": lambda m, x, y: m.minimum(x, y), "eq": lambda m, x, y: m.eq(x, y),
    "lt": lambda m, x, y: x < y,
}


@pytest.mark.parametrize("shapes", [((2, 3), (3, 2)), ((4,), (3,)), ((2, 3, 4), (5, 4))],
                         ids=str)
@pytest.mark.parametrize("name, fn", BROADCAST_FAILURES.items(), ids=BROADCAST_FAILURES.keys())
def test_non_broadcastable_shapes_raise(name, fn, shapes):
    with pytest.raises(RuntimeError):
        fn(torch, torch.ones(shapes[0]), torch.ones(shapes[1]))
    with pytest.raises(RuntimeError) as err:
        fn(impl, impl.ones(shapes[0], requires_grad=True), impl.ones(shapes[1]))
    message = str(err.value)
    assert message.startswith(name + ":")
    assert str(shapes[0]) in message and str(shapes[1]) in message


BAD_OPERANDS = {
    "add_str": lambda m: m.ones(2) + "a",
    "radd_str": lambda m: "a" + m.ones(2),
    "mul_none": lambda m: m.mul(m.ones(2), None),
    "mul_object": lambda m: m.ones(2) * object(),
    "exp_list": lambda m: m.exp([1.0]),
    "neg_float": lambda m: m.neg(1.0),
    "maximum_scalar": lambda m: m.maximum(m.ones(2), 1.0),
    "clamp_str_bound": lambda m: m.clamp(m.ones(2), min="a"),
    "pow_str": lambda m: m.ones(2) ** "a",
}


@pytest.mark.parametrize("fn", BAD_OPERANDS.values(), ids=BAD_OPERANDS.keys())
def test_unsupported_operand_types_raise_type_error(fn):
    with pytest.raises(TypeError):
        fn(torch)
    with pytest.raises(TypeError):
        fn(impl)


@pytest.mark.parametrize("fn", [
    lambda m: m.add(m.arange(3), m.arange(3), alpha=0.5),
    lambda m: m.sub(m.tensor([1, 2]), 1, alpha=1.5),
    lambda m: m.tensor([True, False]) - m.tensor([True, True]),
    lambda m: -m.tensor([True]),
], ids=["add_int_float_alpha", "sub_int_float_alpha", "sub_bool", "neg_bool"])
def test_unsupported_dtype_combinations_raise_runtime_error(fn):
    with pytest.raises(RuntimeError):
        fn(torch)
    with pytest.raises(RuntimeError, match="^(add|sub|neg): "):
        fn(impl)


def test_clamp_needs_a_bound():
    for m in (torch, impl):
        with pytest.raises(RuntimeError, match="min.*max"):
            m.clamp(m.ones(2))


def test_integer_pow_with_a_negative_integer_exponent_raises():
    for m in (torch, impl):
        with pytest.raises(RuntimeError, match="(?i)integers to negative integer powers"):
            m.arange(3) ** -1


def test_comparisons_match_torch(rng, assert_matches):
    a, b = normal(rng, (3, 4)), normal(rng, (4,))
    b[:3] = a[0, :3]
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        got = getattr(impl, name)(impl.tensor(a, requires_grad=True), impl.tensor(b))
        assert_matches(got, getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
        assert not got.requires_grad


# -- out= -----------------------------------------------------------------------------------------
# The registry's `out` check compares the values written and returned; these are the rules around
# them, as torch has them.


def _out_call(lib, out_shape, out_dtype, requires_grad=False):
    x = lib.tensor([[1.0, -2.0], [3.0, 4.5]], requires_grad=requires_grad)
    out = lib.zeros(out_shape, dtype=out_dtype)
    result = lib.add(x, 1.0, alpha=2, out=out)
    return result is out, out.detach().numpy()


@pytest.mark.parametrize("out_shape, out_dtype, warns", [
    ((0,), "float32", False),  # an empty out is resized silently
    ((2, 2), "float32", False),
    ((3,), "float32", True),  # a wrong-shaped, non-empty out is resized with a warning
    ((2, 2), "float64", False),  # cast within the float kind
])
def test_out_is_written_resized_cast_and_returned_as_torch(out_shape, out_dtype, warns):
    results = []
    for lib in (impl, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results.append(_out_call(lib, out_shape, getattr(lib, out_dtype)))
        assert any("resized" in str(w.message) for w in caught) == warns, (lib, caught)
    (same, got), (torch_same, want) = results
    assert same and torch_same and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("requires_grad, out_dtype, match", [
    (True, "float32", "don't support automatic differentiation"),
    (False, "int64", "can't be cast to the desired output type"),
])
def test_out_refuses_gradients_and_a_narrower_kind_as_torch(requires_grad, out_dtype, match):
    for lib in (impl, torch):
        with pytest.raises(RuntimeError, match=match):
            _out_call(lib, (2, 2), getattr(lib, out_dtype), requires_grad)


def test_out_takes_a_tuple_for_several_results_and_records_no_graph():
    x = impl.tensor([[1.0, 5.0], [3.0, 2.0]])
    values, indices = impl.zeros(0), impl.zeros(0, dtype=impl.int64)
    got = impl.max(x, 1, out=(values, indices))
    assert got[0] is values and got[1] is indices
    np.testing.assert_array_equal(values.numpy(), [5.0, 3.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    with impl.no_grad():
        leaf = impl.ones(2, requires_grad=True)
        out = impl.mul(leaf, 2.0, out=impl.zeros(2))
    assert out.grad_fn is None and not out.requires_grad
