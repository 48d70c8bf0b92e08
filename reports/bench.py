"""Timing report: the subject against torch, JAX and MyGrad in one run, forward and backward
timed apart, as ratios with their spread.

Op benchmarks come from the registry: every OpSpec with ``bench_shapes`` is timed through each
library's adapter (:meth:`oracles.base.Backend.stepper`): a recording forward, then the
backward of its output for a fixed random cotangent, each timed on its own — torch and MyGrad
eagerly, JAX as two jit-compiled functions (the forward returns the output and its pullback,
the backward applies the pullback; compile time is reported apart). Inputs are built once per
library, so only the op and its backward are timed. One more benchmark times the engine
itself: 1,000 tiny elementwise ops. Model benchmarks time a whole network's training step in
each library that has the architecture — the forward with the loss, then the backward with the
optimizer step — and the peak memory of one (see "model benchmarks").

Each benchmark warms every library up, then takes interleaved samples (the libraries' order
rotates from one round to the next, with a pause between libraries) until the spread settles
(:class:`Policy`). Ratios are taken per round, so drift hits both sides of each one alike.
Thread counts are equal (torch's intra-op threads, the subject's own, NumPy's BLAS pool, and
XLA's where its flags can say so). Convolutions and matrix products also report GFLOP/s against
the machine's measured float32 GEMM peak; size sweeps fit how time grows with work per family.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Callable  # noqa: UP035

import numpy as np

from oracles.base import Example, NotApplicable, Step, Unsupported
from reports.atomic import write_bytes, write_text

SCHEMA = "tenshell-timing/1"
PHASES = ("forward", "backward", "total")


# Seconds to wait before timing the next library: the previous one's idle threads may still be
# spinning on the cores (OpenBLAS's workers spin for 2**28 cycles, about 0.1 s, after a call;
# libgomp's, torch's OpenMP, for up to milliseconds), and would be timed as the next one's cost.
SETTLE = 0.15


@dataclass(frozen=True)
class Policy:
    """How many samples a benchmark takes: at least ``repeats`` rounds (every library once per
    round), then more until the largest relative interquartile range of the libraries' totals
    is at most ``spread`` or has shrunk by less than a tenth over the last ``window`` rounds
    (from ``repeats`` rounds on), ``max_samples`` rounds are taken or ``budget`` seconds have
    passed. A sample is enough forward-backward pairs to last ``min_seconds``, after a pause
    of ``settle`` seconds."""

    repeats: int = 5
    max_samples: int = 30
    spread: float = 0.05
    window: int = 3
    budget: float = 20.0
    min_seconds: float = 0.05
    settle: float = SETTLE


QUICK_BUDGET = 5.0  # seconds per benchmark of --quick after its minimum rounds
SWEEP_POLICY = Policy(repeats=3, max_samples=3, min_seconds=0.02)


@dataclass
class Benchmark:
    name: str
    family: str
    description: str
    setups: dict  # library -> () -> Step
    target: float  # the largest acceptable subject/torch total time ratio
    flops: dict | None = None  # "forward", "backward" -> floating-point operations per call
    memory: dict | None = None  # library -> () -> peak resident bytes of one unit of work
    memory_target: float | None = None  # the largest acceptable subject/torch peak ratio


@dataclass
class Result:
    name: str
    family: str
    description: str
    target: float
    seconds: dict = field(default_factory=dict)  # library -> phase -> {median, q1, q3, n}
    ratios: dict = field(default_factory=dict)  # library -> phase -> {median, q1, q3} of the
    #                                             per-round subject/library time ratios
    compile_seconds: dict = field(default_factory=dict)  # library -> seconds (where nonzero)
    flops: dict | None = None
    gflops: dict = field(default_factory=dict)  # library -> phase -> GFLOP/s, and "of_peak"
    meets_target: bool | None = None
    memory_target: float | None = None
    peak_rss: dict = field(default_factory=dict)  # library -> peak resident bytes
    memory_ratio: float | None = None  # the subject's peak over torch's


# -- op benchmarks from the registry ----------------------------------------------------------


def cotangent(spec, ex):
    """(A fixed random float32 cotangent for the first output of ``spec`` on ``ex``, that
    output's shape)."""
    from oracles import backend

    out = backend("torch").forward(spec, ex)[0]
    return np.random.default_rng(0).standard_normal(out.shape).astype(np.float32), out.shape


def flops(spec, ex, out_shape):
    """Floating-point operations of ``spec`` on ``ex`` (output ``out_shape``), forward and
    backward, for convolutions and matrix products (None for other ops): a multiply-add per
    weight and output element is 2 operations; the backward does it again for each of input
    and weight that takes a gradient (the bias's is not counted)."""
    if spec.name == "nn.functional.conv2d":
        per_output = math.prod(ex.args[1].shape[1:])  # Cin/groups * kh * kw
    elif spec.name in ("mm", "matmul", "bmm", "nn.functional.linear"):
        per_output = ex.args[0].shape[-1]
    else:
        return None
    forward = 2 * math.prod(out_shape) * per_output
    return {"forward": forward, "backward": forward * len({0, 1} & set(spec.diff))}


def op_benchmark(name, spec, ex, libraries, description, target):
    """A benchmark of ``spec`` on ``ex`` (float64; timed in float32) on ``libraries`` (name ->
    backend, the subject's name "subject")."""
    ex = ex.cast(np.float32, spec.diff)
    cot, shape = cotangent(spec, ex)
    return Benchmark(name, spec.family, description,
                     {lib: partial(b.stepper, spec, ex, cot) for lib, b in libraries.items()},
                     target, flops(spec, ex, shape))


def op_benchmarks(specs, libraries, wanted=lambda name: True):
    """A benchmark per ``bench_shapes`` entry of ``specs`` whose name is ``wanted``."""
    return [op_benchmark(f"{spec.id} {label}", spec, make(), libraries,
                         f"{spec.id}, {label}, float32", spec.bench_target)
            for spec in specs for label, make in spec.bench_shapes
            if wanted(f"{spec.id} {label}")]


# -- the engine's own overhead ----------------------------------------------------------------


def _chain(fn, x):
    # 1,000 small elementwise ops: per-op graph overhead, not arithmetic
    y = x
    for _ in range(250):
        y = fn(y * 1.0001 + x) - 0.5
    return y


def engine_benchmark(libraries):
    from properties.spec import OpSpec

    # an op spec of its own: tanh, called through the chain
    chain = OpSpec("tanh", "engine", "chain", call=_chain, jax=lambda J, x: _chain(J.jnp.tanh, x))
    ex = Example((np.random.default_rng(0).standard_normal(16),))
    return op_benchmark("engine_chain_1000", chain, ex, libraries,
                        "1,000 elementwise ops on 16-element tensors", 3.0)


# -- model benchmarks -------------------------------------------------------------------------
# Models are not op specs: a model benchmark builds one architecture in each library that has it
# (its backend's ``models``: impl.models, oracles.torch_models, torchvision's names) and times a
# training step on a fixed random batch — forward with cross-entropy, then backward and for a
# train step SGD with momentum. A memory benchmark also takes the peak resident set of that
# work, measured for each library in a fresh process of its own that imports it alone (a
# process's peak cannot be reset, and torch's libraries alone take hundreds of MB).


@dataclass(frozen=True)
class ModelWork:
    constructor: str  # a function of the library's ``models``
    kwargs: tuple  # its keyword arguments, as (name, value) pairs
    batch: int
    size: int  # images are 3 x size x size, float32
    classes: int
    optimizer: bool  # an SGD step (lr 0.01, momentum 0.9) after the backward


MODELS = [
    # (name, work, time target, memory target)
    ("resnet-small train step 3x32x32 b32",
     ModelWork("resnet_small", (("widths", (64, 128, 256, 512)), ("layers", (2, 2, 2, 2)),
                                ("num_classes", 10)), 32, 32, 10, True), 1.5, None),
    ("resnet50 fwd+bwd 3x224x224 b8", ModelWork("resnet50", (), 8, 224, 1000, False), 2.0, 2.0),
]


def model_step(library, work):
    """``work`` on ``library`` (a backend) as a :class:`~oracles.base.Step`: the forward gives
    the loss, the backward clears the gradients, runs the loss's backward and the SGD step."""
    build = getattr(getattr(library, "models", None), work.constructor, None)
    if build is None:
        raise NotApplicable(f"{library.name} has no models.{work.constructor}")
    module = library.module
    module.manual_seed(0)
    model = build(**dict(work.kwargs))
    rng = np.random.default_rng(0)
    x = library.tensor(rng.standard_normal((work.batch, 3, work.size, work.size))
                       .astype(np.float32))
    y = library.tensor(rng.integers(0, work.classes, work.batch))
    params = list(model.parameters())
    sgd = module.optim.SGD(params, lr=0.01, momentum=0.9) if work.optimizer else None

    def backward(loss):
        for p in params:
            p.grad = None
        loss.backward()
        if sgd is not None:
            sgd.step()
    return Step(lambda: module.nn.functional.cross_entropy(model(x), y), backward)


def _peak_rss(name, work, threads):
    """The peak resident bytes of a fresh process running ``work`` twice on library ``name``."""
    code = ("import json, sys; from reports.bench import _child_peak_rss; "
            "print(json.dumps(_child_peak_rss(*json.loads(sys.argv[1]))))")
    args = json.dumps([name, asdict(work), threads])
    run = subprocess.run([sys.executable, "-c", code, args], capture_output=True, text=True,
                         check=False)
    if run.returncode:
        raise RuntimeError(f"peak memory of {name} on {work.constructor}: the child process "
                           f"failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.splitlines()[-1])


def _child_peak_rss(name, work, threads):
    # In the child: only the library itself is imported (and NumPy, threadpoolctl).
    import resource

    from oracles.subject import load_subject

    # JSON gave lists for the tuples
    kwargs = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in work.pop("kwargs"))
    work = ModelWork(kwargs=kwargs, **work)
    library = load_subject(name)
    if hasattr(library.module, "set_num_threads"):
        library.module.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    step = model_step(library, work)
    for _ in range(2):  # the first step's buffers may differ from the next ones'
        step.backward(step.forward())
    try:  # the process's own peak: Linux's ru_maxrss keeps the parent's across fork and exec
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def model_benchmarks(libraries, subject, threads):
    """A benchmark per entry of ``MODELS``, timed on ``libraries`` (name -> backend); the
    memory benchmarks run ``subject`` (a name to load in a child process) and torch."""
    benches = []
    for name, work, target, memory_target in MODELS:
        memory = None
        if memory_target is not None and isinstance(subject, str):
            memory = {lib: partial(_peak_rss, n, work, threads)
                      for lib, n in (("subject", subject), ("torch", "torch"))}
        backward = "backward and SGD momentum step" if work.optimizer else "backward"
        benches.append(Benchmark(
            name, "model", f"{work.constructor}, batch {work.batch} of 3x{work.size}x"
            f"{work.size}, float32: forward with cross-entropy; {backward}",
            {lib: partial(model_step, b, work) for lib, b in libraries.items()},
            target, None, memory, memory_target))
    return benches


# -- size sweeps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    spec: str  # the registry's spec id
    sizes: tuple
    make: Callable  # size -> Example (float64; timed in float32)


def _normal(*shape):
    return np.random.default_rng(0).standard_normal(shape)


_CONV = {"stride": 1, "padding": 1, "dilation": 1, "groups": 1}
SWEEPS = {  # sizes from tiny to about a millisecond per forward and backward
    "elementwise": Sweep("exp", tuple(1024 * 4 ** k for k in range(6)),
                         lambda n: Example((_normal(n),))),
    "reduction": Sweep("sum", tuple(1024 * 4 ** k for k in range(6)),
                       lambda n: Example((_normal(n),))),
    "softmax": Sweep("softmax", tuple(4 ** k for k in range(6)),
                     lambda rows: Example((_normal(rows, 1024),), {"dim": -1})),
    "matmul": Sweep("mm", (8, 16, 32, 64, 128, 256),
                    lambda n: Example((_normal(n, n), _normal(n, n)))),
    "conv2d": Sweep("nn.functional.conv2d[bias]", (4, 8, 16, 32, 64),
                    lambda h: Example((_normal(8, 16, h, h), _normal(16, 16, 3, 3),
                                       _normal(16)), dict(_CONV))),
    "pooling": Sweep("nn.functional.max_pool2d", (8, 16, 32, 64, 128),
                     lambda h: Example((_normal(8, 16, h, h),), {"kernel_size": 2, "stride": 2})),
}


def sweep(family, libraries, sizes=None, policy=SWEEP_POLICY):
    """Time ``SWEEPS[family]`` at each of ``sizes`` (its own by default) on ``libraries`` (name
    -> backend): forward+backward seconds (median) against work (forward FLOPs where
    :func:`flops` counts them, else the first input's elements), and per library the
    least-squares slope of log(time) against log(work) — 1 when time grows with the work,
    below 1 where fixed costs per call still count."""
    from properties.spec import load_registry

    s = SWEEPS[family]
    spec = load_registry()[s.spec]
    sizes = list(sizes or s.sizes)
    seconds, work = {lib: [] for lib in libraries}, []
    for size in sizes:
        ex = s.make(size).cast(np.float32, spec.diff)
        cot, shape = cotangent(spec, ex)
        counted = flops(spec, ex, shape)
        work.append(counted["forward"] if counted else ex.args[0].size)
        samples = measure({lib: b.stepper(spec, ex, cot) for lib, b in libraries.items()},
                          policy)
        for lib, got in samples.items():
            seconds[lib].append(float(np.median([f + b for f, b in got])))
    def fit(points):  # the slope over the last ``points`` sizes
        return {lib: float(np.polyfit(np.log(work[-points:]), np.log(t[-points:]), 1)[0])
                for lib, t in seconds.items()}
    # slope_large: over the three largest sizes, where the work outweighs fixed costs per call
    return {"op": s.spec, "unit": "forward FLOPs" if counted else "input elements",
            "sizes": sizes, "work": work, "seconds": seconds, "slope": fit(len(sizes)),
            "slope_large": fit(3), "plot": f"timing_sweep_{family}.png"}


# -- the machine ------------------------------------------------------------------------------


def xla_threads(n):
    """Ask XLA (before JAX is imported) for ``n`` threads where its flags can: one thread
    (no multi-threaded Eigen) or every core (its default); say what was asked, or why not."""
    cores = os.cpu_count()
    if n >= cores:
        return f"{cores} (XLA's default: every core)"
    if n != 1:
        return "not controlled (XLA's flags can only make it single-threaded)"
    if "jax" in sys.modules:
        return "not controlled (JAX was imported before the run could set XLA_FLAGS)"
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    return f"1 (asked by XLA_FLAGS={flags})"


def set_threads(n, subject_module):
    """Give torch, the subject's own loops (its ``set_num_threads``, if it has one) and NumPy's
    BLAS the same thread count; return what was set."""
    import torch

    torch.set_num_threads(n)
    threads = {"torch": n}
    if hasattr(subject_module, "set_num_threads"):
        subject_module.set_num_threads(n)
        threads["subject"] = n
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return {**threads, "blas": "not controlled (threadpoolctl missing)"}
    threadpool_limits(n)
    return {**threads, "blas": n}


def cpu_model():
    """The CPU's name from /proc/cpuinfo (else the platform's word for it)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def blas():
    """NumPy's BLAS as built (name, version, configuration) and the thread pools loaded in
    the process (threadpoolctl: BLAS and OpenMP libraries, version, CPU kernel architecture)."""
    found = {}
    try:
        built = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        found["numpy"] = {k: built.get(k) for k in ("name", "version", "openblas configuration")
                          if built.get(k) is not None}
    except (TypeError, KeyError):  # NumPy before 1.26 prints its configuration only
        pass
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return found
    found["pools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                             "architecture", "threading_layer", "num_threads")}
                      for p in threadpool_info()]
    return found


def peak_gflops(n=2048, tries=5):
    """The machine's float32 matrix-product speed in GFLOP/s: NumPy's SGEMM of two n x n
    matrices, best of ``tries`` (at the thread count already set)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a @ b
    best = math.inf
    for _ in range(tries):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


# -- timing -----------------------------------------------------------------------------------


def sample(step, calls):
    """(forward, backward) seconds per call of ``step``, over ``calls`` forward-backward pairs,
    each phase timed on its own (a handle is dropped outside both)."""
    forward = backward = 0.0
    for _ in range(calls):
        t0 = time.perf_counter()
        handle = step.forward()
        t1 = time.perf_counter()
        step.backward(handle)
        t2 = time.perf_counter()
        del handle
        forward += t1 - t0
        backward += t2 - t1
    return forward / calls, backward / calls


def _calls(step, min_seconds):
    """Forward-backward pairs enough to last ``min_seconds`` (doubling: a warm-up too)."""
    n = 1
    while sum(sample(step, n)) * n < min_seconds:
        n *= 2
    return n


def _quartiles(values):
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def _spread(values):
    q = _quartiles(values)
    return (q["q3"] - q["q1"]) / q["median"]


def _settled(spreads, policy, elapsed):
    if len(spreads) < policy.repeats:
        return False
    # compared with the spread of ``window`` rounds before, itself of ``repeats`` rounds at least
    shrinking = (len(spreads) < policy.repeats + policy.window
                 or spreads[-1] < 0.9 * spreads[-1 - policy.window])
    return (spreads[-1] <= policy.spread or not shrinking or len(spreads) >= policy.max_samples
            or elapsed > policy.budget)


def measure(steps, policy):
    """Interleaved samples of ``steps`` (library -> Step) under ``policy``: library -> list of
    (forward, backward) seconds per call, one per round."""
    calls = {lib: _calls(step, policy.min_seconds) for lib, step in steps.items()}
    samples = {lib: [] for lib in steps}
    order, spreads, start = list(steps), [], time.perf_counter()
    while not _settled(spreads, policy, time.perf_counter() - start):
        k = len(spreads) % len(order)
        for lib in order[k:] + order[:k]:
            time.sleep(policy.settle)
            steps[lib].backward(steps[lib].forward())  # untimed: the first call after another
            #                                            library pays for its caches
            samples[lib].append(sample(steps[lib], calls[lib]))
        spreads.append(max(_spread([f + b for f, b in s]) for s in samples.values()))
    return samples


def _phases(pairs):
    f, b = np.array(pairs).T
    return {"forward": f, "backward": b, "total": f + b}


def summarize(bench, samples, peak):
    """The :class:`Result` of ``bench`` from its ``samples`` (library -> (forward, backward)
    per round), GFLOP/s against ``peak``."""
    phases = {lib: _phases(s) for lib, s in samples.items()}
    res = Result(bench.name, bench.family, bench.description, bench.target, flops=bench.flops)
    res.seconds = {lib: {p: {**_quartiles(v), "n": len(v)} for p, v in ph.items()}
                   for lib, ph in phases.items()}
    res.ratios = {lib: {p: _quartiles(phases["subject"][p] / v) for p, v in ph.items()}
                  for lib, ph in phases.items() if lib != "subject"}
    if bench.flops:
        work = {**bench.flops, "total": sum(bench.flops.values())}
        for lib, s in res.seconds.items():
            rates = {p: work[p] / s[p]["median"] / 1e9 for p in PHASES}
            res.gflops[lib] = {**rates, "of_peak": rates["total"] / peak}
    res.meets_target = res.ratios["torch"]["total"]["median"] <= bench.target
    return res


# -- running ----------------------------------------------------------------------------------

# The CI subset (--quick): the engine and one or two benchmarks per family, no models and no
# sweeps, about 45 s on two cores (max pooling is left out: JAX's takes a second a call).
QUICK = (
    "engine_chain_1000",
    "nn.functional.conv2d[bias] 3x3 stride 2 pad 1, 64->128 ch 32x32, batch 32",
    "nn.functional.conv2d[bias] 1x1 stride 2 pad 0, 64->128 ch 32x32, batch 32",
    "nn.functional.linear x (256, 1024), W (1024, 1024)",
    "nn.functional.batch_norm[training] 128 ch 16x16, batch 32",
    "nn.functional.adaptive_avg_pool2d to 1x1, 512 ch 7x7, batch 32",
)


def all_benchmarks(libraries, subject="impl", threads=1, models=True, wanted=lambda name: True):
    """Every benchmark whose name is ``wanted``: the engine's, the registry's, the models'."""
    from properties.spec import load_registry

    benches = [engine_benchmark(libraries)] + op_benchmarks(
        [s for s in load_registry().values() if s.bench_shapes], libraries, wanted)
    benches += model_benchmarks(libraries, subject, threads) if models else []
    return [b for b in benches if wanted(b.name)]


def _libraries(subject, names, progress):
    """{"subject": the subject's backend, and each of ``names`` (torch always) that loads}."""
    from oracles.base import Backend
    from oracles.subject import load_subject

    found = {"subject": subject if isinstance(subject, Backend) else load_subject(subject)}
    for name in dict.fromkeys(("torch", *names)):
        if name == subject:
            continue  # timed as the subject
        try:
            found[name] = load_subject(name)
        except ImportError as exc:
            progress(f"{name} not timed ({exc})")
    return found


def _steps(setups, label, progress):
    """Each library's step, warmed up; a library that cannot run it is left out."""
    steps = {}
    for lib, setup in setups.items():
        try:
            step = setup()
            step.backward(step.forward())  # warm up, and find what the library cannot run
            steps[lib] = step
        except (Unsupported, NotApplicable) as exc:
            progress(f"{label}: {lib} not timed ({str(exc).splitlines()[0]})")
    return steps


def _ms(stats):
    return f"{stats['median'] * 1e3:.3f} ms"


def run(names=None, subject="impl", repeats=5, threads=None,
        libraries=("torch", "jax", "mygrad"), quick=False, sweep_families=(), policy=None,
        progress=print):
    """Run the benchmarks whose names contain one of ``names`` (all by default; ``quick``: of
    ``QUICK``), timing the subject and ``libraries`` through their adapters, then the size
    sweeps of ``sweep_families`` on the subject and torch; (results, meta, sweeps)."""
    threads = threads or os.cpu_count()
    policy = policy or Policy(repeats=repeats, max_samples=max(30, repeats),
                              budget=QUICK_BUDGET if quick else Policy.budget)
    jax_threads = xla_threads(threads)  # before _libraries imports JAX
    libs = _libraries(subject, libraries, progress)
    meta = {"subject": getattr(subject, "name", subject), "quick": quick,
            "threads": {**set_threads(threads, getattr(libs["subject"], "module", None)),
                        "jax": jax_threads},
            "cpu_model": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "blas": blas(),
            "peak_gflops": peak_gflops(), "policy": asdict(policy)}
    progress(f"{meta['cpu_model']}, {meta['cores']} cores, threads {meta['threads']}; float32 "
             f"GEMM peak {meta['peak_gflops']:.1f} GFLOP/s")
    chosen = all_benchmarks(libs, subject, threads, models=not quick, wanted=lambda name: (
        (not quick or name in QUICK) and (not names or any(n in name for n in names))))
    if names and not chosen:
        raise SystemExit(f"tenshell bench: no benchmark matches {', '.join(names)}")
    results = []
    for bench in chosen:
        start = time.perf_counter()
        steps = _steps(bench.setups, bench.name, progress)
        if "subject" not in steps or "torch" not in steps:
            continue
        res = summarize(bench, measure(steps, policy), meta["peak_gflops"])
        res.compile_seconds = {lib: s.compile_seconds for lib, s in steps.items()
                               if s.compile_seconds}
        progress(f"{bench.name}: " + "; ".join(
            f"{lib} fwd {_ms(s['forward'])} bwd {_ms(s['backward'])}"
            + (f" (total ratio {res.ratios[lib]['total']['median']:.2f})" if lib in res.ratios
               else "") for lib, s in res.seconds.items())
            + f"; {res.seconds['subject']['total']['n']} rounds, {time.perf_counter() - start:.1f}"
              f" s; target vs torch <= {bench.target}")
        if bench.memory:
            res.memory_target = bench.memory_target
            res.peak_rss = {lib: peak() for lib, peak in bench.memory.items()}
            res.memory_ratio = res.peak_rss["subject"] / res.peak_rss["torch"]
            res.meets_target = res.meets_target and res.memory_ratio <= bench.memory_target
            progress(f"{bench.name}: peak memory {meta['subject']} "
                     f"{res.peak_rss['subject'] / 2**20:.0f} MB, torch "
                     f"{res.peak_rss['torch'] / 2**20:.0f} MB (ratio {res.memory_ratio:.2f}); "
                     f"target <= {bench.memory_target}")
        results.append(res)
    sweeps = {}
    pair = {lib: libs[lib] for lib in ("subject", "torch") if lib in libs}
    for family in sweep_families:
        try:
            sweeps[family] = sweep(family, pair)
        except (Unsupported, NotApplicable) as exc:
            progress(f"sweep {family}: not timed ({str(exc).splitlines()[0]})")
            continue
        progress(f"sweep {family}: slopes " + ", ".join(
            f"{lib} {v:.2f}" for lib, v in sweeps[family]["slope"].items()))
    meta["versions"] = {lib: _version(lib) for lib in ("numpy", "torch", "jax", "mygrad")}
    return results, meta, sweeps


def _version(dist):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


# -- writing ----------------------------------------------------------------------------------


def _spread_ms(stats):
    return f"{stats['median'] * 1e3:.3f} ± {(stats['q3'] - stats['q1']) * 1e3:.3f}"


def _ratio(stats):
    return f"{stats['median']:.2f} [{stats['q1']:.2f}, {stats['q3']:.2f}]"


def _plot(family, data, subject):
    """A log-log PNG of a sweep's time against work, one line per library."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4))
    ax = fig.add_subplot()
    for lib, seconds in data["seconds"].items():
        ax.loglog(data["work"], seconds, "o-", label=f"{subject if lib == 'subject' else lib} "
                                                      f"(slope {data['slope'][lib]:.2f}; "
                                                      f"largest sizes "
                                                      f"{data['slope_large'][lib]:.2f})")
    ax.set_xlabel(data["unit"])
    ax.set_ylabel("seconds per forward+backward")
    ax.set_title(f"{family}: {data['op']}, float32")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def markdown(results, meta, sweeps):
    """timing.md: the run's machine and policy, the ratios to torch, every library's times,
    GFLOP/s, peak memory and the sweeps' slopes with links to their plots."""
    subject = meta["subject"]
    libs = [lib for lib in ("torch", "jax", "mygrad") if any(lib in r.seconds for r in results)]
    pools = "; ".join(f"{p['internal_api']} {p['version'] or ''} ({p['architecture'] or 'n/a'})"
                      for p in meta["blas"].get("pools", []))
    lines = [f"# Timing: {subject} against {', '.join(libs) or 'torch'}", "",
             f"CPU: {meta['cpu_model']}, {meta['cores']} cores; threads: {meta['threads']}; "
             f"thread pools: {pools or 'unknown'}; float32 GEMM peak (NumPy, 2048x2048): "
             f"{meta['peak_gflops']:.1f} GFLOP/s; versions: {meta['versions']}; "
             f"python {meta['python']}.", "",
             f"Times are milliseconds per call, median ± interquartile range over interleaved "
             f"rounds (policy: {meta['policy']}). Ratios are {subject}'s time over the other "
             f"library's, taken per round: median [q1, q3] (below 1: {subject} is faster). "
             f"JAX is jit-compiled; its compile time is apart.", "",
             "## Against torch", "",
             f"| benchmark | {subject} fwd | {subject} bwd | torch fwd | torch bwd | ratio fwd "
             "| ratio bwd | ratio total | target | ok |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        s, t, q = r.seconds["subject"], r.seconds["torch"], r.ratios["torch"]
        lines.append(f"| {r.name} | {_spread_ms(s['forward'])} | {_spread_ms(s['backward'])} | "
                     f"{_spread_ms(t['forward'])} | {_spread_ms(t['backward'])} | "
                     + " | ".join(_ratio(q[p]) for p in PHASES)
                     + f" | {r.target} | {'yes' if r.meets_target else 'NO'} |")
    lines += ["", "## Every library", "",
              "| benchmark | library | forward ms | backward ms | total ms | rounds | "
              f"{subject} / library (total) | compile s |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for lib, s in r.seconds.items():
            ratio = _ratio(r.ratios[lib]["total"]) if lib in r.ratios else ""
            compiled = f"{r.compile_seconds[lib]:.2f}" if lib in r.compile_seconds else ""
            lines.append(f"| {r.name} | {subject if lib == 'subject' else lib} | "
                         + " | ".join(_spread_ms(s[p]) for p in PHASES)
                         + f" | {s['total']['n']} | {ratio} | {compiled} |")
    flop = [r for r in results if r.gflops]
    if flop:
        lines += ["", f"## GFLOP/s (peak {meta['peak_gflops']:.1f})", "",
                  "Forward: 2 operations per multiply-add of the output; backward: the same "
                  "again for each of input and weight.", "",
                  "| benchmark | library | forward | backward | total | % of peak |",
                  "|---|---|---:|---:|---:|---:|"]
        lines += [f"| {r.name} | {subject if lib == 'subject' else lib} | "
                  + " | ".join(f"{g[p]:.1f}" for p in PHASES) + f" | {g['of_peak']:.0%} |"
                  for r in flop for lib, g in r.gflops.items()]
    memory = [r for r in results if r.peak_rss]
    if memory:
        lines += ["", "## Peak memory", "",
                  "The resident set of a fresh process per library running the benchmark's "
                  "work twice (libraries included).", "",
                  f"| benchmark | {subject} MB | torch MB | ratio | target | ok |",
                  "|---|---:|---:|---:|---:|---|"]
        lines += [f"| {r.name} | {r.peak_rss['subject'] / 2**20:.0f} | "
                  f"{r.peak_rss['torch'] / 2**20:.0f} | {r.memory_ratio:.2f} | "
                  f"{r.memory_target} | {'yes' if r.memory_ratio <= r.memory_target else 'NO'} |"
                  for r in memory]
    if sweeps:
        lines += ["", "## Size sweeps", "",
                  "Forward+backward time against work, from tiny sizes to about a millisecond: "
                  "the slope of log(time) over log(work) (least squares) is 1 where time grows "
                  "with the work, below 1 where fixed costs per call still count; over the "
                  "three largest sizes, how the cost of the work itself grows.", "",
                  f"| family | op | work | sizes | {subject} slope | torch slope | "
                  f"{subject} slope, largest | torch slope, largest | plot |",
                  "|---|---|---|---|---:|---:|---:|---:|---|"]
        lines += [f"| {family} | {d['op']} | {d['unit']} | "
                  f"{', '.join(map(str, d['sizes']))} | "
                  + " | ".join(f"{d[key][lib]:.2f}" if lib in d[key] else ""
                               for key in ("slope", "slope_large")
                               for lib in ("subject", "torch"))
                  + f" | [{d['plot']}]({d['plot']}) |"
                  for family, d in sweeps.items()]
    return "\n".join(lines) + "\n"


def write(results, meta, sweeps, out_dir):
    """Write ``timing.json``, ``timing.md`` and a plot per sweep into ``out_dir``, each
    atomically; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, name) for name in ("timing.json", "timing.md")]
    write_text(paths[0], json.dumps({"schema": SCHEMA, "meta": meta,
                                     "results": [asdict(r) for r in results],
                                     "sweeps": sweeps}, indent=2))
    write_text(paths[1], markdown(results, meta, sweeps))
    for family, data in sweeps.items():
        paths.append(os.path.join(out_dir, data["plot"]))
        write_bytes(paths[-1], _plot(family, data, meta["subject"]))
    return paths
