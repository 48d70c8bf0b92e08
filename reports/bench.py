"""Timing benchmarks: the subject against torch, JAX and MyGrad in one run, as ratios.

Op benchmarks come from the registry: every OpSpec with ``bench_shapes`` is timed forward +
backward (a fixed random cotangent) on each library — torch eagerly, JAX as one jit-compiled
function (compile time excluded), MyGrad where the spec says how to call it. Inputs are built
once per library, so only the op and its backward are timed. One more benchmark times the
engine itself: 1,000 tiny elementwise ops. Thread counts are equal (torch's intra-op threads and
the BLAS pool), and the libraries' repeats are interleaved so drift hits all alike.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Benchmark:
    name: str
    description: str
    setups: dict  # library -> () -> zero-argument callable doing one timed unit of work
    target: float  # the largest acceptable subject/torch time ratio


@dataclass
class Result:
    name: str
    description: str
    target: float
    seconds: dict = field(default_factory=dict)  # library -> median seconds per call
    ratios: dict = field(default_factory=dict)  # library -> subject seconds / library seconds
    meets_target: bool | None = None


# -- op benchmarks from the registry ----------------------------------------------------------


def _torch_like(lib, spec, ex, cot):
    """forward+backward of ``spec`` on a torch-shaped library (impl, torch, a subject module)."""
    from properties.spec import resolve

    make = lib.from_numpy
    args = [make(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in ex.args]
    for i in spec.diff:
        args[i].requires_grad_(True)
    name = spec.torch_name if lib.__name__ == "torch" and spec.torch_name else spec.name
    fn = resolve(lib, name, args)
    call = spec.call or (lambda f, *a, **k: f(*a, **k))
    g = make(cot)
    leaves = [args[i] for i in spec.diff]

    def run():
        for t in leaves:
            t.grad = None
        out = call(fn, *args, **ex.kwargs)
        (out[0] if isinstance(out, (tuple, list)) else out).backward(g)
    return run


def _jax(spec, ex, cot):
    from oracles import backend

    jb = backend("jax")
    jax = jb.jax
    args = list(ex.args)

    def f(*diff):
        a = list(args)
        for i, d in zip(spec.diff, diff):
            a[i] = d
        out = spec.jax(jb.J, *a, **ex.kwargs)
        return out[0] if isinstance(out, (tuple, list)) else out

    def fwd_bwd(c, *d):
        # The output is returned and the cotangent is an argument: otherwise XLA drops the
        # forward and folds a linear op's whole backward into a constant.
        out, pullback = jax.vjp(f, *d)
        return out, pullback(c)

    step = jax.jit(fwd_bwd)
    diff = [jax.device_put(args[i]) for i in spec.diff]
    c = jax.device_put(cot)
    step(c, *diff)  # compile outside the timing

    def run():
        jax.block_until_ready(step(c, *diff))
    return run


def _mygrad(spec, ex, cot):
    import mygrad as mg

    args = [mg.tensor(a) if i in spec.diff else a for i, a in enumerate(ex.args)]

    def run():
        out = spec.mygrad(mg, *args, **ex.kwargs)
        out.backward(cot)
        for i in spec.diff:
            args[i].null_grad()
    return run


def op_benchmarks(specs, subject_module):
    benches = []
    for spec in specs:
        for label, make in spec.bench_shapes:
            ex = make().cast(np.float32, spec.diff)
            from oracles import backend

            out = backend("torch").forward(spec, ex)[0]
            cot = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
            setups = {
                "subject": lambda s=spec, e=ex, c=cot: _torch_like(subject_module, s, e, c),
                "torch": lambda s=spec, e=ex, c=cot: _torch_like(importlib.import_module(
                    "torch"), s, e, c),
                "jax": lambda s=spec, e=ex, c=cot: _jax(s, e, c),
            }
            if spec.mygrad is not None:
                setups["mygrad"] = lambda s=spec, e=ex, c=cot: _mygrad(s, e, c)
            benches.append(Benchmark(f"{spec.id} {label}", f"{spec.id} forward+backward, "
                                     f"{label}, float32", setups, spec.bench_target))
    return benches


# -- the engine's own overhead ----------------------------------------------------------------


def _engine_chain(lib):
    # 1,000 small elementwise ops: measures per-op graph overhead, not arithmetic.
    x = lib.from_numpy(np.random.default_rng(0).standard_normal(16).astype(np.float32))
    x.requires_grad_(True)
    cot = lib.ones(16)

    def run():
        x.grad = None
        y = x
        for _ in range(250):
            y = lib.tanh(y * 1.0001 + x) - 0.5
        y.backward(cot)
    return run


def engine_benchmark(subject_module):
    torch = importlib.import_module("torch")
    return Benchmark("engine_chain_1000",
                     "1,000 elementwise ops on 16-element tensors, forward+backward",
                     {"subject": lambda: _engine_chain(subject_module),
                      "torch": lambda: _engine_chain(torch)}, 3.0)


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


def all_benchmarks(subject_module):
    from properties.spec import load_registry

    return [engine_benchmark(subject_module)] + op_benchmarks(
        [s for s in load_registry().values() if s.bench_shapes], subject_module)


def run(names=None, subject="impl", repeats=5, threads=None, libraries=("torch", "jax", "mygrad"),
        progress=print):
    """Run the benchmarks whose names contain one of ``names`` (all by default)."""
    threads = threads or os.cpu_count()
    module = importlib.import_module(subject)
    meta = {"threads": set_threads(threads, module), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "subject": subject}
    chosen = [b for b in all_benchmarks(module)
              if not names or any(n in b.name for n in names)]
    if names and not chosen:
        raise SystemExit(f"tenshell bench: no benchmark matches {', '.join(names)}")
    results = []
    for bench in chosen:
        fns = {}
        for lib, setup in bench.setups.items():
            if lib == "subject" or lib in libraries:
                try:
                    fns[lib] = setup()
                except ImportError as exc:
                    progress(f"{bench.name}: {lib} skipped ({exc})")
        for fn in fns.values():
            fn()  # warm up
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
    with open(os.path.join(out_dir, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
