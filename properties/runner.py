"""The runner: draws examples, runs the checks, aggregates report rows.

Each spec runs, in each dtype, on examples from four sources: its curated ``cases`` (every
profile), its large tier (``Profile.large`` examples: real sizes), its small tier (Hypothesis,
``Profile.max_examples`` examples, no two of one structure and at most one zero-size example per
spec and dtype — the float32 and float64 draws differ), and, in ``ci`` and ``deep``, one more
example for each declared region no other example reached (drawn from the small tier, then the
large one, until the region's predicate holds).

One row per (op, check, oracle, dtype, layout) holds how many examples ran, the worst subject
error and the tolerance it was held to, the oracles' own errors, the time, and a status: pass,
fail, xfail (a failure the subject declares a known difference from torch, with its reason;
a row it matches that passes stays pass: the difference depends on the example), unsupported
(declared by the subject or allowed by the run; undeclared it is a failure), not-applicable
(the subject cannot do what the check asks), oracle-disagree, or not-exercised: a row the spec
should produce — a check, a layout, a region — that no example
reached (unexpected in ``ci`` and ``deep``). The first failing example of a row is saved as a
repro file with a one-line command that reruns it.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import traceback
import warnings
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import HypothesisWarning, Unsatisfiable

from oracles import backend
from oracles.subject import load_subject
from properties import models, repro
from properties import tolerance as tol
from properties.checks import NOTE, Outcome, alias_oracle, check_bad_inputs, check_example
from properties.models import WholeModel
from properties.spec import load_registry
from properties.strategies import LAYOUTS, present


@dataclass(frozen=True)
class Profile:
    max_examples: int  # small-tier examples per spec and dtype
    large: int  # large-tier examples per spec and dtype
    second_opinion: int  # float32 small-tier examples (per spec) jax also computes: its jit
    #                      compiles cost ~0.2 s an example, torch's eager calls a millisecond.
    #                      In float64 jax computes every example: there torch's own error is
    #                      measured only by its disagreement with jax
    derandomize: bool  # examples fixed by --seed (else random, as Hypothesis draws them)
    cover: bool  # draw more examples for regions not reached; not-exercised is unexpected
    shrink: bool = False  # stop a spec at its first failure and let Hypothesis shrink it
    database: bool = False


PROFILES = {
    "quick": Profile(max_examples=3, large=1, second_opinion=1, derandomize=True, cover=False),
    "ci": Profile(max_examples=10, large=2, second_opinion=3, derandomize=True, cover=True),
    "deep": Profile(max_examples=150, large=8, second_opinion=150, derandomize=False, cover=True,
                    shrink=True, database=True),
}
RANK = {"pass": 0, "not-applicable": 1, "unsupported": 2, "oracle-disagree": 3,
        "not-exercised": 4, "fail": 5}


def unexpected(status, profile):
    """Whether a row's status fails the run in ``profile`` (a Profile or its name)."""
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    return status == "fail" or (status == "not-exercised" and profile.cover)


@dataclass
class Row:
    op: str
    check: str
    oracle: str
    dtype: str
    layout: str
    examples: int = 0
    status: str = "pass"
    error: float = 0.0
    tolerance: float = 0.0
    oracle_errors: dict = field(default_factory=dict)  # the oracles' own errors and
    relative_error: float = 0.0  # the subject's, at the example least accurate next to them
    seconds: float = 0.0
    detail: str = ""
    repro: str = ""

    def add(self, o):
        self.examples += 1
        self.seconds += o.seconds
        if self.examples == 1 or _accuracy(o) > _accuracy(self):
            self.relative_error, self.oracle_errors = o.relative_error, o.oracle_errors
        worse = RANK[o.status] > RANK[self.status]
        ratio, mine = _ratio(o.error, o.tolerance), _ratio(self.error, self.tolerance)
        kept = self.detail[self.detail.find(NOTE):] if NOTE in self.detail else ""
        if worse or (RANK[o.status] == RANK[self.status] and ratio > mine) or \
                self.examples == 1:
            self.error, self.tolerance = o.error, o.tolerance
            if o.detail or worse:
                self.detail = o.detail
        if worse:
            self.status = o.status
        # what the oracle warned: this example's, else the one already noted
        note = o.note or kept
        if note and NOTE not in self.detail:
            self.detail = f"{self.detail}; {note}" if self.detail else note


def _accuracy(r):
    """The accuracy ratio subject/best oracle of a row or outcome (0 without oracle errors)."""
    best = [e for n, e in r.oracle_errors.items() if n in ("torch", "jax")]
    if not best or r.dtype not in ("float32", "float64"):
        return 0.0
    return float(tol.accuracy_ratio(r.relative_error, min(best), r.dtype))


