"""OpSpecs of the shape ops (impl.ops.shape): reshape and view, flatten, transpose, t, permute,
unsqueeze, squeeze, broadcast_to and expand, cat, stack, gather, and indexing.

Shape ops compute nothing, so every layout must give the contiguous result bit for bit. Dims are
drawn valid for the input's ndim, negative ones too; sizes include 0 where torch allows it. Each
op is called in every form torch documents (the ``form`` keyword: the function with positional
or keyword arguments, the Tensor method, sizes as ints or as one tuple, ``x.T``, cat's and
stack's ``axis=``), and its large tier moves thousands to 10^5 elements whose sides straddle
block widths.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.spec import BadInput, Example, OpSpec, prod, register
from properties.strategies import large_shapes, seeds, shapes, shapes_with_zero, values

FAMILY = "shape"


def _neg(draw, d, n):
    """``d`` (in [0, n)) as itself or as its negative alias."""
    return d - n if draw(st.booleans()) else d


def _array(draw, shape):
    return values(draw(seeds), shape)


def _shape(draw, large, min_dims=0, max_dims=4, max_side=4, max_size=100_000):
    """A small shape (0 sides one time in four) or, when ``large``, one of 10^3 to
    ``max_size`` elements with block-straddling sides, 2-d or more."""
    if large:
        return draw(large_shapes(max(min_dims, 2), max(max_dims, 2), max_size=max_size))
    return draw(shapes_with_zero(min_dims=min_dims, max_dims=max_dims, max_side=max_side))


def _primes(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def _tiers(strategy, **kw):
    """(small tier, large tier) of a strategy taking ``large``."""
    return strategy(**kw), strategy(large=True, **kw)


# -- argument forms -------------------------------------------------------------------------------


def _forms(draw, ex, forms):
    """``ex`` with a ``form`` keyword drawn from ``forms`` (the first one is the default: left
    out)."""
    form = draw(st.sampled_from(forms))
    return ex if form == forms[0] else Example(ex.args, {**ex.kwargs, "form": form})


def _form_regions(forms):
    return {f"{f} form": lambda ex, f=f: ex.kwargs.get("form", forms[0]) == f for f in forms}


def _caller(name, positional=()):
    """call= for an op taking one tensor: ``fn(x, **kw)`` ("keyword"), ``fn(x, *values)`` with
    the keywords ``positional`` in order ("positional"), ``x.name(*values)`` ("method")."""
    def call(fn, x, form="keyword", **kw):
        if form == "keyword":
            return fn(x, **kw)
        args = []
        for k in positional:  # a prefix of them: the rest stay keywords
            if k not in kw:
                break
            args.append(kw.pop(k))
        return fn.method(x, name)(*args, **kw) if form == "method" else fn(x, *args, **kw)
    return call


_CALL_FORMS = ("keyword", "positional", "method")


def _sizes_caller(key, name=None):
    """call= for an op taking sizes: the function ``fn(x, sizes)`` ("function", when ``name``
    names the method), or the method with one tuple ("tuple") or with ints ("ints"): x.view(2,
    3), x.view((2, 3))."""
    def call(fn, x, form=None, **kw):
        sizes = kw.pop(key)
        form = form or ("function" if name else "tuple")
        if form == "function":
            return fn(x, sizes)
        method = fn.method(x, name) if name else fn
        return method(sizes) if form == "tuple" else method(*sizes)
    return call


def _sizes_forms(draw, ex, key, forms):
    """A form of ``forms`` for sizes ``ex.kwargs[key]`` (not ints when there are none: torch's
    x.view() takes no zero ints)."""
    form = draw(st.sampled_from([f for f in forms if f != "ints" or ex.kwargs[key]]))
    return ex if form == forms[0] else Example(ex.args, {**ex.kwargs, "form": form})


def _jax(fn):
    def f(J, *args, form=None, **kw):
        return fn(J, *args, **kw)
    return f


# -- reshape, view, flatten ------------------------------------------------------------------------


@st.composite
def _reshape(draw, large=False, forms=("function", "tuple", "ints")):
    """An input and a target ``shape`` with its number of elements, one entry -1 at times."""
    shape = _shape(draw, large)
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
    ex = Example((_array(draw, shape),), {"shape": tuple(target)})
    return _sizes_forms(draw, ex, "shape", forms)


def _reshape_regions(key):
    return {"-1 inferred": lambda ex: -1 in ex.kwargs[key],
            "0-d result": lambda ex: ex.kwargs[key] == (),
            "0-d input": lambda ex: ex.args[0].ndim == 0,
            "zero-size input": lambda ex: ex.args[0].size == 0,
            "rank grows": lambda ex: len(ex.kwargs[key]) > ex.args[0].ndim > 0}


@st.composite
def _flatten(draw, large=False):
    shape = _shape(draw, large)
    n = max(len(shape), 1)
    start = draw(st.integers(0, n - 1))
    end = draw(st.integers(start, n - 1))
    kwargs = {"start_dim": _neg(draw, start, n), "end_dim": _neg(draw, end, n)}
    if draw(st.integers(0, 3)) == 0:  # the defaults: everything
        kwargs = {k: v for k, v in kwargs.items() if draw(st.booleans())}
    return _forms(draw, Example((_array(draw, shape),), kwargs), _CALL_FORMS)


def _jax_flatten(J, x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return J.jnp.reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return J.jnp.reshape(x, x.shape[:s] + (prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def _dims_of(ex, *keys):
    return [ex.kwargs[k] for k in keys if k in ex.kwargs]


# -- transpose, t, permute, unsqueeze, squeeze ----------------------------------------------------


@st.composite
def _transpose(draw, large=False):
    shape = _shape(draw, large)
    n = max(len(shape), 1)
    ex = Example((_array(draw, shape),),
                 {"dim0": draw(st.integers(-n, n - 1)), "dim1": draw(st.integers(-n, n - 1))})
    return _forms(draw, ex, _CALL_FORMS)


def _jax_transpose(J, x, dim0, dim1):
    return x if x.ndim == 0 else J.jnp.swapaxes(x, dim0, dim1)


@st.composite
def _up_to_2d(draw, large=False):
    shape = _shape(draw, large, min_dims=0, max_dims=2)
    # x.T is deprecated on other than 2-d tensors
    forms = ("function", "method", "T") if len(shape) == 2 else ("function", "method")
    return _forms(draw, Example((_array(draw, shape),)), forms)


def _t_call(fn, x, form="function"):
    return fn(x) if form == "function" else fn.method(x, "t")() if form == "method" else x.T


@st.composite
def _permute(draw, large=False):
    shape = _shape(draw, large)
    n = len(shape)
    # uniform permutations (3-cycles too): Hypothesis's own shrink towards the identity
    perm = np.random.default_rng(draw(seeds)).permutation(n)
    dims = tuple(_neg(draw, int(d), n) for d in perm)
    ex = Example((_array(draw, shape),), {"dims": dims})
    forms = ["function", "tuple"] + ["ints"] * bool(dims)
    form = draw(st.sampled_from(forms))
    return ex if form == "function" else Example(ex.args, {**ex.kwargs, "form": form})


def _jax_permute(J, x, dims):
    return J.jnp.transpose(x, [d % x.ndim for d in dims])


@st.composite
def _unsqueeze(draw, large=False):
    shape = _shape(draw, large)
    n = len(shape) + 1
    ex = Example((_array(draw, shape),), {"dim": draw(st.integers(-n, n - 1))})
    return _forms(draw, ex, _CALL_FORMS)


@st.composite
def _squeeze(draw, large=False):
    """Shapes rich in size-1 dims; ``dim`` omitted, an int or a tuple of ints."""
    if large:
        shape = list(_shape(draw, True))
        for _ in range(draw(st.integers(1, 2))):
            shape.insert(draw(st.integers(0, len(shape))), 1)
    else:
        shape = _shape(draw, False, max_side=2)
    n = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if n else ["none", "int"]))
    kwargs = {}
    if kind == "int":
        kwargs["dim"] = draw(st.integers(-max(n, 1), max(n, 1) - 1))
    elif kind == "tuple":
        dims = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
        kwargs["dim"] = tuple(_neg(draw, d, n) for d in dims)
    forms = ("keyword", "positional", "method") if kwargs else ("keyword", "method")
    return _forms(draw, Example((_array(draw, tuple(shape)),), kwargs), forms)


def _jax_squeeze(J, x, dim=None):
    if x.ndim == 0 or dim is None:
        return J.jnp.squeeze(x)
    dims = {d % x.ndim for d in (dim if isinstance(dim, tuple) else (dim,))}
    return J.jnp.squeeze(x, tuple(d for d in sorted(dims) if x.shape[d] == 1))


def _squeeze_regions():
    def listed(ex):
        d = ex.args[0].ndim
        dim = ex.kwargs.get("dim")
        return set() if dim is None or not d else {
            k % d for k in (dim if isinstance(dim, tuple) else (dim,))}
    return {"dim omitted": lambda ex: "dim" not in ex.kwargs,
            "int dim": lambda ex: isinstance(ex.kwargs.get("dim"), int),
            "tuple dim": lambda ex: isinstance(ex.kwargs.get("dim"), tuple),
            "a listed dim is not 1 (kept)": lambda ex: any(
                ex.args[0].shape[k] != 1 for k in listed(ex)),
            "0-d input": lambda ex: ex.args[0].ndim == 0}


# -- broadcast_to, expand --------------------------------------------------------------------------


@st.composite
def _broadcast(draw, large=False, forms=("function", "tuple")):
    """An input and a target ``size``: size-1 dims grow (to 0 too), -1 keeps a dim, and up to
    two new leading dims (the result within 2·10^5 elements)."""
    if large:
        shape = [1 if draw(st.integers(0, 2)) == 2 else n for n in _shape(draw, True, 2, 3)]
        grow = st.sampled_from([7, 9, 16, 17])
    else:
        shape = _shape(draw, False, max_dims=3, max_side=3)
        grow = st.sampled_from([0, 2, 3])
    lead = [draw(st.integers(0, 3)) for _ in range(draw(st.integers(0, 2)))]
    size = lead + [draw(st.one_of(st.sampled_from([1, -1]), grow)) if s == 1 else
                   draw(st.sampled_from([s, -1])) for s in shape]
    if prod(lead + [n if s == -1 else s for s, n in zip(size[len(lead):], shape)]) > 200_000:
        size = lead + [-1] * len(shape)
    ex = Example((_array(draw, tuple(shape)),), {"size": tuple(size)})
    return _sizes_forms(draw, ex, "size", forms)


def _jax_broadcast(J, x, size):
    lead = len(size) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(size))
    return J.jnp.broadcast_to(x, shape)


def _broadcast_regions():
    return {"new leading dims": lambda ex: len(ex.kwargs["size"]) > ex.args[0].ndim,
            "-1 keeps a dim": lambda ex: -1 in ex.kwargs["size"],
            "a size-1 dim grows": lambda ex: any(
                s == 1 and n not in (1, -1) for s, n in zip(
                    ex.args[0].shape[::-1], ex.kwargs["size"][::-1])),
            "zero-size result": lambda ex: 0 in ex.kwargs["size"]}


# -- cat, stack ------------------------------------------------------------------------------------


@st.composite
def _cat(draw, count, large=False):
    """``count`` arrays that match except along ``dim``, where sizes vary (0 too): float64
    arrays that keep their dtype among them at times (torch promotes), a 1-d empty one at
    times (torch's legacy rule skips it)."""
    shape = list(_shape(draw, large, min_dims=1, max_dims=3, max_size=100_000 // count))
    n = len(shape)
    d = draw(st.integers(0, n - 1))
    same = draw(st.integers(0, 2)) == 0  # one size along dim (the alias check needs it)
    arrays = []
    for k in range(count):
        if not (same and k):
            shape[d] = (draw(st.sampled_from([shape[d], shape[d] + 1, 7, 16, 33])) if large
                        else draw(st.integers(0, 4)))
        arrays.append(_array(draw, shape))
    if count > 1 and draw(st.integers(0, 4)) == 0:
        arrays[draw(st.integers(0, count - 1))] = np.zeros((0,))
    return _join_forms(draw, arrays, d, n)


@st.composite
def _stack(draw, count, large=False):
    shape = _shape(draw, large, max_dims=3, max_size=100_000 // count)
    n = len(shape) + 1
    d = draw(st.integers(0, n - 1))
    return _join_forms(draw, [_array(draw, shape) for _ in range(count)], d, n)


def _join_forms(draw, arrays, d, n):
    """cat/stack's argument forms: ``dim`` as a keyword, positional, as ``axis=``, or left out
    when 0; the tensors in a list or a tuple; one time in five a tensor that keeps its own
    dtype, float32 or float64 (torch promotes to the widest)."""
    keep = ()
    if len(arrays) > 1 and draw(st.integers(0, 4)) == 0:
        keep = (draw(st.integers(0, len(arrays) - 1)),)
        kept = draw(st.sampled_from([np.float32, np.float64]))
        arrays = [a.astype(kept) if i in keep else a for i, a in enumerate(arrays)]
    dim = _neg(draw, d, n)
    form = draw(st.sampled_from(["keyword", "positional", "axis"] + ["omitted"] * (dim == 0)))
    kwargs = {"dim": dim, "form": form, "sequence": draw(st.sampled_from(["list", "tuple"]))}
    return Example(tuple(arrays), kwargs, keep=keep)


def _join_call(fn, *tensors, dim=0, form="omitted", sequence="list"):
    """cat/stack take the tensors as one list or tuple (``bare``: the one tensor itself, a bad
    input)."""
    seq = {"list": list, "tuple": tuple, "bare": lambda ts: ts[0]}[sequence](tensors)
    if form == "omitted":
        return fn(seq)
    return fn(seq, dim) if form == "positional" else fn(seq, **{
        "axis" if form == "axis" else "dim": dim})


def _jax_join(concat):
    def f(J, *ts, dim, **_):
        # torch promotes mixed float dtypes to the widest; 1-d empty tensors are skipped
        dtype = J.jnp.result_type(*ts)
        ts = [t.astype(dtype) for t in ts if not (concat and t.shape == (0,))] or ts[:1]
        return (J.jnp.concatenate if concat else J.jnp.stack)(ts, axis=dim)
    return f


def _join_regions(concat, k):
    regions = {f"{f} form": lambda ex, f=f: ex.kwargs["form"] == f
               for f in ("keyword", "positional", "axis")}
    regions["negative dim"] = lambda ex: ex.kwargs["dim"] < 0
    regions["tuple of tensors"] = lambda ex: ex.kwargs["sequence"] == "tuple"
    if k > 1:  # the run's dtype and the other: mixed in one of the two runs each
        regions.update({f"a {d} tensor kept": lambda ex, d=d: any(
            ex.args[i].dtype == d for i in ex.keep) for d in ("float32", "float64")})
    if concat and k > 1:
        regions["a part empty along dim, the output not"] = lambda ex: any(
            a.ndim > 1 and a.shape[ex.kwargs["dim"]] == 0 for a in ex.args) and any(
            a.size for a in ex.args)
        regions["a 1-d empty part (skipped)"] = lambda ex: any(
            a.shape == (0,) for a in ex.args) and any(a.ndim > 1 for a in ex.args)
    if not concat:
        regions["0-d tensors"] = lambda ex: ex.args[0].ndim == 0
    return regions


def _empty_part_cases(k):
    """cat of ``k`` tensors with an empty part in the middle: one of size 0 along ``dim`` (the
    gradient's split points must count it) and a 1-d empty one (skipped, torch's legacy rule).
    The random tiers draw one zero-size example per run, most often with every part empty."""
    def parts(empty):
        out = [values(k + i, (2, 1 + i)) for i in range(k - 1)]
        out.insert(1, empty)
        return Example(tuple(out), {"dim": -1, "form": "keyword", "sequence": "list"})
    return [("an empty part along dim", parts(np.zeros((2, 0)))),
            ("a 1-d empty part is skipped", parts(np.zeros((0,))))]


def _join_specs(name, strategy, concat, bad):
    """One spec per list length (1, 2, 3): ``diff`` names fixed positional arrays. The alias
    check and the bad inputs run on the two-tensor spec."""
    return [OpSpec(name, FAMILY, f"{k} tensor{'s' * (k > 1)}", strategy(k), _jax_join(concat),
                   large=strategy(k, large=True), diff=tuple(range(k)), call=_join_call,
                   alias=k == 2, bad_inputs=bad if k == 2 else [],
                   cases=_empty_part_cases(k) if concat and k > 1 else [],
                   regions=_join_regions(concat, k))
            for k in (1, 2, 3)]


def _ones(*shapes):
    return tuple(np.ones(s) for s in shapes)


def _join_bad(description, raises, shapes, **kwargs):
    return BadInput(description, lambda: Example(_ones(*shapes), {
        "form": "keyword", "sequence": "list", **kwargs}), (raises,))


_CAT_BAD = [
    _join_bad("sizes differ outside dim", RuntimeError, [(2, 3), (2, 4)], dim=0),
    _join_bad("ndims differ", RuntimeError, [(2, 3), (2, 3, 1)], dim=0),
    _join_bad("dim out of range", IndexError, [(2, 3), (2, 3)], dim=2),
    _join_bad("0-d tensor", RuntimeError, [(), ()], dim=0),
    _join_bad("empty list", ValueError, [], dim=0),
    BadInput("a tensor, not a list", lambda: Example(_ones((2, 3)), {"sequence": "bare"}),
             (TypeError,)),
]
_STACK_BAD = [
    _join_bad("shapes differ", RuntimeError, [(2, 3), (2, 4)], dim=0),
    _join_bad("dim out of range", IndexError, [(2, 3), (2, 3)], dim=3),
    _join_bad("empty list", RuntimeError, [], dim=0),
]


# -- gather ----------------------------------------------------------------------------------------


@st.composite
def _gather(draw, large=False):
    """An input, ``dim`` and an int64 (or int32) ``index`` of the input's ndim, no larger than
    the input outside ``dim``, any size along it, with repeated entries."""
    shape = _shape(draw, large)
    n = len(shape)
    rng = np.random.default_rng(draw(seeds))
    if n == 0:
        ex = Example((_array(draw, shape), np.zeros((), np.int64)),
                     {"dim": draw(st.sampled_from([0, -1]))})
        return _forms(draw, ex, _CALL_FORMS)
    d = draw(st.integers(0, n - 1))
    if large:
        ishape = [s if draw(st.booleans()) else max(1, s - 1) for s in shape]
        ishape[d] = draw(st.sampled_from([33, 16, 7, 1, shape[d]]))
    else:
        ishape = [draw(st.integers(0, s)) for s in shape]
        ishape[d] = draw(st.integers(0, 5)) if shape[d] else 0
    index = rng.integers(0, max(shape[d], 1), ishape)
    index = index.astype(draw(st.sampled_from([np.int64, np.int64, np.int32])))
    ex = Example((_array(draw, shape), index), {"dim": _neg(draw, d, n)})
    return _forms(draw, ex, _CALL_FORMS)


def _gather_call(fn, x, index, dim, form="keyword"):
    if form == "keyword":
        return fn(x, dim=dim, index=index)
    return x.gather(dim, index) if form == "method" else fn(x, dim, index)


def _jax_gather(J, x, index, dim):
    if x.ndim == 0:
        return x
    d = dim % x.ndim
    part = tuple(slice(None) if i == d else slice(0, m) for i, m in enumerate(index.shape))
    return J.jnp.take_along_axis(x[part], index, axis=d)


def _gather_regions():
    def position(ex):
        x = ex.args[0]
        d = ex.kwargs["dim"] % max(x.ndim, 1)
        return "first" if d == 0 else "last" if d == x.ndim - 1 else "middle"
    return {**{f"dim {p} of 3 or more": lambda ex, p=p: ex.args[0].ndim >= 3 and
               position(ex) == p for p in ("first", "middle", "last")},
            "negative dim": lambda ex: ex.kwargs["dim"] < 0,
            "index smaller outside dim": lambda ex: any(
                i < s for k, (i, s) in enumerate(zip(ex.args[1].shape, ex.args[0].shape))
                if k != ex.kwargs["dim"] % max(ex.args[0].ndim, 1)),
            "int32 index": lambda ex: ex.args[1].dtype == np.int32,
            "0-d input": lambda ex: ex.args[0].ndim == 0,
            "empty index": lambda ex: ex.args[1].size == 0,
            **_form_regions(_CALL_FORMS)}


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
def _basic_index(draw, large=False):
    """A tuple of ints, slices, None and at most one Ellipsis, valid for the input's shape."""
    shape = _shape(draw, large)
    n = len(shape)
    front = draw(st.integers(int(large), n))
    ellipsis = draw(st.booleans())
    back = draw(st.integers(0, n - front)) if ellipsis else 0
    key = [_basic_item(draw, s) for s in shape[:front]]
    if ellipsis:
        key += [Ellipsis] + [_basic_item(draw, s) for s in shape[n - back:]]
    for _ in range(draw(st.integers(0, 2))):
        key.insert(draw(st.integers(0, len(key))), None)
    return Example((_array(draw, shape),), {"key": tuple(key)})


def _basic_regions():
    def items(ex, test):
        return any(test(k) for k in ex.kwargs["key"])
    return {"int": lambda ex: items(ex, lambda k: isinstance(k, int)),
            "negative int": lambda ex: items(ex, lambda k: isinstance(k, int) and k < 0),
            "slice with step > 1": lambda ex: items(
                ex, lambda k: isinstance(k, slice) and (k.step or 1) > 1),
            "None": lambda ex: items(ex, lambda k: k is None),
            "Ellipsis": lambda ex: items(ex, lambda k: k is Ellipsis),
            "0-d input": lambda ex: ex.args[0].ndim == 0,
            "empty result": lambda ex: 0 in ex.args[0][ex.kwargs["key"]].shape}


@st.composite
def _array_index(draw, large=False):
    """An input and one or two int64 (or int32) index arrays with negative and repeated
    entries, at ``axes`` (full slices elsewhere): two arrays next to each other index in place,
    two apart move their dims to the front (NumPy's and torch's rule)."""
    shape = _shape(draw, large, min_dims=1)
    n = len(shape)
    rng = np.random.default_rng(draw(seeds))
    count = draw(st.integers(1, 2)) if n > 1 else 1
    axes = tuple(sorted(draw(st.lists(st.integers(0, n - 1), min_size=count, max_size=count,
                                      unique=True))))
    index_shape = draw(shapes(min_dims=int(large), max_dims=2, max_side=33 if large else 4))
    dtype = draw(st.sampled_from([np.int64, np.int64, np.int32]))
    index = tuple(
        (rng.integers(-shape[a], shape[a], index_shape) if shape[a] else
         np.zeros((0,), np.int64)).astype(dtype) for a in axes)
    if any(i.shape != index[0].shape for i in index):  # an empty dim: both select nothing
        index = tuple(np.zeros((0,), dtype) for _ in index)
    kwargs = {"axes": axes}
    if axes[-1] < n - 1 and draw(st.booleans()):  # a basic index after the arrays
        kwargs["tail"] = (_basic_item(draw, shape[axes[-1] + 1]),)
    return Example((_array(draw, shape), *index), kwargs)


@st.composite
def _mask_index(draw, large=False):
    """An input and a bool ``mask`` (a keyword: a layout that changed its values, as the
    broadcast one does, would change the output's shape) over dims ``axis`` onwards."""
    shape = _shape(draw, large, min_dims=1)
    axis = draw(st.integers(0, len(shape) - 1))
    span = draw(st.integers(1, len(shape) - axis))
    rng = np.random.default_rng(draw(seeds))
    mask = rng.random(shape[axis:axis + span]) < draw(st.sampled_from([0.5, 0.5, 0.0]))
    return Example((_array(draw, shape),), {"axes": (axis,), "mask": mask})


def _key(index, axes, mask, tail):
    """The index: the int arrays (or the mask) at ``axes``, full slices before and between,
    then ``tail``."""
    if mask is not None:
        return (slice(None),) * axes[0] + (mask,)
    key = [slice(None)] * (axes[-1] + 1)
    for a, i in zip(axes, index):
        key[a] = i
    return tuple(key) + tail


def _index_call(fn, x, *index, axes, mask=None, tail=()):
    return fn(_key(index, axes, mask, tail))


def _jax_index(J, x, *index, axes, mask=None, tail=()):
    return x[_key(index, axes, mask, tail)]


def _array_regions():
    return {"one index array": lambda ex: len(ex.args) == 2,
            "two adjacent index arrays": lambda ex: len(ex.args) == 3 and
            ex.kwargs["axes"][1] == ex.kwargs["axes"][0] + 1,
            "two index arrays apart (dims to the front)": lambda ex: len(ex.args) == 3 and
            ex.kwargs["axes"][1] > ex.kwargs["axes"][0] + 1,
            "after full slices": lambda ex: ex.kwargs["axes"][0] > 0,
            "0-d index": lambda ex: ex.args[1].ndim == 0,
            "2-d index": lambda ex: ex.args[1].ndim == 2,
            "negative entries": lambda ex: any((i < 0).any() for i in ex.args[1:]),
            "repeated entries": lambda ex: any(
                np.unique(i).size < i.size for i in ex.args[1:]),
            "int32 index": lambda ex: ex.args[1].dtype == np.int32,
            "a basic index after the arrays": lambda ex: "tail" in ex.kwargs}


def _mask_regions():
    def mask(ex):
        return ex.kwargs["mask"]
    return {"mask over one dim": lambda ex: mask(ex).ndim == 1,
            "mask over several dims": lambda ex: mask(ex).ndim > 1,
            "mask over every dim": lambda ex: mask(ex).ndim == ex.args[0].ndim,
            "mask after full slices": lambda ex: ex.kwargs["axes"][0] > 0,
            "all-false mask": lambda ex: not mask(ex).any()}


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
_RESHAPE_CASES = [("element count differs", (4, 2)), ("two -1", (-1, -1)),
                  ("-1 does not divide", (-1, 4))]
_EXPAND_CASES = [("non-singleton dim changes", (4, 3)), ("fewer sizes than dims", (3,)),
                 ("-1 for a new leading dim", (-1, 2, 3))]


def _sizes_bad(key, cases, **extra):
    return [_bad(description, RuntimeError, **{key: size}, **extra)
            for description, size in cases]


_RANK = {"0-d input": lambda ex: ex.args[0].ndim == 0,
         "zero-size input": lambda ex: ex.args[0].size == 0,
         "3-d or more": lambda ex: ex.args[0].ndim >= 3}
_NEGATIVE = {"negative dim": lambda ex: any(
    isinstance(d, int) and d < 0 for d in ex.kwargs.values())}
_T_ONLY_2D = {(check, layout): "t takes at most 2-d inputs: no 3-d layout applies"
              for check in ("layout", "cotangent") for layout in ("channels_last", "permuted")}


def _spec(name, strategy, jax, **kw):
    small, large = _tiers(strategy)
    return OpSpec(name, FAMILY, examples=small, large=large, jax=_jax(jax), **kw)


register(
    _spec("reshape", _reshape, lambda J, x, shape: J.jnp.reshape(x, shape),
          call=_sizes_caller("shape", "reshape"),
          regions={**_reshape_regions("shape"), **_form_regions(("function", "tuple", "ints"))},
          bad_inputs=_sizes_bad("shape", _RESHAPE_CASES) + [
              _bad("-1 with no elements", RuntimeError, (0, 3), shape=(0, -1)),
              _bad("an int shape", TypeError, shape=6)]),
    OpSpec("Tensor.view", FAMILY, examples=_reshape(forms=("tuple", "ints")),
           large=_reshape(large=True, forms=("tuple", "ints")),
           jax=_jax(lambda J, x, shape: J.jnp.reshape(x, shape)), call=_sizes_caller("shape"),
           regions={**_reshape_regions("shape"), **_form_regions(("tuple", "ints"))},
           bad_inputs=_sizes_bad("shape", _RESHAPE_CASES)),
    _spec("flatten", _flatten, _jax_flatten, call=_caller("flatten", ("start_dim", "end_dim")),
          regions={**_RANK, **_NEGATIVE, **_form_regions(_CALL_FORMS),
                   "one dim (start = end)": lambda ex: ex.args[0].ndim > 0 and
                   ex.kwargs.get("start_dim", 0) % ex.args[0].ndim ==
                   ex.kwargs.get("end_dim", -1) % ex.args[0].ndim,
                   "defaults": lambda ex: "end_dim" not in ex.kwargs},
          bad_inputs=[_bad("start_dim after end_dim", RuntimeError, start_dim=1, end_dim=0),
                      _dims_bad(start_dim=2)]),
    _spec("transpose", _transpose, _jax_transpose, call=_caller("transpose", ("dim0", "dim1")),
          regions={**_RANK, **_NEGATIVE, **_form_regions(_CALL_FORMS),
                   "same dim twice": lambda ex: ex.args[0].ndim > 0 and
                   ex.kwargs["dim0"] % ex.args[0].ndim == ex.kwargs["dim1"] % ex.args[0].ndim},
          bad_inputs=[_dims_bad(dim0=0, dim1=2)]),
    _spec("t", _up_to_2d, lambda J, x: J.jnp.transpose(x), call=_t_call,
          inapplicable=_T_ONLY_2D,
          regions={**{f"{n}-d input": lambda ex, n=n: ex.args[0].ndim == n for n in (0, 1, 2)},
                   **_form_regions(("function", "method", "T"))},
          bad_inputs=[_bad("3-d input", RuntimeError, (2, 2, 2))]),
    _spec("permute", _permute, _jax_permute, call=_sizes_caller("dims", "permute"),
          regions={**_RANK, **_form_regions(("function", "tuple", "ints")),
                   "a 3-cycle or longer": lambda ex: sum(
                       d % ex.args[0].ndim != i for i, d in enumerate(ex.kwargs["dims"])) >= 3,
                   "negative dims": lambda ex: any(d < 0 for d in ex.kwargs["dims"])},
          bad_inputs=[_bad("too few dims", RuntimeError, dims=(0,)),
                      _bad("repeated dim", RuntimeError, dims=(0, -2)), _dims_bad(dims=(0, 2))]),
    _spec("unsqueeze", _unsqueeze, lambda J, x, dim: J.jnp.expand_dims(x, dim),
          call=_caller("unsqueeze", ("dim",)),
          regions={**_RANK, **_NEGATIVE, **_form_regions(_CALL_FORMS),
                   "new last dim": lambda ex: ex.kwargs["dim"] in (-1, ex.args[0].ndim)},
          bad_inputs=[_dims_bad(dim=3)]),
    _spec("squeeze", _squeeze, _jax_squeeze, call=_caller("squeeze", ("dim",)),
          regions={**_squeeze_regions(), **_form_regions(_CALL_FORMS)},
          bad_inputs=[_dims_bad(dim=2), _dims_bad(dim=(0, 2))]),
    _spec("broadcast_to", _broadcast, _jax_broadcast, call=_sizes_caller("size", "broadcast_to"),
          regions={**_broadcast_regions(), **_form_regions(("function", "tuple"))},
          bad_inputs=_sizes_bad("size", _EXPAND_CASES)),
    OpSpec("Tensor.expand", FAMILY, examples=_broadcast(forms=("tuple", "ints")),
           large=_broadcast(large=True, forms=("tuple", "ints")), jax=_jax(_jax_broadcast),
           call=_sizes_caller("size"),
           regions={**_broadcast_regions(), **_form_regions(("tuple", "ints"))},
           bad_inputs=_sizes_bad("size", _EXPAND_CASES, form="tuple")),
    *_join_specs("cat", _cat, True, _CAT_BAD),
    *_join_specs("stack", _stack, False, _STACK_BAD),
    _spec("gather", _gather, _jax_gather, call=_gather_call, regions=_gather_regions(),
          bad_inputs=_GATHER_BAD, nonsmooth="index entries repeat: their gradients accumulate"),
    _spec("Tensor.__getitem__", _basic_index, lambda J, x, key: x[key], variant="basic",
          call=lambda fn, x, key: fn(key), regions=_basic_regions(), bad_inputs=_INDEX_BAD),
    _spec("Tensor.__getitem__", _array_index, _jax_index, variant="int array",
          call=_index_call, regions=_array_regions(),
          bad_inputs=[_indexed_bad("index array out of range", IndexError, [0, 3], axes=(1,)),
                      _indexed_bad("float index array", IndexError, [0.0, 1.0], axes=(0,))]),
    _spec("Tensor.__getitem__", _mask_index, _jax_index, variant="bool mask", call=_index_call,
          regions=_mask_regions(),
          bad_inputs=[_bad("mask shape differs", IndexError, axes=(0,), mask=np.ones(3, bool))]),
)
