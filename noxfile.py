"""nox sessions: tests (default), conformance, lint, build, bench.

Every session installs with pip into a virtualenv under the pins of constraints.txt (torch's CPU
build, jax, numpy), so a fresh machine runs exactly what CI runs.
"""

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["tests"]

CONSTRAINTS = ("-c", "constraints.txt")


@nox.session
def tests(session):
    """Build and install the package (compiled kernels included) and run the pytest suite."""
    session.install(*CONSTRAINTS, ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session):
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def build(session):
    """Build the wheel, check the kernel .so is in it, install it in a clean venv, import it."""
    import glob
    import os
    import tempfile
    import zipfile

    session.install("build")
    dist = tempfile.mkdtemp(prefix="tenshell-dist-")
    session.run("python", "-m", "build", "--wheel", "--outdir", dist)
    (wheel,) = glob.glob(os.path.join(dist, "tenshell-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    kernels = [n for n in names if n.startswith("impl/_kernels/") and n.endswith(".so")]
    if not kernels:
        session.error(f"{os.path.basename(wheel)} contains no compiled kernel (impl/_kernels/*.so)")
    session.log(f"{os.path.basename(wheel)}: {', '.join(kernels)}")
    venv = os.path.join(dist, "venv")
    session.run("python", "-m", "venv", venv)
    py = os.path.join(venv, "bin", "python")
    session.run(py, "-m", "pip", "install", "--quiet", *CONSTRAINTS, wheel, external=True)
    session.run(py, "-c", "import impl; x = impl.randn(3, requires_grad=True); "
                "(x * x).sum().backward(); assert x.grad.shape == (3,); "
                "import impl._kernels._reduce as k; print('imported', k.__file__)",
                external=True)
    session.run(os.path.join(venv, "bin", "tenshell"), "--version", external=True)


@nox.session
def bench(session):
    """Time impl against torch (`tenshell bench`); reports in reports/out/bench.{json,md}."""
    session.install(*CONSTRAINTS, ".[harness]")
    session.run("tenshell", "bench", *session.posargs)


@nox.session
def conformance(session):
    """The conformance suite on impl (`tenshell conform`, ci profile); reports in reports/out/."""
    session.install(*CONSTRAINTS, ".[harness]")
    session.run("tenshell", "conform", "--profile", "ci", "--out", "reports/out", *session.posargs)