def _ratio(error, tolerance):
    if error == 0:
        return 0.0
    return error / tolerance if tolerance and np.isfinite(error) else np.inf


class _Stop(Exception):
    pass


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def save_failure(out_dir, row, spec, dtype, example, seed, subject_name, oracles=()):
    """Save the example (and the oracles that computed it) as a repro file; return the one-line
    command that reruns it."""
    folder = os.path.join(out_dir, "failures")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, _safe("__".join([row.op, row.check, row.oracle, row.dtype,
                                                  row.layout])) + ".npz")
    repro.save(path, spec.id, dtype, example, seed, oracles)
    return f"tenshell conform --subject {subject_name} --repro {path}"


load_failure = repro.load


# -- drawing examples -------------------------------------------------------------------------


def _fingerprint(example, values=True):
    """A digest of the example's structure (shapes, dtypes, keyword values) and, with
    ``values``, of its array contents."""
    h = hashlib.blake2b(digest_size=16)
    for a in (*example.args, *example.kwargs.items()):
        for v in (a if isinstance(a, tuple) else (a,)):
            if isinstance(v, np.ndarray):
                h.update(f"{v.dtype}{v.shape}".encode())
                if values or v.dtype == bool:
                    h.update(np.ascontiguousarray(v).tobytes())
            else:
                h.update(repr(v).encode())
    return h.hexdigest()


def _empty(example):
    return any(isinstance(a, np.ndarray) and a.size == 0 for a in example.args)


class _Drawn:
    """What one spec has run in one dtype: for repeats, the zero-size cap, regions reached."""

    def __init__(self, spec):
        self.spec = spec
        self.seen = set()
        self.empty = 0
        self.regions = dict.fromkeys(spec.regions, 0)

    def fresh(self, example, structure=False, curated=False):
        """Whether the example is no repeat and, unless ``curated``, not a second zero-size
        draw."""
        key = _fingerprint(example, values=not structure)
        return key not in self.seen and (curated or not (_empty(example) and self.empty))

    def admit(self, example, structure=False, curated=False):
        """Record the example as run, if it is fresh; whether it was."""
        if not self.fresh(example, structure, curated):
            return False
        self.seen.add(_fingerprint(example, values=not structure))
        self.empty += _empty(example) and not curated
        for name, reached in self.spec.regions.items():
            self.regions[name] += bool(reached(example))
        return True


class _Enough(Exception):
    pass


def sample(strategy, n, seed, accept=None, tries=300, simplest=True):
    """Up to ``n`` examples of ``strategy`` for which ``accept`` (a pure predicate) holds, drawn
    by Hypothesis with ``seed`` (no shrinking), within ``tries`` draws. Hypothesis draws the
    simplest example first whatever the seed: ``simplest=False`` leaves it out."""
    found = []
    if strategy is None or n <= 0:
        return found
    first = [not simplest]

    @settings(max_examples=tries, database=None, phases=[Phase.generate], deadline=None,
              print_blob=False, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example):
        if first[0]:
            first[0] = False
            return
        if accept is None or accept(example):
            found.append(example)
            if len(found) >= n:
                raise _Enough

    with warnings.catch_warnings():  # Hypothesis's note on the repr of a large example
        warnings.simplefilter("ignore", HypothesisWarning)
        try:
            hypothesis_seed(seed)(collect)()
        except (_Enough, Unsatisfiable):
            pass
    return found[:n]


