"""Sharded runs: `tenshell conform --shard I/N` runs a deterministic part of the selected specs,
and `tenshell merge` makes of the parts the single run's report (but for times) — refusing
parts that are not shards of one run with one line on stderr."""

import json
import subprocess
import sys

import pytest

# five cheap specs (neg has three variants), and one whose torch results depend on torch's
# thread count unless the runner fixes it
OPS = "neg,t,transpose,nn.functional.conv2d[no bias]"
ARGS = ("--ops", OPS, "--profile", "quick")


def tenshell(*args):
    return subprocess.run([sys.executable, "-m", "reports", *args], capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The folders of the single run (in two worker processes) and of shards 1/2 and 2/2 (each
    in its own process; the same seed and profile)."""
    root = tmp_path_factory.mktemp("shards")
    for name, extra in (("single", ("--jobs", "2")), ("s1", ("--shard", "1/2", "--jobs", "1")),
                        ("s2", ("--shard", "2/2", "--jobs", "1"))):
        out = tenshell("conform", *ARGS, *extra, "--out", str(root / name))
        assert out.returncode == 0, out.stdout + out.stderr
    return root


def _report(folder):
    return json.loads((folder / "conformance.json").read_text())


def _without_times(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_shards_partition_the_selection(runs):
    single = _report(runs / "single")
    specs = list(single["meta"]["families"])
    shards = [_report(runs / s)["meta"]["shard"] for s in ("s1", "s2")]
    assert [s["index"] for s in shards] == [1, 2] and {s["count"] for s in shards} == {2}
    assert all(s["all_specs"] == specs for s in shards)
    assert shards[0]["specs"] == specs[0::2] and shards[1]["specs"] == specs[1::2]
    assert "shard" not in single["meta"]


def test_merged_shards_are_the_single_run(runs, tmp_path):
    out = tenshell("merge", str(tmp_path), str(runs / "s2"), str(runs / "s1" / "conformance.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "wrote" in out.stdout and "rows" in out.stdout
    single, merged = _report(runs / "single"), _report(tmp_path)
    assert _without_times(merged["rows"]) == _without_times(single["rows"])
    assert merged["summary"] == single["summary"]
    assert "shard" not in merged["meta"] and merged["meta"]["families"] == single["meta"][
        "families"]
    parts = [_report(runs / s)["meta"]["wall_seconds"] for s in ("s1", "s2")]
    assert merged["meta"]["wall_seconds"] == max(parts)
    assert [s["index"] for s in merged["meta"]["shards"]] == [1, 2]
    assert (tmp_path / "conformance.md").exists()


def test_merge_exits_1_on_an_unexpected_row(runs, tmp_path):
    def failing(report):
        report["rows"][0].update(status="fail", detail="planted in the copy")

    copy = _altered(runs, tmp_path, "s2", failing)
    out = tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), str(copy))
    assert out.returncode == 1 and "1 fail" in out.stdout, out.stdout + out.stderr
    assert _report(tmp_path / "m")["summary"]["unexpected"] == 1


def _altered(runs, tmp_path, shard, change):
    """A copy of shard ``shard``'s report with ``change(report)`` applied."""
    report = _report(runs / shard)
    change(report)
    path = tmp_path / f"{shard}-altered.json"
    path.write_text(json.dumps(report))
    return path


def _refused(out, *words):
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tenshell merge: "), out.stderr
    assert "Traceback" not in out.stderr and all(w in lines[0] for w in words), lines[0]


def test_merge_refuses_a_shard_twice_and_overlapping_specs(runs, tmp_path):
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), str(runs / "s1")),
             "shard 1/2 again")

    def as_second(report):
        report["meta"]["shard"]["index"] = 2

    copy = _altered(runs, tmp_path, "s1", as_second)
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), str(copy)), "also in")


def test_merge_refuses_rows_outside_the_shard(runs, tmp_path):
    elsewhere = _report(runs / "s1")["meta"]["shard"]["specs"][0]

    def stray(report):
        report["rows"].append(dict(report["rows"][0], op=elsewhere))

    copy = _altered(runs, tmp_path, "s2", stray)
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), str(copy)),
             "outside its shard")


@pytest.mark.parametrize("field, value, words", [
    ("seed", 1, ("seed 1, but",)),
    ("profile", "ci", ("profile 'ci', but",)),
    ("versions", "tenshell 9.9", ("tenshell 9.9",)),
])
def test_merge_refuses_parts_of_different_runs(runs, tmp_path, field, value, words):
    def change(report):
        if field == "versions":
            report["meta"]["versions"]["tenshell"] = value.split()[1]
        else:
            report["meta"][field] = value

    copy = _altered(runs, tmp_path, "s2", change)
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), str(copy)), *words)


def test_merge_refuses_other_shard_counts(runs, tmp_path):
    def of_three(report):
        report["meta"]["shard"]["count"] = 3

    copy = _altered(runs, tmp_path, "s2", of_three)
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), str(copy)), "shard count")


def test_merge_refuses_a_truncated_report(runs, tmp_path):
    text = (runs / "s2" / "conformance.json").read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[:len(text) // 2])
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), str(cut)), "truncated",
             str(cut))


def test_merge_refuses_a_report_that_is_no_shard(runs, tmp_path):
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "single"), str(runs / "s1")),
             "not a shard")


def test_a_missing_shard_is_an_error_unless_allowed(runs, tmp_path):
    _refused(tenshell("merge", str(tmp_path / "m"), str(runs / "s1")), "shard 2 of 2 missing",
             "--allow-missing")
    out = tenshell("merge", str(tmp_path / "m"), str(runs / "s1"), "--allow-missing")
    assert out.returncode == 0 and "missing" in out.stderr, out.stdout + out.stderr
    merged = _report(tmp_path / "m")
    assert merged["meta"]["missing"] == {"shards": [2], "specs": _report(runs / "s2")[
        "meta"]["shard"]["specs"]}
    assert {r["op"] for r in merged["rows"]} == set(_report(runs / "s1")["meta"]["shard"][
        "specs"])


@pytest.mark.parametrize("value", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(value, tmp_path):
    out = tenshell("conform", "--ops", "neg", "--shard", value, "--out", str(tmp_path))
    assert out.returncode == 2 and "--shard: expected I/N" in out.stderr, out.stderr
