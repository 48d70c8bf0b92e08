"""Conformance reports: the rows as JSON for machines and as Markdown for people."""

from __future__ import annotations

import json
import math
import os
import platform
from collections import Counter, defaultdict
from importlib.metadata import PackageNotFoundError, version

STATUSES = ("pass", "fail", "xfail", "not-exercised", "unsupported", "not-applicable",
            "oracle-disagree")


def _version(dist):
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def environment(subject_name):
    """Versions and machine facts recorded with every report."""
    module = subject_name.partition(":")[0].split(".")[0]
    return {
        "versions": {"numpy": _version("numpy"), "torch": _version("torch"),
                     "jax": _version("jax"), "jaxlib": _version("jaxlib"),
                     "hypothesis": _version("hypothesis"), "tenshell": _version("tenshell"),
                     "subject": _version(module) or _version("tenshell")},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
    }


def summary(rows, profile="ci"):
    from properties.runner import unexpected

    counts = Counter(r["status"] for r in rows)
    return {"rows": len(rows), "ops": len({r["op"] for r in rows}), **_support(rows),
            "examples": sum(r["examples"] for r in rows if r["check"] != "region"),
            **{s: counts.get(s, 0) for s in STATUSES},
            "unexpected": sum(unexpected(r["status"], profile) for r in rows)}


def _support(rows):
    """How many op specs the subject runs in full (no unsupported row), in part (some argument
    forms unsupported) or not at all (every forward row unsupported)."""
    by_op = defaultdict(list)
    for r in rows:
        by_op[r["op"]].append(r)
    full = sum(not any(r["status"] == "unsupported" for r in rs) for rs in by_op.values())
    none = sum(all(r["status"] == "unsupported" for r in rs if r["check"] == "forward")
               and any(r["check"] == "forward" for r in rs) for rs in by_op.values())
    return {"supported": full, "partly supported": len(by_op) - full - none,
            "not supported": none}


def _clean(value):
    # JSON has no infinity: write it as a string
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def write_json(path, rows, meta):
    from reports.atomic import write_text
    from reports.tables import schema

    write_text(path, json.dumps({"schema": schema("conformance"), "meta": meta,
                                 "summary": summary(rows, meta["profile"]),
                                 "rows": [_clean(r) for r in rows]}, indent=1))


def _fmt(x):
    if isinstance(x, str):
        return x
    return "0" if x == 0 else f"{x:.2e}"


def markdown(rows, meta):
    s = summary(rows, meta["profile"])
    lines = [f"# Conformance: {meta['subject']} against {', '.join(meta['oracles'])}", "",
             f"profile `{meta['profile']}`, seed {meta['seed']}, {meta['wall_seconds']:.0f} s; "
             f"{s['ops']} op specs, {s['rows']} rows, {s['examples']} example runs; op specs "
             f"supported: {s['supported']} ({100 * s['supported'] / max(s['ops'], 1):.0f} %), "
             f"partly (some argument forms): {s['partly supported']}, not at all: "
             f"{s['not supported']}", "",
             "| " + " | ".join(STATUSES) + " |", "|" + "---:|" * len(STATUSES),
             "| " + " | ".join(str(s[k]) for k in STATUSES) + " |", ""]
    bad = [r for r in rows if r["status"] in ("fail", "not-exercised")]
    if bad:
        lines += ["## Unexpected results", "",
                  "| op | check | oracle | dtype | layout | error | tolerance | detail |",
                  "|---|---|---|---|---|---:|---:|---|"]
        for r in bad:
            lines.append(f"| {r['op']} | {r['check']} | {r['oracle']} | {r['dtype']} | "
                         f"{r['layout']} | {_fmt(r['error'])} | {_fmt(r['tolerance'])} | "
                         f"{r['detail'][:160]} |")
        repro = [r["repro"] for r in bad if r["repro"]]
        if repro:
            lines += ["", "Rerun a failing example:", "", "```"] + repro + ["```"]
        lines.append("")
    notes = [r for r in rows if r["status"] in ("xfail", "oracle-disagree", "unsupported",
                                                "not-applicable")]
    if notes:
        lines += ["## Expected failures, oracle disagreements, unsupported, not applicable", "",
                  "| op | check | oracle | dtype | layout | status | detail |",
                  "|---|---|---|---|---|---|---|"]
        seen = set()
        for r in notes:
            key = (r["op"], r["check"], r["status"])
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"| {r['op']} | {r['check']} | {r['oracle']} | {r['dtype']} | "
                         f"{r['layout']} | {r['status']} | {r['detail'][:160]} |")
        lines.append("")
    lines += ["## Accuracy", "",
              "Worst subject error against each oracle's float64 truth, and the tolerance "
              "derived for it (forward and VJP, contiguous inputs).", "",
              "| op | dtype | forward err | tol | vjp err | tol | fd err | checks |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    by_op = defaultdict(list)
    for r in rows:
        by_op[(r["op"], r["dtype"])].append(r)
    for (op, dtype), rs in sorted(by_op.items()):
        if dtype == "-":
            continue
        cells = []
        for check in ("forward", "vjp"):
            worst = max((r for r in rs if r["check"] == check and r["status"] != "unsupported"),
                        key=lambda r: _ratio(r), default=None)
            cells += [_fmt(worst["error"]), _fmt(worst["tolerance"])] if worst else ["", ""]
        fd = [r for r in rs if r["check"] == "fd"]
        cells.append(_fmt(fd[0]["error"]) if fd else "")
        st = Counter(r["status"] for r in rs)
        lines.append(f"| {op} | {dtype} | " + " | ".join(cells) + " | " +
                     ", ".join(f"{n} {k}" for k, n in sorted(st.items())) + " |")
    lines += ["", f"versions: {meta['versions']}", "", f"machine: {meta['machine']}", ""]
    return "\n".join(lines)


def _ratio(r):
    err, tol = r["error"], r["tolerance"]
    if isinstance(err, str):
        return math.inf
    return err / tol if tol else (math.inf if err else 0.0)


def write(out_dir, rows, meta):
    """Write ``conformance.json`` and ``conformance.md`` into ``out_dir``; return their paths."""
    from reports.atomic import write_text

    os.makedirs(out_dir, exist_ok=True)
    paths = (os.path.join(out_dir, "conformance.json"), os.path.join(out_dir, "conformance.md"))
    write_json(paths[0], rows, meta)
    write_text(paths[1], markdown(rows, meta))
    return paths