@dataclass
class Run:
    subject: object
    oracles: dict
    profile: Profile
    seed: int = 0
    dtypes: tuple = ("float32", "float64")
    fd: bool = True
    out_dir: str | None = None
    subject_name: str = "impl"
    config: dict | None = None  # make_run's arguments, to rebuild the run in worker processes
    profile_name: str = "ci"

    def spec_rows(self, spec):
        """Every row of one spec: the example checks over both dtypes, its regions, its bad
        inputs, and a not-exercised row for each row it should have produced and did not. A
        model spec's rows come from :mod:`properties.models`.

        torch runs on one thread meanwhile, as in the worker processes: its float32 results
        (how it splits a reduction) and so the rows are the same whatever ``--jobs``,
        ``--shard`` or the machine's cores."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return spec.rows(self) if isinstance(spec, WholeModel) else self._spec_rows(spec)
        finally:
            torch.set_num_threads(threads)

    def _spec_rows(self, spec):
        rows = {}
        saved = set()

        def record(outcomes, dtype, example, seed, oracles=()):
            failed = False
            for o in outcomes:
                if o.status == "unsupported" and not self.subject.declares(spec, o.argument):
                    o.status = "fail"
                    o.detail = ("unsupported, and the subject does not declare it "
                                f"(its adapter's unsupported, a module's __tenshell_unsupported__, "
                                f"or --allow-unsupported): {o.detail}")
                row = rows.get(o.key) or rows.setdefault(o.key, Row(*o.key))
                row.add(o)
                if o.status != "fail":
                    continue
                failed = True
                if self.out_dir and example is not None and o.key not in saved:
                    row.repro = save_failure(self.out_dir, row, spec, dtype, example, seed,
                                             self.subject_name, oracles)
                    saved.add(o.key)
            return failed

        for dtype in self.dtypes:
            drawn = self._examples(spec, dtype, record, rows)
            for name, count in drawn.regions.items():
                row = Row(spec.id, "region", "-", dtype, name, examples=count)
                if not count:
                    row.status, row.detail = "not-exercised", "no example reached this region"
                rows[(spec.id, "region", "-", dtype, name)] = row
        if "torch" in self.oracles:
            record(check_bad_inputs(spec, self.subject, self.oracles["torch"]), None, None, 0)
        lacking = any(r.status == "unsupported" for r in rows.values())
        for key in expected_keys(spec, self):
            if key not in rows:
                # where the subject lacks argument forms, a check only those examples reach
                rows[key] = Row(*key, status="unsupported", detail=(
                    "no example the subject supports exercised this check")) if lacking else \
                    Row(*key, status="not-exercised", detail="no example exercised this check")
        return self._apply_xfail(spec, list(rows.values()))

    def _examples(self, spec, dtype, record, rows):
        """Run the checks on every example of ``spec`` in ``dtype``; the drawn record."""
        profile = self.profile
        drawn = _Drawn(spec)
        # float32 and float64 draw different examples; the same ones run after run
        base = zlib.crc32(f"{self.seed}/{dtype}/{spec.id}".encode()) if profile.derandomize else \
            int(np.random.SeedSequence().entropy % 2**31)

        small = [0]  # small-tier examples run so far

        def check(example, seed, tier="small"):
            # every oracle on curated, large and extra examples and the first small ones; torch
            # alone on the rest (the rows say how many examples each oracle saw)
            oracles = self.oracles
            # (where the subject follows torch's convention: else JAX must see every example,
            # to tell its convention from a failure)
            if tier == "small" and dtype == "float32" and \
                    self.subject.convention(spec) == "torch":
                small[0] += 1
                if small[0] > profile.second_opinion and "torch" in oracles:
                    oracles = {"torch": oracles["torch"]}
            try:
                outcomes = check_example(spec, dtype, example, seed, self.subject,
                                         oracles, fd=self.fd and "fd" in self.oracle_names)
            except Exception as exc:  # a bug of the harness or the spec: a row, not a crash
                outcomes = [Outcome(spec.id, "harness", "-", dtype, "contiguous", "fail",
                                    error=np.inf, detail=f"the checks raised "
                                    f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")]
            return record(outcomes, dtype, example, seed, tuple(oracles))

        for k, (_, example) in enumerate(spec.cases):
            if drawn.admit(example, curated=True):
                check(example, base + k, "case")
        for k, example in enumerate(sample(spec.large, profile.large, base, simplest=False)):
            if drawn.admit(example):
                check(example, base + 101 + k, "large")
        self._small(spec, drawn, check, base)
        if profile.cover:
            # each region, and each layout row, no example reached yet: one more example
            wanted = [(lambda n=name: drawn.regions[n], reached)
                      for name, reached in spec.regions.items()]
            wanted += [(lambda k=(spec.id, c, "self", dtype, layout): k in rows,
                        self._presents(spec, c, layout)) for c, layout in self._layout_rows(spec)]
            for k, (done, reached) in enumerate(wanted):
                if not done():
                    self._cover(spec, drawn, check, base + 211 * (k + 1), reached)
        return drawn

    def _cover(self, spec, drawn, check, seed, reached):
        """Run one more example, from the small tier or else the large, that ``reached``."""
        for tier, strategy in enumerate((spec.examples, spec.large)):
            found = sample(strategy, 1, seed + tier, lambda ex: drawn.fresh(ex) and reached(ex))
            if found and drawn.admit(found[0]):
                check(found[0], seed, "extra")
                return

    def _layout_rows(self, spec):
        """The layout rows of ``spec`` (but those it declares inapplicable)."""
        return [(c, layout) for c, on in (("layout", spec.layouts), ("cotangent", spec.diff))
                if on for layout in LAYOUTS if not _declared_inapplicable(spec, c, layout)]

    def _presents(self, spec, check_name, layout):
        """Whether an example presents ``layout`` to the check: to one of its inputs, or to its
        output's cotangent."""
        oracle = next(iter(self.oracles.values()))

        def reached(example):
            if check_name == "layout":
                arrays = [a for a in example.args if isinstance(a, np.ndarray)]
            else:
                try:
                    with warnings.catch_warnings():  # (its checks note the oracle's warnings)
                        warnings.simplefilter("ignore")
                        arrays = [np.empty(oracle.forward(spec, example)[0].shape)]
                except Exception:  # noqa: BLE001 (an example no oracle runs presents nothing)
                    return False
            return any(present(a, layout) is not None for a in arrays)
        return reached

    def _small(self, spec, drawn, check, base):
        profile = self.profile
        db = (DirectoryBasedExampleDatabase(os.path.join(self.out_dir or ".", ".hypothesis"))
              if profile.database else None)
        phases = [Phase.explicit, Phase.reuse, Phase.generate] + (
            [Phase.shrink] if profile.shrink else [])

        @settings(max_examples=profile.max_examples, database=db, phases=phases, deadline=None,
                  print_blob=False, suppress_health_check=list(HealthCheck))
        @given(spec.examples, st.integers(0, 2**31 - 1))
        def body(example, seed):
            # a repeat of a structure already run, or a second zero-size example, is no new
            # evidence; the shrinker may revisit (it looks for the simplest failure)
            if not drawn.admit(example, structure=True) and not profile.shrink:
                reject()
            if check(example, seed) and profile.shrink:
                raise _Stop()

        body = hypothesis_seed(base)(body)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HypothesisWarning)
            try:
                body()
            except (_Stop, Unsatisfiable):
                pass

    @property
    def oracle_names(self):
        return set(self.oracles) | ({"fd"} if self.fd else set())

    def _apply_xfail(self, spec, rows):
        """The subject's declared differences (``xfail``: (op, check, oracle, dtype, layout)
        patterns, ``*`` for any; the op a name, a spec id or ``*`` and the end of spec ids, as
        ``*[subnormal]``) to the reason: a failing row one matches is xfail, with the reason."""
        xfail = {k: v for k, v in self.subject.xfail.items() if _names(k[0], spec)}
        for row in rows:
            for key, reason in xfail.items():
                if row.status == "fail" and all(k in ("*", v) for k, v in zip(
                        key[1:], (row.check, row.oracle, row.dtype, row.layout))):
                    row.status, row.detail = "xfail", f"{reason} ({row.detail})"
                    break
        return rows


