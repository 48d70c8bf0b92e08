"""``tenshell compare BASE CURRENT``: the regression gate between two runs' reports.

BASE and CURRENT are each a report folder (``conformance.json``, and ``timing.json`` where
benchmarks were run) or one of those files. CURRENT regresses when it has

- a row failing, ``not-exercised`` or ``unsupported`` that was not so in BASE (or is new);
- a float32 row whose accuracy ratio (the subject's error over the best oracle's, see
  :func:`reports.tables.conformance_frame`) grew more than ``accuracy_factor`` times and now
  exceeds ``min_ratio`` (below it the subject is within a small factor of torch and JAX, where
  a different example order or BLAS moves the ratio by ulps);
- a benchmark whose time ratio to torch (forward, backward or their total) grew more than
  ``timing_factor`` beyond both runs' measured spread: CURRENT's lower quartile above
  ``timing_factor`` times BASE's upper one;
- less coverage: op specs, rows, parameter regions exercised, or benchmarks that BASE had.

Every finding is a row of one DataFrame (kind, key, base, current, why), shown as text or as
Markdown for a pull-request comment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports import tables

BAD = ("fail", "not-exercised", "unsupported")


@dataclass(frozen=True)
class Thresholds:
    accuracy_factor: float = 2.0
    min_ratio: float = 2.0
    timing_factor: float = 1.25


def _paths(where, kind):
    """The ``kind`` report of ``where`` (a folder or a file), or None when a folder lacks it."""
    if os.path.isdir(where):
        path = os.path.join(where, f"{kind}.json")
        return path if os.path.exists(path) else None
    return where


def load(where):
    """{kind: report dict} of a folder or file; ReportError when nothing usable is there."""
    if not os.path.exists(where):
        raise tables.ReportError(f"{where}: no such file or folder")
    if os.path.isdir(where):
        found = {k: tables.read(p, k) for k in tables.SCHEMAS if (p := _paths(where, k))}
        if not found:
            raise tables.ReportError(f"{where}: no conformance.json or timing.json in it")
        return found
    errors = []
    for kind in tables.SCHEMAS:  # a single file: whichever kind its schema says
        try:
            return {kind: tables.read(where, kind)}
        except tables.ReportError as exc:
            errors.append(str(exc))
    wrong_kind = [e for e in errors if " report, not " not in e]
    raise tables.ReportError(wrong_kind[0] if wrong_kind else errors[0])


COLUMNS = ["kind", "op", "key", "base", "current", "why"]


def _finding(kind, key, base, current, why, op=""):
    return {"kind": kind, "op": op, "key": key, "base": base, "current": current, "why": why}


def _key(row):
    # the row's key without its op (findings are grouped by op)
    return " ".join(str(row[k]) for k in tables.KEY[1:] if row[k] != "-")


def conformance(base, current, t=Thresholds()):
    """Findings between two conformance reports (dicts)."""
    for field in ("profile", "seed", "dtypes"):
        if base["meta"].get(field) != current["meta"].get(field):
            raise tables.ReportError(
                f"the runs differ in {field} ({base['meta'].get(field)} and "
                f"{current['meta'].get(field)}): their rows cannot be compared")
    b = tables.conformance_frame(base).set_index(tables.KEY)
    c = tables.conformance_frame(current).set_index(tables.KEY)
    found = []
    joined = c.merge(b, how="left", left_index=True, right_index=True,
                     suffixes=("", "_base"))
    for key, r in joined.iterrows():
        row = dict(zip(tables.KEY, key))
        if r["status"] in BAD and r["status_base"] != r["status"]:
            was = "absent" if pd.isna(r["status_base"]) else r["status_base"]
            found.append(_finding("status", _key(row), was, r["status"],
                                  (r["detail"] or "")[:200], row["op"]))
        ratio, before = r["accuracy_ratio"], r["accuracy_ratio_base"]
        if np.isfinite(ratio) and np.isfinite(before) and ratio > t.min_ratio and \
                ratio > t.accuracy_factor * before:
            found.append(_finding(
                "accuracy", _key(row), f"{before:.3g}×", f"{ratio:.3g}×",
                f"{ratio / before:.3g}× further from the truth relative to the best oracle "
                f"(subject {r['relative_error']:.3g}, torch {_e(r['torch_error'])}, "
                f"jax {_e(r['jax_error'])})", row["op"]))
    for what, before, now in _coverage(b, c):
        found.append(_finding("coverage", what, before, now, "coverage shrank"))
    return found


def _e(x):
    return "-" if np.isnan(x) else f"{x:.3g}"  # "-": that oracle did not see the example


def _coverage(b, c):
    ops_b, ops_c = set(b.index.get_level_values("op")), set(c.index.get_level_values("op"))
    for op in sorted(ops_b - ops_c):
        yield f"op spec {op}", "checked", "absent"
    if len(c) < len(b):
        yield "rows", len(b), len(c)
    gone = b.index.difference(c.index)
    for key in gone[gone.get_level_values("op").isin(ops_c)]:
        yield f"row {' / '.join(key)}", "present", "absent"

    def reached(frame):
        regions = frame.xs("region", level="check")
        return set(regions.index[regions["examples"] > 0])
    for op, _, dtype, region in sorted(reached(b) - reached(c)):
        if op in ops_c:
            yield f"region {op} / {dtype} / {region}", "exercised", "not exercised"


def timing(base, current, t=Thresholds()):
    """Findings between two timing reports (dicts): the subject/torch ratio of each benchmark
    in both, and benchmarks BASE timed that CURRENT did not."""
    b = tables.timing_frame(base)
    c = tables.timing_frame(current)
    b, c = (f[f["library"] == "torch"].set_index(["name", "phase"]) for f in (b, c))
    found = []
    for (name, phase), r in c.merge(b, left_index=True, right_index=True,
                                    suffixes=("", "_base")).iterrows():
        if r["ratio_q1"] > t.timing_factor * r["ratio_q3_base"]:
            found.append(_finding(
                "timing", phase, f"{r['ratio_base']:.3g} [{r['ratio_q1_base']:.3g}, "
                f"{r['ratio_q3_base']:.3g}]", f"{r['ratio']:.3g} [{r['ratio_q1']:.3g}, "
                f"{r['ratio_q3']:.3g}]",
                f"time ratio to torch grew {r['ratio'] / r['ratio_base']:.3g}× (lower "
                f"quartile now above {t.timing_factor}× the base's upper quartile)", name))
    gone = set(b.index.get_level_values("name")) - set(c.index.get_level_values("name"))
    for name in sorted(gone):
        found.append(_finding("coverage", f"benchmark {name}", "timed", "absent",
                              "coverage shrank"))
    return found


def compare(base_path, current_path, t=Thresholds()):
    """(findings DataFrame, notes): every regression of CURRENT against BASE; notes say what
    was compared."""
    base, current = load(base_path), load(current_path)
    found, notes = [], []
    for kind, diff in (("conformance", conformance), ("timing", timing)):
        if kind in base and kind in current:
            found += diff(base[kind], current[kind], t)
            notes.append(f"{kind}: {_describe(base[kind])} → {_describe(current[kind])}")
        elif kind in base:
            found.append(_finding("coverage", f"{kind} report", "present", "absent",
                                  f"{current_path} has no {kind}.json"))
        elif kind in current:
            notes.append(f"{kind}: not in {base_path}, not compared")
    return pd.DataFrame(found, columns=COLUMNS), notes


def _describe(report):
    meta = report["meta"]
    rows = report.get("rows", report.get("results", []))
    return f"{meta.get('subject')} ({len(rows)} {'rows' if 'rows' in report else 'benchmarks'})"


def render(findings, notes, markdown=False, most=12):
    """The diff for people: plain text, or Markdown for a pull-request comment. Findings of one
    op that changed alike (say pass -> fail) share a line listing their rows (``most`` of
    them)."""
    verdict = (f"{len(findings)} regression{'s' * (len(findings) != 1)}" if len(findings)
               else "no regressions")
    lines = ([f"### tenshell compare: {verdict}", ""] + [f"- {n}" for n in notes]) if markdown \
        else [f"tenshell compare: {verdict}"] + [f"  {n}" for n in notes]
    if markdown and len(findings):
        lines += ["", "| kind | op | rows | base | current | why |", "|---|---|---|---|---|---|"]
    for kind, of_kind in findings.groupby("kind", sort=False):
        if not markdown:
            lines.append(f"{kind}:")
        for (op, base, current), group in of_kind.groupby(["op", "base", "current"],
                                                          sort=False):
            keys = ", ".join(group["key"].head(most)) + (
                f", and {len(group) - most} more" if len(group) > most else "")
            why = group["why"].iloc[0]
            if markdown:
                lines.append(f"| {kind} | {_md(op)} | {_md(keys)} | {_md(base)} | "
                             f"{_md(current)} | {_md(why)} |")
            elif op:
                lines.append(f"  {op}: {base} -> {current} in {len(group)} row"
                             f"{'s' * (len(group) > 1)} ({keys})" + (f": {why}" if why else ""))
            else:
                lines.append(f"  {keys}: {base} -> {current}" + (f" ({why})" if why else ""))
    return "\n".join(lines) + "\n"


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")
