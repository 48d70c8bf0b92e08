"""Conformance reports: the rows as JSON for machines, Markdown for people and pull requests,
JUnit XML for CI, and a self-contained HTML page (reports/html.py)."""

from __future__ import annotations

import json
import math
import os
import platform
import re
from collections import Counter, defaultdict
from html import escape
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


def document(rows, meta):
    """The ``conformance.json`` document of a run: schema, meta, summary and rows."""
    from reports.tables import schema

    return {"schema": schema("conformance"), "meta": meta,
            "summary": summary(rows, meta["profile"]), "rows": [_clean(r) for r in rows]}


def fmt(x, spec=".2e"):
    """A number for a table cell: blank when missing, ``0`` when exact."""
    if isinstance(x, str):
        return x
    if x is None or math.isnan(x):
        return ""
    return "0" if x == 0 else "inf" if math.isinf(x) else format(x, spec)


def measured(df):
    """The float32 rows with an accuracy ratio: forward and VJP against torch and JAX, one per
    op, check and dtype (the torch and jax rows of an example carry the same errors)."""
    return df[df["accuracy_ratio"].notna()].drop_duplicates(["op", "check", "dtype"])


def worst_accuracy(df):
    """tables.accuracy over :func:`measured` rows: per op, the float32 example furthest behind
    the oracles."""
    from reports.tables import accuracy

    return accuracy(measured(df))


def status_line(report, df):
    """The run in one line: verdict, counts, profile, time and op-spec support."""
    meta, s = report["meta"], report["summary"]
    bad = int(df["unexpected"].sum())
    verdict = f"FAIL: {bad} unexpected row{'s' * (bad != 1)}" if bad else "PASS"
    examples = int(df.loc[df["check"] != "region", "examples"].sum())
    ops = df["op"].nunique()
    return (f"{verdict}. {len(df)} rows over {ops} op specs, {examples} example runs; profile "
            f"{meta['profile']}, seed {meta['seed']}, {meta['wall_seconds']:.0f} s. Op specs "
            f"supported: {s['supported']} ({100 * s['supported'] / max(ops, 1):.0f} %), partly "
            f"(some argument forms): {s['partly supported']}, not at all: {s['not supported']}.")


def counts(df):
    """Rows per status, every status present (a one-row table)."""
    import pandas as pd

    n = df["status"].value_counts()
    return pd.DataFrame([[int(n.get(s, 0)) for s in STATUSES]], columns=list(STATUSES))


def environment_line(meta):
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items() if v)
    m = meta.get("machine", {})
    return (f"{versions}; Python {m.get('python')} on {m.get('platform')} "
            f"({m.get('processor')}, {m.get('cpus')} CPUs)")


FAILURE_COLUMNS = ["op", "check", "oracle", "dtype", "layout", "error", "tolerance", "detail"]
ACCURACY_COLUMNS = {"op": "op", "check": "check", "accuracy_ratio": "× best oracle",
                    "relative_error": "subject", "torch_error": "torch", "jax_error": "jax",
                    "ulps": "ulps"}


def failure_table(df, detail=None):
    """The failing rows as display strings (details cut to ``detail`` characters), with their
    repro commands."""
    rows = df[df["unexpected"]]
    out = rows[FAILURE_COLUMNS + ["repro"]].copy()
    for col in ("error", "tolerance"):
        out[col] = out[col].map(fmt)
    if detail:
        out["detail"] = out["detail"].map(lambda d: d if len(d) <= detail else d[:detail] + "…")
    return out.reset_index(drop=True)


def accuracy_table(table, subject):
    """:func:`worst_accuracy` rows as display strings, the subject's error column named after
    it."""
    out = table[list(ACCURACY_COLUMNS)].rename(
        columns={**ACCURACY_COLUMNS, "relative_error": subject})
    out["× best oracle"] = table["accuracy_ratio"].map(lambda x: fmt(x, ".3g"))
    for col in (subject, "torch", "jax"):
        out[col] = out[col].map(fmt)
    out["ulps"] = table["ulps"].map(lambda x: fmt(x, ".3g"))
    return out


def accuracy_sentence(table, subject):
    """The worst accuracy ratio in words."""
    w = table.iloc[0]
    if math.isinf(w["accuracy_ratio"]):
        return (f"{subject}'s {w['op']} {w['check']} is infinitely far from the float64 truth "
                f"(a NaN or infinity where it is finite)")
    return (f"{subject}'s {w['op']} {w['check']} is {w['accuracy_ratio']:.3g}× as far from the "
            f"float64 truth as the best oracle")