def _names(pattern, spec):
    """Whether an op pattern (a public name, a spec id, ``*`` or ``*`` and the end of spec ids)
    names ``spec``."""
    return pattern in (spec.id, spec.name) or pattern.startswith("*") and spec.id.endswith(
        pattern[1:])


def expected_keys(spec, run_):
    """The row keys every run of ``spec`` must produce, but those the spec declares it cannot
    (``spec.inapplicable``)."""
    if isinstance(spec, WholeModel):
        return spec.keys(run_)
    keys = []
    checks = [("forward", o) for o in run_.oracles] + [("inference", o) for o in run_.oracles]
    checks += [("inference", "self"), ("dtype", "-"), ("layout", "self")]
    if spec.diff:
        checks += [("vjp", o) for o in run_.oracles]
        checks += [("no_grad", "self"), ("retain_graph", "self"), ("reuse", "self")]
        checks += [("requires_grad", "self")] if len(spec.diff) > 1 else []
    name = alias_oracle(spec, run_.subject, run_.oracles)
    if spec.alias and name:
        checks.append(("alias", name))
    if "torch" in run_.oracles and run_.oracles["torch"].takes_out(spec):
        checks.append(("out", "self"))
    for dtype in run_.dtypes:
        keys += [(spec.id, check, oracle, dtype, "contiguous") for check, oracle in checks]
        if run_.fd and spec.fd and spec.diff and dtype == "float64":
            keys += [(spec.id, "fd", "fd", dtype, "contiguous"),
                     (spec.id, "jacobian", "fd", dtype, "contiguous")]
        if spec.layouts:
            keys += [(spec.id, "layout", "self", dtype, layout) for layout in LAYOUTS]
        if spec.diff:
            keys += [(spec.id, "cotangent", "self", dtype, layout) for layout in LAYOUTS]
    if "torch" in run_.oracles:
        keys += [(spec.id, "bad_input", "torch", "-", b.description) for b in spec.bad_inputs]
    return [k for k in keys if not _declared_inapplicable(spec, k[1], k[4])]


