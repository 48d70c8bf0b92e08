"""The distribution as a user gets it: the wheel holds the compiled kernel and the harness's
packages, installs into a clean virtualenv with NumPy as its only runtime dependency, and works."""

import glob
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# one wheel build (in the source tree's build/) at a time: under xdist, both tests in one worker
pytestmark = pytest.mark.xdist_group("wheel")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
                    ROOT], check=True)
    (path,) = glob.glob(str(out / "tenshell-*.whl"))
    return path


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.startswith("impl/_kernels/_reduce") and n.endswith(".so")]
    for required in ("impl/tensor.py", "oracles/base.py", "properties/specs/elementwise.py",
                     "reports/cli.py"):
        assert required in names
    assert not [n for n in names if n.endswith(".c") or n.startswith("tests/")]


def test_wheel_installs_and_runs_with_numpy_only(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "-c",
                    os.path.join(ROOT, "constraints.txt"), wheel], check=True)
    code = ("import sys, impl, impl._kernels._reduce as k\n"
            "x = impl.randn(4, 3, requires_grad=True)\n"
            "impl.nn.functional.linear(x, impl.ones(2, 3), impl.zeros(2)).sum().backward()\n"
            "assert x.grad.shape == (4, 3) and x.grad.dtype == impl.float32\n"
            "assert 'torch' not in sys.modules and 'jax' not in sys.modules\n"
            "print(k.__file__)")
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert str(venv) in out.stdout
    version = subprocess.run([str(venv / "bin" / "tenshell"), "--version"], capture_output=True,
                             text=True)
    assert version.returncode == 0 and version.stdout.startswith("tenshell ")
