"""OpSpecs of the shape ops (impl.ops.shape): reshape and view, flatten, transpose, t, permute,
unsqueeze, squeeze, broadcast_to and expand, cat, stack, gather, and indexing.

Shape ops compute nothing, so every layout must give the contiguous result bit for bit. Dims are
drawn valid for the input's ndim, negative ones too; sizes include 0 where torch allows it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import seeds, shapes, shapes_with_zero, values

FAMILY = "shape"


def _neg(draw, d, n):
    """``d`` (in [0, n)) as itself or as its negative alias."""
    return d - n if draw(st.booleans()) else d


def _array(draw, shape):
    return values(draw(seeds), shape)


def _primes(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def _reshape(draw):
    """An input and a target ``shape`` with its number of elements, one entry -1 at times."""
    shape = draw(shapes_with_zero(min_dims=0))
    n = prod(shape)
    if n == 0:
        target = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 4)))]
        target[draw(st.integers(0, len(target) - 1))] = 0
    else:
        target = [1] * draw(st.integers(0 if n == 1 else 1, 4))
        for p in _primes(n):
            target[draw(st.integers(0, len(target) - 1))] *= p
    if target and draw(st.booleans()):
        i = draw(st.integers(0, len(target) - 1))
        if prod(target[:i] + target[i + 1:]):  # else -1 is ambiguous, a bad input
            target[i] = -1
    return Example((_array(draw, shape),), {"shape": tuple(target)})


@st.composite
def _packed(draw, inputs, key):
    """``inputs`` with a ``packed`` flag: the method gets its sizes as one tuple or as ints
    (always one tuple when empty: torch's x.view() takes no zero ints)."""
    ex = draw(inputs)
    return Example(ex.args, {**ex.kwargs, "packed": draw(st.booleans()) or not ex.kwargs[key]})


def _sizes_method(key):
    """call= for a method taking sizes as ints or as one tuple (x.view(2, 3), x.view((2, 3)))."""
    def call(fn, x, packed, **kw):
        return fn(kw[key]) if packed else fn(*kw[key])
    return call


@st.composite
def _flatten(draw):
    shape = draw(shapes_with_zero(min_dims=0))
    n = max(len(shape), 1)
    start = draw(st.integers(0, n - 1))
    end = draw(st.integers(start, n - 1))
    return Example((_array(draw, shape),),
                   {"start_dim": _neg(draw, start, n), "end_dim": _neg(draw, end, n)})


def _jax_flatten(J, x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return J.jnp.reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return J.jnp.reshape(x, x.shape[:s] + (prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


@st.composite
def _transpose(draw):
    shape = draw(shapes_with_zero(min_dims=0))
    n = max(len(shape), 1)
    return Example((_array(draw, shape),),
                   {"dim0": draw(st.integers(-n, n - 1)), "dim1": draw(st.integers(-n, n - 1))})


def _jax_transpose(J, x, dim0, dim1):
    return x if x.ndim == 0 else J.jnp.swapaxes(x, dim0, dim1)


@st.composite
def _up_to_2d(draw):
    return Example((_array(draw, draw(shapes_with_zero(min_dims=0, max_dims=2))),))


@st.composite
def _permute(draw):
    shape = draw(shapes_with_zero(min_dims=0))
    n = len(shape)
    # uniform permutations (3-cycles too): Hypothesis's own shrink towards the identity
    perm = np.random.default_rng(draw(seeds)).permutation(n)
    dims = tuple(_neg(draw, int(d), n) for d in perm)
    return Example((_array(draw, shape),), {"dims": dims})


def _jax_permute(J, x, dims):
    return J.jnp.transpose(x, [d % x.ndim for d in dims])


@st.composite
def _unsqueeze(draw):
    shape = draw(shapes_with_zero(min_dims=0))
    n = len(shape) + 1
    return Example((_array(draw, shape),), {"dim": draw(st.integers(-n, n - 1))})


@st.composite
def _squeeze(draw):
    """Shapes rich in size-1 dims; ``dim`` omitted, an int or a tuple of ints."""
    shape = draw(shapes_with_zero(min_dims=0, max_side=2))
    n = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if n else ["none", "int"]))
    kwargs = {}
    if kind == "int":
        kwargs["dim"] = draw(st.integers(-max(n, 1), max(n, 1) - 1))
    elif kind == "tuple":
        dims = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
        kwargs["dim"] = tuple(_neg(draw, d, n) for d in dims)
    return Example((_array(draw, shape),), kwargs)


def _jax_squeeze(J, x, dim=None):
    if x.ndim == 0 or dim is None:
        return J.jnp.squeeze(x)
    dims = {d % x.ndim for d in (dim if isinstance(dim, tuple) else (dim,))}
    return J.jnp.squeeze(x, tuple(d for d in sorted(dims) if x.shape[d] == 1))


@st.composite
def _broadcast(draw):
    """An input and a target ``size``: size-1 dims grow (to 0 too), -1 keeps a dim, and up to
    two new leading dims."""
    shape = draw(shapes_with_zero(min_dims=0, max_dims=3, max_side=3))
    lead = [draw(st.integers(0, 3)) for _ in range(draw(st.integers(0, 2)))]
    size = lead + [draw(st.sampled_from([1, 0, 2, 3, -1] if s == 1 else [s, -1])) for s in shape]
    return Example((_array(draw, shape),), {"size": tuple(size)})


def _jax_broadcast(J, x, size, **_):
    lead = len(size) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(size))
    return J.jnp.broadcast_to(x, shape)


@st.composite
def _cat(draw, count):
    """``count`` arrays that match except along ``dim``, where sizes vary (0 too)."""
    shape = list(draw(shapes_with_zero(min_dims=1)))
    n = len(shape)
    d = draw(st.integers(0, n - 1))
    arrays = []
    for _ in range(count):
        shape[d] = draw(st.integers(0, 4))
        arrays.append(_array(draw, shape))
    return Example(tuple(arrays), {"dim": _neg(draw, d, n)})


@st.composite
def _stack(draw, count):
    shape = draw(shapes_with_zero(min_dims=0, max_dims=3))
    n = len(shape) + 1
    return Example(tuple(_array(draw, shape) for _ in range(count)),
                   {"dim": draw(st.integers(-n, n - 1))})


def _list_call(fn, *tensors, dim):
    """cat/stack take the tensors as one list."""
    return fn(list(tensors), dim=dim)


def _join_specs(name, strategy, jax, bad):
    """One spec per list length (1, 2, 3): ``diff`` names fixed positional arrays. The alias
    check and the bad inputs run on the two-tensor spec."""
    return [OpSpec(name, FAMILY, f"{k} tensor{'s' * (k > 1)}", strategy(k), jax,
                   diff=tuple(range(k)), call=_list_call, alias=k == 2,
                   bad_inputs=bad if k == 2 else [])
            for k in (1, 2, 3)]


def _ones(*shapes):
    return tuple(np.ones(s) for s in shapes)


_CAT_BAD = [
    BadInput("sizes differ outside dim", lambda: Example(_ones((2, 3), (2, 4)), {"dim": 0}),
             (RuntimeError,)),
    BadInput("ndims differ", lambda: Example(_ones((2, 3), (2, 3, 1)), {"dim": 0}),
             (RuntimeError,)),
    BadInput("dim out of range", lambda: Example(_ones((2, 3), (2, 3)), {"dim": 2}),
             (IndexError,)),
    BadInput("0-d tensor", lambda: Example(_ones((), ()), {"dim": 0}), (RuntimeError,)),
    BadInput("empty list", lambda: Example((), {"dim": 0}), (ValueError,)),
]
_STACK_BAD = [
    BadInput("shapes differ", lambda: Example(_ones((2, 3), (2, 4)), {"dim": 0}),
             (RuntimeError,)),
    BadInput("dim out of range", lambda: Example(_ones((2, 3), (2, 3)), {"dim": 3}),
             (IndexError,)),
]


@st.composite
def _gather(draw):
    """An input, ``dim`` and an int64 ``index`` of the input's ndim, no larger than the input
    outside ``dim``, any size along it, with repeated entries."""
    shape = draw(shapes_with_zero(min_dims=0))
    n = len(shape)
    if n == 0:
        return Example((_array(draw, shape), np.zeros((), np.int64)),
                       {"dim": draw(st.sampled_from([0, -1]))})
    d = draw(st.integers(0, n - 1))
    ishape = [draw(st.integers(0, s)) for s in shape]
    ishape[d] = draw(st.integers(0, 5)) if shape[d] else 0
    index = np.random.default_rng(draw(seeds)).integers(0, max(shape[d], 1), ishape)
    return Example((_array(draw, shape), index), {"dim": _neg(draw, d, n)})


def _jax_gather(J, x, index, dim):
    if x.ndim == 0:
        return x
    d = dim % x.ndim
    part = tuple(slice(None) if i == d else slice(0, m) for i, m in enumerate(index.shape))
    return J.jnp.take_along_axis(x[part], index, axis=d)


def _indexed_bad(description, raises, index, **kwargs):
    """A bad call on a (2, 3) array and ``index`` (a list: int64; a float array: float)."""
    return BadInput(description, lambda: Example((np.ones((2, 3)), np.asarray(index)), kwargs),
                    (raises,))


_GATHER_BAD = [
    _indexed_bad("index out of range", RuntimeError, [[3]], dim=1),
    _indexed_bad("negative index", RuntimeError, [[-1]], dim=1),
    _indexed_bad("index ndim differs", RuntimeError, [0], dim=1),
    _indexed_bad("float index", RuntimeError, np.zeros((1, 1)), dim=1),
    _indexed_bad("index larger outside dim", RuntimeError, [[0], [0], [0]], dim=1),
    _indexed_bad("dim out of range", IndexError, [[0]], dim=2),
]


# -- indexing ---------------------------------------------------------------------------------


def _basic_item(draw, size):
    """An int (valid for ``size``) or a slice with a positive step and any bounds."""
    if size and draw(st.integers(0, 2)) == 0:
        return draw(st.integers(-size, size - 1))
    bound = st.none() | st.integers(-size - 2, size + 2)
    return slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, 3])))


