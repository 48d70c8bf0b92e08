"""The backend protocol: oracles and subjects are the same kind of object.

``forward(spec, example)`` returns the op's outputs as NumPy arrays (the first output is the
differentiable one); ``vjp(spec, example, cotangent)`` returns ``(outputs, grads)`` with one
gradient per differentiable argument (``spec.diff``), computed for the given cotangent of the
first output. A subject also answers ``forward(..., no_grad=True)`` (its inputs require grad, the
call runs with recording off), :meth:`Backend.forward_out` (torch's documented ``out=`` form),
:meth:`Backend.trace`, the engine-level run the checks use (cotangents in any memory layout, a
second backward, an output used twice, one tensor passed as two arguments), and
:meth:`Backend.stepper`, a forward and its backward to time apart (:class:`Step`). A backend
that cannot run an op raises :class:`Unsupported`; one that cannot do what a check asks raises
:class:`NotApplicable` or, better, declares it in ``cannot`` (the check's rows then say "not
applicable" without running).

How a library differs from torch is data on its backend, not code in the checks: ``cannot``,
``conventions`` (whose answer it gives where torch and JAX disagree), ``errors`` (which of its
exception types stand for torch's), ``name_the_op`` (whether bad-input messages must name the
op) and ``unsupported`` (what it declares it lacks). Tape-style and functional libraries get the
generic methods from :mod:`oracles.adapter` and fill in a few primitives.

The protocol's own types live here, below the harness: :class:`Example` (one drawn input),
:class:`Op` (an op as a library spells it, what a spec's ``call`` receives) and :func:`resolve`
(an op by its public name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable  # noqa: UP035

import numpy as np


@dataclass
class Example:
    """One drawn input: positional ``args`` (float64 arrays for float inputs, int64 arrays for
    indices, or plain Python values) and keyword ``kwargs`` (plain Python values). ``keep`` names
    float arguments that keep their own dtype in every run (mixed-precision examples)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    keep: tuple = ()

    def cast(self, dtype, diff, keep=True):
        """The example with its differentiable float arrays in ``dtype``: but those in
        ``self.keep``, unless ``keep`` is false (the float64 truth of a mixed example)."""
        args = tuple(a.astype(dtype) if i in diff and not (keep and i in self.keep) else a
                     for i, a in enumerate(self.args))
        return Example(args, dict(self.kwargs), self.keep)

    def replace(self, args):
        return Example(tuple(args), dict(self.kwargs), self.keep)


class Unsupported(Exception):
    """The backend lacks the op, or the call's argument form: ``argument`` names the keyword
    (or "positional"), None when the whole op is missing."""

    def __init__(self, message, op=None, argument=None):
        super().__init__(message)
        self.op, self.argument = op, argument


class NotApplicable(Exception):
    """The backend cannot do what a check asks of it (a second backward, say): the check's row
    says so instead of passing."""


@dataclass
class Trace:
    """What :meth:`Backend.trace` saw: the outputs read right after the forward, the gradients
    after the first backward, the outputs read again after the last backward, and the
    gradients accumulated by a second backward (``retain_graph``), when asked for."""

    outputs: list
    grads: list
    outputs_after: list
    grads_again: list | None = None


@dataclass
class ModelRun:
    """What :meth:`Backend.model_run` saw of one training step of a model: the logits and the
    loss, each parameter's gradient and each buffer after the forward (by ``state_dict`` name),
    and the logits of an evaluation-mode forward of the initial state. ``calls``, when
    recorded, lists each module call in the order its forward finished: (path, call number,
    input arrays, output array); ``grads_in`` and ``grads_out`` map (path, call number) to the
    gradients of the call's inputs (those requiring grad, None for the others) and of its output,
    and ``order`` lists the calls in the order their input gradients were complete."""

    logits: np.ndarray
    loss: np.ndarray
    grads: dict
    buffers: dict
    eval_logits: np.ndarray
    calls: list | None = None
    grads_in: dict | None = None
    grads_out: dict | None = None
    order: list | None = None


@dataclass
class Step:
    """What a benchmark times (:meth:`Backend.stepper`): ``forward()`` runs the op once with
    its graph recorded and returns a handle; ``backward(handle)`` clears the leaves' gradients
    and runs the backward of that forward's output for the cotangent. ``compile_seconds``: the
    time compiling both took (JAX), 0 for an eager library."""

    forward: Callable
    backward: Callable
    compile_seconds: float = 0.0


class Op:
    """An op as one library spells it: what a spec's ``call`` receives as its first argument.
    Calling it calls the library's function (with ``bind``'s keywords); what a call form needs
    besides comes from the backend: torch's ``x.<name>`` (:meth:`method`), a dtype by torch's
    name, a float constant in an input's dtype (:meth:`like`), a 0-d integer tensor."""

    def __init__(self, fn, backend, bind=None):
        self.fn, self.backend, self.bind = fn, backend, bind or {}

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs, **self.bind)

    def method(self, x, name):
        return self.backend.method(x, name)

    def dtype(self, name):
        return self.backend.dtype(name)

    def like(self, t, x):
        return self.backend.like(t, x)

    def scalar(self, value):
        return self.backend.scalar(value)


