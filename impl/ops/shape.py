"""Shape primitives: reshape, permute, expand, cat, indexing and gather.

Reshape, permute, expand and basic indexing may return NumPy views of their input, as torch's
view ops do; nothing here writes into an input. Indexing follows torch (and NumPy) semantics:
ints, slices with positive steps, None, Ellipsis, and integer or boolean index arrays; the
gradient of advanced indexing and of gather accumulates where an element is picked twice.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from impl.function import Function
from impl.ops._args import check_tensor, is_int, normalize_dim, normalize_dims, takes_out
from impl.tensor import Tensor

__all__ = ["reshape", "flatten", "transpose", "t", "permute", "unsqueeze", "squeeze",
           "broadcast_to", "cat", "stack", "gather"]


class Reshape(Function):
    def forward(self, a, shape):
        self.input_shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.input_shape)


class Permute(Function):
    def forward(self, a, dims):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(np.argsort(self.dims))


class Expand(Function):
    def forward(self, a, shape):
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return g  # the base sums the gradient over the expanded axes


class Cat(Function):
    def forward(self, *arrays, dim, dtype):
        # torch's legacy rule: 1-d empty tensors take no part (unless all are), yet stay inputs
        # of the node: each gets its empty gradient, and one requiring grad makes the output so
        self.dim = dim
        self.kept = [a.shape != (0,) for a in arrays]
        if not any(self.kept):
            self.kept[0] = True
        parts = [a for a, k in zip(arrays, self.kept) if k]
        self.offsets = np.cumsum([a.shape[dim] for a in parts])[:-1]
        return np.concatenate([a.astype(dtype, copy=False) for a in parts], axis=dim)

    def backward(self, g):
        pieces = iter(np.split(g, self.offsets, axis=self.dim))
        return tuple(next(pieces) if k else np.zeros((0,), g.dtype) for k in self.kept)


class Index(Function):
    def forward(self, a, key, advanced):
        self.input_shape, self.key, self.advanced = a.shape, key, advanced
        return a[key]

    def backward(self, g):
        grad = np.zeros(self.input_shape, g.dtype)
        if self.advanced:
            np.add.at(grad, self.key, g)  # an element picked twice gets both contributions
        else:
            grad[self.key] = g
        return grad


class Gather(Function):
    def forward(self, a, dim, index):
        self.input_shape = a.shape
        # open grids over the other axes, ``index`` along ``dim``: out[i][j] = a[i][index[i][j]]
        key = [np.arange(n).reshape((-1,) + (1,) * (index.ndim - 1 - i))
               for i, n in enumerate(index.shape)]
        key[dim] = index
        self.key = tuple(key)
        return a[self.key]

    def backward(self, g):
        grad = np.zeros(self.input_shape, g.dtype)
        np.add.at(grad, self.key, g)
        return grad


def _ints(values, op, name):
    """``values`` (a sequence) as a tuple of Python ints, or a TypeError naming the argument."""
    if not isinstance(values, (tuple, list)):
        raise TypeError(f"{op}: argument '{name}' must be tuple of ints, not "
                        f"{type(values).__name__}")
    for v in values:
        if not is_int(v):
            raise TypeError(f"{op}: argument '{name}' must be tuple of ints, but got "
                            f"{type(v).__name__} in {values!r}")
    return tuple(int(v) for v in values)


def _unpacked(args):
    """The sizes a method got either as ints (``t.view(2, 3)``) or as one sequence."""
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _infer_shape(shape, numel, op):
    """``shape`` with its one -1 replaced by the size that makes ``numel`` elements (torch)."""
    inferred = [i for i, s in enumerate(shape) if s < 0]
    for i in inferred:
        if shape[i] != -1:
            raise RuntimeError(f"{op}: invalid shape dimension {shape[i]} at index {i} of shape "
                               f"{list(shape)}")
    if len(inferred) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {list(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if inferred and known == 0 and numel == 0:
        raise RuntimeError(f"{op}: cannot reshape tensor of 0 elements into shape {list(shape)} "
                           "because the unspecified dimension size -1 can be any value and is "
                           "ambiguous")
    if inferred and known != 0 and numel % known == 0:
        return shape[:inferred[0]] + (numel // known,) + shape[inferred[0] + 1:]
    if inferred or known != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _reshape(input, shape, op):
    check_tensor(input, op)
    shape = _infer_shape(_ints(shape, op, "shape"), input.data.size, op)
    return Reshape.apply(input, shape=shape)


def reshape(input, shape):
    """``input`` with the same elements in ``shape``; one entry may be -1, inferred from the
    others (torch.reshape). The result shares memory with ``input`` where NumPy can manage."""
    return _reshape(input, shape, "reshape")


def flatten(input, start_dim=0, end_dim=-1):
    """``input`` with dims ``start_dim``..``end_dim`` (inclusive) merged into one; a 0-d tensor
    becomes 1-d (torch.flatten)."""
    check_tensor(input, "flatten")
    start = normalize_dim(start_dim, input.ndim, "flatten", "start_dim")
    end = normalize_dim(end_dim, input.ndim, "flatten", "end_dim")
    if start > end:
        raise RuntimeError(f"flatten: start_dim ({start_dim}) cannot come after end_dim "
                           f"({end_dim}) for a tensor of shape {input.shape}")
    s = input.shape
    shape = s[:start] + (math.prod(s[start:end + 1]),) + s[end + 1:] if s else (1,)
    return Reshape.apply(input, shape=shape)


def permute(input, dims):
    """``input`` with its dims reordered: output dim i is input dim ``dims[i]`` (torch.permute)."""
    check_tensor(input, "permute")
    dims = _ints(dims, "permute", "dims")
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute: number of dims ({len(dims)}) in {list(dims)} does not match "
                           f"the number of dimensions of the input ({input.ndim}, shape "
                           f"{input.shape})")
    axes = tuple(normalize_dim(d, input.ndim, "permute", "dims") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"permute: duplicate dims are not allowed, got {list(dims)}")
    return Permute.apply(input, dims=axes)


def transpose(input, dim0, dim1):
    """``input`` with dims ``dim0`` and ``dim1`` swapped (torch.transpose)."""
    check_tensor(input, "transpose")
    d0 = normalize_dim(dim0, input.ndim, "transpose", "dim0")
    d1 = normalize_dim(dim1, input.ndim, "transpose", "dim1")
    axes = list(range(input.ndim))
    if axes:
        axes[d0], axes[d1] = axes[d1], axes[d0]
    return Permute.apply(input, dims=tuple(axes))


def t(input):
    """The transpose of a 2-D tensor; 0-d and 1-d tensors come back as they are (torch.t)."""
    check_tensor(input, "t")
    if input.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, but input has shape "
                           f"{input.shape}; use transpose(input, dim0, dim1)")
    return Permute.apply(input, dims=tuple(range(input.ndim))[::-1])


def unsqueeze(input, dim):
    """``input`` with a size-1 dim inserted at position ``dim`` (torch.unsqueeze)."""
    check_tensor(input, "unsqueeze")
    d = normalize_dim(dim, input.ndim + 1, "unsqueeze")
    return Reshape.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def squeeze(input, dim=None):
    """``input`` without its size-1 dims: all of them, or those among ``dim`` (an int or a tuple);
    a listed dim whose size is not 1 is kept (torch.squeeze)."""
    check_tensor(input, "squeeze")
    axes = normalize_dims(dim, input.ndim, "squeeze")
    shape = tuple(n for i, n in enumerate(input.shape) if n != 1 or i not in axes)
    return Reshape.apply(input, shape=shape)


def _expand(input, sizes, op):
    check_tensor(input, op)
    sizes = _ints(sizes, op, "size")
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(f"{op}: the number of sizes provided ({len(sizes)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({input.ndim}, "
                           f"shape {input.shape})")
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"{op}: the expanded size of the tensor ({s}) isn't allowed in "
                                   f"a leading, non-existing dimension {i}")
        else:
            n = input.shape[i - lead]
            s = n if s == -1 else s
            if (s != n and n != 1) or s < 0:
                raise RuntimeError(
                    f"{op}: the expanded size of the tensor ({s}) must match the existing size "
                    f"({n}) at non-singleton dimension {i}. Target sizes: {list(sizes)}. "
                    f"Tensor sizes: {list(input.shape)}")
        shape.append(s)
    return Expand.apply(input, shape=tuple(shape))


def broadcast_to(input, size):
    """``input`` broadcast to ``size`` without copying; -1 keeps a dim's size; the gradient sums
    over the broadcast dims (torch.broadcast_to, Tensor.expand)."""
    return _expand(input, size, "broadcast_to")


def _cat_dtype(tensors):
    """torch's promotion for cat: the widest float dtype if any input is float, else NumPy's."""
    dtypes = [t.data.dtype for t in tensors]
    floats = [d for d in dtypes if d.kind == "f"]
    if floats:
        return max(floats, key=lambda d: d.itemsize)
    return np.result_type(*dtypes)


def _tensor_list(tensors, op):
    if not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{op}: argument 'tensors' must be a tuple or list of Tensors, not "
                        f"{type(tensors).__name__}")
    for i, x in enumerate(tensors):
        check_tensor(x, op, f"tensors[{i}]")
    return list(tensors)


def _axis(dim, axis, op):
    """``dim``, or ``axis`` when given: torch's NumPy-style alias of ``dim`` (torch.concatenate
    documents it; torch.cat and torch.stack take it too)."""
    if axis is None:
        return dim
    if dim != 0:
        raise TypeError(f"{op}: got both 'dim' and its alias 'axis'")
    return axis


@takes_out
def cat(tensors, dim=0, *, axis=None):
    """The tensors joined along the existing dim ``dim`` (or ``axis``); all other sizes must
    match. dtypes promote as in torch, and 1-d empty tensors are skipped (torch's legacy rule)
    (torch.cat)."""
    dim = _axis(dim, axis, "cat")
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("cat: expected a non-empty list of Tensors")
    dtype = _cat_dtype(tensors)
    parts = [x for x in tensors if x.shape != (0,)] or tensors[:1]
    for i, x in enumerate(parts):
        if x.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    d = normalize_dim(dim, parts[0].ndim, "cat")
    first = parts[0].shape
    for i, x in enumerate(parts):
        if x.ndim != len(first):
            raise RuntimeError(f"cat: Tensors must have same number of dimensions: got "
                               f"{len(first)} and {x.ndim} (shapes {first} and {x.shape})")
        if x.shape[:d] + x.shape[d + 1:] != first[:d] + first[d + 1:]:
            raise RuntimeError(f"cat: Sizes of tensors must match except in dimension {d}: "
                               f"tensor {i} has shape {x.shape}, tensor 0 has shape {first}")
    return Cat.apply(*tensors, dim=d, dtype=dtype)


@takes_out
def stack(tensors, dim=0, *, axis=None):
    """The tensors, all of one shape, joined along a new dim ``dim`` (or ``axis``)
    (torch.stack)."""
    dim = _axis(dim, axis, "stack")
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack: expects a non-empty TensorList")
    for i, x in enumerate(tensors):
        if x.shape != tensors[0].shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(x.shape)} at "
                               f"entry {i}")
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(x, d) for x in tensors], d)


def _index_item(k):
    """One entry of an index as NumPy takes it, and whether it is an advanced (array) index."""
    if k is None or k is Ellipsis:
        return k, False
    if isinstance(k, slice):
        if k.step is not None and k.step <= 0:
            raise ValueError(f"__getitem__: slice step must be greater than zero, got {k.step}")
        return k, False
    if isinstance(k, (bool, np.bool_)):
        return np.asarray(k), True
    if isinstance(k, numbers.Integral):
        return int(k), False
    if isinstance(k, (Tensor, np.ndarray, list)):
        arr = k.data if isinstance(k, Tensor) else np.asarray(k)
        if arr.dtype == np.uint8:
            arr = arr.astype(bool)  # torch reads a uint8 index as a mask
        elif arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)  # an empty list selects nothing
        if arr.dtype.kind not in "biu":
            raise IndexError(f"__getitem__: tensors used as indices must be long, int, byte or "
                             f"bool tensors, got dtype {arr.dtype}")
        return arr, True
    if isinstance(k, numbers.Number):
        raise IndexError(f"__getitem__: only integers, slices (`:`), ellipsis (`...`), None and "
                         f"long or bool tensors are valid indices (got {type(k).__name__})")
    raise TypeError(f"__getitem__: invalid index of type {type(k).__name__}")


def getitem(input, key):
    """``input[key]`` (Tensor.__getitem__): basic indexing gives a view; integer arrays, int64
    tensors and boolean masks index as in torch; the gradient scatters back, accumulating over
    repeated indices."""
    items = [_index_item(k) for k in (key if isinstance(key, tuple) else (key,))]
    key = tuple(k for k, _ in items)
    try:
        return Index.apply(input, key=key, advanced=any(adv for _, adv in items))
    except IndexError as exc:
        raise IndexError(f"__getitem__: {exc} (tensor of shape {input.shape})") from None


@takes_out
def gather(input, dim, index):
    """Values of ``input`` along ``dim`` at ``index``: ``out[i][j] = input[i][index[i][j]]`` for
    dim=1; ``index`` has input's number of dims and no larger size in the other dims; the gradient
    accumulates over repeated indices (torch.gather)."""
    check_tensor(input, "gather")
    check_tensor(index, "gather", "index")
    if index.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"gather: expected dtype int32/int64 for index, got {index.dtype}")
    if index.ndim != input.ndim:
        raise RuntimeError(f"gather: index tensor must have the same number of dimensions as "
                           f"input tensor, got index shape {index.shape} and input shape "
                           f"{input.shape}")
    d = normalize_dim(dim, input.ndim, "gather")
    if input.ndim == 0:
        return reshape(gather(reshape(input, (1,)), 0, reshape(index, (1,))), ())
    for i, (m, n) in enumerate(zip(index.shape, input.shape)):
        if i != d and m > n:
            raise RuntimeError(f"gather: size does not match at dimension {i}: expected index "
                               f"{list(index.shape)} to be no larger than input "
                               f"{list(input.shape)} apart from dimension {d}")
    idx = index.data
    if idx.size and (idx.min() < 0 or idx.max() >= input.shape[d]):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise RuntimeError(f"gather: index {bad} is out of bounds for dimension {d} with size "
                           f"{input.shape[d]}")
    return Gather.apply(input, dim=d, index=idx)


METHODS = {
    "reshape": lambda self, *shape: _reshape(self, _unpacked(shape), "reshape"),
    "view": lambda self, *shape: _reshape(self, _unpacked(shape), "view"),
    "flatten": flatten, "transpose": transpose, "t": t,
    "T": property(lambda self: Permute.apply(self, dims=tuple(range(self.ndim))[::-1])),
    "permute": lambda self, *dims: permute(self, _unpacked(dims)),
    "unsqueeze": unsqueeze, "squeeze": squeeze,
    "expand": lambda self, *sizes: _expand(self, _unpacked(sizes), "expand"),
    "broadcast_to": broadcast_to, "__getitem__": getitem, "gather": gather,
}