def _declared_inapplicable(spec, check, layout):
    return any(all(p in ("*", v) for p, v in zip(pattern, (check, layout)))
               for pattern in spec.inapplicable)


def make_run(subject="impl", oracles=("torch", "jax", "fd"), profile="ci",
             allow_unsupported=(), **kw):
    names = [o for o in oracles if o != "fd"]
    config = {"subject": subject, "oracles": tuple(oracles), "profile": profile,
              "allow_unsupported": tuple(allow_unsupported), **kw}
    return Run(load_subject(subject, allow_unsupported), {n: backend(n) for n in names},
               PROFILES[profile], fd="fd" in oracles, subject_name=subject, config=config,
               profile_name=profile, **kw)


def _specs():
    """Every registered spec by id: op specs and model specs."""
    return {**load_registry(), **models.MODELS}


def select(ops=None, profile=None):
    """The registered op and model specs, filtered by public name or spec id (comma list or
    iterable); without ``ops``, every op spec and the model specs of ``profile`` (all of them
    when None)."""
    registry = _specs()
    if not ops:
        return [s for s in registry.values() if not isinstance(s, WholeModel)
                or profile is None or profile in s.profiles]
    wanted = set(ops.split(",") if isinstance(ops, str) else ops)
    chosen = [s for s in registry.values() if s.id in wanted or s.name in wanted
              or s.short in wanted]
    unknown = wanted - {s.id for s in chosen} - {s.name for s in chosen} - \
        {s.short for s in chosen}
    if unknown:
        raise KeyError(f"no OpSpec named {', '.join(sorted(unknown))}")
    return chosen


def shard(specs, index, count):
    """Shard ``index`` of ``count`` (1-based) of ``specs``: every ``count``-th spec in the run's
    order, from the ``index``-th. Deterministic and the same on every machine; the shards differ
    by one spec at most, and a family's variants (alike in cost) are dealt out across them."""
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: expected 1 <= I <= N")
    return list(specs)[index - 1::count]


_WORKER = None


def _start_worker(config):
    global _WORKER
    _WORKER = make_run(**config)  # (torch's threads: one while a spec runs, Run.spec_rows)


def _timed_rows(spec_id):
    start = time.perf_counter()
    return _WORKER.spec_rows(_specs()[spec_id]), time.perf_counter() - start


def run(run_, specs, progress=None, jobs=1):
    """All rows of ``specs``, in order; ``progress(i, n, spec, rows, seconds)`` after each spec.
    With ``jobs`` > 1 the specs are spread over that many worker processes; a worker that dies
    (a native crash in the subject or an oracle) costs only the spec that killed it, which gets
    a failing ``crash`` row."""
    if jobs > 1 and run_.config and len(specs) > 1:
        return _collect(specs, _in_workers(run_, specs, jobs), progress)
    return _collect(specs, ((run_.spec_rows(s), 0.0) for s in specs), progress, timed=True)


def _pool(config, workers):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: torch's and XLA's thread pools do not survive a fork
    return ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(config,))


def _in_workers(run_, specs, jobs):
    """(rows, seconds) of each spec, in order, from worker processes. When a worker dies every
    unfinished spec of its pool fails with it: those are rerun each in a pool of its own, so
    the one that dies again is the culprit."""
    from concurrent.futures.process import BrokenProcessPool

    pool = _pool(run_.config, jobs)
    futures = [pool.submit(_timed_rows, s.id) for s in specs]
    try:
        for spec, future in zip(specs, futures):
            try:
                yield future.result()
                continue
            except BrokenProcessPool:
                pass
            with _pool(run_.config, 1) as alone:
                try:
                    yield alone.submit(_timed_rows, spec.id).result()
                except BrokenProcessPool:
                    yield [Row(spec.id, "crash", "-", "-", "-", examples=1, status="fail",
                               detail="the process running this spec died (a native crash in "
                                      "the subject or an oracle)")], 0.0
    finally:
        pool.shutdown(cancel_futures=True)


def _collect(specs, results, progress, timed=False):
    rows = []
    start = time.perf_counter()
    for i, (spec, (spec_rows, seconds)) in enumerate(zip(specs, results), 1):
        if timed:
            seconds, start = time.perf_counter() - start, time.perf_counter()
        rows.extend(spec_rows)
        if progress:
            progress(i, len(specs), spec, spec_rows, seconds)
    return rows


def as_dicts(rows):
    return [asdict(r) for r in rows]
