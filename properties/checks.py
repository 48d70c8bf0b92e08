"""The checks, each written once and used by both pytest and ``tenshell conform``.

:func:`check_example` runs every example-level check of one spec on one drawn example in one
dtype and returns :class:`Outcome` records; :func:`check_bad_inputs` runs the spec's bad-input
cases. The runner aggregates outcomes into report rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from oracles.base import Unsupported
from properties import tolerance as tol
from properties.spec import Example
from properties.strategies import LAYOUTS, present

FLOAT64 = np.dtype(np.float64)


@dataclass
class Outcome:
    """One check of one example: the key of its report row, and what was measured."""

    op: str
    check: str  # forward, vjp, fd, jacobian, layout, dtype, alias, bad_input
    oracle: str  # torch, jax, fd, self (the subject's own contiguous run), -
    dtype: str
    layout: str
    status: str  # pass, fail, unsupported, oracle-disagree
    error: float = 0.0  # the subject's max abs error
    tolerance: float = 0.0
    oracle_errors: dict = field(default_factory=dict)
    detail: str = ""
    seconds: float = 0.0

    @property
    def key(self):
        return (self.op, self.check, self.oracle, self.dtype, self.layout)


class _Outcomes(list):
    def add(self, spec, check, oracle, dtype, layout, status, **kw):
        dtype = dtype if dtype == "-" else str(np.dtype(dtype))
        self.append(Outcome(spec.id, check, oracle, dtype, layout, status, **kw))


def _compare(actual, truth, allowed):
    err, mismatch = tol.error(actual, truth)
    return err, mismatch, mismatch is None and err <= allowed


def _cotangent(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _run(backend, spec, example, cot):
    """(outputs, grads) of ``backend``, or (outputs, None) for an op without differentiable
    arguments; raises Unsupported."""
    if not spec.diff:
        return backend.forward(spec, example), None
    return backend.vjp(spec, example, cot)


def check_example(spec, dtype, example, seed, subject, oracles, layouts=LAYOUTS, fd=True):
    """Every example-level check of ``spec`` on ``example`` in ``dtype``; a list of Outcomes."""
    with np.errstate(all="ignore"):  # IEEE specials are the data here, not a warning
        return _check_example(spec, dtype, example, seed, subject, oracles, layouts, fd)


def _check_example(spec, dtype, example, seed, subject, oracles, layouts, fd):
    out = _Outcomes()
    dtype = np.dtype(dtype)
    ex = example.cast(dtype, spec.diff)
    ex64 = ex.cast(FLOAT64, spec.diff)
    start = time.perf_counter()
    shape = None
    for backend in oracles.values():
        try:
            shape = backend.forward(spec, ex64)[0].shape
            break
        except Unsupported:
            continue
    if shape is None:
        raise RuntimeError(f"{spec.name}: no oracle can compute this op")
    cot = _cotangent(shape, dtype, seed)
    ref = {}  # oracle -> (its run in dtype, its float64 run: the truth)
    for name, backend in oracles.items():
        try:
            run = _run(backend, spec, ex, cot)
            ref[name] = (run, run if dtype == FLOAT64 else
                         _run(backend, spec, ex64, cot.astype(FLOAT64)))
        except Unsupported:
            continue
    # The subject gets copies, compared with the originals afterwards: an op must not write
    # into its inputs.
    mine = Example(tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in ex.args),
                   ex.kwargs)
    stage = "forward"
    try:
        subject.forward(spec, mine)
        stage = "vjp"
        got = _run(subject, spec, mine, cot)
    except Unsupported as exc:
        for check in ("forward", "vjp"):
            for name in ref:
                out.add(spec, check, name, dtype, "contiguous", "unsupported", detail=str(exc))
        return out
    except Exception as exc:  # the subject raised on a valid input
        for name in ref:
            out.add(spec, stage, name, dtype, "contiguous", "fail", error=np.inf,
                    detail=f"{stage} raised {type(exc).__name__}: {exc}")
        return out
    elapsed = time.perf_counter() - start
    mutated = [f"argument {i} was modified in place" for i, (a, b) in
               enumerate(zip(ex.args, mine.args)) if isinstance(a, np.ndarray)
               and a.tobytes() != b.tobytes()]
    out.add(spec, "layout", "self", dtype, "contiguous", "fail" if mutated else "pass",
            detail="; ".join(mutated))
    _accuracy(out, spec, dtype, ex, got, ref, elapsed)
    _dtypes(out, spec, dtype, ex, got)
    if fd and spec.fd and spec.diff and dtype == FLOAT64:
        _finite_differences(out, spec, ex, got, cot, subject, seed)
    if spec.layouts:
        for layout in layouts:
            _layout(out, spec, dtype, ex, cot, subject, layout, got)
    if spec.alias:
        _alias(out, spec, dtype, ex, cot, subject, oracles)
    return out


def _accuracy(out, spec, dtype, ex, got, ref, elapsed):
    """forward and vjp rows against each oracle, with the derived tolerance."""
    (outs, grads) = got
    parts = [("forward", lambda r: r[0])]
    if grads is not None:
        parts.append(("vjp", lambda r: r[1]))
    for check, pick in parts:
        subj = pick(got)
        for k in range(len(subj)):
            truth = {n: pick(r[1])[k] for n, r in ref.items()}
            scale = tol.magnitude(*truth.values(), *[a for a in ex.args
                                                     if isinstance(a, np.ndarray)])
            accum = spec.accumulation(ex) if check == "forward" else max(
                spec.accumulation(ex), _vjp_accumulation(ex, outs))
            disagree = _oracles_disagree(truth, scale, accum)
            own = {n: tol.error(pick(r[0])[k], truth[n])[0] for n, r in ref.items()}
            if disagree:
                own = {}  # the floor alone: a disagreement is no measure of rounding
            elif dtype == FLOAT64 and len(truth) > 1:
                # In float64 the oracles' own error is their disagreement with each other.
                a, b = list(truth.values())[:2]
                own = dict.fromkeys(truth, tol.error(a, b)[0])
            allowed = tol.tolerance(dtype, own.values(), scale, accum, spec.tolerance_factor)
            for name in truth:
                err, mismatch, ok = _compare(subj[k], truth[name], allowed)
                status = "pass" if ok else "fail"
                detail = mismatch or ("" if ok else f"error {err:.3g} > tolerance {allowed:.3g}")
                if disagree:
                    conv_ok = _compare(subj[k], truth[spec.convention], allowed)[2] \
                        if spec.convention in truth else ok
                    status = "oracle-disagree" if conv_ok else "fail"
                    detail = (f"torch and jax disagree ({disagree}); subject follows "
                              f"{spec.convention}: {conv_ok}")
                out.add(spec, check, name, dtype, "contiguous", status, error=err,
                        tolerance=allowed, oracle_errors=own, detail=detail, seconds=elapsed)


def _vjp_accumulation(ex, outs):
    # An input gradient sums one term per output element that depends on the input: at most
    # the ratio of output to input size (broadcast inputs accumulate over the broadcast axes).
    n_out = outs[0].size
    sizes = [a.size for a in ex.args if isinstance(a, np.ndarray) and a.size]
    return max(1, n_out // max(1, min(sizes, default=1)))


def _oracles_disagree(truth, scale, accum):
    if len(truth) < 2:
        return ""
    (na, a), (nb, b) = list(truth.items())[:2]
    err, mismatch = tol.error(a, b)
    limit = tol.tolerance(FLOAT64, [], scale, accum) * 16
    if mismatch or err > limit:
        return mismatch or f"max abs difference {err:.3g}"
    return ""


def _dtypes(out, spec, dtype, ex, got):
    outs, grads = got
    problems = []
    if outs[0].dtype.kind == "f" and outs[0].dtype != dtype:
        problems.append(f"output is {outs[0].dtype}")
    for i, g in zip(spec.diff, grads or ()):
        if g.dtype != dtype:
            problems.append(f"gradient of argument {i} is {g.dtype}")
    out.add(spec, "dtype", "-", dtype, "contiguous", "fail" if problems else "pass",
            detail="; ".join(problems) + (f" for {dtype} inputs" if problems else ""))


def _finite_differences(out, spec, ex, got, cot, subject, seed):
    """⟨u, VJP(v)⟩ against ⟨v, JVP_fd(u)⟩ along a random direction u; the full Jacobian too
    when the differentiable inputs have at most 64 elements."""
    from oracles.fd import FiniteDifferences

    fdb = FiniteDifferences(subject)
    _, grads = got
    wrong = [f"gradient of argument {i} has shape {g.shape}, expected {ex.args[i].shape}"
             for i, g in zip(spec.diff, grads) if g.shape != ex.args[i].shape]
    if wrong:
        out.add(spec, "fd", "fd", FLOAT64, "contiguous", "fail", error=np.inf,
                detail="; ".join(wrong))
        return
    rng = np.random.default_rng(seed + 1)
    u = [rng.standard_normal(ex.args[i].shape) for i in spec.diff]
    start = time.perf_counter()
    try:
        jvp, jvp_err = fdb.jvp(spec, ex, u)
    except Exception as exc:  # the subject's forward raised on a perturbed input
        out.add(spec, "fd", "fd", FLOAT64, "contiguous", "fail", error=np.inf,
                detail=f"forward raised {type(exc).__name__}: {exc}")
        return
    lhs = sum(float(np.vdot(ui, gi)) for ui, gi in zip(u, grads))
    rhs = float(np.vdot(cot, jvp))
    scale = max(abs(lhs), abs(rhs), float(np.abs(cot).sum() * np.abs(jvp).max(initial=0.0)))
    allowed = 10 * float(np.abs(cot).sum()) * jvp_err + 1e-10 * max(scale, 1e-300)
    err = abs(lhs - rhs)
    ok = err <= allowed or (np.isnan(lhs) and np.isnan(rhs))
    out.add(spec, "fd", "fd", FLOAT64, "contiguous", "pass" if ok else "fail", error=err,
            tolerance=allowed, oracle_errors={"fd": float(jvp_err)},
            detail="" if ok else f"<u, vjp(v)> = {lhs:.10g} but <v, jvp_fd(u)> = {rhs:.10g}",
            seconds=time.perf_counter() - start)
    n_in = sum(ex.args[i].size for i in spec.diff)
    if 0 < n_in <= 64 and got[0][0].size <= 64:
        start = time.perf_counter()
        jac, jac_err = fdb.jacobian(spec, ex)
        rows = []
        for k in range(got[0][0].size):
            e = np.zeros(got[0][0].shape)
            e.flat[k] = 1.0
            g = subject.vjp(spec, ex, e)[1]
            rows.append(np.concatenate([gi.ravel() for gi in g]))
        analytic = np.array(rows).reshape(jac.shape)
        err, mismatch = tol.error(analytic, jac)
        allowed = 10 * jac_err + 1e-7 * max(tol.magnitude(jac), 1e-300)
        ok = mismatch is None and err <= allowed
        out.add(spec, "jacobian", "fd", FLOAT64, "contiguous", "pass" if ok else "fail",
                error=err, tolerance=allowed, oracle_errors={"fd": float(jac_err)},
                detail=mismatch or "", seconds=time.perf_counter() - start)


def _layout(out, spec, dtype, ex, cot, subject, layout, got):
    """The subject on strided views gives its contiguous result; the inputs stay untouched."""
    presented = [present(a, layout) if isinstance(a, np.ndarray) else None for a in ex.args]
    if all(p is None for p in presented):
        return
    start = time.perf_counter()
    contiguous = Example(tuple(p[2] if p else a for p, a in zip(presented, ex.args)), ex.kwargs)
    views = Example(tuple(p[0] if p else a for p, a in zip(presented, ex.args)), ex.kwargs)
    before = [p[1].tobytes() if p else None for p in presented]
    try:
        want = got if layout != "broadcast" else _run(subject, spec, contiguous, cot)
        have = _run(subject, spec, views, cot)
    except Exception as exc:
        out.add(spec, "layout", "self", dtype, layout, "fail", error=np.inf,
                detail=f"raised {type(exc).__name__}: {exc}")
        return
    problems = [f"argument {i} was modified in place" for i, (p, b) in
                enumerate(zip(presented, before)) if p is not None and p[1].tobytes() != b]
    worst = 0.0
    pairs = list(zip(want[0], have[0])) + list(zip(want[1] or (), have[1] or ()))
    for w, h in pairs:
        if spec.exact_layouts:
            same = w.shape == h.shape and w.dtype == h.dtype and np.array_equal(
                w, h, equal_nan=w.dtype.kind == "f")
            if not same:
                err, mismatch = tol.error(h, w)
                worst = max(worst, err)
                problems.append(mismatch or f"differs from the contiguous run by {err:.3g}")
        else:
            err, mismatch = tol.error(h, w)
            # rounding scales with the terms summed, not just the result (which may cancel)
            scale = tol.magnitude(w, *[a for a in contiguous.args if isinstance(a, np.ndarray)])
            allowed = tol.tolerance(dtype, [], scale, spec.accumulation(ex))
            worst = max(worst, err)
            if mismatch or err > allowed:
                problems.append(mismatch or f"differs from the contiguous run by {err:.3g}")
    out.add(spec, "layout", "self", dtype, layout, "fail" if problems else "pass", error=worst,
            detail="; ".join(problems), seconds=time.perf_counter() - start)


def _alias(out, spec, dtype, ex, cot, subject, oracles):
    """One tensor passed as both differentiable arguments: gradients of both uses accumulate.

    The truth is the sum of torch's gradients for two separate leaves holding the same values;
    their magnitudes set the tolerance's scale (the sum itself may cancel, as in x / x)."""
    i, j = spec.diff[:2]
    if ex.args[i].shape != ex.args[j].shape:
        return
    args = list(ex.args)
    args[j] = args[i]
    aliased = Example(tuple(args), ex.kwargs)
    _, grads = oracles["torch"].vjp(spec, aliased, cot)
    gi, gj = grads[0], grads[1]  # spec.diff[:2] are the first two gradients
    want = gi + gj
    st = subject.tensor(args[i], True)
    sargs = [st if k in (i, j) else (subject.tensor(a) if isinstance(a, np.ndarray) else a)
             for k, a in enumerate(args)]
    subject.vjp(spec, aliased, cot, args=sargs)
    have = np.zeros_like(args[i]) if st.grad is None else np.asarray(st.grad.detach().numpy())
    err, mismatch = tol.error(have, want)
    allowed = tol.tolerance(dtype, [], tol.magnitude(gi, gj), 2)
    ok = mismatch is None and err <= allowed
    out.add(spec, "alias", "torch", dtype, "contiguous", "pass" if ok else "fail", error=err,
            tolerance=allowed, detail=mismatch or ("" if ok else "gradients of the two uses "
                                                   "of one tensor are not accumulated"))


