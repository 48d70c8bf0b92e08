"""OpSpecs of the matrix products (impl.ops.linalg): matmul in every combination of operand ranks
and every argument form (torch.matmul, Tensor.matmul, ``a @ b``, ``b.__rmatmul__(a)``), mm and
bmm (function and method).

The small tier draws sides 0 to 5; the large tier (the function form, 2-D @ 2-D half the time)
sides up to 257 that straddle block widths (7/8/9, ..., 255/256/257) or are odd, and batch dims
that broadcast. Curated cases: the empty contraction (zeros), a contraction one past 128 and a
256 x 256 product, where one element off by 1e-4 in float32 (1e-9 in float64) must show. Each
output element sums ``k`` products.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, register
from properties.strategies import STRADDLE, seeds, values

FAMILY = "linalg"
_SIDE = st.one_of(st.integers(1, 5), st.integers(0, 5))  # a 0 now and then
# (ranks of a and b) for matmul: 1 a vector, 2 a matrix, 3 a matrix with batch dims
KINDS = {"1-D @ 1-D": (1, 1), "1-D @ 2-D": (1, 2), "2-D @ 1-D": (2, 1), "2-D @ 2-D": (2, 2),
         "batched @ 1-D": (3, 1), "1-D @ batched": (1, 3), "batched @ 2-D": (3, 2),
         "2-D @ batched": (2, 3), "batched @ batched": (3, 3)}


def _rank(shape):
    return min(len(shape), 3)


def _side(rng, high):
    """A large-tier side up to ``high``: one that straddles a block width (7, 8, 9, ..., 255,
    256, 257) two times in three, else an odd one, log-uniform. NumPy draws it: Hypothesis's
    draws favour the smallest sides."""
    if rng.random() < 2 / 3:
        return int(rng.choice([n for n in STRADDLE if n <= high]))
    return int(np.exp(rng.uniform(0, np.log(high)))) | 1


def _batch_dims(rng, ranks, large):
    """The batch dims of operands of ``ranks`` (3: batched) that broadcast together: a common
    shape of 1 to 3 sides, each batched operand's a suffix of it (a shorter one time in three)
    with each side set to 1 one time in three. NumPy draws them: Hypothesis's choices are too
    correlated to make both operands broadcast often."""
    common = tuple(rng.integers(2, 5 if large else 4, rng.integers(1, 4)))
    lead = []
    for r in ranks:
        dims = common[rng.integers(1, len(common)):] if len(common) > 1 and rng.random() < 1 / 3 \
            else common
        lead.append(tuple(1 if rng.random() < 1 / 3 else int(n) for n in dims) if r == 3 else ())
    return lead


@st.composite
def _product(draw, kinds, forms, large=False, bmm=False):
    """Operands of a kind from ``kinds`` and an argument form from ``forms``. Batched operands get
    leading dims that broadcast together (``bmm``: one equal batch dim). Large: sides up to 257
    (65 with batch dims), straddling block widths, the function form."""
    rng = np.random.default_rng(draw(seeds))
    if large:  # half the time the matrix product real code runs most
        kind = "2-D @ 2-D" if "2-D @ 2-D" in kinds and rng.random() < 0.5 else \
            str(rng.choice(kinds))
    else:
        kind = draw(st.sampled_from(kinds))
    ranks = KINDS[kind]
    batched = 3 in ranks
    if large:
        n, k, m = (_side(rng, 65 if batched else 257) for _ in range(3))
    else:  # k = 0 is a curated case: the one zero-size example drawn is left to the others
        n, k, m = draw(_SIDE), draw(st.integers(1, 5)), draw(_SIDE)
    lead = [(), ()]
    if bmm:
        b = int(rng.integers(1, 10)) if large else draw(st.integers(0, 3))
        lead = [(b,), (b,)]
    elif batched:
        lead = _batch_dims(rng, ranks, large)
    a = lead[0] + ((n, k) if ranks[0] > 1 else (k,))
    b = lead[1] + ((k, m) if ranks[1] > 1 else (k,))
    domain = draw(st.sampled_from(["real", "real", "large"]))
    s = draw(seeds)
    form = "function" if large else draw(st.sampled_from(forms))  # forms: the small tier's
    return Example((values(s, a, domain), values(s + 1, b, domain)),
                   {} if form == "function" else {"form": form})


def _call(method):
    """The op in the drawn form: ``fn(a, b)``, ``a.<method>(b)``, ``a @ b`` or
    ``b.__rmatmul__(a)`` (what Python calls for ``a @ b`` when ``a`` is no tensor)."""
    def call(fn, a, b, form="function"):
        if form == "method":
            return fn.method(a, method)(b)
        if form == "operator":
            return a @ b
        return b.__rmatmul__(a) if form == "rmatmul" else fn(a, b)
    return call


def _jax(J, a, b, form="function"):
    return J.jnp.matmul(a, b)


def _inner(ex):
    """Products summed per output element: the contracted size."""
    return ex.args[0].shape[-1]


def _regions(forms):
    return {
        "empty contraction (k = 0)": lambda ex: ex.args[0].shape[-1] == 0,
        "zero-size output, k > 0": lambda ex: ex.args[0].shape[-1] > 0 and any(
            0 in x.shape for x in ex.args),
        **{f"form {f}": (lambda ex, f=f: ex.kwargs.get("form", "function") == f)
           for f in forms},
    }


def _matmul_regions():
    def lead(ex):
        return [x.shape[:-2] for x in ex.args]

    def both_broadcast(ex):
        a, b = lead(ex)
        out = np.broadcast_shapes(a, b)
        return a != out and b != out and all(_rank(x.shape) == 3 for x in ex.args)

    return {
        **{kind: (lambda ex, r=ranks: tuple(_rank(x.shape) for x in ex.args) == r)
           for kind, ranks in KINDS.items()},
        "batch ranks differ": lambda ex: len(ex.args[0].shape) != len(ex.args[1].shape) and all(
            _rank(x.shape) == 3 for x in ex.args),
        "each operand broadcast along a batch dim": both_broadcast,
        **_regions(_MATMUL_FORMS),
    }


def _spec(name, examples, large, regions, bad=(), **kw):
    # BLAS picks its kernel by the operands' strides: layouts agree to rounding, not bitwise
    return OpSpec(name, FAMILY, "", examples, _jax, diff=(0, 1), accumulation=_inner,
                  alias=True, exact_layouts=False, large=large, regions=regions, multilinear=True,
                  bad_inputs=list(bad), call=_call(name), **kw)


def _bad(description, a, b, raises=RuntimeError, dtype=np.float64):
    return BadInput(description, lambda: Example((np.ones(a, dtype), np.ones(b))), (raises,))


# matrices only: no memory layout of 3 or more dims exists
_MATRICES = {(check, layout): "the operands and the output are matrices"
             for check in ("layout", "cotangent") for layout in ("channels_last", "permuted")}
_MATMUL_FORMS = ("function", "method", "operator", "rmatmul")
_METHOD_FORMS = ("function", "method")
_FLOOR = [("256 x 256 @ 256 x 256", Example((values(256, (256, 256)), values(257, (256, 256)))))]


def _empty_contraction(a, b):
    return ("empty contraction: zeros", Example((np.ones(a), np.ones(b))))


register(
    _spec("matmul", _product(list(KINDS), _MATMUL_FORMS),
          _product(list(KINDS), _MATMUL_FORMS, large=True), _matmul_regions(), [
              _bad("inner sizes differ", (2, 3), (4, 5)),
              _bad("matrix @ vector sizes differ", (2, 3), (4,)),
              _bad("vector sizes differ", (3,), (4,)),
              _bad("batched inner sizes differ", (2, 2, 3), (2, 4, 5)),
              _bad("batch dims do not broadcast", (2, 2, 3), (3, 3, 5)),
              _bad("0-d operand", (), (2, 3)),
              _bad("dtypes differ", (2, 3), (3, 2), dtype=np.float32),
              BadInput("Python int operand", lambda: Example((np.ones((2, 3)), 3)),
                       (TypeError,))],
          cases=_FLOOR + [_empty_contraction((2, 0), (0, 3)), (
              "a contraction one past 128", Example((values(129, (63, 129)),
                                                     values(130, (129, 65)))))]),
    _spec("mm", _product(["2-D @ 2-D"], _METHOD_FORMS),
          _product(["2-D @ 2-D"], _METHOD_FORMS, large=True), _regions(_METHOD_FORMS),
          [_bad("inner sizes differ", (2, 3), (2, 3)), _bad("3-d operand", (2, 2, 3), (3, 2)),
           _bad("1-d operand", (3,), (3, 2))],
          inapplicable=_MATRICES, cases=[_empty_contraction((2, 0), (0, 3))]),
    _spec("bmm", _product(["batched @ batched"], _METHOD_FORMS, bmm=True),
          _product(["batched @ batched"], _METHOD_FORMS, large=True, bmm=True),
          _regions(_METHOD_FORMS),
          [_bad("inner sizes differ", (2, 2, 3), (2, 4, 3)),
           _bad("batch sizes differ", (2, 2, 3), (3, 3, 2)),
           _bad("2-d operand", (2, 3), (3, 2)),
           _bad("batch dims broadcast", (1, 2, 3), (2, 3, 2))],
          cases=[_empty_contraction((2, 3, 0), (2, 0, 4))]),
)