@st.composite
def _basic_index(draw):
    """A tuple of ints, slices, None and at most one Ellipsis, valid for the input's shape."""
    shape = draw(shapes_with_zero(min_dims=0))
    n = len(shape)
    front = draw(st.integers(0, n))
    ellipsis = draw(st.booleans())
    back = draw(st.integers(0, n - front)) if ellipsis else 0
    key = [_basic_item(draw, s) for s in shape[:front]]
    if ellipsis:
        key += [Ellipsis] + [_basic_item(draw, s) for s in shape[n - back:]]
    for _ in range(draw(st.integers(0, 2))):
        key.insert(draw(st.integers(0, len(key))), None)
    return Example((_array(draw, shape),), {"key": tuple(key)})


@st.composite
def _array_index(draw, mask):
    """An input and, used after ``axis`` full slices, an int64 index array with negative and
    repeated entries (an argument) or a bool mask (the keyword ``mask``: a layout that changed
    its values, as the broadcast one does, would change the output's shape)."""
    shape = draw(shapes_with_zero(min_dims=1))
    axis = draw(st.integers(0, len(shape) - 1))
    rng = np.random.default_rng(draw(seeds))
    x = _array(draw, shape)
    if mask:
        span = draw(st.integers(1, len(shape) - axis))
        return Example((x,), {"axis": axis, "mask": rng.random(shape[axis:axis + span]) < 0.5})
    size = shape[axis]
    index_shape = draw(shapes(min_dims=0, max_dims=2, max_side=4))
    index = rng.integers(-size, size, index_shape) if size else np.zeros((0,), np.int64)
    return Example((x, index), {"axis": axis})