def _cell(x):
    # a Markdown table cell: no pipes, no line breaks, no raw HTML
    return escape(str(x), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_table(frame):
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    return [head, rule] + ["| " + " | ".join(_cell(x) for x in row) + " |"
                           for row in frame.itertuples(index=False)]


def _more(n, shown, where):
    return ["", f"… and {n - shown} more in {where}."] if n > shown else []


MD_ROWS = 25  # failing rows and disagreements listed in the short report


def markdown(report, df):
    """The short report, fit for a pull-request comment: the verdict and status counts, the
    failing rows with their repro commands, the oracle disagreements, the 10 worst float32
    accuracy ratios and the environment in one line."""
    from reports.tables import disagreements

    meta = report["meta"]
    subject = meta["subject"]
    lines = [f"# Conformance: {subject} against {', '.join(meta['oracles'])}", "",
             status_line(report, df), "", *_md_table(counts(df)), ""]
    failing = failure_table(df, detail=160)
    if len(failing):
        lines += [f"## Failing rows ({len(failing)})", "",
                  *_md_table(failing[FAILURE_COLUMNS].head(MD_ROWS)),
                  *_more(len(failing), MD_ROWS, "conformance.json and index.html")]
        repro = failing["repro"].head(MD_ROWS)
        repro = list(dict.fromkeys(repro[repro != ""]))
        if repro:
            lines += ["", "Rerun a failing example:", "", "```", *repro, "```"]
        lines.append("")
    disputes = disagreements(df)
    if len(disputes):
        lines += [f"## Oracle disagreements ({len(disputes)})", ""]
        lines += [f"- {r.op} {r.check} {r.dtype}: {_cell(r.detail)}"
                  for r in disputes.head(MD_ROWS).itertuples()]
        lines += _more(len(disputes), MD_ROWS, "index.html") + [""]
    worst = worst_accuracy(df)
    if len(worst):
        lines += ["## Accuracy (float32)", "",
                  f"{accuracy_sentence(worst, subject)}. The 10 worst ratios of the subject's "
                  f"relative error to the best oracle's (1 = as accurate as the better of torch "
                  f"and JAX), with each one's error and the subject's in float32 epsilons:", "",
                  *_md_table(accuracy_table(worst.head(10), subject)), ""]
    lines += [f"Environment: {environment_line(meta)}", "",
              "Details: index.html (plots, coverage of parameter regions, per-family rollup), "
              "conformance.xml (JUnit), conformance.json (every row).", ""]
    return "\n".join(lines)


def junit(report, df):
    """JUnit XML: a testsuite per family, a testcase per row (classname family.op, name
    check-oracle-dtype-layout); unexpected rows fail, rows that check nothing are skipped."""
    import xml.etree.ElementTree as ET

    suites = ET.Element("testsuites", name=f"tenshell conformance: {report['meta']['subject']}")
    totals = Counter()
    for family, rows in df.groupby("family", sort=True):
        suite = ET.SubElement(suites, "testsuite", name=family)
        n = Counter(tests=len(rows))
        for r in rows.itertuples():
            seconds = 0.0 if math.isnan(r.seconds) else r.seconds
            n["time"] += seconds
            case = ET.SubElement(suite, "testcase", classname=f"{family}.{r.op}",
                                 name=f"{r.check}-{r.oracle}-{r.dtype}-{r.layout}",
                                 time=f"{seconds:.3f}")
            if r.unexpected:
                n["failures"] += 1
                ET.SubElement(case, "failure", message=_xml(f"{r.status}: {r.detail}"),
                              type=r.status).text = _xml(
                    f"{r.detail}\nerror {fmt(r.error)}, tolerance {fmt(r.tolerance)}, "
                    f"{r.examples} examples" + (f"\nrerun: {r.repro}" if r.repro else ""))
            elif r.status not in ("pass", "oracle-disagree"):  # nothing checked: skipped
                n["skipped"] += 1
                ET.SubElement(case, "skipped", message=_xml(f"{r.status}: {r.detail}"))
            elif r.detail:
                ET.SubElement(case, "system-out").text = _xml(f"{r.status}: {r.detail}")
        _counts(suite, n)
        totals.update(n)
    _counts(suites, totals)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _xml(text):
    # XML 1.0 cannot hold control characters, escaped or not
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "?", text)


def _counts(element, n):
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(n.get(key, 0)))
    element.set("time", f"{n.get('time', 0.0):.3f}")


def write(out_dir, rows, meta):
    """Write ``conformance.json``, ``conformance.md`` (short), ``conformance.xml`` (JUnit) and
    ``index.html`` into ``out_dir``; return their paths. All are rendered before any is written,
    and each is written atomically: a failed run leaves the previous reports whole."""
    from reports import html
    from reports.atomic import write_text
    from reports.tables import conformance_frame

    report = document(rows, meta)
    df = conformance_frame(report)
    texts = {"conformance.json": json.dumps(report, indent=1),
             "conformance.md": markdown(report, df),
             "conformance.xml": junit(report, df),
             "index.html": html.page(report, df, out_dir)}
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, text in texts.items():
        paths.append(os.path.join(out_dir, name))
        write_text(paths[-1], text)
    return tuple(paths)
