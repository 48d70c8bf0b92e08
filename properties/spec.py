"""OpSpec: everything the harness knows about one public op, and the registry of them.

A spec says how each backend computes the op (the subject and torch by public name, resolved
at call time; jax by a function of its own), how Hypothesis draws inputs for it (a small tier of
every shape and a large tier of the sizes real code uses), the regions of its parameter space
every run must reach, its curated cases, which inputs are differentiable, how much rounding it
accumulates, where it is not smooth and how the strategy keeps away, which bad inputs must
raise, and which shapes to benchmark.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable  # noqa: UP035

import numpy as np

from oracles.base import Example


@dataclass
class BadInput:
    """A call torch rejects: ``make()`` returns an Example; the subject must raise one of
    ``raises`` with a message mentioning ``mentions`` (the op's name by default)."""

    description: str
    make: Callable[[], Example]
    raises: tuple
    mentions: tuple = ()


@dataclass
class OpSpec:
    name: str  # public name on the subject: "add", "nn.functional.softmax", "Tensor.__getitem__"
    family: str
    variant: str = ""  # tells apart specs of one public name (e.g. pow's scalar and tensor forms)
    examples: Any = None  # Hypothesis strategy of Example
    jax: Callable = None  # (J, *args, **kwargs) -> output, J a namespace with jnp, lax, nn, jax
    diff: tuple = (0,)  # indices of the differentiable (float) arguments
    call: Callable | None = None  # (fn, *args, **kwargs) -> output, when not fn(*args, **kwargs)
    accumulation: Callable[[Example], int] = lambda ex: 1  # terms summed per output element
    tolerance_factor: float = 4.0  # subject error may be this many times the oracles' own
    nonsmooth: str = ""  # where the op is not smooth, and how the strategy keeps away
    convention: str = "torch"  # whose answer impl follows where torch and jax disagree
    bad_inputs: list = field(default_factory=list)
    bench_shapes: list = field(default_factory=list)  # (label, () -> Example) to time
    bench_target: float = 1.5  # the largest acceptable subject/torch time ratio
    fd: bool = True  # run the finite-difference checks (off for examples at non-smooth points)
    layouts: bool = True  # run the memory-layout check (needs array inputs)
    exact_layouts: bool = True  # layouts match the contiguous run bit for bit (of a subject
    #                             that promises it, as impl does: Backend.exact_layouts)
    alias: bool = False  # also call with one tensor passed as both differentiable inputs
    large: Any = None  # Hypothesis strategy of Example: the large tier (real sizes)
    regions: dict = field(default_factory=dict)  # name -> (Example -> bool): what must be hit
    cases: list = field(default_factory=list)  # (name, Example): curated edge cases
    signed_zeros: bool = False  # forward outputs must give zeros the sign torch gives them
    jax_options: dict = field(default_factory=dict)  # XLA compile options its jax function needs
    term_sizes: Callable | None = None  # (float64 Example) -> per forward output, the size of
    #                                     the terms each element adds (None: unknown), where an
    #                                     output can be a small remainder of larger terms
    multilinear: bool = False  # a sum of products of its float arguments: on their absolute
    #                            values it gives each element's sum of |terms| (the tolerance)
    inapplicable: dict = field(default_factory=dict)  # (check, layout) -> why no row can exist

    @property
    def short(self):
        return self.name.rsplit(".", 1)[-1]

    @property
    def id(self):
        return f"{self.name}[{self.variant}]" if self.variant else self.name


REGISTRY: dict[str, OpSpec] = {}


def register(*specs):
    for spec in specs:
        if spec.id in REGISTRY:
            raise ValueError(f"OpSpec {spec.id!r} registered twice")
        REGISTRY[spec.id] = spec


def load_registry():
    """Import every module of :mod:`properties.specs` (each registers its family) once."""
    import properties.specs as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"properties.specs.{mod.name}")
    return REGISTRY


def prod(shape):
    return int(np.prod(shape, dtype=np.int64))