def check_bad_inputs(spec, subject, torch_backend):
    """Each bad input: torch raises (else the spec is wrong); the subject raises the same kind of
    exception with a message naming the op, and never returns a value."""
    out = _Outcomes()
    for bad in spec.bad_inputs:
        ex = bad.make()
        try:
            torch_backend.forward(spec, ex)
        except bad.raises as exc:
            torch_exc = exc
        else:
            raise AssertionError(f"OpSpec {spec.name}: torch accepts bad input "
                                 f"'{bad.description}'; fix the spec")
        try:
            subject.forward(spec, ex)
        except Unsupported as exc:
            out.add(spec, "bad_input", "torch", "-", bad.description, "unsupported",
                    detail=str(exc))
            continue
        except Exception as exc:
            words = bad.mentions or (spec.short,)
            named = all(w.lower() in str(exc).lower() for w in words)
            same_kind = isinstance(exc, bad.raises)
            ok = named and same_kind
            why = [] if ok else [f"raised {type(exc).__name__}: {exc}"]
            if not same_kind:
                why.append(f"torch raises {type(torch_exc).__name__}")
            if not named:
                why.append(f"message does not name {', '.join(words)}")
            out.add(spec, "bad_input", "torch", "-", bad.description, "pass" if ok else "fail",
                    detail="; ".join(why))
            continue
        out.add(spec, "bad_input", "torch", "-", bad.description, "fail",
                detail=f"returned a value where torch raises {type(torch_exc).__name__}: "
                       f"{torch_exc}")
    return out
