"""Timing benchmarks: the subject against torch in one run, as ratios, with equal thread counts.

Each benchmark is written once against the torch-shaped API and run on every library that has
it (``impl`` and ``torch`` are namespaces with the same names), so the two time the same work.
Repeats of the libraries are interleaved, so that drift in the machine's speed hits both alike.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Benchmark:
    name: str
    description: str
    setup: callable  # (lib, F) -> a zero-argument callable doing one timed unit of work
    target: float  # the largest acceptable subject/torch time ratio


@dataclass
class Result:
    name: str
    description: str
    target: float
    seconds: dict = field(default_factory=dict)  # library -> median seconds per call
    ratio: float | None = None
    meets_target: bool | None = None


def _linear_fwd_bwd(lib, F):
    g = lib.Generator().manual_seed(0)
    x = lib.randn(256, 1024, generator=g, requires_grad=True)
    w = lib.randn(1024, 1024, generator=g, requires_grad=True)
    b = lib.randn(1024, generator=g, requires_grad=True)
    cot = lib.randn(256, 1024, generator=g)

    def run():
        x.grad = w.grad = b.grad = None
        F.linear(x, w, b).backward(cot)
    return run


def _engine_chain(lib, F):
    # 1,000 small elementwise ops: measures per-op graph overhead, not arithmetic.
    x = lib.randn(16, generator=lib.Generator().manual_seed(0), requires_grad=True)
    cot = lib.ones(16)

    def run():
        x.grad = None
        y = x
        for _ in range(250):
            y = lib.tanh(y * 1.0001 + x) - 0.5
        y.backward(cot)
    return run


BENCHMARKS = {b.name: b for b in [
    Benchmark("linear_fwd_bwd", "F.linear forward+backward, x (256, 1024), W (1024, 1024), float32",
              _linear_fwd_bwd, 1.2),
    Benchmark("engine_chain_1000", "1,000 elementwise ops on 16-element tensors, forward+backward",
              _engine_chain, 3.0),
]}


def _library(name):
    lib = importlib.import_module(name)
    return lib, importlib.import_module(f"{name}.nn.functional")


def set_threads(n):
    """Give torch and NumPy's BLAS the same thread count; returns what was set, for the report."""
    import torch

    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return {"torch": n, "blas": "not controlled (threadpoolctl missing)"}
    threadpool_limits(n)
    return {"torch": n, "blas": n}


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


def run(names=None, subject="impl", repeats=7, threads=None, progress=print):
    """Run the named benchmarks (all by default); return the results and the run's metadata."""
    threads = threads or os.cpu_count()
    meta = {"threads": set_threads(threads), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "subject": subject}
    libs = {name: _library(name) for name in (subject, "torch")}
    results = []
    for bname in names or BENCHMARKS:
        if bname not in BENCHMARKS:
            raise SystemExit(f"tenshell bench: unknown benchmark {bname!r}; "
                             f"choose from {', '.join(BENCHMARKS)}")
        bench = BENCHMARKS[bname]
        fns = {name: bench.setup(lib, F) for name, (lib, F) in libs.items()}
        for fn in fns.values():
            fn()  # warm up
        samples = {name: [] for name in fns}
        for _ in range(repeats):
            for name, fn in fns.items():
                samples[name].append(_time_per_call(fn))
        res = Result(bench.name, bench.description, bench.target,
                     {name: statistics.median(s) for name, s in samples.items()})
        res.ratio = res.seconds[subject] / res.seconds["torch"]
        res.meets_target = res.ratio <= bench.target
        progress(f"{bench.name}: {subject} {res.seconds[subject] * 1e3:.3f} ms, torch "
                 f"{res.seconds['torch'] * 1e3:.3f} ms, ratio {res.ratio:.2f} "
                 f"(target <= {bench.target})")
        results.append(res)
    meta["versions"] = {name: getattr(lib, "__version__", "?") for name, (lib, _) in libs.items()}
    return results, meta


def write(results, meta, out_dir):
    """Write ``bench.json`` and ``bench.md`` into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bench.json"), "w") as f:
        json.dump({"meta": meta, "results": [asdict(r) for r in results]}, f, indent=2)
    subject = meta["subject"]
    lines = [f"# Benchmarks: {subject} vs torch", "",
             f"threads: {meta['threads']}; versions: {meta['versions']}", "",
             f"| benchmark | {subject} ms | torch ms | ratio | target | ok |",
             "|---|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r.name} | {r.seconds[subject] * 1e3:.3f} | "
                     f"{r.seconds['torch'] * 1e3:.3f} | {r.ratio:.2f} | {r.target} | "
                     f"{'yes' if r.meets_target else 'NO'} |")
    with open(os.path.join(out_dir, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
