"""impl.nn modules, impl.nn.init and impl.optim against torch: the same model built with
``nn = impl.nn`` and ``nn = torch.nn`` has the same names, state-dict keys, repr and outputs;
init draws from torch's distributions; SGD and Adam equal torch.optim step for step."""

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

import impl

DTYPES = [np.float32, np.float64]
# Optimizer steps differ from torch's by the rounding of a fused multiply-add at most.
STEP_TOLERANCE = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


# -- models built the same way in both libraries ---------------------------------------------
def make_net(lib):
    """A module with a nested Sequential, a bias-free Linear, a persistent and a non-persistent
    buffer, in ``lib`` (impl or torch)."""
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.ReLU())
            self.head = nn.Linear(4, 2, bias=False)
            self.register_buffer("scale", lib.full((2,), 2.0))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

        def forward(self, x):
            return self.head(self.features(x)) * self.scale

    return Net()


def from_torch(t):
    return impl.tensor(t.detach().numpy())


def names(pairs):
    return [name for name, _ in pairs]


def test_registration_names_match_torch():
    net, ref = make_net(impl), make_net(torch)
    assert list(net.state_dict()) == list(ref.state_dict())
    assert names(net.named_parameters()) == names(ref.named_parameters())
    assert names(net.named_buffers()) == names(ref.named_buffers())
    assert names(net.named_modules()) == names(ref.named_modules())
    assert names(net.named_children()) == names(ref.named_children())
    assert [p.shape for p in net.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    assert all(isinstance(p, impl.nn.Parameter) for p in net.parameters())
    assert len(list(net.parameters(recurse=False))) == 0
    assert len(list(net.modules())) == len(list(ref.modules()))
    assert repr(net) == repr(ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_state_dict_loads_and_forward_matches(dtype, rng, assert_matches):
    net, ref = make_net(impl), make_net(torch)
    if dtype == np.float64:
        net.double(), ref.double()
    result = net.load_state_dict({k: from_torch(v) for k, v in ref.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = rng.standard_normal((7, 3)).astype(dtype)
    out, expected = net(impl.tensor(x)), ref(torch.from_numpy(x))
    assert_matches(out, expected)
    cotangent = rng.standard_normal(out.shape).astype(dtype)
    out.backward(impl.tensor(cotangent))
    expected.backward(torch.from_numpy(cotangent))
    grads = dict(ref.named_parameters())
    for name, p in net.named_parameters():
        assert p.grad.dtype == dtype
        assert_matches(p.grad, grads[name].grad)


def test_state_dict_values_are_detached_views():
    net = make_net(impl)
    state = net.state_dict()
    weight = net.features[0].weight
    assert not state["features.0.weight"].requires_grad
    assert type(state["features.0.weight"]) is impl.Tensor
    assert np.shares_memory(state["features.0.weight"].data, weight.data)
    assert net.state_dict(keep_vars=True)["features.0.weight"] is weight
    assert "cache" not in state and "scale" in state
    assert list(net.state_dict(prefix="net.")) == ["net." + k for k in state]


def test_load_state_dict_copies_in_place():
    net, other = make_net(impl), make_net(impl)
    weight = net.head.weight
    net.load_state_dict(other.state_dict())
    assert net.head.weight is weight
    np.testing.assert_array_equal(weight.data, other.head.weight.data)
    assert not np.shares_memory(weight.data, other.head.weight.data)


def load_error(net, state):
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    return str(info.value).replace("torch.Size([", "(").replace("])", ")")


def test_load_state_dict_errors_match_torch():
    net, ref = make_net(impl), make_net(torch)
    bad = {k: v for k, v in ref.state_dict().items() if k != "head.weight"}
    bad["features.0.weight"] = torch.zeros(5, 4)
    bad["extra.weight"] = torch.zeros(1)
    ours = load_error(net, {k: from_torch(v) for k, v in bad.items()})
    assert ours == load_error(ref, bad)
    assert 'Missing key(s) in state_dict: "head.weight".' in ours
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in ours
    assert "size mismatch for features.0.weight" in ours
    # Without strict, only a shape mismatch is an error.
    bad["features.0.weight"] = torch.zeros(5, 3)
    result = net.load_state_dict({k: from_torch(v) for k, v in bad.items()}, strict=False)
    assert result.missing_keys == ["head.weight"] and result.unexpected_keys == ["extra.weight"]
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])
    with pytest.raises(RuntimeError, match='While copying the parameter named "scale"'):
        net.load_state_dict({**net.state_dict(), "scale": [1.0, 2.0]})


REPR_CASES = [
    lambda nn: nn.Linear(3, 4),
    lambda nn: nn.Linear(3, 4, bias=False),
    lambda nn: nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1),
                                                                       nn.Sigmoid())),
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2)]),
    lambda nn: nn.ModuleList(),
    lambda nn: nn.Sequential(),
    lambda nn: nn.ReLU(inplace=True),
    lambda nn: nn.Softmax(dim=1),
    lambda nn: nn.LogSoftmax(dim=-1),
    lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1),
    lambda nn: nn.MSELoss(reduction="sum"),
    lambda nn: nn.BCELoss(),
    lambda nn: nn.NLLLoss(),
]


