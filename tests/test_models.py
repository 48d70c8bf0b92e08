"""impl.models (torchvision's ResNet) against oracles.torch_models, Module hooks against torch's,
conv-BN fusion against torch.nn.utils.fusion, and checkpoints (impl.save / impl.load)."""

import io
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

import impl
import impl.models as M
from oracles import torch_models as T

COUNTS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
          "resnet101": 44_549_160, "resnet152": 60_192_808}

# Small configurations of resnet_small / ResNet: (constructor, kwargs, batch, image size).
SMALL = {
    "basic": ("resnet_small", dict(block="basic", layers=(1, 2), widths=(4, 8),
                                   num_classes=5), 3, 8),
    "bottleneck": ("resnet_small", dict(block="bottleneck", layers=(2, 1, 1), widths=(4, 4, 8),
                                        num_classes=3), 2, 9),
    "one-channel": ("resnet_small", dict(block="basic", layers=(1, 1, 1), widths=(4, 8, 8),
                                         in_channels=1, num_classes=4), 3, 11),
    "dilated": ("resnet_small", dict(block="bottleneck", layers=(1, 1, 1), widths=(4, 4, 4),
                                     replace_stride_with_dilation=[False, True],
                                     num_classes=3), 2, 10),
    "resnext-like": ("resnet_small", dict(block="bottleneck", layers=(1, 1), widths=(8, 16),
                                          groups=2, width_per_group=16, num_classes=3), 2, 8),
    "stem": ("ResNet", dict(block="basic", layers=(1, 1), widths=(4, 8), num_classes=3), 2, 17),
}


def build(lib, constructor, kwargs, **extra):
    kwargs = {**kwargs, **extra}
    if constructor == "ResNet":  # the full stem (7x7 stride-2 conv, max pooling) on a small image
        blocks = {"basic": lib.BasicBlock, "bottleneck": lib.Bottleneck}
        return lib.ResNet(blocks[kwargs.pop("block")], kwargs.pop("layers"), **kwargs)
    return getattr(lib, constructor)(**kwargs)


