"""The ``tenshell`` command."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version


def _version():
    try:
        return version("tenshell")
    except PackageNotFoundError:
        import impl

        return impl.__version__


def _bench(args):
    from reports import bench

    results, meta = bench.run(args.only.split(",") if args.only else None, subject=args.subject,
                              repeats=args.repeats, threads=args.threads,
                              libraries=tuple(args.libraries.split(",")))
    bench.write(results, meta, args.out)
    print(f"wrote {args.out}/bench.json and {args.out}/bench.md")
    missed = [r.name for r in results if not r.meets_target]
    if missed and args.check:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def _conform(args):
    import time

    import numpy as np

    from properties import runner
    from properties.checks import check_example
    from reports import conformance

    try:
        run = runner.make_run(args.subject, tuple(args.oracles.split(",")), args.profile,
                              seed=args.seed, dtypes=tuple(args.dtypes.split(",")),
                              out_dir=args.out, allow_unsupported=tuple(
                                  filter(None, (args.allow_unsupported or "").split(","))))
        specs = runner.select(args.ops, args.profile)
    except (ImportError, AttributeError, KeyError, ValueError) as exc:
        print(f"tenshell conform: {exc}", file=sys.stderr)
        return 2
    if args.repro:
        try:
            spec_id, dtype, example, seed, used = runner.load_failure(args.repro)
        except (OSError, ValueError, KeyError) as exc:
            print(f"tenshell conform: cannot read {args.repro}: {exc}", file=sys.stderr)
            return 2
        (spec,) = [s for s in runner.select() if s.id == spec_id]
        oracles = {n: o for n, o in run.oracles.items() if not used or n in used}
        outcomes = check_example(spec, dtype, example, seed, run.subject, oracles, fd=run.fd)
        with np.printoptions(precision=6, threshold=50):
            print(f"{spec.id} {dtype} args={example.args} kwargs={example.kwargs}")
        for o in outcomes:
            print(f"{o.status:16} {o.check:9} {o.oracle:6} {o.dtype:8} {o.layout:16} "
                  f"error {o.error:.3g} tolerance {o.tolerance:.3g} {o.detail}")
        return 1 if any(runner.unexpected(o.status, run.profile) for o in outcomes) else 0
    start = time.perf_counter()

    def progress(i, n, spec, rows, seconds):
        counts = {}
        for r in rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        flag = "FAIL" if any(runner.unexpected(r.status, run.profile) for r in rows) else "ok"
        print(f"[{i:3}/{n}] {spec.id:40} {flag:4} {seconds:6.1f}s  "
              + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), flush=True)
        for r in rows:
            if runner.unexpected(r.status, run.profile):
                print(f"        {r.status}: {r.check} vs {r.oracle} {r.dtype} {r.layout}: "
                      f"{r.detail[:200]}", flush=True)
                if r.repro:
                    print(f"        rerun: {r.repro}", flush=True)

    rows = runner.as_dicts(runner.run(run, specs, progress, jobs=args.jobs))
    meta = {"subject": args.subject, "oracles": args.oracles.split(","),
            "profile": args.profile, "seed": args.seed, "dtypes": args.dtypes.split(","),
            "jobs": args.jobs, "families": {s.id: s.family for s in specs},
            "wall_seconds": time.perf_counter() - start,
            **conformance.environment(args.subject)}
    paths = conformance.write(args.out, rows, meta)
    s = conformance.summary(rows, args.profile)
    print(f"{s['rows']} rows over {s['ops']} op specs: "
          + ", ".join(f"{s[k]} {k}" for k in conformance.STATUSES)
          + f" in {meta['wall_seconds']:.0f} s; wrote {paths[0]} and {paths[1]}")
    return 1 if s["unexpected"] else 0


def _train(args):
    from reports import train

    model_kwargs = {k: tuple(int(v) for v in getattr(args, k).split(","))
                    for k in ("widths", "layers") if getattr(args, k)}
    if (model_kwargs and args.model not in train.DEFAULTS) or (
            "layers" in model_kwargs and args.model != "resnet-small"):
        print(f"tenshell train: --widths is for mlp and resnet-small, --layers for resnet-small "
              f"only, not {args.model}", file=sys.stderr)
        return 2
    options = dict(seed=args.seed, dtype=args.dtype, batch_size=args.batch_size, lr=args.lr,
                   momentum=args.momentum, weight_decay=args.weight_decay,
                   schedule=args.schedule, threads=args.threads, **model_kwargs)
    if args.trajectory:
        result = train.trajectory(args.model, steps=args.steps, **options)
        train.write_trajectory(result, args.out)
        print(f"{'PASS' if result['passed'] else 'FAIL'}: {result['detail']}")
        print(f"wrote {args.out}/trajectory.csv and {args.out}/trajectory.png")
        return 0 if result["passed"] else 1
    rows = train.train(args.model, engine=args.engine, epochs=args.epochs, out=args.out,
                       **options)
    print(f"final test accuracy {100 * rows[-1]['test_acc']:.2f} % ({args.model}, "
          f"{args.engine} {args.dtype}, {args.epochs} epochs, "
          f"{sum(r['seconds'] for r in rows):.0f} s); wrote {args.out}/metrics.csv and "
          f"{args.out}/metrics.png")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tenshell",
        description="Tenshell: check an autograd library against PyTorch and JAX, op by op.")
    parser.add_argument("--version", action="version", version=f"tenshell {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    c = sub.add_parser("conform", help="run the conformance checks; write conformance.json/.md")
    c.add_argument("--subject", default="impl",
                   help="library under test: a backend name or package.module[:object] "
                        "(default: impl)")
    c.add_argument("--ops", help="comma-separated op names or spec ids (default: all)")
    c.add_argument("--oracles", default="torch,jax,fd", help="default: torch,jax,fd")
    c.add_argument("--profile", default="ci", choices=["quick", "ci", "deep"],
                   help="quick (local), ci (deterministic), deep (randomized, many examples)")
    c.add_argument("--seed", type=int, default=0, help="example seed (default: 0)")
    c.add_argument("--dtypes", default="float32,float64", help="default: float32,float64")
    c.add_argument("--out", default="reports/out", help="output folder (default: reports/out)")
    c.add_argument("--repro", metavar="NPZ", help="rerun one saved failing example")
    c.add_argument("--allow-unsupported", metavar="OPS",
                   help="comma-separated op names or spec ids the subject may lack without "
                        "declaring it (unsupported is otherwise a failure)")
    c.add_argument("--jobs", type=int, default=os.cpu_count(),
                   help="worker processes (default: one per core)")
    c.set_defaults(func=_conform)
    b = sub.add_parser("bench", help="time the subject against torch, jax and MyGrad; write "
                                     "bench.json/.md")
    b.add_argument("--only", help="comma-separated parts of benchmark names (default: all)")
    b.add_argument("--subject", default="impl", help="library module to time (default: impl)")
    b.add_argument("--libraries", default="torch,jax,mygrad",
                   help="libraries to compare with (default: torch,jax,mygrad; torch always)")
    b.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default: 5)")
    b.add_argument("--threads", type=int, help="threads for torch and BLAS (default: all cores)")
    b.add_argument("--out", default="reports/out", help="output folder (default: reports/out)")
    b.add_argument("--check", action="store_true", help="exit 1 when a ratio misses its target")
    b.set_defaults(func=_bench)
    from reports import train

    t = sub.add_parser("train", help="train a model on scikit-learn's digits with impl or torch "
                                     "(metrics.csv/.png), or compare their trajectories")
    t.add_argument("--model", default="resnet-small",
                   choices=train.MODELS, help="default: resnet-small")
    t.add_argument("--data", default="digits", choices=["digits"], help="default: digits")
    t.add_argument("--epochs", type=int, default=15, help="default: 15")
    t.add_argument("--engine", default="impl", choices=["impl", "torch"], help="default: impl")
    t.add_argument("--seed", type=int, default=0, help="split, initialisation and batch order "
                                                       "(default: 0)")
    t.add_argument("--out", default="reports/out/train",
                   help="output folder (default: reports/out/train)")
    t.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="default: float32")
    t.add_argument("--batch-size", type=int, default=64, help="default: 64")
    t.add_argument("--lr", type=float, default=0.05, help="default: 0.05")
    t.add_argument("--momentum", type=float, default=0.9, help="default: 0.9")
    t.add_argument("--weight-decay", type=float, default=5e-4, help="default: 5e-4")
    t.add_argument("--schedule", default="cosine", choices=["cosine", "step"],
                   help="learning-rate schedule, stepped per epoch (per step with "
                        "--trajectory) (default: cosine)")
    t.add_argument("--widths", help="comma-separated hidden widths (mlp, default 128,64) or "
                                    "stage widths (resnet-small, default 16,32,64)")
    t.add_argument("--layers", help="comma-separated blocks per stage (resnet-small, "
                                    "default 1,1,1)")
    t.add_argument("--threads", type=int, help="threads for torch and impl (default: theirs)")
    t.add_argument("--trajectory", action="store_true",
                   help="train impl and torch from the same weights on the same batches and "
                        "compare their losses step by step (trajectory.csv/.png); exit 1 when "
                        "they differ beyond tolerance")
    t.add_argument("--steps", type=int, default=50, help="SGD steps of --trajectory "
                                                         "(default: 50)")
    t.set_defaults(func=_train)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
