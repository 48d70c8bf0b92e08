"""Timing benchmarks: the subject against torch, JAX and MyGrad in one run, as ratios.

Op benchmarks come from the registry: every OpSpec with ``bench_shapes`` is timed forward +
backward (a fixed random cotangent) on each library through its adapter's ``stepper``
(:mod:`oracles.adapter`) — torch and MyGrad eagerly, JAX as one jit-compiled function (compile
time excluded); a library without the op is left out of that benchmark. Inputs are built once
per library, so only the op and its backward are timed. One more benchmark times the engine
itself: 1,000 tiny elementwise ops. Model benchmarks time a whole network's training step in
each library that has the architecture, and the peak memory of one (see "model benchmarks").
Thread counts are equal (torch's intra-op threads and the BLAS pool), and the libraries'
repeats are interleaved so drift hits all alike.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

from oracles.base import NotApplicable, Unsupported


@dataclass
class Benchmark:
    name: str
    description: str
    setups: dict  # library -> () -> zero-argument callable doing one timed unit of work
    target: float  # the largest acceptable subject/torch time ratio
    memory: dict | None = None  # library -> () -> peak resident bytes of one unit of work
    memory_target: float | None = None  # the largest acceptable subject/torch peak ratio


@dataclass
class Result:
    name: str
    description: str
    target: float
    seconds: dict = field(default_factory=dict)  # library -> median seconds per call
    ratios: dict = field(default_factory=dict)  # library -> subject seconds / library seconds
    meets_target: bool | None = None
    memory_target: float | None = None
    peak_rss: dict = field(default_factory=dict)  # library -> peak resident bytes
    memory_ratio: float | None = None  # the subject's peak over torch's


# -- op benchmarks from the registry ----------------------------------------------------------


def _setup(library, spec, ex, cot):
    """() -> the step of ``library`` (a backend) timing ``spec`` on ``ex``: one forward and
    backward through its adapter (torch and MyGrad eagerly, JAX as one jit-compiled function,
    compiled outside the timing)."""
    return lambda: library.stepper(spec, ex, cot)


def op_benchmarks(specs, libraries):
    """A benchmark per ``bench_shapes`` entry of ``specs``, timed on ``libraries`` (name ->
    backend, the subject's name "subject")."""
    from oracles import backend

    benches = []
    for spec in specs:
        for label, make in spec.bench_shapes:
            ex = make().cast(np.float32, spec.diff)
            out = backend("torch").forward(spec, ex)[0]
            cot = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
            benches.append(Benchmark(
                f"{spec.id} {label}", f"{spec.id} forward+backward, {label}, float32",
                {name: _setup(lib, spec, ex, cot) for name, lib in libraries.items()},
                spec.bench_target))
    return benches


# -- the engine's own overhead ----------------------------------------------------------------


def _chain(fn, x):
    # 1,000 small elementwise ops: per-op graph overhead, not arithmetic
    y = x
    for _ in range(250):
        y = fn(y * 1.0001 + x) - 0.5
    return y


def engine_benchmark(libraries):
    from oracles.base import Example
    from properties.spec import OpSpec

    # an op spec of its own: tanh, called through the chain
    chain = OpSpec("tanh", "engine", "chain", call=_chain, jax=lambda J, x: _chain(J.jnp.tanh, x))
    ex = Example((np.random.default_rng(0).standard_normal(16).astype(np.float32),))
    cot = np.ones(16, np.float32)
    return Benchmark("engine_chain_1000",
                     "1,000 elementwise ops on 16-element tensors, forward+backward",
                     {name: _setup(lib, chain, ex, cot) for name, lib in libraries.items()},
                     3.0)


# -- model benchmarks -------------------------------------------------------------------------
# Models are not op specs: a model benchmark builds one architecture in each library that has it
# (its backend's ``models``: impl.models, oracles.torch_models, torchvision's names) and times a
# training step on a fixed random batch — forward, cross-entropy and backward, and for a train
# step SGD with momentum. A memory benchmark also takes the peak resident set of that work,
# measured for each library in a fresh process of its own that imports it alone (a process's
# peak cannot be reset, and torch's libraries alone take hundreds of MB).


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
    """A zero-argument callable running ``work`` once on ``library`` (a backend)."""
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

    def step():
        for p in params:
            p.grad = None
        module.nn.functional.cross_entropy(model(x), y).backward()
        if sgd is not None:
            sgd.step()
    return step


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
        step()
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
        what = "training step (SGD momentum)" if work.optimizer else "forward+backward"
        benches.append(Benchmark(
            name, f"{work.constructor} {what}, batch {work.batch} of 3x{work.size}x{work.size},"
            " float32, cross-entropy",
            {lib: partial(model_step, b, work) for lib, b in libraries.items()},
            target, memory, memory_target))
    return benches


# -- running ----------------------------------------------------------------------------------


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


# Seconds to wait before timing the next library: the previous one's idle threads may still be
# spinning on the cores (OpenBLAS's workers spin for 2**28 cycles, about 0.1 s, after a call;
# libgomp's, torch's OpenMP, for up to milliseconds), and would be timed as the next one's cost.
SETTLE = 0.15


def _time_per_call(fn, min_seconds=0.05):
    """Seconds per call, over enough calls to last ``min_seconds``."""
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt >= min_seconds:
            return dt / n
        n *= 2


def all_benchmarks(libraries, subject="impl", threads=1):
    from properties.spec import load_registry

    return [engine_benchmark(libraries)] + op_benchmarks(
        [s for s in load_registry().values() if s.bench_shapes], libraries) \
        + model_benchmarks(libraries, subject, threads)


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


def run(names=None, subject="impl", repeats=5, threads=None, libraries=("torch", "jax", "mygrad"),
        progress=print):
    """Run the benchmarks whose names contain one of ``names`` (all by default), timing the
    subject and ``libraries`` through their adapters."""
    threads = threads or os.cpu_count()
    libs = _libraries(subject, libraries, progress)
    meta = {"threads": set_threads(threads, getattr(libs["subject"], "module", None)),
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "subject": subject}
    chosen = [b for b in all_benchmarks(libs, subject, threads)
              if not names or any(n in b.name for n in names)]
    if names and not chosen:
        raise SystemExit(f"tenshell bench: no benchmark matches {', '.join(names)}")
    results = []
    for bench in chosen:
        fns = {}
        for lib, setup in bench.setups.items():
            try:
                fn = setup()
                fn()  # warm up, and find what the library cannot run
                fns[lib] = fn
            except (Unsupported, NotApplicable) as exc:
                progress(f"{bench.name}: {lib} not timed ({str(exc).splitlines()[0]})")
        if "subject" not in fns or "torch" not in fns:
            continue
        samples = {lib: [] for lib in fns}
        for _ in range(repeats):
            for lib, fn in fns.items():
                time.sleep(SETTLE)
                fn()  # untimed: the first call after another library pays for its caches
                samples[lib].append(_time_per_call(fn))
        res = Result(bench.name, bench.description, bench.target,
                     {lib: statistics.median(s) for lib, s in samples.items()})
        res.ratios = {lib: res.seconds["subject"] / s for lib, s in res.seconds.items()
                      if lib != "subject"}
        res.meets_target = res.ratios["torch"] <= bench.target
        progress(f"{bench.name}: {subject} {res.seconds['subject'] * 1e3:.3f} ms; " + ", ".join(
            f"{lib} {s * 1e3:.3f} ms (ratio {res.ratios[lib]:.2f})"
            for lib, s in res.seconds.items() if lib != "subject")
            + f"; target vs torch <= {bench.target}")
        if bench.memory:
            res.memory_target = bench.memory_target
            res.peak_rss = {lib: measure() for lib, measure in bench.memory.items()}
            res.memory_ratio = res.peak_rss["subject"] / res.peak_rss["torch"]
            res.meets_target = res.meets_target and res.memory_ratio <= bench.memory_target
            progress(f"{bench.name}: peak memory {subject} {res.peak_rss['subject'] / 2**20:.0f}"
                     f" MB, torch {res.peak_rss['torch'] / 2**20:.0f} MB (ratio "
                     f"{res.memory_ratio:.2f}); target <= {bench.memory_target}")
        results.append(res)
    meta["versions"] = {lib: _version(lib) for lib in ("numpy", "torch", "jax", "mygrad")}
    return results, meta


def _version(dist):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def write(results, meta, out_dir):
    """Write ``bench.json`` and ``bench.md`` into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bench.json"), "w") as f:
        json.dump({"meta": meta, "results": [asdict(r) for r in results]}, f, indent=2)
    libs = [lib for lib in ("torch", "jax", "mygrad") if any(lib in r.seconds for r in results)]
    subject = meta["subject"]
    lines = [f"# Benchmarks: {subject} against {', '.join(libs)}", "",
             f"threads: {meta['threads']}; versions: {meta['versions']}. Ratios are "
             f"{subject}'s time over the other library's (below 1: {subject} is faster).", "",
             f"| benchmark | {subject} ms | " + " | ".join(f"{lib} ms | ratio" for lib in libs)
             + " | target vs torch | ok |",
             "|---|---:|" + "---:|---:|" * len(libs) + "---:|---|"]
    for r in results:
        cells = [f"{r.seconds[lib] * 1e3:.3f} | {r.ratios[lib]:.2f}" if lib in r.seconds
                 else " | " for lib in libs]
        lines.append(f"| {r.name} | {r.seconds['subject'] * 1e3:.3f} | " + " | ".join(cells)
                     + f" | {r.target} | {'yes' if r.meets_target else 'NO'} |")
    memory = [r for r in results if r.peak_rss]
    if memory:
        lines += ["", "Peak memory: the resident set of a fresh process per library running the "
                  "benchmark's work twice (libraries included).", "",
                  f"| benchmark | {subject} MB | torch MB | ratio | target | ok |",
                  "|---|---:|---:|---:|---:|---|"]
        lines += [f"| {r.name} | {r.peak_rss['subject'] / 2**20:.0f} | "
                  f"{r.peak_rss['torch'] / 2**20:.0f} | {r.memory_ratio:.2f} | "
                  f"{r.memory_target} | {'yes' if r.memory_ratio <= r.memory_target else 'NO'} |"
                  for r in memory]
    with open(os.path.join(out_dir, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