def shapes(model):
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def randomised(model, seed):
    """A torch model's state dict with its batch-norm parameters and statistics drawn at random
    (so that a transplant mixing them up shows), as float64 arrays (int64 for batch counts)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in model.state_dict().items():
        array = value.numpy().copy()
        if key.endswith(("running_mean", "bn1.bias", "bn2.bias", "bn3.bias", "downsample.1.bias")):
            array = rng.normal(0.0, 0.2, array.shape)
        elif key.endswith(("running_var", "bn1.weight", "bn2.weight", "bn3.weight",
                           "downsample.1.weight")):
            array = rng.uniform(0.5, 1.5, array.shape)
        state[key] = array
    return state


@pytest.fixture(scope="module")
def resnet18():
    return M.resnet18()


# -- architecture --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(COUNTS))
def test_parameter_counts(name, resnet18):
    model = resnet18 if name == "resnet18" else getattr(M, name)()
    assert sum(p.numel() for p in model.parameters()) == COUNTS[name]


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_state_dict_keys_order_and_shapes_are_torchvisions(name, resnet18):
    mine = resnet18 if name == "resnet18" else getattr(M, name)()
    theirs = getattr(T, name)()
    assert shapes(mine) == shapes(theirs)
    assert [n for n, _ in mine.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert "layer2.0.downsample.0.weight" in mine.state_dict()
    assert mine.state_dict()["bn1.num_batches_tracked"].dtype == np.int64


@pytest.mark.parametrize("config", list(SMALL))
def test_small_state_dict_keys_are_the_oracles(config):
    constructor, kwargs, _, _ = SMALL[config]
    assert shapes(build(M, constructor, kwargs)) == shapes(build(T, constructor, kwargs))


@pytest.mark.parametrize("config", list(SMALL))
def test_transplanted_weights_give_torchs_logits_and_gradients(config):
    constructor, kwargs, batch, size = SMALL[config]
    torch.manual_seed(0)
    theirs = build(T, constructor, kwargs).double()
    state = randomised(theirs, 1)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    mine = build(M, constructor, kwargs, dtype=impl.float64)
    mine.load_state_dict({k: impl.tensor(v) for k, v in state.items()})
    x = np.random.default_rng(2).standard_normal((batch, kwargs.get("in_channels", 3), size,
                                                  size))
    y = np.arange(batch) % kwargs["num_classes"]
    for train in (False, True):  # evaluation first: running statistics, then batch statistics
        want = theirs.train(train)(torch.tensor(x))
        got = mine.train(train)(impl.tensor(x))
        assert got.dtype == np.float64 and got.shape == want.shape
        scale = want.abs().max().item()
        np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-10,
                                   atol=1e-12 * scale)
    for key, value in theirs.state_dict().items():  # the running statistics after the update
        np.testing.assert_allclose(mine.state_dict()[key].data, value.numpy(), rtol=1e-12,
                                   atol=1e-15)
    torch.nn.functional.cross_entropy(want, torch.tensor(y)).backward()
    impl.nn.functional.cross_entropy(got, impl.tensor(y)).backward()
    for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
        scale = q.grad.abs().max().item()
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-12 * scale,
                                   err_msg=name)


def test_initialisation_is_torchvisions(resnet18):
    for name, m in resnet18.named_modules():
        if isinstance(m, impl.nn.Conv2d):
            w = m.weight.data
            fan_out = w.shape[0] * w.shape[2] * w.shape[3]
            assert abs(w.std() / math.sqrt(2 / fan_out) - 1) < 0.05, name
            assert abs(w.mean()) < 0.05 * w.std(), name
        elif isinstance(m, impl.nn.BatchNorm2d):
            assert (m.weight.data == 1).all() and (m.bias.data == 0).all(), name
    bound = 1 / math.sqrt(512)  # Linear keeps its default U(±1/sqrt(in_features))
    assert np.abs(resnet18.fc.weight.data).max() <= bound
    assert resnet18.fc.weight.data.std() > 0.9 * bound / math.sqrt(3)


@pytest.mark.parametrize("block, last", [("basic", "bn2"), ("bottleneck", "bn3")])
def test_zero_init_residual_zeroes_each_blocks_last_bn(block, last):
    model = M.resnet_small(block, (2, 1), widths=(4, 8), zero_init_residual=True)
    for name, m in model.named_modules():
        if isinstance(m, impl.nn.BatchNorm2d):
            assert (m.weight.data == (0 if name.endswith(last) else 1)).all(), name


def test_dtype_draws_the_initialisation_in_that_dtype():
    model = M.resnet_small("basic", (1,), widths=(8,), dtype=impl.float64)
    dtypes = {v.dtype for v in model.state_dict().values()}
    assert dtypes == {np.dtype(np.float64), np.dtype(np.int64)}
    for w in (model.layer1[0].conv1.weight.data, model.fc.weight.data):
        assert (w.astype(np.float32).astype(np.float64) != w).any()  # not widened float32s
    with pytest.raises(TypeError, match="ResNet: dtype must be a floating point dtype"):
        M.resnet_small(dtype=impl.int64)


def test_bad_arguments_raise_torchvisions_errors():
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1 and base_width=64"):
        M.BasicBlock(8, 8, groups=2)
    with pytest.raises(NotImplementedError, match="Dilation > 1 not supported in BasicBlock"):
        M.resnet_small("basic", (1, 2), widths=(4, 8), replace_stride_with_dilation=[True])
    with pytest.raises(ValueError, match="replace_stride_with_dilation should be None or a "
                                         "1-element tuple"):
        M.resnet_small("bottleneck", (1, 1), widths=(4, 8), replace_stride_with_dilation=[])
    with pytest.raises(ValueError, match="ResNet: layers and widths"):
        M.resnet_small("basic", (1, 1), widths=(4, 8, 16))
    with pytest.raises(ValueError, match="ResNet: layers must be"):
        M.resnet_small("basic", (1, 0), widths=(4, 8))
    with pytest.raises(ValueError, match="resnet_small: block must be"):
        M.resnet_small("wide")
    with pytest.raises(TypeError, match="ResNet: block must be"):
        M.ResNet(impl.nn.Linear, [1])
    with pytest.raises(ValueError, match="resnet50: .*no pretrained weights"):
        M.resnet50(weights="IMAGENET1K_V2")


# -- hooks -----------------------------------------------------------------------------------------
def test_forward_hooks_order_replacement_and_removal():
    lin = impl.nn.Linear(3, 2)
    calls = []
    pre = [lin.register_forward_pre_hook(lambda m, a, i=i: calls.append(f"pre{i}"))
           for i in range(2)]
    lin.register_forward_pre_hook(lambda m, a: calls.append("first"), prepend=True)
    post = lin.register_forward_hook(lambda m, a, out: calls.append("post"))
    x = impl.randn(4, 3)
    lin(x)
    assert calls == ["first", "pre0", "pre1", "post"]
    pre[0].remove()
    post.remove()
    calls.clear()
    lin(x)
    assert calls == ["first", "pre1"]

    doubled = lin.register_forward_pre_hook(lambda m, args: args[0] * 2)  # non-tuple: wrapped
    with lin.register_forward_hook(lambda m, args, out: out + 1):
        np.testing.assert_allclose(lin(x).data, lin.forward(x * 2).data + 1, rtol=1e-6)
    doubled.remove()
    np.testing.assert_array_equal(lin(x).data, lin.forward(x).data)

    seen = []
    lin.register_forward_pre_hook(lambda m, args, kwargs: ((x,), kwargs), with_kwargs=True)
    lin.register_forward_hook(lambda m, args, kwargs, out: seen.append((args[0], kwargs)),
                              with_kwargs=True)
    lin(impl.zeros(1, 3))
    assert seen[0][0] is x and seen[0][1] == {}


def test_always_call_forward_hook_runs_when_forward_raises():
    seen = []
    lin = impl.nn.Linear(3, 2)
    lin.register_forward_hook(lambda m, args, out: seen.append("always"), always_call=True)
    lin.register_forward_hook(lambda m, args, out: seen.append("plain"))
    with pytest.raises(RuntimeError):
        lin(impl.zeros(2, 5))
    assert seen == ["always"]
    with pytest.raises(TypeError, match="register_forward_hook: hook must be callable"):
        lin.register_forward_hook(None)


def _transplant(make, seed):
    """A builder of ``make(lib)`` in float64 with the same weights in impl and torch."""
    torch.manual_seed(seed)
    state = {k: v.numpy() for k, v in make(torch).double().state_dict().items()}

    def build_in(lib):
        module = make(lib).double()
        module.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
        return module
    return build_in


def _backward_hook_run(lib, module, x, cotangent, requires_grad=True, replace=None):
    """(grad_input, grad_output) as arrays for each call of a full backward hook on
    ``module``, and the input's gradient."""
    seen = []

    def hook(m, grad_input, grad_output):
        seen.append([tuple(None if g is None else np.array(g.detach().numpy()) for g in grads)
                     for grads in (grad_input, grad_output)])
        return replace(grad_input) if replace else None

    module.register_full_backward_hook(hook)
    xt = lib.tensor(x, requires_grad=requires_grad)
    (module(xt) * lib.tensor(cotangent)).sum().backward()
    return seen, None if xt.grad is None else xt.grad.numpy()


