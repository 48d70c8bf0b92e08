"""OpSpecs of the matrix products (impl.ops.linalg): matmul by shape family, mm, bmm.

Sizes include 0 (an empty contraction gives zeros); each output element sums ``k`` products.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from properties.spec import BadInput, Example, OpSpec, register
from properties.strategies import seeds, values

FAMILY = "linalg"
_SIDE = st.one_of(st.integers(1, 5), st.integers(0, 5))  # a 0 now and then


@st.composite
def _product(draw, ndims, batch="none"):
    """Operands of ``ndims`` (1: a vector, 2: a matrix). ``batch`` "broadcast" gives the matrices
    leading batch dims that broadcast together (at least one has some); "equal" gives both one
    equal batch dim (bmm)."""
    n, k, m = draw(_SIDE), draw(_SIDE), draw(_SIDE)
    lead = [(), ()]
    if batch == "broadcast":
        lead = list(draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=3, max_side=3)).input_shapes)
        lead = [b if d == 2 else () for b, d in zip(lead, ndims)]
        if not any(lead):
            lead[ndims.index(2)] = (draw(st.integers(1, 3)),)
    elif batch == "equal":
        lead = [(draw(st.integers(0, 3)),)] * 2
    a = lead[0] + ((n, k) if ndims[0] == 2 else (k,))
    b = lead[1] + ((k, m) if ndims[1] == 2 else (k,))
    domain = draw(st.sampled_from(["real", "real", "large"]))
    s = draw(seeds)
    return Example((values(s, a, domain), values(s + 1, b, domain)))


def _inner(ex):
    """Products summed per output element: the contracted size."""
    return ex.args[0].shape[-1]


def _spec(name, variant, examples, bad=()):
    # BLAS picks its kernel by the operands' strides: layouts agree to rounding, not bitwise
    return OpSpec(name, FAMILY, variant, examples, lambda J, a, b: J.jnp.matmul(a, b),
                  diff=(0, 1), accumulation=_inner, alias=True, exact_layouts=False,
                  bad_inputs=list(bad))


def _bad(description, a, b, raises=RuntimeError):
    return BadInput(description, lambda: Example((np.ones(a), np.ones(b))), (raises,))


_MATMUL_BAD = [
    _bad("inner sizes differ", (2, 3), (2, 3)),
    _bad("vector sizes differ", (3,), (4,)),
    _bad("0-d operand", (), (2, 3)),
    _bad("batch dims do not broadcast", (2, 2, 3), (3, 3, 4)),
    BadInput("dtypes differ", lambda: Example((np.ones((2, 3), np.float32), np.ones((3, 2)))),
             (RuntimeError,)),
]

register(
    _spec("matmul", "1-D @ 1-D", _product((1, 1)), _MATMUL_BAD),
    _spec("matmul", "1-D @ 2-D", _product((1, 2))),
    _spec("matmul", "2-D @ 1-D", _product((2, 1))),
    _spec("matmul", "2-D @ 2-D", _product((2, 2))),
    _spec("matmul", "batched", st.sampled_from([(1, 2), (2, 1), (2, 2)]).flatmap(
        lambda ndims: _product(ndims, "broadcast"))),
    _spec("mm", "", _product((2, 2)), [_bad("inner sizes differ", (2, 3), (2, 3)),
                                       _bad("3-d operand", (2, 2, 3), (3, 2)),
                                       _bad("1-d operand", (2, 3), (3,))]),
    _spec("bmm", "", _product((2, 2), "equal"), [_bad("inner sizes differ", (2, 2, 3), (2, 4, 3)),
                                                 _bad("batch sizes differ", (2, 2, 3), (3, 3, 3)),
                                                 _bad("2-d operand", (2, 3), (3, 2)),
                                                 _bad("batch dims broadcast", (1, 2, 3),
                                                      (2, 3, 2))]),
)