class Backend:
    name = "?"
    cannot: dict = {}  # check -> why this backend cannot do it (its rows: not applicable)
    conventions: dict = {}  # spec id, op name or "*" -> "torch" or "jax" (default: the spec's)
    errors: dict = {}  # torch's exception type -> this library's types that stand for it
    name_the_op = False  # bad-input messages must name the op
    exact_layouts = False  # results bit for bit the same whatever the inputs' memory layout or
    #                        the call's path (out=, no_grad); else within the accuracy allowance
    #                        (torch picks kernels by layout and by path)
    unsupported: dict = {}  # spec id, op name or "*" -> None (the whole op) or the arguments
    #                         (keywords, or "positional") it lacks
    xfail: dict = {}  # (op, check, oracle, dtype, layout) pattern ("*": any) -> the documented
    #                   difference from torch that makes such rows fail
    allowed: frozenset = frozenset()  # op names or spec ids the run allows to be unsupported

    def declares(self, spec, argument):
        """Whether the backend declares (or the run allows) ``spec`` unsupported, entirely or in
        ``argument``."""
        for key in (spec.id, spec.name, "*"):
            if key in self.allowed:
                return True
            if key in self.unsupported and (self.unsupported[key] is None
                                            or argument in self.unsupported[key]):
                return True
        return False

    def convention(self, spec):
        """Whose answer ("torch" or "jax") this backend gives where the two disagree."""
        for key in (spec.id, spec.name, "*"):
            if key in self.conventions:
                return self.conventions[key]
        return spec.convention

    def raises_like(self, exc, torch_types):
        """Whether ``exc`` is this library's way of raising one of ``torch_types``."""
        kinds = tuple(k for t in torch_types for k in (t, *self.errors.get(t, ())))
        return isinstance(exc, kinds)

    def forward(self, spec, example, no_grad=False):
        raise NotImplementedError

    def vjp(self, spec, example, cotangent):
        raise NotImplementedError

    def forward_out(self, spec, example, dtypes):
        """The call in torch's ``out=`` form, into fresh empty tensors of ``dtypes`` (one per
        output; torch resizes them): (the outputs it returned, what the out tensors hold)."""
        raise NotApplicable(f"{self.name} has no out= form")

    def trace(self, spec, example, cotangent, twice=False, reuse=None, alias=None,
              requires=None):
        """One recorded forward and its backward for ``cotangent`` (an array in any memory
        layout, handed over as it is). ``requires``: the arguments (of ``spec.diff``) that
        require grad, all by default; the gradient of each other one is None unless the library
        gave it one. ``twice``: backward with ``retain_graph=True``, then once
        more, accumulating. ``reuse=(c1, c2)``: the first output is used twice downstream, as
        ``y * c1 + y * c2``, and the backward starts from ones. ``alias=(i, j)``: one tensor is
        passed as arguments i and j (its gradient is reported for both)."""
        raise NotApplicable(f"{self.name} does not trace its engine")

    def stepper(self, spec, example, cotangent):
        """The op's forward and its backward for ``cotangent`` as a :class:`Step`, to time
        apart; inputs, cotangent and any compiled code are prepared once, outside both."""
        raise NotApplicable(f"{self.name} cannot be timed")

    # -- models: ``constructor`` a name in the library's model namespace (torchvision's names,
    # impl.models), ``kwargs`` its arguments, ``state`` a state dict of arrays by torch's keys

    def model_state(self, constructor, kwargs, seed):
        """The initial state dict (arrays) of a model built after seeding the library."""
        raise NotApplicable(f"{self.name} builds no models")

    def model_run(self, constructor, kwargs, state, x, y, train=True, record=False):
        """One step of the model loaded with ``state``: the forward of images ``x`` (in
        ``train`` or evaluation mode), the mean cross-entropy against labels ``y``, its
        backward; then an evaluation-mode forward of ``state`` (:class:`ModelRun`).
        ``record``: also each module call's inputs, output and their gradients, where the
        library has torch's forward hooks and tensor hooks."""
        raise NotApplicable(f"{self.name} builds no models")

    def model_train(self, constructor, kwargs, state, x, y, batches, settings, x_test, y_test):
        """Train the model loaded with ``state`` by SGD (torch's keyword ``settings``) on the
        batches ``x[i], y[i]`` for each index array ``i`` of ``batches``, the learning rate
        annealed by a cosine over them (CosineAnnealingLR, stepped per batch); (the loss of
        each step, the evaluation-mode accuracy on ``x_test, y_test``)."""
        raise NotApplicable(f"{self.name} trains no models")

    def model_step(self, constructor, kwargs, state, grads, optimizer, settings, steps=2):
        """The parameters (arrays by name) after ``steps`` steps of ``optimizer`` ("SGD",
        "Adam", with torch's keyword ``settings``) from ``state``, each with the gradients
        ``grads``."""
        raise NotApplicable(f"{self.name} builds no models")


def as_outputs(out, to_numpy):
    """An op's result (one tensor or a tuple of them) as a list of arrays (copies)."""
    items = list(out) if isinstance(out, (tuple, list)) else [out]
    return [np.array(to_numpy(o)) for o in items]


def resolve(lib, name, args=()):
    """The callable named ``name`` on ``lib`` (dotted path), or a bound method of ``args[0]`` for
    ``Tensor.<method>``; raises AttributeError when the library lacks it."""
    if name.startswith("Tensor."):
        return getattr(args[0], name.split(".", 1)[1])
    obj = lib
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj
