"""nox sessions: tests (default), conformance, regression, baseline, planted, lint, build, bench.

Every session installs with pip into a virtualenv under the pins of constraints.txt (torch's CPU
build, jax, numpy), so a fresh machine runs exactly what CI runs.
"""

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["tests"]

CONSTRAINTS = ("-c", "constraints.txt")


@nox.session
def tests(session):
    """Install the package in editable mode (building the Cython kernels in place) and run the
    pytest suite; tests/test_packaging.py builds and installs the wheel as a user would."""
    session.install(*CONSTRAINTS, "-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session):
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def build(session):
    """Build the wheel, check the kernel .so is in it, install it in a clean venv, import it."""
    session.install(*CONSTRAINTS, "pytest")
    session.run("pytest", "tests/test_packaging.py", *session.posargs)


@nox.session
def bench(session):
    """Time impl against torch, JAX and MyGrad (`tenshell bench`): forward and backward apart,
    median and spread, ratios to torch, GFLOP/s against the measured SGEMM peak, size sweeps;
    reports/out/timing.{json,md} and timing_sweep_*.png."""
    session.install(*CONSTRAINTS, ".[bench]")
    session.run("tenshell", "bench", *session.posargs)


@nox.session
def conformance(session):
    """The conformance suite on impl (`tenshell conform`, ci profile); reports in reports/out/.
    Another subject: `nox -s conformance -- --subject torch` (or jax, mygrad, module:Adapter)."""
    session.install(*CONSTRAINTS, ".[harness,mygrad]")
    session.run("tenshell", "conform", "--profile", "ci", "--out", "reports/out", *session.posargs)


# The regression gate's run: the ci-profile conformance suite and the quick benchmark subset,
# into one folder that `tenshell compare` reads.
REGRESSION_OUT = "reports/out/regression"
BASELINE = "reports/baseline"


def _gate_run(session, out):
    session.install(*CONSTRAINTS, ".[harness,bench]")
    # a failing row is the comparison's to report (as new or as already in the baseline)
    session.run("tenshell", "conform", "--profile", "ci", "--out", out, success_codes=[0, 1])
    session.run("tenshell", "bench", "--quick", "--out", out)


@nox.session
def regression(session):
    """The regression gate CI runs after the tests: conformance (ci profile) and the quick
    benchmarks, compared with the committed baseline (`tenshell compare`; exit 1 on a new
    failing, not-exercised or unsupported row, an accuracy ratio grown more than 2x, a time
    ratio to torch grown more than 25 % beyond the spread, or less coverage). Options after
    `--` go to `tenshell compare` (e.g. `-- --markdown`)."""
    _gate_run(session, REGRESSION_OUT)
    session.run("tenshell", "compare", BASELINE, REGRESSION_OUT, *session.posargs)


@nox.session
def baseline(session):
    """Refresh the committed baseline (reports/baseline/{conformance,timing}.json) from this
    machine; review the diff and commit it with the change that moved it."""
    _gate_run(session, REGRESSION_OUT)
    import shutil

    for name in ("conformance.json", "timing.json"):
        shutil.copy(f"{REGRESSION_OUT}/{name}", f"{BASELINE}/{name}")
    session.log(f"baseline refreshed in {BASELINE}/")


@nox.session
def planted(session):
    """The harness's own test: every planted bug caught by a ci-profile run, and impl clean on
    the same specs for seeds 0-4 (``TENSHELL_SEEDS``; `nox -s tests` runs seed 0)."""
    session.install(*CONSTRAINTS, "-e", ".[test]")
    session.run("pytest", "tests/test_harness_meta.py", *session.posargs,
                env={"TENSHELL_SEEDS": "0,1,2,3,4"})
