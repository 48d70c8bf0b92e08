"""The runner: draws examples with Hypothesis, runs the checks, aggregates report rows.

One row per (op, check, oracle, dtype, layout) holds how many examples ran, the worst subject
error and the tolerance it was held to, the oracles' own errors, the time, and a status: pass,
fail, xfail (a failure the spec expects, with its reason), xpass (an expected failure that did
not happen: unexpected), unsupported, or oracle-disagree. The first failing example of a row is
saved as ``.npz`` with a one-line command that reruns it.
"""

from __future__ import annotations

import os
import pickle
import re
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from oracles import backend
from oracles.subject import load_subject
from properties.checks import check_bad_inputs, check_example
from properties.spec import Example, load_registry


@dataclass(frozen=True)
class Profile:
    max_examples: int
    derandomize: bool  # examples fixed by --seed (else random, as Hypothesis draws them)
    shrink: bool = False  # stop a spec at its first failure and let Hypothesis shrink it
    database: bool = False


PROFILES = {
    "quick": Profile(max_examples=4, derandomize=True),
    "ci": Profile(max_examples=15, derandomize=True),
    "deep": Profile(max_examples=150, derandomize=False, shrink=True, database=True),
}
UNEXPECTED = ("fail", "xpass")


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
    oracle_errors: dict = field(default_factory=dict)
    seconds: float = 0.0
    detail: str = ""
    repro: str = ""

    def add(self, o):
        self.examples += 1
        self.seconds += o.seconds
        rank = {"pass": 0, "unsupported": 1, "oracle-disagree": 2, "fail": 3}
        worse = rank[o.status] > rank[self.status]
        ratio, mine = _ratio(o.error, o.tolerance), _ratio(self.error, self.tolerance)
        if worse or (rank[o.status] == rank[self.status] and ratio > mine) or self.examples == 1:
            self.error, self.tolerance, self.oracle_errors = o.error, o.tolerance, o.oracle_errors
            if o.detail or worse:
                self.detail = o.detail
        if worse:
            self.status = o.status


def _ratio(error, tolerance):
    if error == 0:
        return 0.0
    return error / tolerance if tolerance and np.isfinite(error) else np.inf


class _Stop(Exception):
    pass


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def save_failure(out_dir, row, spec, dtype, example, seed, subject_name):
    """Save the example as ``.npz``; return the one-line command that reruns it."""
    folder = os.path.join(out_dir, "failures")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, _safe("__".join([row.op, row.check, row.oracle, row.dtype,
                                                  row.layout])) + ".npz")
    arrays = {f"arg{i}": a for i, a in enumerate(example.args) if isinstance(a, np.ndarray)}
    meta = {"spec": spec.id, "dtype": dtype, "seed": seed, "kwargs": example.kwargs,
            "args": [None if isinstance(a, np.ndarray) else a for a in example.args]}
    np.savez(path, meta=np.frombuffer(pickle.dumps(meta), np.uint8), **arrays)
    return f"tenshell conform --subject {subject_name} --repro {path}"


def load_failure(path):
    """(spec id, dtype, Example, seed) from a file written by :func:`save_failure`."""
    data = np.load(path)
    meta = pickle.loads(data["meta"].tobytes())
    args = tuple(data[f"arg{i}"] if a is None else a for i, a in enumerate(meta["args"]))
    return meta["spec"], meta["dtype"], Example(args, meta["kwargs"]), meta["seed"]


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

    def spec_rows(self, spec):
        """Every row of one spec: the example checks over both dtypes, and its bad inputs."""
        rows = {}
        saved = set()

        def record(outcomes, dtype, example, seed):
            failed = False
            for o in outcomes:
                row = rows.get(o.key) or rows.setdefault(o.key, Row(*o.key))
                row.add(o)
                if o.status != "fail":
                    continue
                failed = True
                if self.out_dir and example is not None and o.key not in saved:
                    row.repro = save_failure(self.out_dir, row, spec, dtype, example, seed,
                                             self.subject_name)
                    saved.add(o.key)
            return failed

        for dtype in self.dtypes:
            self._examples(spec, dtype, record)
        if "torch" in self.oracles:
            record(check_bad_inputs(spec, self.subject, self.oracles["torch"]), None, None, 0)
        return self._apply_xfail(spec, list(rows.values()))

    def _examples(self, spec, dtype, record):
        profile = self.profile
        db = (DirectoryBasedExampleDatabase(os.path.join(self.out_dir or ".", ".hypothesis"))
              if profile.database else None)
        phases = [Phase.explicit, Phase.reuse, Phase.generate] + (
            [Phase.shrink] if profile.shrink else [])

        @settings(max_examples=profile.max_examples, database=db, phases=phases, deadline=None,
                  print_blob=False, suppress_health_check=list(HealthCheck))
        @given(spec.examples, st.integers(0, 2**31 - 1))
        def body(example, seed):
            outcomes = check_example(spec, dtype, example, seed, self.subject, self.oracles,
                                     fd=self.fd and "fd" in self.oracle_names)
            if record(outcomes, dtype, example, seed) and profile.shrink:
                raise _Stop()

        if profile.derandomize:  # the same examples for the same seed, run after run
            body = hypothesis_seed(self.seed)(body)
        try:
            body()
        except _Stop:
            pass

    @property
    def oracle_names(self):
        return set(self.oracles) | ({"fd"} if self.fd else set())

    def _apply_xfail(self, spec, rows):
        matched = set()
        for row in rows:
            reason = spec.xfail.get((row.check, row.oracle))
            if reason is None:
                continue
            matched.add((row.check, row.oracle))
            if row.status == "fail":
                row.status, row.detail = "xfail", f"{reason} ({row.detail})"
            elif row.status == "pass":
                row.status, row.detail = "xpass", f"expected to fail: {reason}"
        for key in set(spec.xfail) - matched:
            rows.append(Row(spec.id, key[0], key[1], "-", "-", status="fail",
                            detail=f"xfail {key} matches no row: {spec.xfail[key]}"))
        return rows


