"""Model specs: whole networks checked like ops, their rows in the same report.

A model spec names an architecture in the subject's model namespace (torchvision's names:
impl.models, oracles.torch_models for torch) and how its examples are drawn — architecture
arguments, batch, image size, training or evaluation mode. For each example the torch oracle
builds the model from a seed, its batch-norm parameters and running statistics are randomised
(default ones and zeros would hide a transplant that mixes them up), and that state dict is
loaded into the oracle and the subject by ``state_dict`` keys. One step runs in both on the same
batch; the rows (check, oracle ``torch``) compare

==========  ===============================================================================
logits      the forward's logits (training or evaluation mode, as the example says)
loss        the mean cross-entropy
grad        every parameter's gradient (the row names the worst parameter)
buffers     the batch-norm running statistics and batch counts after the forward
sgd, adam   the parameters after two steps of SGD with momentum and weight decay, and of
            Adam, from the subject's own gradients: torch steps from the same gradients, so
            the row tells the optimizer apart from the gradients it was given
eval        an evaluation-mode forward of the initial state (running statistics in use)
==========  ===============================================================================

The truth is torch's float64 run; torch's float32 run measures how far rounding moves each
element (scaled by the epsilons' ratio for a float64 subject), and each array is compared
normwise against that noise (:class:`Allowance`). When a row fails and the
subject's modules have torch's forward hooks and tensor hooks, the step runs again recording
every module call, and the row names the first diverging module by ``state_dict`` path: in the
forward, the first call (in the order forwards finish, so the innermost first) whose inputs are
within tolerance and whose output is not; in the backward, the first call (in the order its
input gradients complete) whose output gradient is within tolerance and whose input gradient is
not — with the errors of the calls on the way there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oracles.base import NotApplicable
from properties import tolerance as tol

CHECKS = ("logits", "loss", "grad", "buffers", "sgd", "adam", "eval")
OPTIMIZERS = {"sgd": ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}),
              "adam": ("Adam", {"lr": 1e-3})}
FACTOR = 4.0  # the subject's error may be this many times the noise torch's float32 run shows
WAY = 6  # module calls listed before the diverging one


@dataclass(frozen=True)
class ModelExample:
    constructor: str  # a name in the model namespace: "resnet18", "resnet_small"
    kwargs: tuple  # its keyword arguments, as sorted (name, value) pairs
    batch: int
    size: int  # image height and width
    train: bool = True  # training-mode step (batch statistics); else evaluation mode
    seed: int = 0

    @property
    def arguments(self):
        return dict(self.kwargs)

    @property
    def classes(self):
        return self.arguments.get("num_classes", 1000)

    def describe(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs)
        return (f"{self.constructor}({args}) on {self.batch}×{self.arguments.get('in_channels', 3)}"
                f"×{self.size}×{self.size}, {'train' if self.train else 'eval'} mode, "
                f"seed {self.seed}")


def example(constructor, batch, size, train=True, seed=0, **kwargs):
    return ModelExample(constructor, tuple(sorted(kwargs.items())), batch, size, train, seed)


class WholeModel:
    """What model and trajectory specs share: op specs' naming, and rows of their own
    (``keys(run)``: the rows every run produces; ``rows(run)``: a run's rows)."""

    family = "model"
    variant = ""

    @property
    def id(self):
        return self.name

    @property
    def short(self):
        return self.name.rsplit(".", 1)[-1]


@dataclass
class ModelSpec(WholeModel):
    name: str  # "models.resnet_small"
    examples: Any = None  # Hypothesis strategy of ModelExample
    cases: list = field(default_factory=list)  # (name, ModelExample)
    drawn: dict = field(default_factory=dict)  # profile -> examples drawn from ``examples``
    profiles: tuple = ("quick", "ci", "deep")  # the profiles whose full runs include the spec
    regions: dict = field(default_factory=dict)  # name -> (ModelExample -> bool)

    def keys(self, run):
        return [(self.id, check, "torch", dtype, "contiguous") for dtype in run.dtypes
                for check in CHECKS] + [(self.id, "region", "-", "-", r) for r in self.regions]

    def rows(self, run):
        return _model_rows(self, run)


MODELS: dict = {}  # id -> WholeModel


def register(*specs):
    for spec in specs:
        if spec.id in MODELS:
            raise ValueError(f"model spec {spec.id!r} registered twice")
        MODELS[spec.id] = spec


# -- the run ------------------------------------------------------------------------------------


def _model_rows(spec, run):
    """Every row of a model spec in ``run`` (a :class:`properties.runner.Run`)."""
    from properties.runner import Row, sample

    rows = {key: Row(*key) for key in spec.keys(run)}
    torch = run.oracles.get("torch")
    if torch is None:
        return _all(rows, "not-applicable", "model specs need the torch oracle")
    examples = [ex for _, ex in spec.cases]
    wanted = spec.drawn.get(run.profile_name, 0)
    examples += sample(spec.examples, wanted, run.seed, simplest=False)
    if run.profile.cover:  # one more example for each region no example reached
        for reached in spec.regions.values():
            if not any(reached(ex) for ex in examples):
                examples += sample(spec.examples, 1, run.seed + 1 + len(examples),
                                   accept=reached, simplest=False)
    for name, reached in spec.regions.items():
        row = rows[(spec.id, "region", "-", "-", name)]
        row.examples = sum(bool(reached(ex)) for ex in examples)
        if not row.examples:
            row.status, row.detail = "not-exercised", "no example reached this region"
    for ex in examples:
        try:
            outcomes = check_model(ex, run.subject, torch, run.dtypes)
        except NotApplicable as exc:
            return _all(rows, "not-applicable", str(exc), keep_regions=True)
        except Exception as exc:  # a bug of the harness, the oracle or the spec: rows, no crash
            detail = f"the checks raised {type(exc).__name__}: {exc} [{ex.describe()}]"
            outcomes = [(d, c, "fail", np.inf, 0.0, detail, 0.0) for d in run.dtypes
                        for c in CHECKS]
        for dtype, check, status, err, limit, detail, seconds in outcomes:
            row = rows[(spec.id, check, "torch", dtype, "contiguous")]
            _add(row, status, err, limit, f"{detail} [{ex.describe()}]" if detail else "",
                 seconds)
            if status == "fail" and not row.repro:
                row.repro = (f"tenshell conform --subject {run.subject_name} --ops {spec.id} "
                             f"--profile {run.profile_name} --seed {run.seed}")
    return list(rows.values())


def _all(rows, status, detail, keep_regions=False):
    for row in rows.values():
        if not (keep_regions and row.check == "region"):
            row.status, row.detail = status, detail
    return list(rows.values())


def _add(row, status, err, limit, detail, seconds):
    from properties.runner import RANK

    row.examples += 1
    row.seconds += seconds
    worse = RANK[status] > RANK[row.status]
    ratio = err / limit if limit else (np.inf if err else 0.0)
    mine = row.error / row.tolerance if row.tolerance else (np.inf if row.error else 0.0)
    if worse or (status == row.status and ratio > mine) or row.examples == 1:
        row.error, row.tolerance, row.detail = err, limit, detail
    if worse:
        row.status = status


def check_model(ex, subject, torch, dtypes):
    """(dtype, check, status, error, tolerance, detail, seconds) for each check of one example
    in each dtype."""
    rng = np.random.default_rng(ex.seed)
    kwargs = ex.arguments
    state = _randomised(torch.model_state(ex.constructor, kwargs, ex.seed), rng)
    x = rng.standard_normal((ex.batch, kwargs.get("in_channels", 3), ex.size, ex.size))
    y = rng.integers(0, ex.classes, ex.batch)
    truth = torch.model_run(ex.constructor, kwargs, state, x, y, ex.train)
    probe = torch.model_run(ex.constructor, kwargs, _cast(state, np.float32),
                            x.astype(np.float32), y, ex.train)
    out = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        start = time.perf_counter()
        try:
            mine = subject.model_run(ex.constructor, kwargs, _cast(state, dt), x.astype(dt), y,
                                     ex.train)
        except NotApplicable:
            raise
        except Exception as exc:  # the subject failed the step: every check of it fails
            detail = f"the subject raised {type(exc).__name__}: {exc}"
            out += [(dtype, c, "fail", np.inf, 0.0, detail, 0.0) for c in CHECKS]
            continue
        seconds = time.perf_counter() - start
        found = _compare_run(mine, truth, probe, dt)
        for check in ("sgd", "adam"):
            found[check] = _compare_steps(check, ex, kwargs, state, mine, subject, torch, dt)
        if any(err > limit for err, limit, _ in found.values()):
            where = _diverging(ex, kwargs, state, x, y, subject, torch, dt)
            found = {c: (e, t, d + (f"; {where}" if e > t and c not in ("sgd", "adam") else ""))
                     for c, (e, t, d) in found.items()}
        out += [(dtype, c, "pass" if e <= t else "fail", e, t, d, seconds)
                for c, (e, t, d) in found.items()]
    return out


def _randomised(state, rng):
    """``state`` with batch-norm weights, biases, running statistics and batch counts drawn at
    random, so that each has a value of its own."""
    out = dict(state)
    draw = {"running_mean": lambda s: rng.normal(0.0, 0.2, s),
            "running_var": lambda s: rng.uniform(0.5, 1.5, s),
            "num_batches_tracked": lambda s: np.full(s, rng.integers(1, 100))}
    for key, value in state.items():
        part = key.rsplit(".", 1)[-1]
        if part in draw:
            out[key] = draw[part](value.shape).astype(value.dtype)
        elif part in ("weight", "bias") and key.rsplit(".", 1)[0] + ".running_mean" in state:
            out[key] = (rng.uniform(0.5, 1.5, value.shape) if part == "weight" else
                        rng.normal(0.0, 0.2, value.shape)).astype(value.dtype)
    return out


def _cast(state, dtype):
    return {k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in state.items()}


def _relative_noise(truth, probe):
    """How far torch's float32 run is from the truth at its worst element, relative to the
    array's largest value (0 for integers or a structural difference: no rounding to see)."""
    found = tol.structure(probe, truth, np.float32)
    if isinstance(found, str) or found[0] is None:
        return 0.0
    p, t = found
    return float(tol.deviation(p, t, np.float32).max(initial=0.0)) / _size(t, np.float32)


def _size(truth, dtype):
    return max(tol.magnitude(truth), float(np.finfo(dtype).tiny))


class Allowance:
    """Normwise tolerances for the arrays of one run. A model's arrays are sums through many
    layers: an element's rounding error follows the size of the terms, not its own value, so
    each array is compared at its worst element relative to its largest value. The subject may
    be ``FACTOR`` times as far from the truth as torch's float32 run is for the run's noisiest
    array, relative to its size (one array's own noise can be small by luck — a bias of four
    elements — while another implementation's rounding of it is not; the arrays of one network
    share their rounding), plus ``ULPS`` epsilons. In float64 the float32 noise is
    scaled by the epsilons' ratio and counted twice: the truth, torch's own float64 run,
    rounds about as much as the subject's."""

    def __init__(self, pairs, dtype):
        noises = [_relative_noise(t, p) for t, p in pairs if t is not None and p is not None]
        self.typical = max(noises, default=0.0)
        self.dtype = np.dtype(dtype)
        self.scale = 1.0 if self.dtype == np.float32 else \
            2 * tol.eps(self.dtype) / tol.eps(np.float32)

    def measure(self, actual, truth):
        """(error, tolerance, mismatch) of one array, relative to its largest value."""
        if actual is None:
            return np.inf, 0.0, "no value"
        found = tol.structure(actual, truth, self.dtype)
        if isinstance(found, str):
            return np.inf, 0.0, found
        a, t = found
        if a is None:  # equal integers
            return 0.0, 0.0, None
        limit = FACTOR * self.typical * self.scale + tol.ULPS * tol.eps(self.dtype)
        err = float(tol.deviation(a, t, self.dtype).max(initial=0.0)) / _size(t, self.dtype)
        return err, limit, None

    def ratio(self, actual, truth):
        """The error over its tolerance (inf for a structural difference; 0 where neither run
        has the array)."""
        if actual is None and truth is None:
            return 0.0
        err, limit, mismatch = self.measure(actual, truth)
        return np.inf if mismatch else (err / limit if err else 0.0)


def _worst(pairs):
    """(error, tolerance, detail) of the worst of named (name, (error, tolerance, mismatch))."""
    worst, ratio, detail = (0.0, 0.0), -1.0, ""
    for name, (err, limit, mismatch) in pairs:
        r = np.inf if mismatch else (err / limit if limit else (np.inf if err else 0.0))
        if r > ratio:
            worst, ratio = (err, limit), r
            detail = (f"{name or 'output'}: {mismatch}" if mismatch else
                      (f"worst: {name}, " if name else "")
                      + f"relative error {err:.3g} (tolerance {limit:.3g})")
    err, limit = worst
    return (np.inf if ratio == np.inf else err), limit, detail


def _compare_run(mine, truth, probe, dtype):
    def named(run):
        return {"logits": {"": run.logits}, "loss": {"": run.loss}, "grad": run.grads,
                "buffers": run.buffers, "eval": {"": run.eval_logits}}

    mine, truth, probe = named(mine), named(truth), named(probe)
    allowance = Allowance([(t, probe[c].get(n)) for c in truth for n, t in truth[c].items()],
                          dtype)
    found = {}
    for check, arrays in truth.items():
        missing = sorted(set(arrays) - set(mine[check]))
        found[check] = (np.inf, 0.0, f"missing {', '.join(missing)}") if missing else _worst(
            (n, allowance.measure(mine[check][n], t))
            for n, t in arrays.items())
    return found


def _compare_steps(check, ex, kwargs, state, mine, subject, torch, dtype):
    """The subject's parameters after two optimizer steps from its own gradients, against
    torch's steps from the same gradients."""
    optimizer, settings = OPTIMIZERS[check]
    if any(g is None for g in mine.grads.values()):
        return np.inf, 0.0, "a parameter has no gradient"
    grads = {k: np.asarray(g, np.float64) for k, g in mine.grads.items()}
    truth = torch.model_step(ex.constructor, kwargs, state, grads, optimizer, settings)
    probe = torch.model_step(ex.constructor, kwargs, _cast(state, np.float32),
                             _cast(grads, np.float32), optimizer, settings)
    after = subject.model_step(ex.constructor, kwargs, _cast(state, dtype), _cast(grads, dtype),
                               optimizer, settings)
    allowance = Allowance([(truth[n], probe[n]) for n in truth], dtype)
    return _worst((n, allowance.measure(after.get(n), truth[n])) for n in truth)


# -- where the models part ----------------------------------------------------------------------


def _diverging(ex, kwargs, state, x, y, subject, torch, dtype):
    """The first module whose activation or gradient leaves tolerance, as a sentence."""
    mine = subject.model_run(ex.constructor, kwargs, _cast(state, dtype), x.astype(dtype), y,
                             ex.train, record=True)
    if mine.calls is None:
        return "the subject's modules have no hooks: no module named"
    truth, probe = (torch.model_run(ex.constructor, kwargs, _cast(state, dt), x.astype(dt), y,
                                    ex.train, record=True) for dt in (np.float64, np.float32))
    calls = [{(p, n): (inputs, output) for p, n, inputs, output in r.calls}
             for r in (truth, probe)]
    forward = []
    for path, n, inputs, output in mine.calls:
        (t_in, t_out), (p_in, p_out) = (c.get((path, n), ([], None)) for c in calls)
        forward.append(((path, n), list(_aligned(inputs, t_in, p_in)),
                        [(output, t_out, p_out)]))
    backward = []
    for key in mine.order:
        ins = [r.grads_in.get(key) or [] for r in (mine, truth, probe)]
        backward.append((key, [tuple(r.grads_out.get(key) for r in (mine, truth, probe))],
                         [c for c in _aligned(*ins) if c[0] is not None or c[1] is not None]))
    allowance = Allowance([c[1:] for _, before, after in forward + backward
                           for c in before + after], dtype)
    found = [f"first diverging module ({part}): {where}"
             for part, where in (("forward", _first(forward, allowance, "output", "inputs")),
                                 ("backward", _first(backward, allowance, "input gradient",
                                                     "output gradient")))
             if where]
    return "; ".join(found) or "no module call leaves tolerance"


def _aligned(mine, truth, probe):
    """(subject, truth, probe) triples of a call's arrays; None where a run lacks one."""
    n = len(mine)
    truth, probe = (list(r) + [None] * (n - len(r)) if len(r) <= n else list(r)[:n]
                    for r in (truth, probe))
    return zip(mine, truth, probe)


def _first(calls, allowance, after_name, before_name):
    """The first call whose ``before`` arrays (inputs; output gradient) are within tolerance
    and whose ``after`` arrays (output; input gradients) are not, with the calls on the way;
    '' for none. Each array comes as (subject, truth, probe)."""
    way = []
    for (path, n), before, after in calls:
        name = (path or "(model)") + (f" (call {n + 1})" if n else "")
        worst = max((allowance.ratio(*c[:2]) for c in after), default=0.0)
        if worst > 1 and all(allowance.ratio(*c[:2]) <= 1 for c in before):
            shown = ", ".join(way[-WAY:])
            return (f"{name}, {after_name} {worst:.3g}× its tolerance, {before_name} within"
                    + (f" (on the way: {shown})" if shown else ""))
        way.append(f"{name} {worst:.2g}×")
    return ""


# -- trajectories -------------------------------------------------------------------------------

TRAJECTORY_ULPS = 8  # a float32 step may differ by this many ulps where torch's did not
TRAJECTORY_RTOL = 1e-9  # float64 losses agree to this (relative) at every step
ACCURACY_POINTS = 1.0  # final test accuracies within this many percentage points


def load_digits(seed=0, test_size=0.25):
    """scikit-learn's digits (1797 8×8 images, 10 classes; shipped, no download) as float64
    arrays, split into stratified train and test sets by ``seed`` and standardised per pixel by
    the training set: ``(x_train, y_train, x_test, y_test)``, x of shape (N, 64)."""
    from sklearn.datasets import load_digits as digits_of
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    digits = digits_of()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target.astype(np.int64), test_size=test_size,
        stratify=digits.target, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), y_train, scaler.transform(x_test), y_test


