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