@pytest.mark.parametrize("kind", ["linear", "sequential"])
def test_full_backward_hook_sees_torchs_gradients(kind, rng):
    def make(lib):
        nn = lib.nn
        if kind == "linear":
            return nn.Linear(3, 4)
        return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.ReLU())

    x = rng.standard_normal((6, 3))
    cotangent = rng.standard_normal((6, 4))
    build_in = _transplant(make, 1)
    for replace in (None, lambda grad_input: (grad_input[0] * 3,)):
        (mine, my_grad), (theirs, their_grad) = (
            _backward_hook_run(lib, build_in(lib), x, cotangent, replace=replace)
            for lib in (impl, torch))
        assert len(mine) == len(theirs) == 1
        for got, want in zip(mine[0], theirs[0]):  # grad_input, then grad_output
            assert len(got) == len(want) == 1
            np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(my_grad, their_grad, rtol=1e-12, atol=1e-14)


def test_nested_full_backward_hooks_fire_as_torchs():
    def run(lib):
        inner = lib.nn.Linear(3, 4)
        outer = lib.nn.Sequential(inner, lib.nn.Tanh(), lib.nn.Linear(4, 2))
        order = []
        for name, m in (("outer", outer), ("inner", inner)):
            m.register_full_backward_hook(
                lambda m, gi, go, name=name: order.append((name, gi[0].shape, go[0].shape)))
        y = outer(lib.ones(5, 3, requires_grad=True))
        y.sum().backward(retain_graph=True)  # each backward fires each hook once
        y.sum().backward()
        return [(name, tuple(a), tuple(b)) for name, a, b in order]

    assert run(impl) == run(torch) == [("inner", (5, 3), (5, 4)), ("outer", (5, 3), (5, 2))] * 2


def test_full_backward_hook_without_input_grad_fires_at_the_output(rng):
    build_in = _transplant(lambda lib: lib.nn.Linear(3, 2), 2)
    x, cotangent = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    runs = []
    for lib in (impl, torch):
        module = build_in(lib)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runs.append(_backward_hook_run(lib, module, x, cotangent, requires_grad=False))
        assert any("no inputs require gradients" in str(w.message) for w in caught)
        assert module.weight.grad is not None
    (mine, _), (theirs, _) = runs
    assert mine[0][0] == theirs[0][0] == (None,)
    np.testing.assert_allclose(mine[0][1][0], theirs[0][1][0], rtol=1e-12)