def _key(index, axis, mask):
    """The index after ``axis`` full slices: the int array argument, else the mask keyword."""
    return (slice(None),) * axis + (index[0] if index else mask,)


def _index_call(fn, x, *index, axis, mask=None):
    return fn(_key(index, axis, mask))


def _jax_index(J, x, *index, axis, mask=None):
    return x[_key(index, axis, mask)]


def _bad(description, raises, of=(2, 3), **kwargs):
    """A bad call on one array of shape ``of`` with keyword ``kwargs``."""
    return BadInput(description, lambda: Example((np.ones(of),), kwargs), (raises,))


def _dims_bad(**kwargs):
    return _bad(f"{', '.join(kwargs)} out of range", IndexError, **kwargs)


_INDEX_BAD = [
    _bad("int out of range", IndexError, key=(5,)),
    _bad("float index", IndexError, key=(0.5,)),
    _bad("zero slice step", ValueError, key=(slice(None, None, 0),)),
    _bad("negative slice step", ValueError, key=(slice(None, None, -1),)),
    _bad("too many indices", IndexError, key=(0, 0, 0)),
]
_RESHAPE_CASES = [("element count differs", (4, 2)), ("two -1", (-1, -1))]
_EXPAND_CASES = [("non-singleton dim changes", (4, 3)), ("fewer sizes than dims", (3,)),
                 ("-1 for a new leading dim", (-1, 2, 3))]


