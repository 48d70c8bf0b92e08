"""The checks, each written once and used by both pytest and ``tenshell conform``.

:func:`check_example` runs every example-level check of one spec on one drawn example in one
dtype and returns :class:`Outcome` records; :func:`check_bad_inputs` runs the spec's bad-input
cases. The runner aggregates outcomes into report rows. The checks (the ``check`` of a row):

=============  ==========================================================================
forward        the subject's recording run (inputs require grad) against each oracle
vjp            its input gradients for a random cotangent, against each oracle
inference      the forward with nothing requiring grad: against each oracle, and equal to
               the recording run's outputs (oracle ``self``)
no_grad        the forward of inputs that require grad under ``no_grad``: equal to the
               recording run's outputs
fd, jacobian   float64 finite differences: ⟨u, VJP(v)⟩ against ⟨v, JVP_fd(u)⟩ along a random
               direction; the full Jacobian of small inputs
layout         the inputs in each memory layout give the contiguous run's results and come
               back untouched (layout ``contiguous``: no input is written in place)
cotangent      the cotangent in each memory layout gives the contiguous cotangent's
               gradients; the cotangent and the op's outputs come back untouched
retain_graph   a second backward (after ``retain_graph=True``) accumulates twice the gradient
              ; the outputs read afterwards equal those read before
reuse          the first output used twice downstream (``y*c1 + y*c2``) gets both
               contributions: the gradient of the cotangent ``c1 + c2``
alias          one tensor passed as two arguments gets both uses' gradients (against torch)
dtype          output and gradient dtypes as torch's
bad_input      where torch raises, the subject raises the same kind of error
=============  ==========================================================================

Whatever the subject raises becomes the failing row of the check that called it: a check never
raises out of the run because of the subject.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from oracles.base import NotApplicable, Unsupported
from oracles.fd import FiniteDifferences
from properties import tolerance as tol
from properties.strategies import LAYOUTS, present

FLOAT64 = np.dtype(np.float64)


@dataclass
class Outcome:
    """One check of one example: the key of its report row, and what was measured."""

    op: str
    check: str
    oracle: str  # torch, jax, fd, self (the subject's own recording run), -
    dtype: str
    layout: str
    status: str  # pass, fail, unsupported, not-applicable, oracle-disagree
    error: float = 0.0  # the subject's worst relative element error
    tolerance: float = 0.0
    oracle_errors: dict = field(default_factory=dict)  # each oracle's own worst relative error
    relative_error: float = 0.0  # the subject's, measured as the oracles' are (accuracy views)
    detail: str = ""
    seconds: float = 0.0
    argument: str | None = None  # for unsupported: the argument refused (None: the whole op)
    note: str = ""  # what the row's oracle warned on this example (not part of ``detail``)

    @property
    def key(self):
        return (self.op, self.check, self.oracle, self.dtype, self.layout)


def check_example(spec, dtype, example, seed, subject, oracles, layouts=LAYOUTS, fd=True):
    """Every example-level check of ``spec`` on ``example`` in ``dtype``; a list of Outcomes.

    What an oracle warns while it computes the truth (torch's broadcasting UserWarning) is not
    shown: it is noted on that oracle's rows of the example. What the subject warns is its own
    and stays visible, once per place in its code (and process)."""
    heard = {}
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # (IEEE specials are the data here: errstate above)
        heeded = {name: _Heard(b, name, heard) for name, b in oracles.items()}
        out = _Example(spec, np.dtype(dtype), example, seed, subject, heeded, heard).run(
            layouts, fd)
    for w in caught:
        if (w.category, w.filename, w.lineno) not in _SHOWN:
            _SHOWN.add((w.category, w.filename, w.lineno))
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    for o in out:
        o.note = _note(o.oracle, heard)
    return out


_SHOWN = set()  # (category, file, line) of each subject warning shown in this process
NOTE = "oracle warnings: "


class _Heard:
    """An oracle whose calls note what they warn in ``heard[name]`` (category and first line,
    once each, in order) instead of showing it."""

    def __init__(self, backend, name, heard):
        self._backend, self._name, self._heard = backend, name, heard

    def __getattr__(self, attr):
        value = getattr(self._backend, attr)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    return value(*args, **kwargs)
                finally:
                    said = self._heard.setdefault(self._name, {})
                    for w in caught:
                        line = (str(w.message).strip().splitlines() or [""])[0]
                        said.setdefault(f"{w.category.__name__}: {line}", None)
        return call


def _note(oracle, heard, most=2, width=120):
    """'oracle warnings: torch: UserWarning: …' for what ``oracle`` warned on one example (its
    first ``most`` distinct warnings, each cut to ``width`` characters), or ''."""
    said = list(heard.get(oracle, ()))
    if not said:
        return ""
    cut = [s if len(s) <= width else s[:width - 1] + "…" for s in said[:most]]
    more = f" (and {len(said) - most} more)" if len(said) > most else ""
    return f"{NOTE}{oracle}: " + f"; {oracle}: ".join(cut) + more


def _run(backend, spec, example, cot):
    """(outputs, grads) of ``backend``, or (outputs, None) for an op without differentiable
    arguments."""
    if not spec.diff:
        return backend.forward(spec, example), None
    return backend.vjp(spec, example, cot)


def _rounded(example, dtype, diff):
    """In a float32 run, the float64 arrays that are not differentiable (targets, weights,
    running statistics: a spec's ``call`` casts them to the input's dtype) rounded to float32's
    precision, still float64: so the float64 truth computes the very problem the run does."""
    if dtype != np.float32:
        return example
    return example.replace(
        a.astype(np.float32).astype(np.float64) if isinstance(a, np.ndarray) and
        a.dtype == FLOAT64 and i not in diff and i not in example.keep else a
        for i, a in enumerate(example.args))


def _copy(example):
    """The example with fresh copies of its arrays (compared with the originals afterwards: an
    op must not write into its inputs)."""
    return example.replace(np.array(a) if isinstance(a, np.ndarray) else a for a in example.args)


class _Example:
    def __init__(self, spec, dtype, example, seed, subject, oracles, heard):
        self.spec, self.dtype, self.seed = spec, dtype, seed
        self.subject, self.oracles, self.heard = subject, oracles, heard
        self.ex = _rounded(example.cast(dtype, spec.diff), dtype, spec.diff)
        # every differentiable input in float64: the oracles' runs are their truths
        self.exact = all(self.ex.args[i].dtype == FLOAT64 for i in spec.diff
                         if isinstance(self.ex.args[i], np.ndarray))
        # Float64's own error is estimated from the oracles' disagreement — a difference of two
        # errors, which can cancel — and from float32's noise scaled down, not measured against
        # a truth of higher precision: four times the margin there (allowances stay near 1e-13,
        # five orders below the 1e-9 relative error that must fail). An example torch alone
        # computes (the later float32 draws) measures one implementation's rounding, not the
        # worse of two: twice the margin.
        self.factor = spec.tolerance_factor * (4 if self.exact else 1) * (
            2 if len(oracles) < 2 else 1)
        self.out = []
        self.allowed = {}  # (part, k) -> (noise, floor, terms) of that output's accuracy rows
        self._allowances = {}

    def add(self, check, oracle, layout, status, dtype=None, **kw):
        dtype = dtype or self.dtype
        dtype = dtype if dtype == "-" else str(np.dtype(dtype))
        self.out.append(Outcome(self.spec.id, check, oracle, dtype, layout, status, **kw))

    def guard(self, check, oracle, layout, fn, *args, dtype=None):
        """``fn(*args)``, or None after recording what the subject raised as this check's
        row (or, without running it, that the subject declares it cannot do this check)."""
        why = self.subject.cannot.get(check)
        if why:
            self.add(check, oracle, layout, "not-applicable", dtype,
                     detail=f"{self.subject.name} {why}")
            return None
        try:
            return fn(*args)
        except Unsupported as exc:
            self.add(check, oracle, layout, "unsupported", dtype, detail=str(exc),
                     argument=exc.argument)
        except NotApplicable as exc:
            self.add(check, oracle, layout, "not-applicable", dtype, detail=str(exc))
        except Exception as exc:  # the subject raised on a valid input
            self.add(check, oracle, layout, "fail", dtype, error=np.inf,
                     detail=f"raised {type(exc).__name__}: {exc}")
        return None

    # -- the run ----------------------------------------------------------------------------

    def run(self, layouts, fd):
        spec, ex = self.spec, self.ex
        self.ref = self._oracle_runs()
        if self.ref is None:
            return self.out
        start = time.perf_counter()
        mine = _copy(ex)
        got = self.guard("forward", "-", "contiguous", lambda: self._record(mine, self.cot))
        if got is None:
            self._spread_first_row()
            return self.out
        self.got = got
        self.elapsed = time.perf_counter() - start
        mutated = [f"argument {i} was modified in place" for i, (a, b) in
                   enumerate(zip(ex.args, mine.args)) if isinstance(a, np.ndarray)
                   and a.tobytes() != b.tobytes()]
        self.add("layout", "self", "contiguous", "fail" if mutated else "pass",
                 detail="; ".join(mutated))
        self._accuracy("forward", got[0])
        if got[1] is not None:
            self._accuracy("vjp", got[1])
        self._dtypes()
        self._inference()
        self._out_form()
        if fd and spec.fd and spec.diff and self.dtype == FLOAT64 and not any(
                ex.args[i].dtype != FLOAT64 for i in spec.diff):
            self.guard("fd", "fd", "contiguous", self._finite_differences)
        if spec.layouts:
            for layout in layouts:
                self.guard("layout", "self", layout, self._layout, layout)
        if spec.diff:
            for layout in layouts:
                self.guard("cotangent", "self", layout, self._cotangent, layout)
            self.guard("retain_graph", "self", "contiguous", self._retain_graph)
            self.guard("reuse", "self", "contiguous", self._reuse)
            if len(spec.diff) > 1:
                self.guard("requires_grad", "self", "contiguous", self._one_requires_grad)
        name = alias_oracle(spec, self.subject, self.oracles)
        if spec.alias and name:
            self.guard("alias", name, "contiguous", lambda: self._alias(name))
        return self.out

    def _oracle_runs(self):
        """{oracle: (its run in the dtype, its float64 run: the truth)}; sets the cotangent."""
        spec, ex = self.spec, self.ex
        ex64 = ex.cast(FLOAT64, spec.diff, keep=False)
        first = None
        for backend in self.oracles.values():
            try:
                first = backend.forward(spec, ex)[0]
                break
            except Exception:  # noqa: BLE001 (the next oracle may run it; else recorded below)
                continue
        if first is None:
            self.add("forward", "-", "contiguous", "fail", error=np.inf,
                     detail="no oracle computes this example: the spec is wrong")
            return None
        self.cot = np.random.default_rng(self.seed).standard_normal(first.shape).astype(
            first.dtype if first.dtype.kind == "f" else self.dtype)
        ref = {}
        for name, backend in self.oracles.items():
            try:
                run = _run(backend, spec, ex, self.cot)
                ref[name] = (run, run if self.exact else
                             _run(backend, spec, ex64, self.cot.astype(FLOAT64)))
            except Unsupported:
                continue
            except Exception as exc:  # an oracle failing on a drawn example: a spec bug
                self.add("forward", name, "contiguous", "fail", error=np.inf,
                         detail=f"the oracle raised {type(exc).__name__}: {exc} (the spec "
                                f"is wrong)")
                continue
        # the probe from the oracle whose convention the spec follows (else the first)
        name = spec.convention if spec.convention in ref else next(iter(ref), None)
        self.probe = None if name is None else self._probe(self.oracles[name], ref[name])
        self.terms = self._terms(ex64) if spec.multilinear and "torch" in ref else (None, None)
        if spec.term_sizes is not None:
            self.terms = (spec.term_sizes(ex64), self.terms[1])
        if spec.family == "elementwise" and "torch" in ref and self.terms[1] is None:
            self.terms = (self.terms[0], self._broadcast_terms(ex64))
        return ref or None

    def _broadcast_terms(self, ex64):
        """An elementwise op's gradient of a broadcast input sums the gradient of its expanded
        copy over the broadcast axes, a sum that can cancel: the root-sum-square of those terms
        (torch's VJP on the inputs materialised at the broadcast shape). None when no
        differentiable input is broadcast."""
        spec = self.spec
        shape = np.broadcast_shapes(*(a.shape for a in ex64.args if isinstance(a, np.ndarray)))
        if all(ex64.args[i].shape == shape for i in spec.diff):
            return None
        expanded = ex64.replace(np.broadcast_to(a, shape).copy() if i in spec.diff else a
                                for i, a in enumerate(ex64.args))
        try:
            _, grads = _run(self.oracles["torch"], spec, expanded, self.cot.astype(FLOAT64))
        except Exception:  # noqa: BLE001 (no scale: the allowance from the oracles alone)
            return None
        return [np.sqrt(_sum_to(g * g, ex64.args[i].shape)) for i, g in zip(spec.diff, grads)]

    def _terms(self, ex64):
        """Each output's and gradient's root-sum-square of terms: a multilinear op (and its VJP,
        linear in the cotangent and the other arguments) run by torch on the squares of its
        float arguments, square-rooted. Rounding errors of random signs add up at this scale
        (the worst-case sum of |terms| would hide a 1e-4 error in a 576-term dot product)."""
        squares = ex64.replace(a * a if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                               else a for a in ex64.args)
        try:
            outs, grads = _run(self.oracles["torch"], self.spec, squares,
                               (self.cot * self.cot).astype(FLOAT64))
        except Exception:  # noqa: BLE001 (no scale: the allowance from the oracles alone)
            return None, None
        root = [np.sqrt(np.abs(a.astype(FLOAT64))) if a.dtype.kind == "f" else None
                for a in outs]
        return root, None if grads is None else [np.sqrt(np.abs(g)) for g in grads]

    def _probe(self, backend, runs):
        """The first oracle's float32 run and its float64 truth: how far float32 rounding (of
        the inputs and inside the op) moves each element — the scale of rounding noise, in
        float64 runs too (scaled by the epsilons' ratio), and what tells a difference of
        convention between the oracles from rounding."""
        if not self.exact:
            return runs
        try:
            ex32 = self.ex.cast(np.float32, self.spec.diff)
            return _run(backend, self.spec, ex32, self.cot.astype(np.float32)), runs[1]
        except Exception:  # noqa: BLE001 (no probe: noise from the oracles alone)
            return None

    def _record(self, example, cot):
        """The subject's recording run: (outputs, grads), grads None without a backward. The
        subject gets a copy of the cotangent: a library may make it a leaf's ``.grad`` and
        accumulate into it later (torch does, for a gradient it passes through unchanged)."""
        if not self.spec.diff:
            return self.subject.forward(self.spec, example), None
        return self.subject.vjp(self.spec, example, np.array(cot))

    def _spread_first_row(self):
        # the recording run failed: every oracle's forward (and vjp) row says so
        row = self.out.pop()
        checks = ("forward", "vjp") if self.spec.diff else ("forward",)
        for check in checks:
            for name in self.ref:
                self.add(check, name, "contiguous", row.status, error=row.error,
                         detail=row.detail, argument=row.argument)

    # -- accuracy against the oracles -------------------------------------------------------

    def _out_dtype(self, part, k):
        """The dtype torch gives this output (mixed-precision inputs promote), else the run's."""
        run = self.ref.get("torch", next(iter(self.ref.values())))[0]
        arrays = run[0] if part == "forward" else run[1]
        d = arrays[k].dtype
        return d if d.kind == "f" else self.dtype

    def _accuracy(self, check, values, part=None):
        """Rows of ``check`` comparing ``values`` (the subject's outputs or gradients) with each
        oracle's truth, under the per-element allowance derived from the oracles' own errors."""
        part = part or check
        spec, ex = self.spec, self.ex
        pick = (lambda r: r[0]) if part == "forward" else (lambda r: r[1])
        terms = spec.accumulation(ex) if part == "forward" else max(
            spec.accumulation(ex), _vjp_terms(ex, self.got[0]))
        scale = [a for a in ex.args if isinstance(a, np.ndarray)] + [self.cot]
        for k in range(len(values)):
            dtype = self._out_dtype(part, k)
            lowest = tol.floor(dtype, *scale)
            truth = {n: pick(r[1])[k] for n, r in self.ref.items()}
            probe = None if self.probe is None else _probe_noise(
                pick(self.probe[0])[k], pick(self.probe[1])[k])
            signed = spec.signed_zeros and part == "forward"
            disagree = _oracles_disagree(truth, probe, terms, tol.floor(FLOAT64, *scale), signed)
            if self.exact:
                # A float64 run is its own truth: the oracles' own error is their disagreement
                # with each other, or float32's rounding noise scaled to float64, the larger.
                # (Where they disagree, a convention and not rounding, float32's alone.)
                a, b = (list(truth.values()) * 2)[:2]
                scaled = None if probe is None else probe * tol.eps(FLOAT64) / tol.eps(
                    np.float32)
                noise = scaled if disagree else np.maximum(tol.deviation(a, b), (
                    0 if scaled is None else scaled))
                own = dict.fromkeys(truth, 0.0 if disagree else tol.relative(a, b, dtype, lowest))
            else:
                noise = np.maximum.reduce([tol.deviation(pick(r[0])[k], truth[n], dtype)
                                           for n, r in self.ref.items()])
                own = {n: tol.relative(pick(r[0])[k], truth[n], dtype, lowest)
                       for n, r in self.ref.items()}
            size = self._term_scale(part, k)
            self.allowed[(part, k)] = (noise, lowest, terms, size)
            # one allowance for every oracle, around the larger of their truths (an oracle's
            # truth may be ±inf by its convention where another's is finite)
            allowed = tol.allowance(_magnitude(truth.values()), noise, dtype, terms,
                                    self.factor, size)
            for name in truth:
                err, limit, mismatch = tol.compare(values[k], truth[name], allowed, dtype,
                                                   lowest, signed)
                # the subject's worst relative error, the measure of the oracles' own errors
                rel = np.inf if mismatch else tol.relative(values[k], truth[name], dtype, lowest)
                ok = mismatch is None and err <= limit
                status = "pass" if ok else "fail"
                detail = mismatch or ("" if ok else f"error {err:.3g} > tolerance {limit:.3g}")
                if disagree:
                    follows = self.subject.convention(spec)
                    conv = truth.get(follows)
                    conv_ok = ok if conv is None else _within(values[k], conv, allowed, dtype,
                                                              lowest, signed)
                    status = "oracle-disagree" if conv_ok else "fail"
                    detail = (f"torch and jax disagree ({disagree}); subject follows "
                              f"{follows}: {conv_ok}")
                if len(values) > 1 and not ok:
                    detail = f"{'output' if part == 'forward' else 'gradient'} {k}: {detail}"
                self.add(check, name, "contiguous", status, error=err, tolerance=limit,
                         oracle_errors=own, relative_error=rel, detail=detail,
                         seconds=self.elapsed)

    def _dtypes(self):
        """Output and gradient dtypes as torch's (the run's dtype without a torch oracle)."""
        outs, grads = self.got
        want = self.ref.get("torch", (([], None),))[0]
        problems = []
        for k, o in enumerate(outs):
            expected = want[0][k].dtype if k < len(want[0]) else (
                self.dtype if o.dtype.kind == "f" else o.dtype)
            if o.dtype != expected:
                problems.append(f"output {k} is {o.dtype}, torch's is {expected}")
        for n, (i, g) in enumerate(zip(self.spec.diff, grads or ())):
            expected = want[1][n].dtype if want[1] is not None else self.ex.args[i].dtype
            if g.dtype != expected:
                problems.append(f"gradient of argument {i} is {g.dtype}, torch's is {expected}")
        self.add("dtype", "-", "contiguous", "fail" if problems else "pass",
                 detail="; ".join(problems) + (f" for {self.dtype} inputs" if problems else ""))

    # -- the inference path -----------------------------------------------------------------

    def _inference(self):
        """No input requiring grad, then inputs requiring grad under no_grad: the outputs are
        the oracles' and the recording run's."""
        outs = self.guard("inference", "self", "contiguous",
                          lambda: self.subject.forward(self.spec, _copy(self.ex)))
        if outs is not None:
            self._accuracy("inference", outs, part="forward")
            self._self_compare("inference", "contiguous", self.got[0], outs, "forward",
                               "differs from the recording run's output",
                               exact=self._exact_layouts)
        if not self.spec.diff:
            return
        outs = self.guard("no_grad", "self", "contiguous",
                          lambda: self.subject.forward(self.spec, _copy(self.ex), no_grad=True))
        if outs is not None:
            self._self_compare("no_grad", "contiguous", self.got[0], outs, "forward",
                               "differs from the recording run's output",
                               exact=self._exact_layouts)

    def _out_form(self):
        """torch's documented ``out=`` form, where torch takes it for this call: the returned
        outputs and the out tensors (fresh, empty: resized by the op) hold the recording run's
        outputs, bit for bit."""
        torch = self.oracles.get("torch")
        if torch is None or not torch.takes_out(self.spec):
            return
        dtypes = [o.dtype for o in self.got[0]]
        try:
            returned, written = torch.forward_out(self.spec, self.ex, dtypes)
        except Exception:  # noqa: BLE001 (this call, or these dtypes, have no out= form: no row)
            return
        if self._differences(returned, written, "forward", "", True)[0]:
            return  # the spec's call form does not pass out= through (a method call)
        found = self.guard("out", "self", "contiguous",
                           lambda: self.subject.forward_out(self.spec, _copy(self.ex), dtypes))
        if found is not None:
            returned, written = found
            problems, _ = self._differences(self.got[0], written, "forward",
                                            "the out tensor differs from the output",
                                            self._exact_layouts)
            self._self_compare("out", "contiguous", self.got[0], returned, "forward",
                               "the output returned with out= differs", problems,
                               exact=self._exact_layouts)

    # -- the subject against itself ---------------------------------------------------------

    def _differences(self, want, have, part, what, exact=False):
        """Why ``have`` (a list of arrays) is not ``want``: bit for bit when ``exact`` (or for
        integer results), else within twice the accuracy allowance of that result (both are
        that close to the truth)."""
        problems, worst = [], 0.0
        if len(want) != len(have):
            return [f"{len(have)} results where {len(want)} are expected"], np.inf
        for k, (w, h) in enumerate(zip(want, have)):
            if exact or w.dtype.kind not in "fc":
                if w.shape == h.shape and w.dtype == h.dtype and np.array_equal(
                        w, h, equal_nan=w.dtype.kind == "f"):
                    continue
                found = tol.structure(h, w, FLOAT64)
                err = np.inf if isinstance(found, str) else tol.relative(h, w, FLOAT64, 0.0)
                worst = max(worst, err)
                problems.append(f"{k}: {found if isinstance(found, str) else what}"
                                f"{'' if isinstance(found, str) else f' (by {err:.3g})'}")
                continue
            allowed, lowest = self._self_allowance(part, k, w)
            err, limit, mismatch = tol.compare(h, w, allowed, w.dtype, lowest)
            worst = max(worst, err)
            if mismatch or err > limit:
                problems.append(f"{k}: {mismatch or f'{what} (by {err:.3g} > {limit:.3g})'}")
        return problems, worst

    def _term_scale(self, part, k):
        """The size of the terms result ``k`` sums, where known: a multilinear op's absolute
        evaluation; for a gradient, at least the cotangent's largest value."""
        size = None
        arrays = self.terms[0] if part == "forward" else self.terms[1]
        if arrays is not None and k < len(arrays) and arrays[k] is not None:
            size = np.abs(np.nan_to_num(np.asarray(arrays[k], FLOAT64), nan=0.0, posinf=0.0,
                                        neginf=0.0))
        if part != "forward":
            cot = tol.magnitude(self.cot)
            size = cot if size is None else np.maximum(size, cot)
        return size

    def _self_allowance(self, part, k, w):
        """(twice the accuracy allowance of result ``k`` around the subject's own ``w``, the
        floor); cached: most self comparisons share their ``w``."""
        key = (part, k, id(w))
        if key not in self._allowances:
            noise, lowest, terms, size = self.allowed.get((part, k),
                                                          (None, tol.floor(w.dtype, w), 1, None))
            if noise is not None and np.shape(noise) != w.shape:
                noise = None
            if size is not None and np.ndim(size) and np.shape(size) != w.shape:
                size = None
            allowed = 2 * tol.allowance(w, noise, w.dtype, terms, self.factor, size)
            self._allowances[key] = (allowed, lowest, w)  # w kept: its id stays unique
        return self._allowances[key][:2]

    def _self_compare(self, check, layout, want, have, part, what, extra=(), exact=False):
        problems, worst = self._differences(want, have, part, what, exact)
        problems = list(extra) + problems
        self.add(check, "self", layout, "fail" if problems else "pass", error=worst,
                 detail="; ".join(problems))

    @property
    def _exact_layouts(self):
        """Whether runs in other layouts and by other paths (out=, no_grad, inference) must give
        the recording run's results to the bit: where the spec expects it of a subject that
        promises it (impl); else within twice the accuracy allowance (torch's out= matmul, say,
        takes another kernel)."""
        return self.spec.exact_layouts and self.subject.exact_layouts

    def _layout(self, layout):
        """The subject on strided views of the inputs gives its contiguous result; the inputs
        stay untouched."""
        ex = self.ex
        presented = [present(a, layout) if isinstance(a, np.ndarray) else None for a in ex.args]
        if all(p is None for p in presented):
            return
        start = time.perf_counter()
        contiguous = ex.replace(p[2] if p else a for p, a in zip(presented, ex.args))
        views = ex.replace(p[0] if p else a for p, a in zip(presented, ex.args))
        before = [p[1].tobytes() if p else None for p in presented]
        want = self.got if layout != "broadcast" else self._record(contiguous, self.cot)
        have = self._record(views, self.cot)
        moved = [f"argument {i} was modified in place" for i, (p, b) in
                 enumerate(zip(presented, before)) if p is not None and p[1].tobytes() != b]
        if self._exact_layouts:
            problems, worst = self._differences(want[0], have[0], "forward",
                                                "output differs from the contiguous run", True)
            if want[1] is not None:
                more, w2 = self._differences(want[1], have[1], "vjp",
                                             "gradient differs from the contiguous run", True)
                problems, worst = problems + more, max(worst, w2)
        else:
            # A library may pick another kernel for another layout (torch does: channels-last
            # batch norm sums in another order): the run is held to the accuracy the contiguous
            # one is held to, against the truth of its own values (a broadcast view holds
            # others); only what the contiguous run does not fail too is the layout's
            judge = self if layout != "broadcast" else self._nested(contiguous, want)
            problems, worst = judge._against_truth(have)
        problems = moved + problems
        self.add("layout", "self", layout, "fail" if problems else "pass", error=worst,
                 detail="; ".join(problems), seconds=time.perf_counter() - start)

    def _nested(self, example, got):
        """The checks' view of another example of this dtype (its oracle runs done), the
        subject's results on it being ``got``."""
        other = _Example(self.spec, self.dtype, example, self.seed, self.subject, self.oracles,
                         self.heard)
        other.ref, other.got, other.elapsed = other._oracle_runs(), got, 0.0
        return other

    def _accurate(self, got):
        """({(part, oracle): problem}, worst error) of ``got`` (outputs and gradients) against
        this example's truth, under the accuracy rows' allowance."""
        if self.ref is None:
            return {("forward", "-"): "no oracle computes this example"}, np.inf
        start = len(self.out)
        self._accuracy("forward", got[0])
        if got[1] is not None:
            self._accuracy("vjp", got[1])
        rows, self.out[start:] = self.out[start:], []
        return ({(r.check, r.oracle): f"{'output' if r.check == 'forward' else 'gradient'} "
                 f"against {r.oracle}: {r.detail}" for r in rows if r.status == "fail"},
                max((r.error for r in rows), default=0.0))

    def _against_truth(self, got):
        """(problems, worst error) of ``got`` against the truth, under the accuracy rows'
        allowance, that the recording run (``self.got``) does not have too: how a run by
        another path is judged for a subject whose paths are not bit-exact."""
        if "_own_failures" not in vars(self):  # the recording run's, once per example
            self._own_failures = self._accurate(self.got)[0]
        found, worst = self._accurate(got)
        return [p for k, p in found.items() if k not in self._own_failures], worst

    def _cotangent(self, layout):
        """The cotangent as a strided view gives the contiguous cotangent's gradients; the
        backward writes neither into the cotangent nor into the op's outputs."""
        p = present(self.cot, layout)
        if p is None:
            return
        view, base, contiguous = p
        before = base.tobytes()
        want = self.got if layout != "broadcast" else self._record(_copy(self.ex), contiguous)
        t = self.subject.trace(self.spec, _copy(self.ex), view)
        extra = [] if base.tobytes() == before else ["the backward wrote into the cotangent"]
        changed, _ = self._differences(t.outputs, t.outputs_after, "forward",
                                       "the backward changed the op's output")
        self._self_compare("cotangent", layout, want[1], t.grads, "vjp",
                           f"gradient differs from the contiguous cotangent's ({layout})",
                           extra + changed)

    def _retain_graph(self):
        t = self.subject.trace(self.spec, _copy(self.ex), np.array(self.cot), twice=True)
        changed, _ = self._differences(t.outputs, t.outputs_after, "forward",
                                       "output read after the backward differs")
        twice = [2 * g for g in t.grads]
        self._self_compare("retain_graph", "contiguous", twice, t.grads_again, "vjp",
                           "second backward did not add the same gradient again", changed)

    def _reuse(self):
        # c1 within [cot/2, cot): cot - c1 is exact (Sterbenz) and c1 + c2 == cot exactly, so
        # the op's backward receives the very cotangent of the recording run
        u = np.random.default_rng(self.seed + 2).uniform(0.5, 0.95, self.cot.shape)
        c1 = np.asarray(self.cot * u, self.cot.dtype)
        c2 = np.asarray(self.cot - c1, self.cot.dtype)
        t = self.subject.trace(self.spec, _copy(self.ex), np.array(self.cot), reuse=(c1, c2))
        self._self_compare("reuse", "contiguous", self.got[1], t.grads, "vjp",
                           "an output used twice did not get both contributions")

    def _one_requires_grad(self):
        """Each differentiable argument alone requiring grad (the others plain tensors, as
        constants and frozen weights are): its gradient is the one of the run where all do, and
        no other argument gets one. An argument the call does not use (torch's output then
        requires no grad) is left out."""
        problems, worst, torch = [], 0.0, self.oracles.get("torch")
        for n, i in enumerate(self.spec.diff):
            if torch is not None and not torch.depends(self.spec, self.ex, i):
                continue  # the call does not use it: torch's output needs no gradient either
            t = self.subject.trace(self.spec, _copy(self.ex), np.array(self.cot), requires=(i,))
            have = [g if m == n else want for m, (g, want) in enumerate(zip(t.grads,
                                                                            self.got[1]))]
            # (a library that compiles the call anew for it may round otherwise)
            found, err = self._differences(
                self.got[1], have, "vjp", "gradient differs from the run where all require it"
            ) if self._exact_layouts else self._against_truth((self.got[0], have))
            problems += [f"argument {i} alone: gradient {p}" for p in found]
            problems += [f"argument {j} got a gradient while only argument {i} requires one"
                         for m, j in enumerate(self.spec.diff)
                         if m != n and t.grads[m] is not None]
            worst = max(worst, err)
        self.add("requires_grad", "self", "contiguous", "fail" if problems else "pass",
                 error=worst, detail="; ".join(problems))

    def _alias(self, oracle):
        """One tensor passed as both differentiable arguments: gradients of both uses
        accumulate. The truth is the sum of the oracle's gradients for two separate leaves
        holding the same values (in the run's dtype), held to the two gradients' accuracy
        allowances — the magnitudes of the two, not of their sum, which may cancel (x / x)."""
        spec, ex = self.spec, self.ex
        i, j = spec.diff[:2]
        if ex.args[i].shape != ex.args[j].shape or ex.args[i].dtype != ex.args[j].dtype:
            return
        args = list(ex.args)
        args[j] = args[i]
        aliased = ex.replace(args)
        _, grads = self.oracles[oracle].vjp(spec, aliased, self.cot)
        want = grads[0] + grads[1]  # spec.diff[:2] are the first two gradients
        have = self.subject.trace(spec, _copy(aliased), np.array(self.cot), alias=(i, j)).grads[0]
        lowest = tol.floor(self.dtype, args[i], self.cot)
        noise = [self.allowed.get(("vjp", n), (None,))[0] for n in (0, 1)]
        size = self._term_scale("vjp", 0)
        noise = None if any(e is None or np.shape(e) != want.shape for e in noise) else (
            noise[0] + noise[1])
        # torch's own rounding is in ``want`` too: one more factor of the noise
        allowed = tol.allowance(np.maximum(np.abs(grads[0]), np.abs(grads[1])), noise,
                                self.dtype, 2, self.factor + 1,
                                size if np.ndim(size) == 0 else None)
        err, limit, mismatch = tol.compare(have, want, allowed, self.dtype, lowest)
        ok = mismatch is None and err <= limit
        self.add("alias", oracle, "contiguous", "pass" if ok else "fail", error=err,
                 tolerance=limit, detail=mismatch or ("" if ok else "gradients of the two "
                                                        "uses of one tensor are not accumulated"))

    # -- finite differences -----------------------------------------------------------------

    def _finite_differences(self):
        """⟨u, VJP(v)⟩ against ⟨v, JVP_fd(u)⟩ along a random direction u; the full Jacobian
        too when the differentiable inputs and the output have at most 64 elements."""
        spec, ex, cot = self.spec, self.ex, self.cot
        fdb = _Heard(FiniteDifferences(self.subject), "fd", self.heard)
        _, grads = self.got
        wrong = [f"gradient of argument {i} has shape {g.shape}, expected {ex.args[i].shape}"
                 for i, g in zip(spec.diff, grads) if g.shape != ex.args[i].shape]
        if wrong:
            self.add("fd", "fd", "contiguous", "fail", error=np.inf, detail="; ".join(wrong))
            return
        rng = np.random.default_rng(self.seed + 1)
        u = [rng.standard_normal(ex.args[i].shape) for i in spec.diff]
        start = time.perf_counter()
        jvp, jvp_err = fdb.jvp(spec, ex, u)
        lhs = sum(float(np.vdot(ui, gi)) for ui, gi in zip(u, grads))
        rhs = float(np.vdot(cot, jvp))
        scale = max(abs(lhs), abs(rhs),
                    float(np.abs(cot).sum() * np.abs(jvp).max(initial=0.0)))
        allowed = 10 * float(np.abs(cot).sum()) * jvp_err + 1e-10 * max(scale, 1e-300)
        err = abs(lhs - rhs)
        ok = err <= allowed or (np.isnan(lhs) and np.isnan(rhs))
        self.add("fd", "fd", "contiguous", "pass" if ok else "fail", error=err,
                 tolerance=allowed, oracle_errors={"fd": float(jvp_err)},
                 detail="" if ok else f"<u, vjp(v)> = {lhs:.10g} but <v, jvp_fd(u)> = "
                                      f"{rhs:.10g}", seconds=time.perf_counter() - start)
        n_in = sum(ex.args[i].size for i in spec.diff)
        n_out = self.got[0][0].size
        if 0 < n_in <= 64 and n_out <= 64:
            self.guard("jacobian", "fd", "contiguous", lambda: self._jacobian(fdb, n_out))

    def _jacobian(self, fdb, n_out):
        spec, ex = self.spec, self.ex
        start = time.perf_counter()
        jac, jac_err = fdb.jacobian(spec, ex)
        rows = []
        for k in range(n_out):
            e = np.zeros(self.got[0][0].shape)
            e.flat[k] = 1.0
            g = self.subject.vjp(spec, _copy(ex), e)[1]
            rows.append(np.concatenate([gi.ravel() for gi in g]))
        analytic = np.array(rows).reshape(jac.shape)
        found = tol.structure(analytic, jac)
        mismatch = found if isinstance(found, str) else None
        err = float(tol.deviation(analytic, jac).max(initial=0.0))
        allowed = 10 * jac_err + 1e-7 * max(tol.magnitude(jac), 1e-300)
        ok = mismatch is None and err <= allowed
        self.add("jacobian", "fd", "contiguous", "pass" if ok else "fail", error=err,
                 tolerance=allowed, oracle_errors={"fd": float(jac_err)},
                 detail=mismatch or "", seconds=time.perf_counter() - start)


def alias_oracle(spec, subject, oracles):
    """The oracle whose gradients the alias check sums: that of the convention the subject
    follows (every element is a tie when one tensor is both arguments), else torch; None
    without either."""
    follows = subject.convention(spec)
    return follows if follows in oracles else "torch" if "torch" in oracles else None


def _magnitude(arrays):
    """Elementwise, the largest finite |value| among ``arrays`` of one shape (0 elsewhere)."""
    out = None
    for a in arrays:
        a = np.abs(np.nan_to_num(np.asarray(a, np.float64), nan=0.0, posinf=0.0, neginf=0.0))
        out = a if out is None or out.shape != a.shape else np.maximum(out, a)
    return out


def _probe_noise(run32, truth):
    """How far float32 moved each element from the truth; 0 (unknown) where the truth is
    outside float32's normal range, where float32 says nothing about rounding elsewhere."""
    t = np.abs(np.asarray(truth, np.float64))
    f32 = np.finfo(np.float32)
    inside = (t >= f32.tiny) & (t <= f32.max)
    return np.where(inside, tol.deviation(run32, truth, np.float32), 0.0)


def _within(actual, truth, allowed, dtype, lowest, signed):
    err, limit, mismatch = tol.compare(actual, truth, allowed, dtype, lowest, signed)
    return mismatch is None and err <= limit


def _sum_to(array, shape):
    """``array`` summed over the axes that broadcasting added to ``shape`` or stretched."""
    lead = array.ndim - len(shape)
    array = array.sum(axis=tuple(range(lead))) if lead else array
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and array.shape[k] != 1)
    return array.sum(axis=stretched, keepdims=True) if stretched else array


def _vjp_terms(ex, outs):
    # An input gradient sums one term per output element that depends on the input: at most
    # the ratio of output to input size (broadcast inputs accumulate over the broadcast axes).
    n_out = outs[0].size
    sizes = [a.size for a in ex.args if isinstance(a, np.ndarray) and a.size]
    return max(1, n_out // max(1, min(sizes, default=1)))


def _oracles_disagree(truth, probe, terms, lowest, signed=False):
    """Why torch's and jax's float64 truths differ beyond rounding, or ''. Rounding is what
    float32 moves the element by (``probe``, with the median as a floor) — far more than any
    float64 rounding — plus a few float64 ulps, and never below sqrt(eps) of the output's
    root-mean-square (cancellation noise of terms larger than the result); a difference of
    convention (relu'(0), a tie, an overflow) is beyond it."""
    if len(truth) < 2:
        return ""
    a, b = list(truth.values())[:2]
    found = tol.structure(a, b, FLOAT64, signed)
    if isinstance(found, str):
        return found
    finite = a[np.isfinite(a)]
    rms = float(np.sqrt(np.mean(finite * finite))) if finite.size else 0.0
    limit = 16 * tol.allowance(a, probe, FLOAT64, terms, factor=1.0) + tol.eps(FLOAT64) ** 0.5 * rms
    if np.any(tol.deviation(a, b) > limit):
        return f"worst relative difference {tol.relative(a, b, FLOAT64, lowest):.3g}"
    return ""


def check_bad_inputs(spec, subject, torch_backend):
    """Each bad input: torch raises (else the spec is wrong); the subject raises its kind of
    torch's exception (``subject.raises_like``) — with a message naming the op where the subject
    says its messages do (``subject.name_the_op``) — and never returns a value."""
    out = []

    def add(description, status, **kw):
        out.append(Outcome(spec.id, "bad_input", "torch", "-", description, status, **kw))

    why = subject.cannot.get("bad_input")
    heard = {}  # description -> {"torch": what torch warned on that input}
    for bad in spec.bad_inputs:
        if why:
            add(bad.description, "not-applicable", detail=f"{subject.name} {why}")
            continue
        ex = bad.make()
        try:
            _Heard(torch_backend, "torch", heard.setdefault(bad.description, {})).forward(spec, ex)
        except bad.raises as exc:
            torch_exc = exc
        except Exception as exc:  # noqa: BLE001
            add(bad.description, "fail", detail=f"torch raises {type(exc).__name__}, not "
                f"{' or '.join(e.__name__ for e in bad.raises)}: the spec is wrong")
            continue
        else:
            add(bad.description, "fail", detail="torch accepts this bad input: the spec is wrong")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                subject.forward(spec, ex)
        except Unsupported as exc:
            add(bad.description, "unsupported", detail=str(exc), argument=exc.argument)
            continue
        except Exception as exc:
            words = bad.mentions or (spec.short,)
            named = not subject.name_the_op or all(w.lower() in str(exc).lower()
                                                   for w in words)
            same_kind = subject.raises_like(exc, bad.raises)
            ok = named and same_kind
            why = [] if ok else [f"raised {type(exc).__name__}: {exc}"]
            if not same_kind:
                why.append(f"torch raises {type(torch_exc).__name__}")
            if not named:
                why.append(f"message does not name {', '.join(words)}")
            add(bad.description, "pass" if ok else "fail", detail="; ".join(why))
            continue
        add(bad.description, "fail", detail=f"returned a value where torch raises "
                                            f"{type(torch_exc).__name__}: {torch_exc}")
    for o in out:
        o.note = _note("torch", heard.get(o.layout, {}))
    return out