@pytest.mark.parametrize("make", REPR_CASES)
def test_repr_matches_torch(make):
    assert repr(make(impl.nn)) == repr(make(torch.nn))


def test_parameter():
    data = impl.ones(3)
    p = impl.nn.Parameter(data)
    assert p.requires_grad and p.is_leaf and isinstance(p, impl.Tensor)
    assert np.shares_memory(p.data, data.data)
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(3)))
    assert not impl.nn.Parameter(data, requires_grad=False).requires_grad
    assert impl.nn.Parameter().shape == (0,)
    with pytest.raises(TypeError, match="'data' must be Tensor"):
        impl.nn.Parameter([1.0])


def test_registration_rules():
    nn = impl.nn
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = impl.zeros(3, 2)
    m.bias = None
    assert m.bias is None and "bias" not in m.state_dict()
    m.extra = impl.zeros(1)  # a plain tensor attribute is not registered
    assert "extra" not in m.state_dict()
    m.register_buffer("count", impl.zeros(1))
    assert "count" in m.state_dict() and "count" in dir(m)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("extra", impl.zeros(1))
    with pytest.raises(KeyError, match=r'name can.*contain "."'):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="empty string"):
        m.add_module("", nn.ReLU())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError, match="should be a string"):
        m.register_buffer(1, None)
    with pytest.raises(TypeError, match="object to parameter 'p'"):
        m.register_parameter("p", impl.nn.Parameter(impl.ones(1)) * 2)
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = m.missing
    # Re-assigning a name moves it between registries; del removes it.
    m.count = nn.ReLU()
    assert "count" in m._modules and "count" not in m._buffers
    del m.count
    assert not hasattr(m, "count")

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(impl.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_shared_modules_are_counted_once():
    for lib in (impl, torch):
        shared = lib.nn.Linear(2, 2)
        net = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
        assert len(list(net.parameters())) == 2
        assert names(net.named_modules()) == ["", "0", "1"]
        assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_train_eval_apply_requires_grad():
    net = make_net(impl)
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train(1)
    seen, expected = [], []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    make_net(torch).apply(lambda m: expected.append(type(m).__name__))
    assert seen == expected and seen[-1] == "Net"
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("set_to_none", [True, False])
def test_module_zero_grad(set_to_none):
    net = make_net(impl)
    net(impl.randn(4, 3)).sum().backward()
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=set_to_none)
    for p, g in zip(net.parameters(), grads):
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is g and not g.data.any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_to_dtype_converts_in_place(dtype):
    net = make_net(impl)
    params = list(net.parameters())
    net(impl.randn(2, 3)).sum().backward()
    assert net.to(dtype) is net
    assert [p is q for p, q in zip(params, net.parameters())] == [True] * len(params)
    assert all(t.dtype == dtype for t in [*net.parameters(), *net.buffers()])
    assert all(p.grad.dtype == dtype for p in net.parameters())
    assert net(impl.randn(2, 3, dtype=dtype)).dtype == dtype
    assert net.float().head.weight.dtype == np.float32
    assert net.double().head.weight.dtype == np.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(impl.int64)


