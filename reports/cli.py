"""The ``tenshell`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from importlib.metadata import PackageNotFoundError, version


def _version():
    try:
        return version("tenshell")
    except PackageNotFoundError:
        import impl

        return impl.__version__


def _bench(args):
    from reports import bench

    sweep = args.sweep if args.sweep is not None else not (args.quick or args.only)
    results, meta, sweeps = bench.run(
        args.only.split(",") if args.only else None, subject=args.subject, repeats=args.repeats,
        threads=args.threads, libraries=tuple(args.libraries.split(",")), quick=args.quick,
        sweep_families=tuple(bench.SWEEPS) if sweep else ())
    for path in bench.write(results, meta, sweeps, args.out):
        print(f"wrote {path}")
    if os.path.exists(os.path.join(args.out, "conformance.json")):
        # the conformance reports there link the timing report: written again to say so
        from reports import conformance, tables

        try:
            report = tables.read(os.path.join(args.out, "conformance.json"))
            conformance.write(args.out, report["rows"], report["meta"])
            print(f"updated {os.path.join(args.out, 'index.html')}")
        except tables.ReportError as exc:
            print(f"index.html not updated: {exc}", file=sys.stderr)
    missed = [r.name for r in results if not r.meets_target]
    if missed and args.check:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


class _Progress:
    """``tenshell conform``'s progress: on a terminal, a bar (the spec being checked, rows so
    far, the estimated time left); else (a CI log) a line per spec. Unexpected rows are printed
    either way, with their detail and the command that reruns them."""

    def __init__(self, specs, profile):
        from tqdm import tqdm

        self.specs, self.profile, self.rows, self.bad = specs, profile, 0, 0
        self.bar = tqdm(total=len(specs), unit="spec", file=sys.stdout, dynamic_ncols=True,
                        disable=not sys.stdout.isatty(), desc=self._name(0))

    def _name(self, i):
        return self.specs[i].id[:40] if i < len(self.specs) else "done"

    def __call__(self, i, n, spec, rows, seconds):
        from properties.runner import unexpected

        bad = [r for r in rows if unexpected(r.status, self.profile)]
        self.rows, self.bad = self.rows + len(rows), self.bad + len(bad)
        counts = Counter(r.status for r in rows)
        lines = [f"[{i:3}/{n}] {spec.id:40} {'FAIL' if bad else 'ok':4} {seconds:6.1f}s  "
                 + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))]
        for r in bad:
            lines.append(f"        {r.status}: {r.check} vs {r.oracle} {r.dtype} {r.layout}: "
                         f"{r.detail[:200]}")
            lines += [f"        rerun: {r.repro}"] if r.repro else []
        if self.bar.disable:
            print("\n".join(lines), flush=True)
        elif bad:  # above the bar, which stays at the bottom
            self.bar.write("\n".join(lines), file=sys.stdout)
        self.bar.set_description(self._name(i), refresh=False)
        self.bar.set_postfix_str(f"{self.rows} rows, {self.bad} unexpected", refresh=False)
        self.bar.update()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()


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
        selection = runner.select(args.ops, args.profile)
    except (ImportError, AttributeError, KeyError, ValueError) as exc:
        print(f"tenshell conform: {exc}", file=sys.stderr)
        return 2
    specs = runner.shard(selection, *args.shard) if args.shard else selection
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
    with _Progress(specs, run.profile) as progress:
        rows = runner.as_dicts(runner.run(run, specs, progress, jobs=args.jobs))
    meta = {"subject": args.subject, "oracles": args.oracles.split(","),
            "profile": args.profile, "seed": args.seed, "dtypes": args.dtypes.split(","),
            "jobs": args.jobs, "families": {s.id: s.family for s in specs},
            "wall_seconds": time.perf_counter() - start,
            **conformance.environment(args.subject)}
    if args.shard:
        meta["shard"] = {"index": args.shard[0], "count": args.shard[1],
                         "specs": [s.id for s in specs], "all_specs": [s.id for s in selection]}
    return _report(rows, meta, args.out, after=f" in {meta['wall_seconds']:.0f} s",
                   empty="no rows: this shard has no specs")


def _report(rows, meta, out, source="", after="", empty="no rows"):
    """The end of a run (or a merge): the table per family, the reports written into ``out``,
    the counts and their paths; the exit code (1 on an unexpected row)."""
    from reports import conformance, listing

    print(listing.family_table(rows, meta) if rows else empty)
    paths = conformance.write(out, rows, meta)
    s = conformance.summary(rows, meta["profile"])
    print(f"{s['rows']} rows over {s['ops']} op specs{source}: "
          + ", ".join(f"{s[k]} {k}" for k in conformance.STATUSES) + after)
    print("wrote " + ", ".join(paths))
    return 1 if s["unexpected"] else 0


def _merge(args):
    from reports import merge, tables

    try:
        rows, meta = merge.merge(args.parts, allow_missing=args.allow_missing)
    except tables.ReportError as exc:
        print(f"tenshell merge: {exc}", file=sys.stderr)
        return 2
    if "missing" in meta:
        print(f"tenshell merge: warning: shards {meta['missing']['shards']} missing: "
              f"{len(meta['missing']['specs'])} specs have no rows", file=sys.stderr)
    return _report(rows, meta, args.out, source=f" from {len(meta['shards'])} shards")


def _list(args):
    from reports import listing

    try:
        families = listing.registry(args.family)
    except KeyError as exc:
        print(f"tenshell list: {exc.args[0]}", file=sys.stderr)
        return 2
    print(listing.as_json(families) if args.json else listing.as_text(families))
    return 0


def _shard(text):
    """``--shard I/N``: (I, N) with 1 <= I <= N."""
    i, slash, n = text.partition("/")
    if not (slash and i.strip().isdigit() and n.strip().isdigit() and 1 <= int(i) <= int(n)):
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N (shard I of N, e.g. "
                                         f"2/4), not {text!r}")
    return int(i), int(n)


def _compare(args):
    from reports import compare, tables

    thresholds = compare.Thresholds(args.accuracy_factor, args.min_ratio, args.timing_factor)
    try:
        findings, notes = compare.compare(args.base, args.current, thresholds)
    except tables.ReportError as exc:
        print(f"tenshell compare: {exc}", file=sys.stderr)
        return 2
    print(compare.render(findings, notes, markdown=args.markdown), end="")
    if args.json:
        from reports import atomic

        atomic.write_text(args.json, json.dumps({
            "base": args.base, "current": args.current, "notes": notes,
            "regressions": findings.to_dict("records")}, indent=1) + "\n")
    return 1 if len(findings) else 0


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
    c.add_argument("--shard", type=_shard, metavar="I/N",
                   help="run shard I of N of the selected specs (every N-th, from the I-th) "
                        "and write a partial report; `tenshell merge` combines the N")
    c.set_defaults(func=_conform)
    m = sub.add_parser("merge", help="combine the partial reports of `conform --shard` runs into "
                                     "one report")
    m.add_argument("out", metavar="OUT", help="output folder of the merged reports")
    m.add_argument("parts", metavar="PART", nargs="+",
                   help="the shards' conformance.json files (or their folders)")
    m.add_argument("--allow-missing", action="store_true",
                   help="merge even when shards are missing (a warning; the meta lists them)")
    m.set_defaults(func=_merge)
    ls = sub.add_parser("list", help="what can be checked: op specs by family (spec ids), their "
                                     "regions, cases and benchmark shapes; model specs")
    ls.add_argument("--family", help="only this family (e.g. nn, conv, model)")
    ls.add_argument("--json", action="store_true", help="as JSON, for machines")
    ls.set_defaults(func=_list)
    b = sub.add_parser("bench", help="time the subject against torch, jax and MyGrad, forward "
                                     "and backward apart; write timing.json/.md and plots")
    b.add_argument("--only", help="comma-separated parts of benchmark names (default: all)")
    b.add_argument("--subject", default="impl", help="library module to time (default: impl)")
    b.add_argument("--libraries", default="torch,jax,mygrad",
                   help="libraries to compare with (default: torch,jax,mygrad; torch always)")
    b.add_argument("--repeats", type=int, default=5,
                   help="interleaved rounds at least; more until the spread settles (default: 5)")
    b.add_argument("--threads", type=int,
                   help="threads for torch, the subject, BLAS and XLA (default: all cores)")
    b.add_argument("--quick", action="store_true",
                   help="the CI subset: six benchmarks across families, no models, no sweeps")
    b.add_argument("--sweep", action=argparse.BooleanOptionalAction,
                   help="size sweeps per op family with log-log plots (default: on for a full "
                        "run, off with --quick or --only)")
    b.add_argument("--out", default="reports/out", help="output folder (default: reports/out)")
    b.add_argument("--check", action="store_true", help="exit 1 when a ratio misses its target")
    b.set_defaults(func=_bench)
    d = sub.add_parser("compare", help="the regression gate: compare two runs' reports; exit 1 "
                                       "on regressions")
    d.add_argument("base", metavar="BASE", help="the baseline: a report folder (conformance.json, "
                                                "timing.json) or one of those files")
    d.add_argument("current", metavar="CURRENT", help="the run to judge, likewise")
    d.add_argument("--accuracy-factor", type=float, default=2.0,
                   help="a float32 row regresses when its accuracy ratio (error over the best "
                        "oracle's) grows more than this many times (default: 2)")
    d.add_argument("--min-ratio", type=float, default=2.0,
                   help="... and is now above this (default: 2)")
    d.add_argument("--timing-factor", type=float, default=1.25,
                   help="a benchmark regresses when its time ratio to torch grows more than "
                        "this beyond both runs' interquartile spread (default: 1.25)")
    d.add_argument("--markdown", action="store_true", help="print the diff as Markdown (a "
                                                           "pull-request comment)")
    d.add_argument("--json", metavar="PATH", help="also write the findings to PATH as JSON "
                                                  "(kind, op, key, base, current, why each)")
    d.set_defaults(func=_compare)
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
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader went away (`tenshell list | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
