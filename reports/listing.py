"""Listings for the terminal: what can be checked (``tenshell list``), and what a run found (the
per-family table ``tenshell conform`` and ``tenshell merge`` end with).

``tenshell list`` shows the registry as ``--ops`` reads it: op specs by family with their spec
ids (a public name selects all its variants, a spec id one of them), the parameter regions every
ci run must reach, the curated cases, the benchmark shapes (``tenshell bench --only`` takes
parts of their names), and the model specs with the profiles whose full runs include them.
"""

from __future__ import annotations

import json
import textwrap

from properties.models import WholeModel


def registry(family=None):
    """{family: [one dict per spec]} of the registered specs, in the registry's order; only
    ``family`` when given (KeyError naming the families when there is no such one)."""
    from properties import runner

    out = {}
    for spec in runner.select():
        out.setdefault(spec.family, []).append(_entry(spec))
    if family is not None:
        if family not in out:
            raise KeyError(f"no family {family!r}; the families: {', '.join(out)}")
        out = {family: out[family]}
    return out


def _entry(spec):
    entry = {"id": spec.id, "name": spec.name}
    if isinstance(spec, WholeModel):
        return {**entry, "kind": type(spec).__name__, "profiles": list(spec.profiles),
                "regions": list(getattr(spec, "regions", {})),
                "cases": [name for name, _ in getattr(spec, "cases", [])]}
    return {**entry, "variant": spec.variant, "differentiable": list(spec.diff),
            "regions": list(spec.regions), "cases": [name for name, _ in spec.cases],
            "bench_shapes": [label for label, _ in spec.bench_shapes],
            "bad_inputs": [b.description for b in spec.bad_inputs]}


def as_json(families):
    return json.dumps({"families": families}, indent=1, ensure_ascii=False)


def as_text(families, width=100):
    """The listing for people: a heading per family, a paragraph per spec."""
    lines = ["Op and model specs (`tenshell conform --ops` takes spec ids, public names for all "
             "their variants, or short names; `--family` lists one family):", ""]
    for family, specs in families.items():
        lines.append(f"{family} ({len(specs)} spec{'s' * (len(specs) != 1)})")
        for s in specs:
            lines.append(f"  {s['id']}" + (f"  [profiles: {', '.join(s['profiles'])}]"
                                           if "profiles" in s else ""))
            for label, key in (("regions", "regions"), ("cases", "cases"),
                               ("bench", "bench_shapes"), ("bad inputs", "bad_inputs")):
                if s.get(key):
                    lines += textwrap.wrap(f"{label}: " + "; ".join(s[key]), width,
                                           initial_indent="      ", subsequent_indent="        ")
        lines.append("")
    return "\n".join(lines)


def family_table(rows, meta):
    """Rows per family and status (pass, fail, then the other statuses present), with a total
    row: the end of a run at a glance."""
    from reports.conformance import STATUSES
    from reports.tables import conformance_frame, status_counts

    table = status_counts(conformance_frame({"rows": rows, "meta": meta}))
    statuses = ["pass", "fail"] + [s for s in STATUSES if s in table and s not in ("pass",
                                                                                    "fail")]
    table = table.reindex(columns=["total", *statuses], fill_value=0).rename(
        columns={"total": "rows"})
    table.index.name = None
    table.columns.name = None
    return table.astype(int).to_string()