def test_sequential_and_module_list_indexing():
    for lib in (impl, torch):
        nn = lib.nn
        layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)]
        seq = nn.Sequential(*layers)
        assert len(seq) == 3 and list(seq) == layers
        assert seq[-1] is layers[2] and seq[0] is layers[0]
        assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == layers[1:]
        with pytest.raises(IndexError, match="index 3 is out of range"):
            seq[3]
        seq.append(nn.Tanh())
        del seq[1]
        assert list(seq._modules) == ["0", "1", "2"]
        assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Tanh"]
        seq[1] = nn.Sigmoid()
        seq.insert(-1, nn.ReLU())
        assert [type(m).__name__ for m in seq] == ["Linear", "Sigmoid", "ReLU", "Tanh"]
        ml = nn.ModuleList(layers)
        ml.extend([nn.Tanh()])
        assert len(ml) == 4 and isinstance(ml[:2], nn.ModuleList) and ml[-1] is list(ml)[3]
        assert list(dict(ml.named_parameters())) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_from_ordered_dict():
    from collections import OrderedDict

    for lib in (impl, torch):
        nn = lib.nn
        seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
        assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
        assert seq.fc is seq[0]


def test_linear_default_init_is_torchs_distribution():
    impl.manual_seed(0)
    layer = impl.nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    impl.manual_seed(0)
    np.testing.assert_array_equal(impl.nn.Linear(400, 300).weight.data, layer.weight.data)
    assert impl.nn.Linear(3, 2, dtype=impl.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="negative dimension"):
        impl.nn.Linear(-1, 2)


MODULE_CASES = [
    ("ReLU", lambda nn: nn.ReLU(), 1),
    ("Sigmoid", lambda nn: nn.Sigmoid(), 1),
    ("Tanh", lambda nn: nn.Tanh(), 1),
    ("Softmax", lambda nn: nn.Softmax(dim=1), 1),
    ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=0), 1),
    ("MSELoss", lambda nn: nn.MSELoss(), 2),
    ("MSELoss-none", lambda nn: nn.MSELoss(reduction="none"), 2),
    ("BCELoss", lambda nn: nn.BCELoss(reduction="sum"), "bce"),
    ("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.2), "classes"),
    ("NLLLoss", lambda nn: nn.NLLLoss(ignore_index=1), "classes"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,make,kind", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_activation_and_loss_modules_match_torch(name, make, kind, dtype, rng, assert_matches):
    x = rng.standard_normal((6, 4)).astype(dtype)
    if kind == "bce":
        x = rng.uniform(0.05, 0.95, (6, 4)).astype(dtype)
        extra = [rng.uniform(0, 1, (6, 4)).astype(dtype)]
    elif kind == "classes":
        extra = [rng.integers(0, 4, 6)]
    else:
        extra = [rng.standard_normal((6, 4)).astype(dtype)] * (kind - 1)
    xi = impl.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = make(impl.nn)(xi, *map(impl.tensor, extra))
    expected = make(torch.nn)(xt, *map(torch.tensor, extra))
    assert_matches(out, expected)
    cotangent = rng.standard_normal(out.shape).astype(dtype)
    out.backward(impl.tensor(cotangent))
    expected.backward(torch.from_numpy(cotangent))
    assert_matches(xi.grad, xt.grad)


def test_weighted_loss_registers_weight_buffer():
    w = impl.tensor([1.0, 2.0, 0.5])
    for lib, weight in ((impl, w), (torch, torch.tensor([1.0, 2.0, 0.5]))):
        loss = lib.nn.CrossEntropyLoss(weight=weight)
        assert list(loss.state_dict()) == ["weight"] and loss.weight is weight
        assert list(lib.nn.NLLLoss().state_dict()) == []
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert impl.nn.MSELoss(size_average=False).reduction == "sum"


# -- init ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3), (4, 3, 5), (8, 2, 3, 3), (1, 7)])
def test_fan_in_and_fan_out_match_torch(shape):
    assert (impl.nn.init._calculate_fan_in_and_fan_out(impl.zeros(*shape))
            == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape)))


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert impl.nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(
        nonlinearity, param)


