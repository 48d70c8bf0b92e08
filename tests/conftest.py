"""Fixtures shared by the test modules: a seeded NumPy generator and impl <-> torch comparison."""

import zlib

import numpy as np
import pytest
import torch

import impl

# Elementwise results of impl and torch differ by a few ulps at most.
TOLERANCE = {np.dtype(np.float32): dict(rtol=2e-5, atol=1e-6),
             np.dtype(np.float64): dict(rtol=1e-12, atol=1e-13)}


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test's name, so each test sees its own fixed data."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


@pytest.fixture
def to_torch():
    """Convert an impl Tensor or an array to a torch tensor (a leaf, optionally requiring grad)."""
    def convert(x, requires_grad=False):
        arr = x.detach().numpy() if isinstance(x, impl.Tensor) else np.asarray(x)
        return torch.tensor(arr, requires_grad=requires_grad)
    return convert


@pytest.fixture
def assert_matches():
    """Assert an impl Tensor equals a torch tensor: same shape, same dtype, close values."""
    def check(actual, expected):
        assert isinstance(actual, impl.Tensor), type(actual)
        want = expected.detach().numpy()
        assert actual.shape == want.shape
        assert actual.dtype == want.dtype
        np.testing.assert_allclose(actual.data, want, **TOLERANCE.get(want.dtype, {}))
    return check


# -- pytest-xdist: `pytest -n 2` keeps the tests of one xdist_group (a conformance spec's rows,
# the wheel build) in one worker

@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """With ``-n`` and no ``--dist``, distribute by ``loadgroup`` (tests outside a group one by
    one, as ``load`` does) rather than xdist's ``load``."""
    if config.getoption("numprocesses", None) and config.getoption("dist", "no") == "no":
        config.option.dist = "loadgroup"


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run these tests in one xdist worker")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """In an xdist worker, end each grouped test's id with ``@group``, which loadgroup reads.
    xdist does it only where the worker's own command line says ``--dist loadgroup``, and its
    renaming no longer takes on pytest 9.2's structured ids (pytest-xdist#1386)."""
    if not hasattr(config, "workerinput"):
        return
    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(groups)
        if not groups or item.nodeid.endswith(suffix):
            continue
        name = item.nodeid + suffix
        if getattr(item, "_id", None) is not None:  # pytest >= 9.2
            item._id = type(item._id).parse(name)
        else:
            item._nodeid = name


@pytest.fixture
def disk_full(monkeypatch):
    """A context in which every file opened through ``os.fdopen`` (how reports.atomic writes)
    takes half of what is written, then raises "No space left on device"."""
    import contextlib
    import os

    opened = os.fdopen

    class Torn:
        def __init__(self, fd, mode):
            self.file = opened(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[:len(data) // 2])
            raise OSError(28, "No space left on device")

    @contextlib.contextmanager
    def full():
        with monkeypatch.context() as m:
            m.setattr(os, "fdopen", Torn)
            yield
    return full
