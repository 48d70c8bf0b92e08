"""``index.html``: the conformance report as one self-contained page.

Everything is inline (CSS, the plots as base64 PNGs drawn by matplotlib's Agg canvas, a small
script), so the file opens offline in any browser and makes no request; the page reads the same
without JavaScript. Every table and plot is a view of :func:`reports.tables.conformance_frame`.
"""

from __future__ import annotations

import base64
import glob
import io
import math
import os
from html import escape

import numpy as np

from reports.conformance import (
    STATUSES,
    accuracy_sentence,
    accuracy_table,
    counts,
    failure_table,
    fmt,
    measured,
    status_line,
    worst_accuracy,
)

ROWS = 1000  # failing rows listed in full; the rest are counted
PLOTTED = 40  # ops in the accuracy plot (all of them are in the table)
EXACT = 1e-9  # where an exact (zero-error) result is drawn on the log-error axis
SECTIONS = {"summary": "Summary", "failures": "Failing rows",
            "disagreements": "Oracle disagreements", "accuracy": "Accuracy against the oracles",
            "errors": "Error distributions", "coverage": "Coverage of parameter regions",
            "families": "Per family", "timing": "Timing", "environment": "Environment"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
  max-width:1180px;margin:0 auto;padding:0 16px 48px}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;
  border-bottom:1px solid #ddd;padding-bottom:3px}
nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #eee;
  font-size:13px;z-index:2}nav a{margin-right:12px}
a{color:#0b5cad;text-decoration:none}a:hover{text-decoration:underline}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border:1px solid #ddd;padding:2px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}tr.below td{border-top:0;padding-left:24px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{max-height:420px;overflow:auto;border:1px solid #eee;display:inline-block;
  max-width:100%}.scroll table{margin:0}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f5f5f5;padding:1px 3px;
  overflow-wrap:anywhere}
