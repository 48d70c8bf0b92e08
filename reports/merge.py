"""``tenshell merge OUT PART...``: one report from the partial reports of sharded runs.

``tenshell conform --shard I/N`` runs every N-th spec of the selection, from the I-th
(:func:`properties.runner.shard`), and records in its meta ``shard``: its index and count, its
specs and the whole selection's (``all_specs``). Examples are drawn from (seed, dtype, spec id)
alone, so a shard's rows are the single run's rows of its specs, and the merged report is the
single run's report but for times. The parts must be shards of one run:

- each a readable conformance report of this schema with a ``shard`` in its meta;
- one tenshell (and numpy, torch, jax, ...) version, subject, oracles, profile, seed, dtypes,
  shard count and selection among them;
- no shard twice, no spec or row in two parts, no row of a spec outside its part's shard;
- every shard present, unless ``allow_missing`` (the merged meta then lists what is missing).

The merged rows are in the single run's order (the selection's, each spec's rows as its shard
wrote them), the summary is recomputed, ``wall_seconds`` is the slowest shard's (the shards run
side by side: the run took as long as its slowest part; ``shards`` in the meta keeps each one's).
Every violation is a :class:`reports.tables.ReportError` of one line naming the part.
"""

from __future__ import annotations

import os

from reports import tables

SAME = ("subject", "oracles", "profile", "seed", "dtypes")  # meta fields the shards share


def _path(part):
    return os.path.join(part, "conformance.json") if os.path.isdir(part) else part


def read_parts(parts):
    """[(path, report)] of the parts, each checked to be a shard."""
    out = []
    for part in parts:
        path = _path(part)
        report = tables.read(path, "conformance")
        shard = report["meta"].get("shard")
        if not isinstance(shard, dict) or not {"index", "count", "specs", "all_specs"} <= set(
                shard):
            raise tables.ReportError(f"{path}: not a shard's report (no meta.shard: run "
                                     f"`tenshell conform --shard I/N`)")
        out.append((path, report))
    return out


def merge(parts, allow_missing=False):
    """(rows, meta) of the merged report of ``parts`` (report files or their folders)."""
    reports = read_parts(parts)
    first_path, first = reports[0]
    meta0, shard0 = first["meta"], first["meta"]["shard"]
    by_index, owner = {}, {}
    for path, report in reports:
        meta, shard = report["meta"], report["meta"]["shard"]
        for key in SAME:
            if meta.get(key) != meta0.get(key):
                raise tables.ReportError(f"{path}: {key} {meta.get(key)!r}, but {first_path} "
                                         f"has {meta0.get(key)!r} (shards of one run only)")
        versions, versions0 = meta.get("versions", {}), meta0.get("versions", {})
        for name in sorted(set(versions) | set(versions0)):
            if versions.get(name) != versions0.get(name):
                raise tables.ReportError(f"{path}: {name} {versions.get(name)}, but "
                                         f"{first_path} has {name} {versions0.get(name)} "
                                         f"(rerun the shards with one installation)")
        if shard["count"] != shard0["count"] or shard["all_specs"] != shard0["all_specs"]:
            what = "shard count" if shard["count"] != shard0["count"] else "spec selection"
            raise tables.ReportError(f"{path}: another {what} than {first_path} "
                                     f"(shard {shard['index']}/{shard['count']} of "
                                     f"{len(shard['all_specs'])} specs, not of "
                                     f"{shard0['count']} and {len(shard0['all_specs'])})")
        if shard["index"] in by_index:
            raise tables.ReportError(f"{path}: shard {shard['index']}/{shard['count']} again "
                                     f"(also {by_index[shard['index']]})")
        by_index[shard["index"]] = path
        for spec in shard["specs"]:
            if spec in owner:
                raise tables.ReportError(f"{path}: spec {spec} is also in {owner[spec]}")
            owner[spec] = path
        stray = sorted({r["op"] for r in report["rows"]} - set(shard["specs"]))
        if stray:
            raise tables.ReportError(f"{path}: rows of {', '.join(stray[:3])}, outside its "
                                     f"shard's specs")
    missing = sorted(set(range(1, shard0["count"] + 1)) - set(by_index))
    unowned = [s for s in shard0["all_specs"] if s not in owner]
    if missing and not allow_missing:
        raise tables.ReportError(f"shard{'s' * (len(missing) != 1)} "
                                 f"{', '.join(map(str, missing))} of {shard0['count']} missing "
                                 f"({len(unowned)} specs without rows); merge what is there "
                                 f"with --allow-missing")
    if unowned and not missing:
        raise tables.ReportError(f"every shard is there, yet specs {', '.join(unowned[:3])} "
                                 f"are in none (shards of different partitions?)")
    rows = _ordered(reports, shard0["all_specs"])
    meta = {k: v for k, v in meta0.items() if k != "shard"}
    meta["families"] = {spec: family for _, r in reports
                        for spec, family in r["meta"].get("families", {}).items()}
    meta["families"] = {s: meta["families"][s] for s in shard0["all_specs"]
                        if s in meta["families"]}
    meta["wall_seconds"] = max(r["meta"].get("wall_seconds", 0.0) for _, r in reports)
    meta["shards"] = [{"index": r["meta"]["shard"]["index"], "path": path,
                       "wall_seconds": r["meta"].get("wall_seconds"),
                       "machine": r["meta"].get("machine")}
                      for path, r in sorted(reports, key=lambda p: p[1]["meta"]["shard"]["index"])]
    if missing or unowned:
        meta["missing"] = {"shards": missing, "specs": unowned}
    return rows, meta


def _ordered(reports, order):
    """The parts' rows, spec by spec in ``order``; each spec's rows in its part's order. A row
    key seen twice is an error."""
    by_spec, seen = {}, {}
    for path, report in reports:
        for row in report["rows"]:
            key = tuple(row[k] for k in tables.KEY)
            if key in seen:
                raise tables.ReportError(f"{path}: row {' '.join(key)} is also in {seen[key]}")
            seen[key] = path
            by_spec.setdefault(row["op"], []).append(row)
    return [row for spec in order for row in by_spec.get(spec, [])]
