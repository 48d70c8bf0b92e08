"""The registry and impl's public API stay in step: every differentiable public op has an
OpSpec, and every OpSpec names something in impl."""

import inspect

import impl
import impl.nn.functional as F
from oracles.base import resolve
from properties.spec import load_registry

# Public callables that compute nothing differentiable: constructors, dtype and mode helpers,
# comparisons and index-valued ops.
NOT_DIFFERENTIABLE = {
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "zeros_like", "ones_like",
    "arange", "randn", "rand", "randint", "randperm", "manual_seed", "Generator", "no_grad",
    "enable_grad", "is_grad_enabled", "Tensor", "eq", "ne", "lt", "le", "gt", "ge", "argmax",
    "argmin",
}


def _public_ops():
    names = {name for name, obj in vars(impl).items()
             if not name.startswith("_") and inspect.isfunction(obj)
             and obj.__module__.startswith("impl.ops.") and name not in NOT_DIFFERENTIABLE}
    return names | {f"nn.functional.{name}" for name in F.__all__}


def test_every_public_op_has_a_spec():
    specced = {spec.name for spec in load_registry().values()}
    missing = sorted(_public_ops() - specced)
    assert not missing, f"public impl ops without an OpSpec: {missing}"


def test_every_spec_names_an_impl_op():
    for spec in load_registry().values():
        if spec.name.startswith("Tensor."):
            assert hasattr(impl.Tensor, spec.name.split(".", 1)[1]), spec.name
        else:
            resolve(impl, spec.name)  # raises AttributeError naming the missing op


def test_every_spec_has_a_large_tier_and_regions():
    """Issue-level contract of the registry: real sizes and a declared parameter space."""
    for spec in load_registry().values():
        assert spec.large is not None, f"{spec.id} has no large tier"
        assert spec.regions and all(callable(p) for p in spec.regions.values()), spec.id
        for name, example in spec.cases:
            assert isinstance(name, str) and example.args, (spec.id, name)