.verdict{font-size:15px;font-weight:600;padding:6px 10px;border-radius:4px}
.verdict.ok{background:#e3f4e1;color:#1d5e17}.verdict.bad{background:#fbe3e1;color:#8a1c12}
td.bad,span.miss{background:#fbe3e1}td.warn,span.part{background:#fdf1d8}
td.info{background:#eaeefb}
span.chip{display:inline-block;border:1px solid #ddd;border-radius:3px;padding:0 4px;
  margin:1px 2px;font-size:12px;white-space:nowrap}
details{margin:4px 0}summary{cursor:pointer}.note{color:#666;font-size:13px}
img{max-width:100%;height:auto;display:block;margin:8px 0}
"""

# The page works without it: it only records what a headless browser check reads back (errors
# thrown, plots decoded) as attributes of the document.
ONERROR = ("window.onerror=function(m){var d=document.documentElement.dataset;"
           "d.errors=(d.errors||'')+m+'; '};")
ONLOAD = ("window.addEventListener('load',function(){var s=document.images,n=0;"
          "for(var i=0;i<s.length;i++)if(s[i].complete&&s[i].naturalWidth>0)n++;"
          "document.body.dataset.images=n+'/'+s.length});")


def page(report, df, out_dir=None):
    """The HTML page of a conformance report (``report`` the JSON document, ``df`` its
    :func:`~reports.tables.conformance_frame`); ``out_dir`` is where it is written, searched for
    ``timing.json`` to link."""
    meta = report["meta"]
    subject = escape(meta["subject"])
    sections = {"summary": _summary(report, df), "failures": _failures(df),
                "disagreements": _disagreements(df), "accuracy": _accuracy(df, meta["subject"]),
                "errors": _errors(df, meta["subject"]), "coverage": _coverage(df),
                "families": _families(df), "timing": _timing(out_dir),
                "environment": _environment(meta)}
    nav = " ".join(f'<a href="#{k}">{SECTIONS[k]}</a>' for k in sections)
    body = "\n".join(f'<section id="{k}"><h2>{SECTIONS[k]}</h2>\n{v}</section>'
                     for k, v in sections.items())
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Conformance: {subject}</title>\n<script>{ONERROR}</script>\n"
            f"<style>{CSS}</style></head>\n<body>\n"
            f"<h1>Conformance: {subject} against {escape(', '.join(meta['oracles']))}</h1>\n"
            f"<nav>{nav}</nav>\n{body}\n<script>{ONLOAD}</script>\n</body></html>\n")


# -- building blocks ---------------------------------------------------------------------------


def _table(frame, classes=None, below=None):
    """``frame`` as an HTML table, every cell escaped: numbers right-aligned, ``classes``
    (column -> function of the cell) naming a cell's CSS class, and the column ``below`` set as
    code on a full-width line under its row."""
    classes = classes or {}
    columns = [c for c in frame.columns if c != below]
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = []
    for row in frame.to_dict("records"):
        cells = []
        for col in columns:
            x = row[col]
            cls = classes[col](x) if col in classes else ("num" if _numeric(x) else "")
            cells.append(f'<td class="{cls}">{escape(str(x))}</td>' if cls else
                         f"<td>{escape(str(x))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
        if below and row[below]:
            body.append(f'<tr class="below"><td colspan="{len(columns)}"><code>'
                        f"{escape(str(row[below]))}</code></td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + \
        "\n</tbody></table>"


def _numeric(x):
    if isinstance(x, (int, float, np.number)):
        return True
    try:
        float(str(x).rstrip("×"))
    except ValueError:
        return False
    return True


def _facts(facts):
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
                   for k, v in facts.items())
    return f"<table>{rows}</table>"


def _scroll(html):
    return f'<div class="scroll">{html}</div>'


def _note(text):
    return f'<p class="note">{escape(text)}</p>'


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _img(fig, alt):
    """The figure as an inline PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _plot(draw, alt, *args):
    """The figure ``draw(*args)`` makes, inline; a note instead without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return _note(f"({alt}: install matplotlib to draw it)")
    return _img(draw(*args), alt)


# -- sections ----------------------------------------------------------------------------------


def _summary(report, df):
    meta = report["meta"]
    bad = int(df["unexpected"].sum())
    line = escape(status_line(report, df))
    facts = {"subject": meta["subject"], "oracles": ", ".join(meta["oracles"]),
             "profile": meta["profile"], "seed": meta["seed"],
             "dtypes": ", ".join(meta.get("dtypes", [])), "jobs": meta.get("jobs", ""),
             "wall time": f"{meta['wall_seconds']:.1f} s"}
    marks = {s: lambda n, s=s: f"num {_severity(s, meta['profile'])}" if n else "num"
             for s in STATUSES}
    return (f'<p class="verdict {"bad" if bad else "ok"}">{line}</p>\n{_facts(facts)}\n'
            f"<h3>Rows per status</h3>\n" + _table(counts(df), marks))


def _severity(status, profile):
    """The CSS class of a status: bad when it fails the run, warn or info for notes."""
    from properties.runner import unexpected

    if unexpected(status, profile):
        return "bad"
    return {"oracle-disagree": "warn", "not-exercised": "warn", "unsupported": "info",
            "not-applicable": "info", "xfail": "info"}.get(status, "")


def _failures(df):
    table = failure_table(df)
    if table.empty:
        return _note("No row fails the run.")
    shown = table.head(ROWS)
    more = f" Showing the first {ROWS}." if len(table) > ROWS else ""
    return (_note(f"{len(table)} rows fail the run.{more} Each rerun command replays the saved "
                  f"failing example.") + _scroll(_table(shown, below="repro")))


def _disagreements(df):
    from reports.tables import disagreements

    rows = disagreements(df)
    if rows.empty:
        return _note("torch and JAX agree on every example.")
    return (_note("Where torch and JAX disagree (ties, kinks, NaN and infinity conventions), "
                  "the row shows the example and which one the subject follows.") +
            _scroll(_table(rows[["op", "check", "dtype", "layout", "detail"]])))


def _accuracy(df, subject):
    table = worst_accuracy(df)
    if table.empty:
        return _note("No float32 forward or VJP row with oracle errors in this run: nothing to "
                     "compare accuracy with.")
    return (f"<p>{escape(accuracy_sentence(table, subject))}. The ratio is the subject's "
            f"worst relative error against the float64 truth over the better oracle's on the "
            f"same example (1: as accurate as the better of torch and JAX; errors below half "
            f"an epsilon count as exact).</p>\n"
            + _plot(_accuracy_plot, "worst float32 accuracy ratio per op", table)
            + _scroll(_table(accuracy_table(table, subject))))


def _accuracy_plot(table):
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator

    shown = table.head(PLOTTED).iloc[::-1]
    fig = _figure(9, 1.3 + 0.19 * len(shown))
    ax = fig.add_subplot()
    y = np.arange(len(shown))
    ratio = shown["accuracy_ratio"].to_numpy()
    finite = ratio[np.isfinite(ratio)]
    # an infinite ratio (NaN or inf where the truth is finite) is drawn at the right edge
    edge = 3 * max(2.0, finite.max() if finite.size else 1.0)
    drawn = np.where(np.isfinite(ratio), ratio, edge)
    palette = {"forward": "#1b9e77", "vjp": "#d95f02"}
    colors = shown["check"].map(palette).to_numpy()
    ax.hlines(y, 1, drawn, colors=colors, lw=2)
    ax.scatter(drawn, y, c=colors, s=22, zorder=3)
    for i in np.flatnonzero(~np.isfinite(ratio)):
        ax.annotate("∞", (edge, y[i]), xytext=(5, -4), textcoords="offset points")
    ax.axvline(1, color="#444", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(min(0.8, drawn.min() / 1.25), max(2.0, drawn.max()) * 1.4)
    times = FuncFormatter(lambda x, _: f"{x:g}×")
    ax.xaxis.set_major_formatter(times)
    ax.xaxis.set_minor_locator(LogLocator(subs=(2, 5)))
    ax.xaxis.set_minor_formatter(times)
    ax.set_yticks(y, shown["op"], fontsize=8)
    ax.set_ylim(-0.7, len(shown) - 0.3)
    ax.set_xlabel("subject's relative error / best oracle's (float32; 1×: as accurate)")
    ax.legend(handles=[Line2D([], [], color=c, marker="o", label=k) for k, c in palette.items()],
              loc="lower right", fontsize=8)
    title = f"the {len(shown)} ops furthest behind the oracles" if len(table) > PLOTTED else \
        "every op, furthest behind the oracles on top"
    ax.set_title(f"Worst float32 accuracy ratio per op: {title}", fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.3)
    return fig


def _errors(df, subject):
    rows = measured(df)
    if rows.empty:
        return _note("No float32 forward or VJP row with oracle errors in this run.")
    return (_note(f"Worst relative error against the float64 truth per example, float32 forward "
                  f"and VJP rows (one per op and check), for {subject}, torch and JAX (dashed: "
                  f"float32 epsilon); exact results are drawn at {EXACT:g}; non-finite errors "
                  f"(NaN or inf where the truth is finite) are left out.")
            + _plot(_error_plot, "relative error per family", rows, subject))


def _error_plot(rows, subject):
    from matplotlib.ticker import FuncFormatter

    names = {"relative_error": subject, "torch_error": "torch", "jax_error": "jax"}
    colors = ("#7570b3", "#e7298a", "#66a61e")
    families = sorted(rows["family"].unique())
    fig = _figure(min(11.5, max(6.0, 2.5 + 0.9 * len(families))), 4.6)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for i, family in enumerate(families):
        group = rows[rows["family"] == family]
        for j, (col, color) in enumerate(zip(names, colors)):
            values = group[col].to_numpy()
            values = np.log10(np.clip(values[np.isfinite(values)], EXACT, None))
            pos = i + (j - 1) * 0.26
            if values.size:
                ax.boxplot(values, positions=[pos], widths=0.22, showfliers=False,
                           patch_artist=True, boxprops={"facecolor": color, "alpha": 0.35},
                           medianprops={"color": color})
                ax.scatter(pos + rng.uniform(-0.08, 0.08, values.size), values, s=6,
                           color=color, alpha=0.7, zorder=3)
    ax.set_xticks(range(len(families)),
                  [f"{f}\n({(rows['family'] == f).sum()})" for f in families], fontsize=9)
    ax.set_xlim(-0.6, len(families) - 0.4)
    ax.axhline(math.log10(np.finfo(np.float32).eps), color="#444", lw=1, ls="--")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"$10^{{{x:g}}}$"))
    ax.set_ylabel("relative error vs float64 truth")
    ax.legend(handles=[ax.scatter([], [], color=c, label=n) for n, c in
                       zip(names.values(), colors)], loc="upper left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Float32 relative error per family (examples)", fontsize=10)
    return fig


def _coverage(df):
    from reports.tables import coverage

    regions = coverage(df)
    if regions.empty:
        return _note("No op spec in this run declares parameter regions.")
    # per op and region, the examples reaching it in each dtype the op ran in
    reach = regions.groupby(["family", "op", "region"], sort=False)["examples"].agg(list)
    state = reach.map(lambda n: "miss" if max(n) == 0 else "part" if min(n) == 0 else "")
    rollup = state.groupby(level="family").agg(
        regions="size", every=lambda s: (s == "").sum(), some=lambda s: (s == "part").sum(),
        none=lambda s: (s == "miss").sum())
    rollup = rollup.rename(columns={"every": "reached in every dtype", "some": "in some",
                                    "none": "in none"}).reset_index()
    dtypes = " / ".join(d for d in regions["dtype"].unique() if d != "-")
    parts = [_note(f"Examples reaching each region an op spec declares, per dtype ({dtypes}; "
                   f"model specs: one count); red: reached by no example, "
                   f"amber: not in every dtype. Open a family for its ops."),
             _table(rollup, {"in none": lambda n: "num bad" if n else "num",
                             "in some": lambda n: "num warn" if n else "num"})]
    for family, fam in reach.groupby(level="family", sort=True):
        lines = []
        for op, cells in fam.groupby(level="op", sort=False):
            chips = "".join(
                f'<span class="chip {state[key]}">{escape(key[2])} '
                f'{" / ".join(map(str, n))}</span>' for key, n in cells.items())
            lines.append(f"<tr><td>{escape(op)}</td><td>{chips}</td></tr>")
        counts = rollup.set_index("family").loc[family]
        parts.append(f"<details><summary>{escape(family)}: {len(lines)} ops, "
                     f"{counts['regions']} regions, {counts['in none']} reached by no example, "
                     f"{counts['in some']} not in every dtype</summary><table><thead><tr><th>op"
                     f"</th><th>regions (examples)</th></tr></thead><tbody>{''.join(lines)}"
                     f"</tbody></table></details>")
    return "\n".join(parts)


def _families(df):
    from reports.tables import families

    table = families(df)
    if table.empty:
        return _note("No rows.")
    table = table.reset_index()
    for col in ("median ratio f32", "worst ratio f32"):
        table[col] = table[col].map(lambda x: fmt(x, ".3g"))
    return _table(table)


def _timing(out_dir):
    if out_dir is None or not os.path.exists(os.path.join(out_dir, "timing.json")):
        return ('<p class="note">No timing.json next to this report: <code>tenshell bench --out '
                '&lt;this folder&gt;</code> times the subject against torch and JAX and writes '
                "timing.json, timing.md and its plots there; the next <code>tenshell conform"
                "</code> into the same folder links them here.</p>")
    plots = sorted(os.path.basename(p) for p in glob.glob(os.path.join(out_dir,
                                                                        "timing_sweep_*.png")))
    links = ['<li><a href="timing.md">timing.md</a> (ratios to torch and JAX with their '
             'spread)</li>'] + [f'<li><a href="{escape(p)}">{escape(p)}</a></li>' for p in plots]
    return f"<ul>{''.join(links)}</ul>"


def _environment(meta):
    rows = {**{k: v for k, v in meta.get("versions", {}).items() if v},
            **meta.get("machine", {})}
    return _facts(rows)