# (function, kwargs, "uniform" bound or "normal" std as a function of fan_in, fan_out)
INIT_CASES = [
    ("uniform_", dict(a=-0.5, b=1.5), None),
    ("normal_", dict(mean=0.3, std=2.0), None),
    ("xavier_uniform_", dict(gain=2.0), ("uniform", lambda i, o: 2.0 * math.sqrt(6 / (i + o)))),
    ("xavier_normal_", dict(), ("normal", lambda i, o: math.sqrt(2 / (i + o)))),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), ("uniform", lambda i, o: 1 / math.sqrt(i))),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"),
     ("uniform", lambda i, o: math.sqrt(6 / o))),
    ("kaiming_normal_", dict(nonlinearity="relu"), ("normal", lambda i, o: math.sqrt(2 / i))),
    ("kaiming_normal_", dict(a=0.2, mode="fan_out"),
     ("normal", lambda i, o: math.sqrt(2 / (1.04 * o)))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn,kwargs,law", INIT_CASES)
def test_init_statistics(fn, kwargs, law, dtype):
    shape = (300, 100, 3)  # fan_in 300, fan_out 900
    t = impl.zeros(*shape, dtype=dtype)
    assert getattr(impl.nn.init, fn)(t, **kwargs) is t
    assert t.dtype == dtype
    ref = getattr(torch.nn.init, fn)(torch.zeros(*shape, dtype=torch.float64), **kwargs).numpy()
    # Same distribution as torch's: mean, std and range agree to sampling error.
    n = t.numel()
    assert abs(t.data.mean() - ref.mean()) < 6 * ref.std() / math.sqrt(n)
    assert abs(t.data.std() / ref.std() - 1) < 0.01
    if law is not None:
        kind, scale = law
        expected_std = scale(300, 900) / (math.sqrt(3) if kind == "uniform" else 1)
        assert abs(t.data.std() / expected_std - 1) < 0.01
        if kind == "uniform":
            assert np.abs(t.data).max() <= scale(300, 900) * (1 + 1e-6)


def test_init_generator_reproducible_and_in_place():
    init = impl.nn.init
    a, b = impl.zeros(5, 4), impl.zeros(5, 4)
    view = a.data
    init.kaiming_normal_(a, generator=impl.Generator(7))
    init.kaiming_normal_(b, generator=impl.Generator(7))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.data is view and a.data.any()
    p = impl.nn.Parameter(impl.zeros(3, 2))
    init.xavier_uniform_(p)
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert not init.zeros_(p).data.any()
    assert (init.ones_(p).data == 1).all() and (init.constant_(p, 0.25).data == 0.25).all()


@pytest.mark.parametrize("call,error,match", [
    (lambda init: init.xavier_uniform_(impl.zeros(3)), ValueError, "fewer than 2 dimensions"),
    (lambda init: init.kaiming_normal_(impl.zeros(3)), ValueError, "fewer than 2 dimensions"),
    (lambda init: init.kaiming_uniform_(impl.zeros(3, 2), mode="fan"), ValueError,
     "Mode fan not supported"),
    (lambda init: init.kaiming_uniform_(impl.zeros(3, 2), nonlinearity="gelu"), ValueError,
     "Unsupported nonlinearity gelu"),
    (lambda init: init.calculate_gain("leaky_relu", "x"), ValueError, "not a valid number"),
    (lambda init: init.uniform_(impl.zeros(3), 1.0, 0.0), RuntimeError, "from=1.0 > to=0.0"),
    (lambda init: init.normal_(impl.zeros(3), std=-1.0), RuntimeError, "std >= 0.0"),
])
def test_init_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(impl.nn.init)


def test_init_errors_on_non_tensors_and_empty():
    with pytest.raises(TypeError, match="'tensor' must be Tensor"):
        impl.nn.init.normal_(np.zeros(3))
    with pytest.warns(UserWarning, match="zero-element"):
        impl.nn.init.kaiming_uniform_(impl.zeros(0, 3))


# -- optimizers -------------------------------------------------------------------------------
SGD_OPTIONS = [dict(momentum=m, dampening=d, weight_decay=w, nesterov=n, maximize=x)
               for m, d, w, n, x in itertools.product([0, 0.9], [0, 0.5], [0, 0.1],
                                                     [False, True], [False, True])
               if not n or (m > 0 and d == 0)]
ADAM_OPTIONS = [dict(betas=b, weight_decay=w, amsgrad=a, maximize=x, decoupled_weight_decay=dw)
                for b, w, a, x, dw in itertools.product([(0.9, 0.999), (0.3, 0.6)], [0, 0.1],
                                                        [False, True], [False, True],
                                                        [False, True])]
OPTIMIZER_CASES = ([("SGD", dict(lr=0.1, **o)) for o in SGD_OPTIONS]
                   + [("Adam", dict(lr=0.05, **o)) for o in ADAM_OPTIONS])


def run_both(name, kwargs, dtype, rng, steps=5):
    """The same parameters and gradients through impl's and torch's optimizer, step by step."""
    shapes = [(3, 4), (5,), ()]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [impl.nn.Parameter(impl.tensor(a)) for a in init]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    opt = getattr(impl.optim, name)(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
    for _ in range(steps):
        for p, t in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad, t.grad = impl.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
        for p, t in zip(ours, theirs):
            assert p.dtype == dtype
            np.testing.assert_allclose(p.data, t.detach().numpy(), **STEP_TOLERANCE[dtype])
    return opt, ref, ours, theirs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kwargs", OPTIMIZER_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZER_CASES)])
def test_optimizer_steps_match_torch(name, kwargs, dtype, rng):
    opt, ref, ours, theirs = run_both(name, kwargs, dtype, rng)
    for p, t in zip(ours, theirs):
        state, expected = opt.state.get(p, {}), ref.state[t]
        assert sorted(state) == sorted(expected)
        for key, value in expected.items():
            np.testing.assert_allclose(state[key].data, value.numpy(), **STEP_TOLERANCE[dtype])


def test_training_a_model_matches_torch(rng):
    """Linear/ReLU model, cross_entropy, Adam: parameters equal torch's after a few steps."""
    impl_model = impl.nn.Sequential(impl.nn.Linear(4, 8), impl.nn.ReLU(), impl.nn.Linear(8, 3))
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                      torch.nn.Linear(8, 3))
    impl_model.load_state_dict({k: from_torch(v) for k, v in torch_model.state_dict().items()})
    opt = impl.optim.Adam(impl_model.parameters(), lr=0.01, weight_decay=0.01)
    ref = torch.optim.Adam(torch_model.parameters(), lr=0.01, weight_decay=0.01, foreach=False)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    for _ in range(5):
        for model, optimizer, lib in ((impl_model, opt, impl), (torch_model, ref, torch)):
            optimizer.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            optimizer.step()
    expected = torch_model.state_dict()
    for key, value in impl_model.state_dict().items():
        np.testing.assert_allclose(value.data, expected[key].numpy(), rtol=1e-5, atol=1e-6)


def test_param_groups_and_zero_grad():
    a, b = impl.nn.Parameter(impl.ones(2)), impl.nn.Parameter(impl.ones(3))
    opt = impl.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    a.grad, b.grad = impl.ones(2), impl.ones(3)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)
    opt.zero_grad(set_to_none=False)
    assert not a.grad.data.any() and not b.grad.data.any()
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    opt.step()  # parameters without gradients are skipped
    np.testing.assert_allclose(a.data, 0.9)
    assert repr(opt).startswith("SGD (\nParameter Group 0\n    dampening: 0\n")


