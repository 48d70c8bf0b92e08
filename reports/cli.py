"""The ``tenshell`` command."""

from __future__ import annotations

import argparse
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
                              repeats=args.repeats, threads=args.threads)
    bench.write(results, meta, args.out)
    print(f"wrote {args.out}/bench.json and {args.out}/bench.md")
    missed = [r.name for r in results if not r.meets_target]
    if missed and args.check:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tenshell",
        description="Tenshell: check an autograd library against PyTorch and JAX, op by op.")
    parser.add_argument("--version", action="version", version=f"tenshell {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("bench", help="time the subject against torch; write bench.json/.md")
    b.add_argument("--only", help="comma-separated benchmark names (default: all)")
    b.add_argument("--subject", default="impl", help="library module to time (default: impl)")
    b.add_argument("--repeats", type=int, default=7, help="interleaved repeats (default: 7)")
    b.add_argument("--threads", type=int, help="threads for torch and BLAS (default: all cores)")
    b.add_argument("--out", default="reports/out", help="output folder (default: reports/out)")
    b.add_argument("--check", action="store_true", help="exit 1 when a ratio misses its target")
    b.set_defaults(func=_bench)
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
