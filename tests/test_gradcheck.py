"""Every differentiable public op of impl against float64 central finite differences.

For random directions u (one per input) and a random cotangent v:
    <u, VJP(v)>  ==  <v, (f(x + eps u) - f(x - eps u)) / 2 eps>.
One checker, one table of (op, callable, input builder). Builders keep inputs away from kinks,
ties and domain edges, where a finite difference straddles a non-smooth point. A test keeps the
table in step with the public API of ``impl`` and ``impl.nn.functional``.
"""

import inspect

import numpy as np
import pytest

import impl
import impl.nn.functional as F
from impl.function import Function

EPS = 1e-6
RTOL = 1e-6


def check_gradient(fn, arrays, rng, directions=3):
    """Assert the VJP of ``fn`` (impl tensors -> one tensor) matches central differences at
    ``arrays`` (float64) along ``directions`` random (u, v) pairs."""
    for _ in range(directions):
        xs = [impl.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*xs)
        assert out.dtype == np.float64, f"float64 inputs gave {out.dtype}"
        v = rng.standard_normal(out.shape)
        out.backward(impl.tensor(v))
        us = [rng.standard_normal(a.shape) for a in arrays]
        with impl.no_grad():
            plus = fn(*[impl.tensor(a + EPS * u) for a, u in zip(arrays, us)]).data
            minus = fn(*[impl.tensor(a - EPS * u) for a, u in zip(arrays, us)]).data
        assert all(x.grad is not None for x in xs), "an input received no gradient"
        vjp_terms = [u * x.grad.data for u, x in zip(us, xs)]
        fd_terms = v * (plus - minus) / (2 * EPS)
        vjp, fd = sum(t.sum() for t in vjp_terms), fd_terms.sum()
        # Relative to the sum of magnitudes: cancellation in either dot product cannot hide a bug.
        scale = sum(np.abs(t).sum() for t in vjp_terms) + np.abs(fd_terms).sum()
        assert abs(vjp - fd) <= RTOL * scale + 1e-12, f"<u, VJP(v)> = {vjp}, finite diff = {fd}"


# -- input builders: generator -> float64 arrays -----------------------------------------------
def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def nonzero(*shape):
    return lambda rng: rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)


def uniform(low, high, *shape):
    return lambda rng: rng.uniform(low, high, shape)


def away_from(points, *shape):
    """Normal samples at least 0.05 from each of ``points`` (kinks such as clamp's bounds)."""
    def build(rng):
        x = rng.standard_normal(shape)
        for p in points:
            near = np.abs(x - p) < 0.05
            x[near] = p + np.where(x[near] >= p, 0.05, -0.05)
        return x
    return build


def distinct(*shape):
    """A shuffled grid spaced 0.1 apart: every max/min is unique, by a margin."""
    return lambda rng: 0.1 * rng.permutation(int(np.prod(shape))).reshape(shape) - 0.5


def inputs(*builders):
    return lambda rng: [b(rng) for b in builders]


def apart(*shape):
    """Two arrays whose elementwise difference is at least 0.1 (no maximum/minimum ties)."""
    def build(rng):
        x = rng.standard_normal(shape)
        return [x, x + rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.0, shape)]
    return build


CLASSES = impl.tensor([0, 2, 1, 2, 0])
CLASSES_IGNORED = impl.tensor([0, -100, 1, 2, -100])
CLASSES_2D = impl.tensor([[0, 1, 2], [2, 2, 0]])
GATHER_INDEX = impl.tensor([[0, 2, 1], [1, 1, 0], [2, 0, 0]])
CLASS_WEIGHT = impl.tensor([0.2, 1.0, 2.5], dtype=impl.float64)