def batch_order(n, batch_size, seed):
    """An endless stream of index batches: each epoch a fresh permutation of ``range(n)`` (one
    generator seeded ``seed``, so every library sees the same batches) cut into slices of
    ``batch_size``, the last one shorter."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def judge_trajectory(loss, truth, twin, dtype, accuracy, truth_accuracy, what="the subject"):
    """Whether a training run's per-step ``loss`` follows the ``truth`` (torch's float64 run of
    the same weights and batches). At each step the relative deviation may be ``FACTOR`` times
    the largest deviation so far of ``twin`` — a run of the truth's at rounding level: torch's
    float32 run, or in float64 torch's run on inputs moved by one ulp (a diverging run amplifies
    rounding step by step, and the twin measures by how much) — plus a floor: TRAJECTORY_ULPS
    float32 ulps, or TRAJECTORY_RTOL in float64 (the largest deviation so far: one step can be
    close to the truth by luck). The final test accuracies must agree within ACCURACY_POINTS
    points. A dict: passed, error and tolerance at the worst step, detail, and the curves."""
    loss, truth, twin = (np.asarray(a, np.float64) for a in (loss, truth, twin))
    floor = TRAJECTORY_RTOL if np.dtype(dtype) == np.float64 else \
        TRAJECTORY_ULPS * tol.eps(np.float32)
    twin_error = np.abs(twin - truth) / np.abs(truth)
    tolerances = FACTOR * np.maximum.accumulate(twin_error) + floor
    error = np.abs(loss - truth) / np.abs(truth)
    error = np.where(np.isnan(error), np.inf, error)
    worst = int(np.argmax(error / tolerances))
    out = error > tolerances
    gap = 100 * abs(accuracy - truth_accuracy)
    detail = (f"{len(loss)} SGD steps in {np.dtype(dtype).name}: {what}'s loss deviates from "
              f"torch float64's by {error[worst]:.3g} relative at step {worst + 1} (tolerance "
              f"{tolerances[worst]:.3g})"
              + (f"; {int(out.sum())} of {len(loss)} steps out of tolerance, first at step "
                 f"{int(np.argmax(out)) + 1}" if out.any() else "")
              + f"; final test accuracy {100 * accuracy:.2f} % vs torch's "
                f"{100 * truth_accuracy:.2f} %"
              + (f", {gap:.2f} points apart (more than {ACCURACY_POINTS:g})"
                 if gap > ACCURACY_POINTS else ""))
    return dict(passed=bool(not out.any() and gap <= ACCURACY_POINTS),
                error=float(error[worst]), tolerance=float(tolerances[worst]), detail=detail,
                errors=error.tolist(), twin_errors=twin_error.tolist(),
                tolerances=tolerances.tolist())


@dataclass
class TrajectorySpec(WholeModel):
    """Trajectory conformance: ``steps`` SGD steps (momentum, weight decay, cosine-annealed
    rate) of one architecture on scikit-learn's digits, from the same initial weights over the
    same batches in the subject and in torch, then the test accuracy of both."""

    name: str  # "models.trajectory[resnet_small]"
    constructor: str
    kwargs: dict
    steps: int = 50
    batch_size: int = 32
    seed: int = 0
    settings: dict = field(default_factory=lambda: {"lr": 0.05, "momentum": 0.9,
                                                    "weight_decay": 5e-4})
    profiles: tuple = ("quick", "ci", "deep")

    def keys(self, run):
        return [(self.id, "trajectory", "torch", dtype, "contiguous") for dtype in run.dtypes]

    def rows(self, run):
        from properties.runner import Row

        rows = {key: Row(*key) for key in self.keys(run)}
        torch = run.oracles.get("torch")
        if torch is None:
            return _all(rows, "not-applicable", "trajectory rows need the torch oracle")
        try:
            runs = self.trajectories(run.subject, torch, run.dtypes)
        except NotApplicable as exc:
            return _all(rows, "not-applicable", str(exc))
        except Exception as exc:  # the harness's or the subject's: a failing row, not a crash
            return _all(rows, "fail", f"the trajectory raised {type(exc).__name__}: {exc}")
        for dtype, (result, seconds) in runs.items():
            row = rows[(self.id, "trajectory", "torch", dtype, "contiguous")]
            _add(row, "pass" if result["passed"] else "fail", result["error"],
                 result["tolerance"], result["detail"], seconds)
        return list(rows.values())

    def trajectories(self, subject, torch, dtypes):
        """{dtype: (judge_trajectory's dict, the subject's seconds)}."""
        x, y, x_test, y_test = load_digits(self.seed)
        x, x_test = (a.reshape(len(a), 1, 8, 8) for a in (x, x_test))
        state = torch.model_state(self.constructor, self.kwargs, self.seed)
        batches = [next(order) for order in [batch_order(len(x), self.batch_size, self.seed)]
                   for _ in range(self.steps)]

        def train(backend, dtype, inputs=x):
            dt = np.dtype(dtype)
            return backend.model_train(self.constructor, self.kwargs, _cast(state, dt),
                                       inputs.astype(dt), y, batches, self.settings,
                                       x_test.astype(dt), y_test)

        truth, truth_acc = train(torch, "float64")
        out = {}
        for dtype in dtypes:
            if dtype == "float64":
                signs = np.random.default_rng(self.seed).choice([-np.inf, np.inf], x.shape)
                twin = train(torch, "float64", np.nextafter(x, signs))[0]
            else:
                twin = train(torch, dtype)[0]
            start = time.perf_counter()
            loss, acc = train(subject, dtype)
            seconds = time.perf_counter() - start
            out[dtype] = (dict(judge_trajectory(loss, truth, twin, dtype, acc, truth_acc),
                               loss=loss.tolist(), truth=truth.tolist(), twin=twin.tolist()),
                          seconds)
        return out