def test_full_backward_hook_is_removable_and_rejects_what_it_does_not_support():
    lin = impl.nn.Linear(3, 2)
    seen = []
    handle = lin.register_full_backward_hook(lambda m, gi, go: seen.append(1))
    x = impl.randn(4, 3, requires_grad=True)
    lin(x).sum().backward()
    handle.remove()
    lin(x).sum().backward()
    assert seen == [1]

    class Add(impl.nn.Module):
        def forward(self, a, b):
            return a + b

    add = Add()
    add.register_full_backward_hook(lambda m, gi, go: None)
    with pytest.raises(NotImplementedError, match="Add: impl's full backward hooks support"):
        add(x, x * 2)
    lin.register_full_backward_hook(lambda m, gi, go: (impl.zeros(3),))
    with pytest.raises(RuntimeError, match=r"grad_input\[0\] has shape \(3,\)"):
        lin(x).sum().backward()


# -- fusion ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_fuse_conv_bn_eval_is_torchs(bias, rng):
    def make(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=bias),
                                 lib.nn.BatchNorm2d(4))

    build_in = _transplant(make, 3)
    mine, theirs = build_in(impl), build_in(torch)
    state = {"1.weight": rng.normal(0.0, 1.0, 4), "1.bias": rng.normal(0.0, 1.0, 4),
             "1.running_mean": rng.normal(0.0, 1.0, 4), "1.running_var": rng.uniform(0.5, 1.5, 4)}
    for lib, module in ((impl, mine), (torch, theirs)):
        module.load_state_dict({k: lib.tensor(v) for k, v in state.items()}, strict=False)
    with pytest.raises(AssertionError, match="fuse_conv_bn_eval: Fusion only for eval"):
        impl.nn.utils.fuse_conv_bn_eval(mine[0], mine[1])
    mine.eval()
    theirs.eval()
    fused = impl.nn.utils.fuse_conv_bn_eval(mine[0], mine[1])
    want = torch.nn.utils.fuse_conv_bn_eval(theirs[0], theirs[1])
    assert fused is not mine[0] and isinstance(fused, impl.nn.Conv2d)
    assert isinstance(fused.bias, impl.nn.Parameter)
    assert fused.bias.requires_grad == want.bias.requires_grad == bias
    np.testing.assert_allclose(fused.weight.data, want.weight.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(fused.bias.data, want.bias.detach().numpy(), rtol=1e-15,
                               atol=1e-16)
    assert mine[0].bias is None or mine[0].bias is not fused.bias
    x = impl.tensor(rng.standard_normal((2, 3, 7, 7)))
    np.testing.assert_allclose(fused(x).data, mine(x).data, rtol=1e-12, atol=1e-13)
    with pytest.raises(NotImplementedError, match="no ConvTranspose2d"):
        impl.nn.utils.fuse_conv_bn_eval(mine[0], mine[1], transpose=True)


def test_fuse_conv_bn_weights_transposed_is_torchs(rng):
    w, b = rng.standard_normal((3, 4, 2, 2)), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 1.5, 4)
    bn_w, bn_b = rng.standard_normal(4), rng.standard_normal(4)
    got = impl.nn.utils.fuse_conv_bn_weights(*map(impl.tensor, (w, b, rm, rv)), 1e-3,
                                             *map(impl.tensor, (bn_w, bn_b)), transpose=True)
    want = torch.nn.utils.fuse_conv_bn_weights(*map(torch.tensor, (w, b, rm, rv)), 1e-3,
                                               *map(torch.tensor, (bn_w, bn_b)), transpose=True)
    for g, t in zip(got, want):
        np.testing.assert_allclose(g.data, t.detach().numpy(), rtol=1e-15, atol=1e-16)
    with pytest.raises(TypeError, match="fuse_conv_bn_weights: argument 'bn_rv' must be Tensor"):
        impl.nn.utils.fuse_conv_bn_weights(impl.tensor(w), None, impl.tensor(rm), rv, 1e-5,
                                           None, None)