# (qualified name, callable of impl tensors, input builder); the name is the public function's
# name in impl, "F.<name>" in impl.nn.functional, "Tensor.<name>" for a method-only op.
GRADCHECK = [
    # elementwise
    ("add", lambda x, y: impl.add(x, y, alpha=0.5), inputs(normal(3, 4), normal(4))),
    ("sub", lambda x, y: impl.sub(x, y, alpha=-2), inputs(normal(2, 1, 3), normal(4, 1))),
    ("mul", impl.mul, inputs(normal(3, 4), normal(3, 1))),
    ("div", impl.div, inputs(normal(3, 4), nonzero(4))),
    ("neg", impl.neg, inputs(normal(5))),
    ("pow", lambda x: impl.pow(x, 3), inputs(normal(3, 4))),
    ("pow", lambda x: impl.pow(x, -1.5), inputs(positive(3, 4))),
    ("pow", lambda x: impl.pow(x, 0), inputs(normal(3))),
    ("pow", impl.pow, inputs(positive(3, 4), normal(3, 4))),
    ("pow", lambda x: impl.pow(1.7, x), inputs(normal(3, 4))),
    ("exp", impl.exp, inputs(normal(3, 4))),
    ("log", impl.log, inputs(positive(3, 4))),
    ("sqrt", impl.sqrt, inputs(positive(3, 4))),
    ("abs", impl.abs, inputs(nonzero(3, 4))),
    ("maximum", impl.maximum, apart(3, 4)),
    ("minimum", impl.minimum, apart(3, 4)),
    ("clamp", lambda x: impl.clamp(x, -0.5, 0.7), inputs(away_from((-0.5, 0.7), 4, 5))),
    ("clamp", lambda x: impl.clamp(x, min=0.2), inputs(away_from((0.2,), 4, 5))),
    ("sigmoid", impl.sigmoid, inputs(uniform(-8, 8, 3, 4))),
    ("tanh", impl.tanh, inputs(uniform(-4, 4, 3, 4))),
    ("relu", impl.relu, inputs(nonzero(3, 4))),
    # reductions
    ("sum", impl.sum, inputs(normal(3, 4))),
    ("sum", lambda x: impl.sum(x, dim=(0, 2), keepdim=True), inputs(normal(2, 3, 4))),
    ("sum", lambda x: x.sum(-1), inputs(normal(0, 3))),
    ("mean", impl.mean, inputs(normal(3, 4))),
    ("mean", lambda x: impl.mean(x, dim=1, keepdim=True), inputs(normal(2, 3, 4))),
    ("var", impl.var, inputs(normal(3, 4))),
    ("var", lambda x: impl.var(x, dim=0, correction=0), inputs(normal(5, 3))),
    ("var", lambda x: impl.var(x, dim=(0, 2), keepdim=True), inputs(normal(3, 2, 4))),
    ("amax", impl.amax, inputs(distinct(3, 4))),
    ("amax", lambda x: impl.amax(x, dim=(0, 2)), inputs(distinct(2, 3, 4))),
    ("amin", lambda x: impl.amin(x, dim=1, keepdim=True), inputs(distinct(3, 4))),
    ("max", impl.max, inputs(distinct(3, 4))),
    ("max", lambda x: impl.max(x, dim=1).values, inputs(distinct(3, 4))),
    ("min", impl.min, inputs(distinct(3, 4))),
    ("min", lambda x: impl.min(x, dim=0, keepdim=True)[0], inputs(distinct(3, 4))),
    # shape
    ("reshape", lambda x: impl.reshape(x, (4, -1)), inputs(normal(2, 3, 4))),
    ("Tensor.view", lambda x: x.view(6, 4), inputs(normal(2, 3, 4))),
    ("flatten", lambda x: impl.flatten(x, 1), inputs(normal(2, 3, 4))),
    ("transpose", lambda x: impl.transpose(x, 0, 2), inputs(normal(2, 3, 4))),
    ("t", impl.t, inputs(normal(2, 3))),
    ("permute", lambda x: impl.permute(x, (1, 2, 0)), inputs(normal(2, 3, 4))),
    ("unsqueeze", lambda x: impl.unsqueeze(x, -1), inputs(normal(2, 3))),
    ("squeeze", impl.squeeze, inputs(normal(2, 1, 3, 1))),
    ("squeeze", lambda x: impl.squeeze(x, 1), inputs(normal(2, 1, 3))),
    ("broadcast_to", lambda x: impl.broadcast_to(x, (2, 3, 4)), inputs(normal(3, 1))),
    ("Tensor.expand", lambda x: x.expand(2, -1, 4), inputs(normal(3, 1))),
    ("cat", lambda *xs: impl.cat(xs, dim=1), inputs(normal(2, 3), normal(2, 1), normal(2, 4))),
    ("stack", lambda *xs: impl.stack(xs, dim=-1), inputs(normal(2, 3), normal(2, 3))),
    ("gather", lambda x: impl.gather(x, 1, GATHER_INDEX), inputs(normal(3, 4))),
    ("Tensor.__getitem__", lambda x: x[1:, ::2], inputs(normal(3, 5))),
    ("Tensor.__getitem__", lambda x: x[impl.tensor([0, 2, 0]), 1], inputs(normal(3, 5))),
    ("Tensor.__getitem__", lambda x: x[..., None, -1], inputs(normal(2, 3, 4))),
    # linear algebra
    ("matmul", impl.matmul, inputs(normal(3, 4), normal(4, 2))),
    ("matmul", impl.matmul, inputs(normal(4), normal(4))),
    ("matmul", impl.matmul, inputs(normal(4), normal(2, 4, 3))),
    ("matmul", impl.matmul, inputs(normal(2, 1, 3, 4), normal(5, 4, 2))),
    ("matmul", lambda x, y: x @ y, inputs(normal(2, 3, 4), normal(4))),
    ("mm", impl.mm, inputs(normal(3, 4), normal(4, 2))),
    ("bmm", impl.bmm, inputs(normal(2, 3, 4), normal(2, 4, 5))),
    ("softmax", lambda x: impl.softmax(x, -1), inputs(normal(3, 4))),
    ("log_softmax", lambda x: impl.log_softmax(x, 0), inputs(normal(3, 4))),
    # torch.nn.functional
    ("F.relu", F.relu, inputs(nonzero(3, 4))),
    ("F.sigmoid", F.sigmoid, inputs(normal(3, 4))),
    ("F.tanh", F.tanh, inputs(normal(3, 4))),
    ("F.softmax", lambda x: F.softmax(x, dim=1), inputs(normal(3, 4))),
    ("F.softmax", lambda x: F.softmax(x, dim=0), inputs(normal(2, 3, 4))),
    ("F.log_softmax", lambda x: F.log_softmax(x, dim=-1), inputs(normal(3, 4))),
    ("F.log_softmax", lambda x: F.log_softmax(x, dim=1), inputs(normal(2, 3, 4))),
    ("F.linear", F.linear, inputs(normal(5, 3), normal(4, 3), normal(4))),
    ("F.linear", F.linear, inputs(normal(2, 5, 3), normal(4, 3))),
    ("F.mse_loss", F.mse_loss, inputs(normal(3, 4), normal(3, 4))),
    ("F.mse_loss", lambda x, y: F.mse_loss(x, y, reduction="none"), inputs(normal(4), normal(4))),
    ("F.binary_cross_entropy", F.binary_cross_entropy,
     inputs(uniform(0.05, 0.95, 3, 4), uniform(0, 1, 3, 4))),
    ("F.binary_cross_entropy", lambda x: F.binary_cross_entropy(
        x, impl.ones(4, dtype=impl.float64), weight=CLASS_WEIGHT[:1], reduction="sum"),
     inputs(uniform(0.05, 0.95, 4))),
    ("F.nll_loss", lambda x: F.nll_loss(x, CLASSES), inputs(normal(5, 3))),
    ("F.nll_loss", lambda x: F.nll_loss(x, CLASSES_IGNORED, weight=CLASS_WEIGHT),
     inputs(normal(5, 3))),
    ("F.nll_loss", lambda x: F.nll_loss(x, CLASSES_2D, reduction="none"),
     inputs(normal(2, 3, 3))),
    ("F.cross_entropy", lambda x: F.cross_entropy(x, CLASSES), inputs(normal(5, 3))),
    ("F.cross_entropy", lambda x: F.cross_entropy(
        x, CLASSES_IGNORED, weight=CLASS_WEIGHT, label_smoothing=0.1), inputs(normal(5, 3))),
    ("F.cross_entropy", lambda x: F.cross_entropy(x, CLASSES_2D, reduction="sum"),
     inputs(normal(2, 3, 3))),
    ("F.cross_entropy", lambda x, p: F.cross_entropy(x, F.softmax(p, dim=1)),
     inputs(normal(4, 3), normal(4, 3))),
]

