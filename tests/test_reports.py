"""The conformance reports of `tenshell conform`: the short Markdown, the JUnit XML and the
self-contained HTML page (opened in a headless Chromium when one is installed), for a real run,
a run with a failing row and an empty run; and every file written atomically."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import escape

import pytest

from reports import conformance, html

FILES = ("conformance.json", "conformance.md", "conformance.xml", "index.html")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
DETAIL = "error 0.5 > tolerance 1e-06 at <x[3]> & beyond"
REPRO = "tenshell conform --subject impl --repro failures/exp__vjp__torch__float32.npz"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A quick run of `tenshell conform` on exp and sum: (folder, report dict, stdout)."""
    out = tmp_path_factory.mktemp("run")
    proc = subprocess.run([sys.executable, "-m", "reports", "conform", "--ops", "exp,sum",
                           "--profile", "quick", "--jobs", "1", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, json.loads((out / "conformance.json").read_text()), proc.stdout


@pytest.fixture(scope="module")
def failing(real, tmp_path_factory):
    """The real run with one float32 VJP row turned into a failure (a detail that needs
    escaping, a repro command) and one into an oracle disagreement; its report folder."""
    _, report, _ = real
    rows = copy.deepcopy(report["rows"])
    fail = next(r for r in rows if (r["op"], r["check"], r["oracle"], r["dtype"]) ==
                ("exp", "vjp", "torch", "float32"))
    fail.update(status="fail", detail=DETAIL, repro=REPRO)
    dispute = next(r for r in rows if (r["op"], r["check"], r["dtype"]) ==
                   ("sum", "forward", "float64"))
    dispute.update(status="oracle-disagree", detail="torch and jax disagree (example 7)")
    out = tmp_path_factory.mktemp("failing")
    conformance.write(out, rows, report["meta"])
    return out


@pytest.fixture(scope="module")
def empty(real, tmp_path_factory):
    out = tmp_path_factory.mktemp("empty")
    conformance.write(out, [], real[1]["meta"])
    return out


def junit(path):
    """The JUnit file parsed, after checking every count attribute against its test cases."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    for suite in root:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
        assert suite.get("errors") == "0"
    for key in ("tests", "failures", "skipped"):
        assert int(root.get(key)) == sum(int(s.get(key)) for s in root)
    return root


def test_a_run_writes_every_report(real):
    out, report, stdout = real
    assert all(str(out / name) in stdout for name in FILES)
    md = (out / "conformance.md").read_text()
    assert md.startswith("# Conformance: impl against torch, jax, fd")
    assert "| pass | fail |" in md and "## Accuracy (float32)" in md
    assert "## Failing rows" not in md and len(md.splitlines()) < 150
    root = junit(out / "conformance.xml")
    assert int(root.get("tests")) == len(report["rows"]) and root.get("failures") == "0"
    case = root.find("testsuite[@name='elementwise']/testcase[@classname='elementwise.exp']"
                     "[@name='forward-torch-float32-contiguous']")
    assert case is not None and float(case.get("time")) >= 0
    skipped = root.findall(".//skipped")  # quick is not a cover profile: unreached regions skip
    assert len(skipped) == report["summary"]["not-exercised"]
    page = (out / "index.html").read_text()
    for title in html.SECTIONS.values():
        assert f"<h2>{title}</h2>" in page
    assert page.count("<img ") == 2 and "No row fails the run." in page


def test_a_failing_row_shows_in_every_report(failing):
    md = (failing / "conformance.md").read_text()
    assert "## Failing rows (1)" in md and REPRO in md
    row = "| exp | vjp | torch | float32 | contiguous |"
    assert row in md and escape(DETAIL, quote=False) in md  # no raw HTML in a PR comment
    assert md.startswith("# Conformance") and "FAIL: 1 unexpected row." in md
    assert "## Oracle disagreements (1)" in md and "torch and jax disagree (example 7)" in md
    root = junit(failing / "conformance.xml")
    assert root.get("failures") == "1"
    (case,) = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert case.get("classname") == "elementwise.exp"
    assert case.get("name") == "vjp-torch-float32-contiguous"
    failure = case.find("failure")
    assert DETAIL in failure.get("message") and REPRO in failure.text
    assert "tolerance" in failure.text
    page = (failing / "index.html").read_text()
    assert escape(DETAIL) in page and DETAIL not in page and escape(REPRO) in page
    assert "FAIL: 1 unexpected row." in page and "torch and jax disagree (example 7)" in page


def test_an_empty_run_writes_valid_reports(empty, tmp_path, real):
    root = junit(empty / "conformance.xml")
    assert root.get("tests") == "0" and len(root) == 0
    assert json.loads((empty / "conformance.json").read_text())["rows"] == []
    assert "PASS. 0 rows over 0 op specs" in (empty / "conformance.md").read_text()
    page = (empty / "index.html").read_text()
    assert "<img " not in page and all(f"<h2>{t}</h2>" in page for t in html.SECTIONS.values())
    # no float32 row: nothing to measure accuracy with, and the page says so
    _, report, _ = real
    rows = [r for r in report["rows"] if r["dtype"] != "float32"]
    conformance.write(tmp_path, rows, report["meta"])
    page = (tmp_path / "index.html").read_text()
    assert "No float32 forward or VJP row with oracle errors" in page
    assert "## Accuracy" not in (tmp_path / "conformance.md").read_text()


def test_the_page_links_timing_reports_next_to_it(tmp_path, real):
    (tmp_path / "timing.json").write_text("{}")
    (tmp_path / "timing_sweep_conv.png").write_bytes(b"")
    conformance.write(tmp_path, [], real[1]["meta"])
    page = (tmp_path / "index.html").read_text()
    assert 'href="timing.md"' in page and 'href="timing_sweep_conv.png"' in page


def test_writes_are_atomic(tmp_path, monkeypatch, real, disk_full):
    _, report, _ = real
    conformance.write(tmp_path, report["rows"], report["meta"])
    before = {name: (tmp_path / name).read_bytes() for name in FILES}

    def broken(*args):
        raise RuntimeError("renderer crashed")

    # a view that fails: nothing is written, all four previous reports stay
    monkeypatch.setattr(html, "page", broken)
    with pytest.raises(RuntimeError):
        conformance.write(tmp_path, [], report["meta"])
    monkeypatch.undo()

    # the disk fills half way through a file: the previous file stays, no temporary is left
    with disk_full(), pytest.raises(OSError, match="No space"):
        conformance.write(tmp_path, [], report["meta"])
    assert {name: (tmp_path / name).read_bytes() for name in FILES} == before
    assert sorted(os.listdir(tmp_path)) == sorted(FILES)


def dump_dom(page, profile):
    """Chromium's DOM of ``page`` after its load event, and its log."""
    proc = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox",
                           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium, chromium-browser or google-chrome "
                                             "on PATH to open the page in")
@pytest.mark.parametrize("report", ["failing", "empty"])
def test_the_page_renders_offline_in_a_headless_browser(report, request, tmp_path):
    page = request.getfixturevalue(report) / "index.html"
    text = page.read_text()
    # no request leaves the file: every link is in-page, relative or inline data
    for url in re.findall(r'\b(?:src|href)\s*=\s*["\']([^"\']*)', text):
        assert url.startswith(("#", "data:")) or not re.match(r"[a-z]+:|//", url), url
    assert not re.search(r"<link\b|@import|url\(", text)

    dom, log = dump_dom(page, tmp_path / "profile")
    for title in html.SECTIONS.values():
        assert f"<h2>{title}</h2>" in dom
    # the page's script counts the <img> elements decoded (naturalWidth > 0) after load, and its
    # window.onerror handler writes any uncaught error into data-errors
    images = text.count("<img ")
    assert f'<body data-images="{images}/{images}"' in dom
    assert "data-errors" not in dom
    assert "Uncaught" not in log and "ERROR:CONSOLE" not in log

    # the same checks do see a broken page
    broken = tmp_path / "broken.html"
    broken.write_text(text.replace("</body>", "<script>null.x</script></body>"))
    dom, log = dump_dom(broken, tmp_path / "profile")
    assert 'data-errors="Uncaught TypeError' in dom and "Uncaught" in log
