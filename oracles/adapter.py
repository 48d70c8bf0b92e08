"""Adapters: any autograd library as a backend, from a few primitives and some data.

A **tape-style** library (torch, impl, MyGrad, tinygrad: a forward records, ``backward`` on the
output fills ``.grad`` of the leaves) subclasses :class:`TapeAdapter` and gives, where torch's
spelling does not fit: ``tensor`` (a NumPy array as a tensor, sharing memory and strides where
the library can), ``numpy`` (back), ``backward(y, g, retain_graph)``, ``grad(t)``,
``clear_grad(t)``, ``no_grad()``.
A **functional** library (JAX, HIPS autograd: ``vjp``/``grad`` of a function) subclasses
:class:`FunctionalAdapter` and gives ``function`` (the op as a function of arrays),
``array``/``numpy`` and ``pullback``. The checks' runs — recording forward, inference,
``no_grad``, ``out=``, cotangents in any layout, a second backward, an output used twice, one
tensor as two arguments, one argument alone requiring grad, a timed step — are written once
here on those primitives.

Ops are called by the harness's public name, torch's (``add``, ``nn.functional.conv2d``,
``Tensor.__getitem__``). ``names`` maps a name (or spec id) to the library's dotted name, whose
calls get torch's keywords renamed by ``keywords`` (``{"dim": "axis", "keepdim": "keepdims"}``),
or to a callable taking torch's arguments. A call the op's own signature refuses (an
unexpected keyword, a positional form it lacks) is :class:`~oracles.base.Unsupported`; a
TypeError raised inside the op is an ordinary failure.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import re

import numpy as np

from oracles.base import (
    Backend,
    ModelRun,
    NotApplicable,
    Op,
    Step,
    Trace,
    Unsupported,
    as_outputs,
    resolve,
)


def _argument(exc):
    """The argument a refused call named (a keyword), or 'positional'."""
    found = re.search(r"keyword argument '(\w+)'", str(exc))
    return found.group(1) if found else "positional"


def _checked(fn, name, library, keywords):
    """``fn`` behind a check of its own signature (a call it refuses is Unsupported), with
    torch's keywords renamed to the library's."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check first
        signature = None

    def entry(*args, **kwargs):
        kwargs = {keywords.get(k, k): v for k, v in kwargs.items()}
        if signature is not None:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise Unsupported(f"{library}.{name}: {exc}", name, _argument(exc)) from None
        return fn(*args, **kwargs)
    return entry


def first_output(out):
    return out[0] if isinstance(out, (tuple, list)) else out