# Public functions with no gradient to check: factories, comparisons, arg-reductions, state.
NOT_DIFFERENTIABLE = {
    "arange", "as_tensor", "from_numpy", "full", "ones", "ones_like", "rand", "randint", "randn",
    "randperm", "tensor", "zeros", "zeros_like", "manual_seed", "is_grad_enabled",
    "argmax", "argmin", "eq", "ne", "lt", "le", "gt", "ge",
}


def public_functions():
    """Qualified names of the public functions of impl and impl.nn.functional."""
    names = set()
    for module, prefix in ((impl, ""), (F, "F.")):
        exported = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
        names |= {prefix + n for n in exported if inspect.isfunction(getattr(module, n))}
    return names


@pytest.mark.parametrize("fn, build", [(fn, build) for _, fn, build in GRADCHECK],
                         ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(GRADCHECK)])
def test_vjp_matches_finite_differences(fn, build, rng):
    check_gradient(fn, build(rng), rng)


def test_every_differentiable_public_function_has_a_gradcheck_entry():
    public = public_functions()
    covered = {name for name, _, _ in GRADCHECK}
    missing = sorted(public - covered - NOT_DIFFERENTIABLE)
    assert not missing, f"add a GRADCHECK entry (or a NOT_DIFFERENTIABLE name) for {missing}"
    assert not NOT_DIFFERENTIABLE - public, f"stale: {sorted(NOT_DIFFERENTIABLE - public)}"
    assert not NOT_DIFFERENTIABLE & covered, sorted(NOT_DIFFERENTIABLE & covered)
    unknown = sorted(n for n in covered - public if not n.startswith("Tensor."))
    assert not unknown, f"GRADCHECK names that are not public functions: {unknown}"


class _WrongExp(Function):
    def forward(self, a):
        out = np.exp(a)
        self.save(out)
        return out

    def backward(self, g):
        return g * self.saved[0] * (1 + 1e-4)


class _ForgetsBroadcast(Function):
    def forward(self, a, b):
        return a * 0 + b

    def backward(self, g):
        return g, g[0]  # the gradient of b from the first row only


@pytest.mark.parametrize("fn, build", [
    (_WrongExp.apply, inputs(normal(3, 4))),
    (_ForgetsBroadcast.apply, inputs(normal(3, 4), normal(4))),
], ids=["off_by_1e-4", "drops_rows"])
def test_the_checker_catches_wrong_gradients(fn, build, rng):
    with pytest.raises(AssertionError):
        check_gradient(fn, build(rng), rng)
