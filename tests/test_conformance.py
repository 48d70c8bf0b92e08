"""The conformance suite as pytest: one test per (op, check, oracle, dtype, layout) row.

Each spec runs once (all its checks over the drawn examples) the first time one of its rows is
asked for; the rows are then read from that run. Under pytest-xdist (``-n 2``) the rows of one
spec are an ``xdist_group`` of their own and run in one worker (conftest.py makes
``--dist loadgroup`` the default there), so no spec runs twice. The Hypothesis profile comes
from TENSHELL_PROFILE (default ``quick``; ``nox -s conformance`` runs the ``ci`` profile through
the CLI). Run just these with ``pytest -m conformance``.
"""

import functools
import os

import pytest

from properties import runner

pytestmark = pytest.mark.conformance

PROFILE = os.environ.get("TENSHELL_PROFILE", "quick")
RUN = runner.make_run("impl", profile=PROFILE)
SPECS = {s.id: s for s in runner.select(profile=PROFILE)}
KEYS = [key for spec in SPECS.values() for key in runner.expected_keys(spec, RUN)]
# one xdist group per spec: its rows come from one run, in one worker (xdist reads the group
# after the id's last "]": none in the group's name)
ROWS = [pytest.param(k, id="-".join(k), marks=pytest.mark.xdist_group(
    k[0].replace("[", "(").replace("]", ")"))) for k in KEYS]


@functools.cache
def rows_of(spec_id):
    return {(r.op, r.check, r.oracle, r.dtype, r.layout): r
            for r in RUN.spec_rows(SPECS[spec_id])}


@pytest.mark.parametrize("key", ROWS)
def test_row(key):
    row = rows_of(key[0]).get(key)
    if row is None:
        pytest.skip("no drawn example exercised this row")
    if row.status in ("unsupported", "not-applicable"):
        pytest.skip(f"{row.status}: {row.detail}")
    if row.status == "xfail":
        pytest.xfail(row.detail)
    if row.status == "not-exercised" and not runner.unexpected(row.status, RUN.profile):
        pytest.skip("not exercised by this profile's few examples")
    assert row.status in ("pass", "oracle-disagree"), (
        f"{row.status}: {row.detail} (error {row.error:.3g}, tolerance {row.tolerance:.3g}) "
        f"{row.repro}")