class TapeAdapter(Backend):
    """A tape-style library; the defaults are torch's spelling (impl and torch use them all)."""

    module = None  # the library: ops resolve on it by public name, at call time
    names: dict = {}
    keywords: dict = {}

    # -- primitives (torch's spelling by default) ------------------------------------------

    def tensor(self, array, requires_grad=False):
        t = self.module.from_numpy(array)
        return t.requires_grad_(True) if requires_grad else t

    def numpy(self, t):
        return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)

    def backward(self, y, g, retain_graph=False):
        y.backward(g, retain_graph=True) if retain_graph else y.backward(g)

    def grad(self, t):
        """The gradient accumulated on leaf ``t`` as an array, None if it has none."""
        return None if t.grad is None else np.array(self.numpy(t.grad))

    def clear_grad(self, t):
        t.grad = None

    def no_grad(self):
        if not hasattr(self.module, "no_grad"):
            raise NotApplicable(f"{self.name} has no no_grad")
        return self.module.no_grad()

    def method(self, x, name):
        """torch's ``x.<name>`` in the library's spelling."""
        target = self.names.get(f"Tensor.{name}", name)
        if callable(target):
            return _checked(functools.partial(target, x), f"Tensor.{name}", self.name, {})
        try:
            fn = getattr(x, target)
        except AttributeError as exc:
            raise Unsupported(f"{self.name} has no Tensor.{name}", f"Tensor.{name}",
                              "method") from exc
        return _checked(fn, f"Tensor.{name}", self.name, self.keywords)

    def dtype(self, name):
        return getattr(self.module, name)

    def like(self, t, x):
        """A float constant ``t`` in the dtype of the input ``x``."""
        return t.to(x.dtype)

    def scalar(self, value):
        return self.module.tensor(value)

    # -- the op -----------------------------------------------------------------------------

    def op(self, spec, args, bind=None):
        """The op of ``spec`` as the library spells it, for ``args`` (a method's receiver)."""
        if spec.name.startswith("Tensor."):
            return Op(self.method(args[0], spec.name.split(".", 1)[1]), self, bind)
        target = self.names.get(spec.id, self.names.get(spec.name, spec.name))
        if callable(target):  # takes torch's arguments
            return Op(_checked(target, spec.name, self.name, {}), self, bind)
        try:
            fn = resolve(self.module, target, args)
        except AttributeError as exc:
            raise Unsupported(f"{self.name} has no {target}", spec.name) from exc
        return Op(_checked(fn, spec.name, self.name, self.keywords), self, bind)

    def call(self, spec, args, kwargs, bind=None):
        """The op on ``args``/``kwargs`` through the spec's call form; ``bind``: keywords bound
        to the op itself (an argument form the spec's call does not know, such as out=)."""
        op = self.op(spec, args, bind)
        return spec.call(op, *args, **kwargs) if spec.call else op(*args, **kwargs)

    def _tensors(self, example, requires=()):
        """The example's arrays as tensors, those at the indices ``requires`` requiring grad."""
        return [self.tensor(a, i in requires) if isinstance(a, np.ndarray) else a
                for i, a in enumerate(example.args)]

    # -- the protocol -----------------------------------------------------------------------

    def forward(self, spec, example, no_grad=False):
        if not no_grad:
            return as_outputs(self.call(spec, self._tensors(example), example.kwargs),
                              self.numpy)
        args = self._tensors(example, spec.diff)
        with self.no_grad():
            out = self.call(spec, args, example.kwargs)
        return as_outputs(out, self.numpy)

    def empty(self, dtype):
        """A tensor of no elements that an op's ``out=`` may resize."""
        return self.tensor(np.empty(0, dtype))

    def forward_out(self, spec, example, dtypes):
        outs = [self.empty(d) for d in dtypes]
        out = self.call(spec, self._tensors(example), example.kwargs,
                        {"out": outs[0] if len(outs) == 1 else tuple(outs)})
        return as_outputs(out, self.numpy), as_outputs(outs, self.numpy)

    def vjp(self, spec, example, cotangent):
        t = self.trace(spec, example, cotangent)
        return t.outputs, t.grads

    def trace(self, spec, example, cotangent, twice=False, reuse=None, alias=None,
              requires=None):
        args = self._tensors(example, spec.diff if requires is None else requires)
        if alias:
            args[alias[1]] = args[alias[0]]
        out = self.call(spec, args, example.kwargs)
        first = first_output(out)
        outputs = as_outputs(out, self.numpy)
        if reuse:
            c1, c2 = (self.tensor(c) for c in reuse)
            self.backward(first * c1 + first * c2, self.tensor(np.ones_like(cotangent)))
        else:
            self.backward(first, self.tensor(cotangent), retain_graph=twice)
        grads = self._grads(spec, example, args, requires)
        again = None
        if twice:
            self.backward(first, self.tensor(cotangent))
            again = self._grads(spec, example, args, requires)
        return Trace(outputs, grads, as_outputs(out, self.numpy), again)

    def _grads(self, spec, example, args, requires=None):
        grads = []
        for i in spec.diff:
            g = self.grad(args[i])
            if g is None and requires is not None and i not in requires:
                grads.append(None)  # no gradient asked for, none given
                continue
            grads.append(np.zeros(example.args[i].shape, example.args[i].dtype) if g is None
                         else g)
        return grads

    def stepper(self, spec, example, cotangent):
        args = self._tensors(example, spec.diff)
        leaves = [args[i] for i in spec.diff]
        g = self.tensor(cotangent)
        op = self.op(spec, args)
        call = spec.call or (lambda f, *a, **k: f(*a, **k))

        def backward(y):
            for t in leaves:
                self.clear_grad(t)
            self.backward(y, g)
        return Step(lambda: first_output(call(op, *args, **example.kwargs)), backward)

    # -- models (torch's spelling: module.models, nn.functional.cross_entropy, optim) ----------

    @property
    def models(self):
        """The library's model constructors (torchvision's names), or None."""
        try:
            return importlib.import_module(f"{self.module.__name__}.models")
        except ImportError:
            return None

    def _model(self, constructor, kwargs, state=None, dtype=None):
        build = getattr(self.models, constructor, None)
        if build is None:
            raise NotApplicable(f"{self.name} has no models.{constructor}")
        model = build(**kwargs)
        if state is not None:
            dtype = next(v.dtype for v in state.values() if v.dtype.kind == "f")
            model.to(self.dtype(dtype.name))
            model.load_state_dict({k: self.tensor(np.array(v)) for k, v in state.items()})
        return model

    def model_state(self, constructor, kwargs, seed):
        self.module.manual_seed(seed)
        model = self._model(constructor, kwargs)
        model.to(self.dtype("float64"))
        return {k: np.array(self.numpy(v)) for k, v in model.state_dict().items()}

    def model_run(self, constructor, kwargs, state, x, y, train=True, record=False):
        model = self._model(constructor, kwargs, state).train(train)
        found = self._record(model) if record else None
        logits = model(self.tensor(x))
        loss = self.module.nn.functional.cross_entropy(logits, self.tensor(y))
        loss.backward()
        for handle in found[-1] if found else ():
            handle.remove()
        names = {name for name, _ in model.named_parameters()}
        grads = {name: self.grad(p) for name, p in model.named_parameters()}
        buffers = {k: np.array(self.numpy(v)) for k, v in model.state_dict().items()
                   if k not in names}
        model.load_state_dict({k: self.tensor(np.array(v)) for k, v in state.items()})
        model.eval()
        with self.no_grad():
            eval_logits = np.array(self.numpy(model(self.tensor(x))))
        return ModelRun(np.array(self.numpy(logits)), np.array(self.numpy(loss)), grads,
                        buffers, eval_logits, *(found[:-1] if found else ()))

    def _record(self, model):
        """Hooks on every module call recording its inputs, output and their gradients
        (:class:`~oracles.base.ModelRun`); (calls, grads_in, grads_out, order, handles).
        Each input requiring grad is replaced by a copy (``x * 1``) for the call, so that its
        gradient is the call's own, not the sum over every use of the tensor."""
        calls, grads_in, grads_out, order, handles, count = [], {}, {}, [], [], {}

        def pre(path, module, args):
            key = (path, count.setdefault(path, 0))
            count[path] += 1
            args = tuple(a * 1 if getattr(a, "requires_grad", False) else a for a in args)
            needed = [i for i, a in enumerate(args) if getattr(a, "requires_grad", False)]
            grads_in[key] = [None] * len(args)

            def on_input(i):
                def hook(g):
                    grads_in[key][i] = np.array(self.numpy(g))
                    if i == needed[-1]:
                        order.append(key)
                return hook
            for i in needed:
                args[i].register_hook(on_input(i))
            return args

        def post(path, module, args, out):
            key = (path, count[path] - 1)
            out = first_output(out)
            calls.append((*key, [np.array(self.numpy(a)) for a in args if hasattr(a, "shape")],
                          np.array(self.numpy(out))))
            if getattr(out, "requires_grad", False):
                out.register_hook(lambda g: grads_out.__setitem__(key, np.array(self.numpy(g))))

        try:
            for path, module in model.named_modules():
                handles.append(module.register_forward_pre_hook(functools.partial(pre, path)))
                handles.append(module.register_forward_hook(functools.partial(post, path)))
        except AttributeError:  # modules without torch's hooks: outputs only
            for handle in handles:
                handle.remove()
            return None
        return calls, grads_in, grads_out, order, handles

    def model_train(self, constructor, kwargs, state, x, y, batches, settings, x_test, y_test):
        model = self._model(constructor, kwargs, state).train()
        optimizer = self.module.optim.SGD(model.parameters(), **settings)
        schedule = self.module.optim.lr_scheduler.CosineAnnealingLR(optimizer, len(batches))
        losses = []
        for i in batches:
            loss = self.module.nn.functional.cross_entropy(model(self.tensor(x[i])),
                                                           self.tensor(y[i]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(self.numpy(loss)))
        model.eval()
        with self.no_grad():
            predicted = np.asarray(self.numpy(model(self.tensor(x_test)))).argmax(axis=1)
        return np.array(losses), float(np.mean(predicted == y_test))

    def model_step(self, constructor, kwargs, state, grads, optimizer, settings, steps=2):
        model = self._model(constructor, kwargs, state)
        params = dict(model.named_parameters())
        step = getattr(self.module.optim, optimizer)(params.values(), **settings)
        for _ in range(steps):
            for name, p in params.items():
                p.grad = self.tensor(np.array(grads[name]))
            step.step()
        return {name: np.array(self.numpy(p)) for name, p in params.items()}


# What a module declares about itself, as module attributes: ``__tenshell_unsupported__`` and so
# on for each of these adapter attributes (see oracles.base.Backend).
DECLARED = ("unsupported", "conventions", "errors", "name_the_op", "exact_layouts", "cannot",
            "xfail", "names", "keywords")


class ModuleAdapter(TapeAdapter):
    """A module with torch's API (impl, a copy of impl with one op replaced, torch itself), its
    declarations read from its ``__tenshell_<attribute>__`` module attributes."""

    def __init__(self, module, name=None):
        self.module = module
        self.name = name or module.__name__
        for attr in DECLARED:
            declared = getattr(module, f"__tenshell_{attr}__", None)
            if declared is not None:
                setattr(self, attr, declared)


class FunctionalAdapter(Backend):
    """A functional library: ``function(spec, example)`` gives the op as a function of all its
    arguments (the library's arrays where the example has arrays), ``pullback(f, primals)``
    evaluates ``f`` (returning ``(y, aux)``) and gives ``(y, aux, pull)``, ``pull(g)`` the
    VJP for cotangent ``g``. ``run(spec, example, key, fn, *arrays)`` may compile and cache
    ``fn`` (``key`` identifies it with its constants); by default it calls it.
    ``compile(spec, fn, *arrays)`` gives ``fn`` as a benchmark calls it on arrays like
    ``arrays`` and the seconds making it took: by default ``fn`` itself, in no time."""

    cannot = {
        "layout": "copies its inputs into its own arrays: NumPy memory layouts never reach it",
        "cotangent": "copies the cotangent into its own array: NumPy memory layouts never "
                     "reach it",
        "retain_graph": "records no graph: a functional VJP has none to retain or run twice",
        "no_grad": "records nothing: there is no no_grad mode",
        "out": "has immutable arrays: there is no out= form",
    }

    def function(self, spec, example):
        raise NotImplementedError

    def array(self, a):
        return a

    def numpy(self, y):
        return np.asarray(y)

    def pullback(self, f, primals):
        raise NotImplementedError

    def run(self, spec, example, key, fn, *arrays):
        return fn(*arrays)

    def compile(self, spec, fn, *arrays):
        return fn, 0.0

    def _key(self, spec, example, positions, *parts):
        """A hashable identity of the op on ``example`` but for the values of the arrays at
        ``positions`` (the compiled function's arguments; every other one is a constant in it):
        what a compiled function may be cached under."""
        h = hashlib.sha1(repr(sorted(example.kwargs.items(), key=str)).encode())
        for i, a in enumerate(example.args):
            if i in positions:
                h.update(f"{i}:{a.shape}:{a.dtype}".encode())
            elif isinstance(a, np.ndarray):
                h.update(f"{i}:{a.shape}:{a.dtype}".encode() + np.ascontiguousarray(a).tobytes())
            else:
                h.update(f"{i}:{a!r}".encode())
        return (spec.id, h.hexdigest(), *parts)

    def _with(self, spec, example, positions, alias=None):
        """The op as a function of the arguments at ``positions`` (the others constants);
        with ``alias=(i, j)``, argument j is argument i."""
        f = self.function(spec, example)
        args = list(example.args)

        def g(*values):
            a = list(args)
            for i, v in zip(positions, values):
                a[i] = v
            if alias:
                a[alias[1]] = a[alias[0]]
            return f(*a)
        return g

    def forward(self, spec, example, no_grad=False):
        f = self._with(spec, example, spec.diff)
        out = self.run(spec, example, self._key(spec, example, spec.diff, "forward"), f,
                       *(example.args[i] for i in spec.diff))
        return as_outputs(out, self.numpy)

    def vjp(self, spec, example, cotangent):
        t = self.trace(spec, example, cotangent)
        return t.outputs, t.grads

    def trace(self, spec, example, cotangent, twice=False, reuse=None, alias=None,
              requires=None):
        if twice:
            raise NotApplicable(self.cannot["retain_graph"])
        positions = tuple(spec.diff if requires is None else requires)
        if alias:
            positions = tuple(i for i in positions if i != alias[1])
        f = self._with(spec, example, positions, alias)

        def g(c1, c2, *values):
            out = f(*values)
            outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            y = outs[0] if c1 is None else outs[0] * c1 + outs[0] * c2
            return y, outs

        def step(cot, c1, c2, *values):
            y, outs, pull = self.pullback(lambda *v: g(c1, c2, *v), values)
            return (y, outs), pull(cot.astype(y.dtype))
        c1, c2 = reuse or (None, None)
        cot = np.ones_like(cotangent) if reuse else cotangent
        key = self._key(spec, example, positions, "vjp", alias, reuse is not None)
        (_, outs), grads = self.run(spec, example, key, step, cot, c1, c2,
                                    *(example.args[i] for i in positions))
        found = dict(zip(positions, (np.asarray(gr) for gr in grads)))
        if alias:
            found[alias[1]] = found[alias[0]]
        outputs = as_outputs(outs, self.numpy)
        return Trace(outputs, [found.get(i) for i in spec.diff], outputs)

    def stepper(self, spec, example, cotangent):
        f = self._with(spec, example, spec.diff)

        def forward(*values):  # the handle: the output and its pullback
            y, _, pull = self.pullback(lambda *v: (first_output(f(*v)), None), values)
            return y, pull

        def backward(pull, cot):
            return pull(cot)
        values = [self.array(example.args[i]) for i in spec.diff]
        run_forward, forward_seconds = self.compile(spec, forward, *values)
        y, pull = run_forward(*values)
        cot = self.array(cotangent.astype(y.dtype))
        run_backward, backward_seconds = self.compile(spec, backward, pull, cot)
        return Step(lambda: run_forward(*values), lambda handle: run_backward(handle[1], cot),
                    forward_seconds + backward_seconds)