def test_step_closure_runs_with_grad_enabled():
    p = impl.nn.Parameter(impl.tensor([2.0]))
    opt = impl.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with impl.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and p.item() == 1.0


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_optimizer_state_dict_round_trip(name, rng):
    """Training 3 steps, saving, loading into a fresh optimizer and training 2 more steps equals
    training 5 steps straight."""
    kwargs = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1, amsgrad=True)
    init = rng.standard_normal((4, 3)).astype(np.float32)
    grads = rng.standard_normal((5, 4, 3)).astype(np.float32)
    straight = impl.nn.Parameter(impl.tensor(init))
    opt = getattr(impl.optim, name)([straight], **kwargs)
    resumed = impl.nn.Parameter(impl.tensor(init))
    first = getattr(impl.optim, name)([resumed], **kwargs)
    for i, g in enumerate(grads):
        straight.grad = impl.tensor(g)
        opt.step()
        if i == 3:
            second = getattr(impl.optim, name)([resumed], lr=1.0)
            second.load_state_dict(first.state_dict())
            first = second
            assert first.param_groups[0]["lr"] == 0.1 and first.param_groups[0]["params"] == [
                resumed]
        resumed.grad = impl.tensor(g)
        first.step()
    np.testing.assert_array_equal(straight.data, resumed.data)
    state = opt.state_dict()
    assert list(state) == ["state", "param_groups"] and list(state["state"]) == [0]
    assert state["param_groups"][0]["params"] == [0]
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})


ARGUMENT_ERRORS = [
    ("SGD", dict(lr=-1)),
    ("SGD", dict(momentum=-0.5)),
    ("SGD", dict(weight_decay=-1e-3)),
    ("SGD", dict(nesterov=True)),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-1)),
    ("Adam", dict(eps=-1e-8)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.5))),
    ("Adam", dict(weight_decay=-1.0)),
]


@pytest.mark.parametrize("name,kwargs", ARGUMENT_ERRORS)
def test_optimizer_argument_errors_match_torch(name, kwargs):
    with pytest.raises(ValueError) as expected:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(1))], **kwargs)
    with pytest.raises(ValueError) as actual:
        getattr(impl.optim, name)([impl.nn.Parameter(impl.ones(1))], **kwargs)
    assert str(actual.value) == str(expected.value)


def test_optimizer_params_errors():
    p = impl.nn.Parameter(impl.ones(2))
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        impl.optim.SGD(p)
    with pytest.raises(ValueError, match="empty parameter list"):
        impl.optim.SGD([])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        impl.optim.SGD([p, 1.0])
    with pytest.raises(ValueError, match="non-leaf"):
        impl.optim.SGD([p * 2])
    with pytest.raises(ValueError, match="more than one parameter group"):
        impl.optim.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.raises(TypeError, match="ordered collections"):
        impl.optim.SGD([{"params": {p}}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        impl.optim.SGD([p, p])
    assert "duplicate parameters" in str(caught[0].message)


def test_step_lr_matches_torch():
    ours = impl.optim.SGD([impl.nn.Parameter(impl.ones(1))], lr=0.3)
    theirs = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.3)
    sched = impl.optim.lr_scheduler.StepLR(ours, step_size=3, gamma=0.7)
    ref = torch.optim.lr_scheduler.StepLR(theirs, step_size=3, gamma=0.7)
    for _ in range(10):
        assert sched.get_last_lr() == ref.get_last_lr()
        assert ours.param_groups[0]["lr"] == theirs.param_groups[0]["lr"]
        ours.step(), theirs.step()
        sched.step(), ref.step()
    assert sched.last_epoch == ref.last_epoch == 10
    with pytest.raises(TypeError, match="is not an Optimizer"):
        impl.optim.lr_scheduler.StepLR(None, 3)