def _sizes_bad(key, cases, **extra):
    return [_bad(description, RuntimeError, **{key: size}, **extra)
            for description, size in cases]


register(
    OpSpec("reshape", FAMILY, examples=_reshape(),
           jax=lambda J, x, shape: J.jnp.reshape(x, shape),
           bad_inputs=_sizes_bad("shape", _RESHAPE_CASES) + [
               _bad("-1 with no elements", RuntimeError, (0, 3), shape=(0, -1))]),
    OpSpec("Tensor.view", FAMILY, examples=_packed(_reshape(), "shape"),
           jax=lambda J, x, shape, packed: J.jnp.reshape(x, shape), call=_sizes_method("shape"),
           bad_inputs=_sizes_bad("shape", _RESHAPE_CASES, packed=True)),
    OpSpec("flatten", FAMILY, examples=_flatten(), jax=_jax_flatten,
           bad_inputs=[_bad("start_dim after end_dim", RuntimeError, start_dim=1, end_dim=0),
                       _dims_bad(start_dim=2)]),
    OpSpec("transpose", FAMILY, examples=_transpose(), jax=_jax_transpose,
           bad_inputs=[_dims_bad(dim0=0, dim1=2)]),
    OpSpec("t", FAMILY, examples=_up_to_2d(),
           jax=lambda J, x: J.jnp.transpose(x),
           bad_inputs=[_bad("3-d input", RuntimeError, (2, 2, 2))]),
    OpSpec("permute", FAMILY, examples=_permute(), jax=_jax_permute,
           bad_inputs=[_bad("too few dims", RuntimeError, dims=(0,)),
                       _bad("repeated dim", RuntimeError, dims=(0, -2)), _dims_bad(dims=(0, 2))]),
    OpSpec("unsqueeze", FAMILY, examples=_unsqueeze(),
           jax=lambda J, x, dim: J.jnp.expand_dims(x, dim), bad_inputs=[_dims_bad(dim=3)]),
    OpSpec("squeeze", FAMILY, examples=_squeeze(), jax=_jax_squeeze,
           bad_inputs=[_dims_bad(dim=2), _dims_bad(dim=(0, 2))]),
    OpSpec("broadcast_to", FAMILY, examples=_broadcast(), jax=_jax_broadcast,
           bad_inputs=_sizes_bad("size", _EXPAND_CASES)),
    OpSpec("Tensor.expand", FAMILY, examples=_packed(_broadcast(), "size"), jax=_jax_broadcast,
           call=_sizes_method("size"), bad_inputs=_sizes_bad("size", _EXPAND_CASES, packed=True)),
    *_join_specs("cat", _cat, lambda J, *ts, dim: J.jnp.concatenate(ts, axis=dim),
                 _CAT_BAD),
    *_join_specs("stack", _stack, lambda J, *ts, dim: J.jnp.stack(ts, axis=dim),
                 _STACK_BAD),
    OpSpec("gather", FAMILY, examples=_gather(), jax=_jax_gather,
           call=lambda fn, x, index, dim: fn(x, dim, index), bad_inputs=_GATHER_BAD,
           nonsmooth="index entries repeat: their gradients accumulate"),
    OpSpec("Tensor.__getitem__", FAMILY, "basic", _basic_index(),
           lambda J, x, key: x[key], call=lambda fn, x, key: fn(key), bad_inputs=_INDEX_BAD),
    OpSpec("Tensor.__getitem__", FAMILY, "int array", _array_index(mask=False), _jax_index,
           call=_index_call,
           bad_inputs=[_indexed_bad("index array out of range", IndexError, [0, 3], axis=1)]),
    OpSpec("Tensor.__getitem__", FAMILY, "bool mask", _array_index(mask=True), _jax_index,
           call=_index_call,
           bad_inputs=[_bad("mask shape differs", IndexError, axis=0, mask=np.ones(3, bool))]),
)
