"""Reports as tables: ``conformance.json`` and ``timing.json`` read, checked and loaded into pandas.

The JSON files are the single source of truth; every view (Markdown, HTML, JUnit, ``compare``)
is built from the DataFrames here. Each file carries a versioned ``schema`` field
(``tenshell-conformance/2``, ``tenshell-timing/1``); :func:`read` refuses a file that is not
JSON, is truncated, is another kind of report or another version, with a one-line
:class:`ReportError` naming the file and what is wrong.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from properties.tolerance import accuracy_ratio

SCHEMAS = {"conformance": ("tenshell-conformance", 2), "timing": ("tenshell-timing", 1)}
# what each kind's top level must hold, and the fields every conformance row has
TOP = {"conformance": ("meta", "summary", "rows"), "timing": ("meta", "results")}
ROW_FIELDS = ("op", "check", "oracle", "dtype", "layout", "examples", "status", "error",
              "tolerance", "oracle_errors", "relative_error", "seconds", "detail", "repro")
KEY = ["op", "check", "oracle", "dtype", "layout"]
ACCURACY_CHECKS = ("forward", "vjp")  # the rows whose errors compare with the oracles' own


class ReportError(ValueError):
    """A report file that cannot be used: the message is one line naming the file."""


def schema(kind):
    name, version = SCHEMAS[kind]
    return f"{name}/{version}"


def read(path, kind="conformance"):
    """The report at ``path`` as a dict, after checking it is a ``kind`` report of this
    version; ReportError otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a text file (not a JSON report)") from None
    if not text.strip():
        raise ReportError(f"{path}: empty file (an interrupted write?)")
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        where = "truncated" if exc.pos >= len(text.rstrip()) else "corrupt"
        raise ReportError(f"{path}: not valid JSON ({where}: {exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno})") from None
    name, version = SCHEMAS[kind]
    found = report.get("schema") if isinstance(report, dict) else None
    if not isinstance(found, str) or "/" not in found:
        raise ReportError(f"{path}: not a Tenshell report (no schema field; expected "
                          f"{name}/{version})")
    found_name, _, found_version = found.rpartition("/")
    if found_name != name:
        raise ReportError(f"{path}: a {found_name} report, not {name}")
    if found_version != str(version):
        raise ReportError(f"{path}: {name} schema version {found_version}; this tenshell reads "
                          f"version {version} (rerun the report with this version)")
    missing = [k for k in TOP[kind] if k not in report]
    if missing:
        raise ReportError(f"{path}: {name} report without {', '.join(missing)}")
    if kind == "conformance":
        rows = report["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ReportError(f"{path}: rows is not a list of objects")
        for i, r in enumerate(rows):
            lacking = [k for k in ROW_FIELDS if k not in r]
            if lacking:
                raise ReportError(f"{path}: row {i} lacks {', '.join(lacking)}")
    return report


def _number(x):
    # JSON has no infinity: reports write non-finite floats as strings
    return float(x) if isinstance(x, (int, float, str)) else np.nan


def conformance_frame(report):
    """One DataFrame row per report row: the JSON fields, and derived columns:

    ``family`` (the op spec's family), ``torch_error`` / ``jax_error`` (each oracle's own worst
    relative error on the example), ``best_oracle_error`` (the smaller),
    ``accuracy_ratio`` (the subject's relative error over the best oracle's, half an epsilon
    counting as exact: "1.3× as far from the truth as torch"), ``ulps`` (the subject's relative
    error in float32 epsilons, float32 rows), ``unexpected`` (fails the run)."""
    from properties.runner import unexpected

    rows = report["rows"]
    df = pd.DataFrame(rows, columns=list(ROW_FIELDS)) if rows else pd.DataFrame(
        columns=list(ROW_FIELDS))
    for col in ("error", "tolerance", "relative_error", "seconds"):
        df[col] = df[col].map(_number).astype(float)
    df["examples"] = df["examples"].astype(int)
    families = report["meta"].get("families", {})
    df["family"] = df["op"].map(lambda op: families.get(op, op.split("[")[0].split(".")[0]))
    for name in ("torch", "jax"):
        df[f"{name}_error"] = df["oracle_errors"].map(
            lambda e, n=name: _number(e.get(n)) if isinstance(e, dict) and n in e else np.nan
        ).astype(float)
    df["best_oracle_error"] = df[["torch_error", "jax_error"]].min(axis=1)
    # (not on oracle disagreements: there the float64 truth itself is in dispute)
    measured = df["check"].isin(ACCURACY_CHECKS) & df["oracle"].isin(("torch", "jax")) & \
        df["best_oracle_error"].notna() & df["status"].isin(("pass", "fail", "xfail"))
    # (a float64 row has no truth beyond the oracles' own float64 runs: its oracle errors are
    # their disagreement, often 0, and not a measure of accuracy to compare with)
    f32 = measured & (df["dtype"] == "float32")
    df["accuracy_ratio"] = np.where(f32, accuracy_ratio(
        df["relative_error"].to_numpy(), df["best_oracle_error"].to_numpy(), "float32"), np.nan)
    df["ulps"] = np.where(f32, df["relative_error"] / np.finfo(np.float32).eps, np.nan)
    profile = report["meta"].get("profile", "ci")
    df["unexpected"] = df["status"].map(lambda s: unexpected(s, profile)).astype(bool)
    return df


def load_conformance(path):
    """(report dict, DataFrame) of the conformance report at ``path``."""
    report = read(path, "conformance")
    return report, conformance_frame(report)


# -- views ------------------------------------------------------------------------------------


def status_counts(df, by=("family",)):
    """Rows per status, by ``by`` (columns), with a total."""
    table = pd.crosstab([df[c] for c in by], df["status"], margins=True, margins_name="total")
    return table


def pivot(df, index=("op",), columns=("check",), values="status"):
    """op × check × oracle × dtype × layout as any pivot: the worst status (by severity) of
    ``values="status"``, else the largest value."""
    from properties.runner import RANK

    if values == "status":
        order = {**RANK, "xfail": 1}
        return df.pivot_table(index=list(index), columns=list(columns), values="status",
                              aggfunc=lambda s: max(s, key=lambda x: order.get(x, 0)))
    return df.pivot_table(index=list(index), columns=list(columns), values=values,
                          aggfunc="max")


def accuracy(df):
    """Per op spec: the worst float32 accuracy ratio of its forward and VJP rows, with the
    subject's, torch's and JAX's errors on that example; most behind the oracles first."""
    rows = df[df["accuracy_ratio"].notna()]
    if rows.empty:
        return rows[["op", "family", "dtype", "check", "relative_error", "torch_error",
                     "jax_error", "accuracy_ratio", "ulps"]]
    worst = rows.loc[rows.groupby(["op", "dtype"])["accuracy_ratio"].idxmax()]
    return worst[["op", "family", "dtype", "check", "relative_error", "torch_error",
                  "jax_error", "accuracy_ratio", "ulps"]].sort_values(
        "accuracy_ratio", ascending=False).reset_index(drop=True)


def families(df):
    """Per family: op specs, rows, examples and statuses, and the median and worst accuracy
    ratio (float32)."""
    status = pd.crosstab(df["family"], df["status"])
    f32 = df[df["dtype"] == "float32"].groupby("family")["accuracy_ratio"]
    out = pd.DataFrame({"ops": df.groupby("family")["op"].nunique(),
                        "rows": df.groupby("family").size(),
                        "examples": df[df["check"] != "region"].groupby("family")["examples"]
                        .sum(),
                        "median ratio f32": f32.median(), "worst ratio f32": f32.max()})
    return out.join(status.astype(int))


def coverage(df):
    """The parameter regions: one row per op spec, dtype and region with the examples that
    reached it (0: not exercised)."""
    regions = df[df["check"] == "region"]
    return regions[["op", "family", "dtype", "layout", "examples", "status"]].rename(
        columns={"layout": "region"}).reset_index(drop=True)


def failures(df):
    """The rows that fail the run."""
    return df[df["unexpected"]].reset_index(drop=True)


def disagreements(df):
    """Rows where torch and JAX disagree (the subject follows one of them): one per op, check
    and dtype."""
    rows = df[df["status"] == "oracle-disagree"]
    return rows.drop_duplicates(["op", "check", "dtype"]).reset_index(drop=True)


def timing_frame(report):
    """One DataFrame row per benchmark, library and phase (forward, backward, total): seconds
    per call (median, q1, q3, samples) and the subject's time over the library's (``ratio``,
    ``ratio_q1``, ``ratio_q3`` from the interleaved repeats; 1 for the subject itself)."""
    out = []
    for r in report["results"]:
        for lib, phases in r["seconds"].items():
            for phase, s in phases.items():
                ratio = r["ratios"].get(lib, {}).get(phase) if lib != "subject" else None
                out.append({"name": r["name"], "family": r.get("family", ""), "library": lib,
                            "phase": phase, "median": s["median"], "q1": s["q1"],
                            "q3": s["q3"], "n": s.get("n"),
                            "ratio": ratio["median"] if ratio else 1.0,
                            "ratio_q1": ratio["q1"] if ratio else 1.0,
                            "ratio_q3": ratio["q3"] if ratio else 1.0,
                            "gflops": r.get("gflops", {}).get(lib, {}).get(phase)})
    return pd.DataFrame(out, columns=["name", "family", "library", "phase", "median", "q1", "q3",
                                      "n", "ratio", "ratio_q1", "ratio_q3", "gflops"])


def load_timing(path):
    """(report dict, DataFrame) of the timing report at ``path``."""
    report = read(path, "timing")
    return report, timing_frame(report)
