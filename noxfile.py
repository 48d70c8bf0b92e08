"""nox sessions: tests (default), conformance, planted, lint, build, bench.

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
    """Time impl against torch, JAX and MyGrad (`tenshell bench`); reports/out/bench.{json,md}."""
    session.install(*CONSTRAINTS, ".[bench]")
    session.run("tenshell", "bench", *session.posargs)


@nox.session
def conformance(session):
    """The conformance suite on impl (`tenshell conform`, ci profile); reports in reports/out/.
    Another subject: `nox -s conformance -- --subject torch` (or jax, mygrad, module:Adapter)."""
    session.install(*CONSTRAINTS, ".[harness,mygrad]")
    session.run("tenshell", "conform", "--profile", "ci", "--out", "reports/out", *session.posargs)


@nox.session
def planted(session):
    """The harness's own test: every planted bug caught by a ci-profile run, and impl clean on
    the same specs for seeds 0-4 (``TENSHELL_SEEDS``; `nox -s tests` runs seed 0)."""
    session.install(*CONSTRAINTS, "-e", ".[test]")
    session.run("pytest", "tests/test_harness_meta.py", *session.posargs,
                env={"TENSHELL_SEEDS": "0,1,2,3,4"})