# -- checkpoints -----------------------------------------------------------------------------------
def test_save_load_round_trip_keeps_types_order_and_values(tmp_path):
    param = impl.nn.Parameter(impl.randn(2, 3, dtype=impl.float64))
    obj = {"state": OrderedDict([("b.weight", impl.arange(3)), ("a", impl.tensor(True))]),
           "groups": [{"params": [0, 1], "lr": 0.1, "betas": (0.9, 0.999), "nesterov": False,
                       "name": None}],
           "ints": {0: np.float32(1.5), 7: np.arange(4.0).reshape(2, 2), "inf": math.inf},
           "param": param, "frozen": impl.zeros(1, requires_grad=True)}
    path = tmp_path / "ckpt.pt"
    impl.save(obj, path)
    assert path.exists() and not (tmp_path / "ckpt.pt.npz").exists()
    assert "__skeleton__" in np.load(path).files  # a plain .npz, no pickle needed
    back = impl.load(path)
    assert type(back["state"]) is OrderedDict and list(back["state"]) == ["b.weight", "a"]
    assert back["state"]["b.weight"].dtype == np.int64 and back["state"]["a"].dtype == np.bool_
    assert back["groups"] == obj["groups"] and isinstance(back["groups"][0]["betas"], tuple)
    assert list(back["ints"]) == [0, 7, "inf"] and back["ints"]["inf"] == math.inf
    assert type(back["ints"][0]) is np.float32 and back["ints"][0] == 1.5
    np.testing.assert_array_equal(back["ints"][7], obj["ints"][7])
    assert isinstance(back["param"], impl.nn.Parameter) and back["param"].requires_grad
    np.testing.assert_array_equal(back["param"].data, param.data)
    assert back["frozen"].requires_grad and not isinstance(back["frozen"], impl.nn.Parameter)

    buffer = io.BytesIO()
    impl.save([1, "two", None], buffer)
    buffer.seek(0)
    assert impl.load(buffer) == [1, "two", None]


def test_save_and_load_reject_bad_input_naming_it(tmp_path):
    with pytest.raises(TypeError, match="impl.save: model/fn is a function"):
        impl.save({"model": {"fn": lambda: 0}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="impl.save: obj has a key of type tuple"):
        impl.save({(1, 2): 3}, tmp_path / "x.npz")
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="impl.load: cannot read .*garbage.pth"):
        impl.load(bad)
    with pytest.raises(FileNotFoundError):
        impl.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="impl.load: map_location='cuda'"):
        impl.load(bad, map_location="cuda")


def _train(model, optimizer, scheduler, batches):
    for x, y in batches:
        optimizer.zero_grad()
        impl.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()


def _fresh():
    impl.manual_seed(5)
    model = M.resnet_small("basic", (1, 1), widths=(4, 8), num_classes=3)
    optimizer = impl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    return model, optimizer, impl.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)


def test_a_reloaded_checkpoint_resumes_training_bit_for_bit(tmp_path):
    rng = np.random.default_rng(6)
    batches = [(impl.tensor(rng.standard_normal((4, 3, 8, 8)).astype(np.float32)),
                impl.tensor(rng.integers(0, 3, 4))) for _ in range(6)]
    straight = _fresh()
    _train(*straight, batches)

    model, optimizer, scheduler = _fresh()
    _train(model, optimizer, scheduler, batches[:3])
    impl.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
               "scheduler": scheduler.state_dict(), "epoch": 3}, tmp_path / "ckpt.pth")
    impl.manual_seed(99)  # the fresh objects start elsewhere: everything comes from the file
    model = M.resnet_small("basic", (1, 1), widths=(4, 8), num_classes=3)
    optimizer = impl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = impl.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    checkpoint = impl.load(tmp_path / "ckpt.pth")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert checkpoint["epoch"] == 3
    _train(model, optimizer, scheduler, batches[3:])

    for (key, want), (_, got) in zip(straight[0].state_dict().items(),
                                     model.state_dict().items()):
        np.testing.assert_array_equal(got.data, want.data, err_msg=key)
    assert scheduler.get_last_lr() == straight[2].get_last_lr()
    for p, q in zip(straight[0].parameters(), model.parameters()):
        np.testing.assert_array_equal(optimizer.state[q]["momentum_buffer"].data,
                                      straight[1].state[p]["momentum_buffer"].data)


def test_a_torchvision_state_dict_pth_loads_into_resnet18(tmp_path):
    resnet18 = M.resnet18()
    torch.manual_seed(7)
    path = tmp_path / "resnet18.pth"
    state = T.resnet18().state_dict()
    torch.save(state, path)
    loaded = impl.load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(state)
    assert all(isinstance(v, impl.Tensor) for v in loaded.values())
    resnet18.load_state_dict(loaded)
    for key, value in state.items():
        np.testing.assert_array_equal(resnet18.state_dict()[key].data, value.numpy())