def expected_keys(spec, run_):
    """The row keys a run of ``spec`` can produce (some only when a drawn example allows, such
    as the full Jacobian of small inputs or a layout that needs two dimensions)."""
    from properties.strategies import LAYOUTS

    keys = []
    for dtype in run_.dtypes:
        for oracle in run_.oracles:
            keys.append((spec.id, "forward", oracle, dtype, "contiguous"))
            if spec.diff:
                keys.append((spec.id, "vjp", oracle, dtype, "contiguous"))
        keys += [(spec.id, "dtype", "-", dtype, "contiguous"),
                 (spec.id, "layout", "self", dtype, "contiguous")]
        if run_.fd and spec.fd and spec.diff and dtype == "float64":
            keys += [(spec.id, "fd", "fd", dtype, "contiguous"),
                     (spec.id, "jacobian", "fd", dtype, "contiguous")]
        if spec.layouts:
            keys += [(spec.id, "layout", "self", dtype, layout) for layout in LAYOUTS]
        if spec.alias and "torch" in run_.oracles:
            keys.append((spec.id, "alias", "torch", dtype, "contiguous"))
    if "torch" in run_.oracles:
        keys += [(spec.id, "bad_input", "torch", "-", b.description) for b in spec.bad_inputs]
    return keys


def make_run(subject="impl", oracles=("torch", "jax", "fd"), profile="ci", **kw):
    names = [o for o in oracles if o != "fd"]
    config = {"subject": subject, "oracles": tuple(oracles), "profile": profile, **kw}
    return Run(load_subject(subject), {n: backend(n) for n in names}, PROFILES[profile],
               fd="fd" in oracles, subject_name=subject, config=config, **kw)


def select(ops=None):
    """The registered specs, filtered by public name or spec id (comma list or iterable)."""
    registry = load_registry()
    if not ops:
        return list(registry.values())
    wanted = set(ops.split(",") if isinstance(ops, str) else ops)
    chosen = [s for s in registry.values() if s.id in wanted or s.name in wanted
              or s.short in wanted]
    unknown = wanted - {s.id for s in chosen} - {s.name for s in chosen} - \
        {s.short for s in chosen}
    if unknown:
        raise KeyError(f"no OpSpec named {', '.join(sorted(unknown))}")
    return chosen


_WORKER = None


def _start_worker(config):
    global _WORKER
    import torch

    torch.set_num_threads(1)  # the processes share the cores; one thread each
    _WORKER = make_run(**config)


def _timed_rows(spec_id):
    start = time.perf_counter()
    return _WORKER.spec_rows(load_registry()[spec_id]), time.perf_counter() - start


def run(run_, specs, progress=None, jobs=1):
    """All rows of ``specs``, in order; ``progress(i, n, spec, rows, seconds)`` after each spec.
    With ``jobs`` > 1 the specs are spread over that many worker processes."""
    if jobs > 1 and run_.config and len(specs) > 1:
        import multiprocessing

        # spawn, not fork: torch's and XLA's thread pools do not survive a fork
        pool = multiprocessing.get_context("spawn").Pool(jobs, _start_worker, (run_.config,))
        with pool:
            results = pool.imap(_timed_rows, [s.id for s in specs])
            return _collect(specs, results, progress)
    return _collect(specs, ((run_.spec_rows(s), 0.0) for s in specs), progress, timed=True)


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
