"""Checkpoints: :func:`save` and :func:`load`, shaped like torch.save and torch.load.

impl writes one NumPy ``.npz`` archive and never a pickle: each array (a Tensor's data, an
ndarray, a NumPy scalar) is an entry named after its place in the object ("model/conv1.weight"),
and the entry ``__skeleton__`` holds the rest as JSON — dicts with their key types and order,
lists, tuples, numbers, strings, None, and which entry each array is. ``load`` also reads
torch.save files (a torchvision ``.pth`` state dict), through torch when it is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np

from impl.nn.parameter import Parameter
from impl.tensor import Tensor

_SKELETON = "__skeleton__"
_FORMAT = "impl.save"
_VERSION = 1


def _encode(obj, path, arrays):
    """``obj`` as JSON-able data, its arrays added to ``arrays`` under unique names."""
    if obj is None or (isinstance(obj, (bool, int, float, str))
                       and not isinstance(obj, np.generic)):  # NumPy scalars keep their dtype
        return obj
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        kind = ("tensor" if isinstance(obj, Tensor) else
                "ndarray" if isinstance(obj, np.ndarray) else "scalar")
        array = np.asarray(obj.data if isinstance(obj, Tensor) else obj)
        if array.dtype.hasobject:
            raise TypeError(f"impl.save: {path or 'obj'} is an array of Python objects, which "
                            "impl.save does not write (it never pickles)")
        name, n = path or "obj", 0
        while name in arrays or name == _SKELETON:
            n += 1
            name = f"{path or 'obj'}#{n}"
        arrays[name] = array
        node = {"$" + kind: name}
        if isinstance(obj, Tensor):
            node.update(requires_grad=obj.requires_grad, parameter=isinstance(obj, Parameter))
        return node
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise TypeError(f"impl.save: {path or 'obj'} has a key of type "
                                f"{type(key).__name__}; keys must be str, int, float, bool or "
                                "None")
            items.append([key, _encode(value, f"{path}/{key}" if path else str(key), arrays)])
        return {"$odict" if isinstance(obj, OrderedDict) else "$dict": items}
    if isinstance(obj, (list, tuple)):
        return {"$list" if isinstance(obj, list) else "$tuple":
                [_encode(v, f"{path}/{i}" if path else str(i), arrays)
                 for i, v in enumerate(obj)]}
    raise TypeError(f"impl.save: {path or 'obj'} is a {type(obj).__name__}; impl.save writes "
                    "Tensors, ndarrays, numbers, strings, None and dicts, lists and tuples of "
                    "them")


def save(obj, f):
    """Write ``obj`` — a Tensor, an ndarray, a number, a string, None, or a (nested) dict, list
    or tuple of those, such as ``{"model": model.state_dict(), "optimizer":
    optimizer.state_dict()}`` — to ``f`` (a path, written as it is named, or a binary file
    object) as one ``.npz`` archive (torch.save)."""
    arrays = {}
    root = _encode(obj, "", arrays)
    arrays[_SKELETON] = np.array(json.dumps({"format": _FORMAT, "version": _VERSION,
                                             "root": root}))
    with _opened(f, "wb") as fh, zipfile.ZipFile(fh, "w", allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load(f, map_location=None, weights_only=True):
    """Read what :func:`save` wrote to ``f`` (a path or a binary file object; no pickle is
    involved, whatever ``weights_only`` says), or a torch.save file (e.g. a torchvision ``.pth``
    state dict; needs torch, read with ``torch.load(weights_only=weights_only)``, its tensors
    turned into impl Tensors that own their memory). impl runs on the CPU: ``map_location`` may
    only be None or "cpu"."""
    if map_location is not None and str(map_location) != "cpu":
        raise ValueError(f"impl.load: map_location={map_location!r}, but impl runs on the CPU "
                         "only; pass None or 'cpu'")
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", repr(f))
    with _opened(f, "rb") as fh:
        start = fh.tell()
        if zipfile.is_zipfile(fh):
            fh.seek(start)
            with zipfile.ZipFile(fh) as archive:
                if _SKELETON + ".npy" in archive.namelist():
                    return _read(archive, name)
        fh.seek(start)
        return _load_torch(fh, name, weights_only)


def _opened(f, mode):
    """``f`` opened in ``mode`` if it is a path (closed on exit), else ``f`` itself."""
    return open(f, mode) if isinstance(f, (str, os.PathLike)) else contextlib.nullcontext(f)


def _read(archive, name):
    def array(key):
        with archive.open(key + ".npy") as member:
            return np.lib.format.read_array(member, allow_pickle=False)

    def decode(node):
        if not isinstance(node, dict):
            return node
        tag = next(k for k in node if k.startswith("$"))
        value = node[tag]
        if tag in ("$dict", "$odict"):
            return (OrderedDict if tag == "$odict" else dict)(
                (key, decode(v)) for key, v in value)
        if tag in ("$list", "$tuple"):
            return (list if tag == "$list" else tuple)(decode(v) for v in value)
        if tag == "$ndarray":
            return array(value)
        if tag == "$scalar":
            return array(value)[()]
        if tag == "$tensor":
            t = Tensor(array(value))
            return (Parameter(t, node["requires_grad"]) if node["parameter"]
                    else t.requires_grad_(node["requires_grad"]))
        raise ValueError(f"unknown entry {tag!r}")

    try:
        skeleton = json.loads(str(array(_SKELETON)))
        if skeleton.get("format") != _FORMAT or skeleton.get("version") != _VERSION:
            raise ValueError(f"format {skeleton.get('format')!r} version "
                             f"{skeleton.get('version')!r}, expected {_FORMAT!r} {_VERSION}")
        return decode(skeleton["root"])
    except (KeyError, ValueError, StopIteration, TypeError, zipfile.BadZipFile, OSError) as exc:
        raise RuntimeError(f"impl.load: {name} is not a valid impl.save checkpoint "
                           f"({type(exc).__name__}: {exc})") from exc


def _load_torch(fh, name, weights_only):
    try:
        import torch
    except ImportError:
        raise ImportError(f"impl.load: {name} is not an impl.save checkpoint, and reading a "
                          "torch.save file (.pth, .pt) needs torch, which is not installed"
                          ) from None
    try:
        obj = torch.load(fh, map_location="cpu", weights_only=weights_only)
    except Exception as exc:
        raise RuntimeError(f"impl.load: cannot read {name}: it is neither an impl.save "
                           f"checkpoint nor a torch.save file ({type(exc).__name__}: {exc})"
                           ) from exc

    def convert(obj, path):
        if isinstance(obj, torch.Tensor):
            try:
                t = Tensor(np.array(obj.detach().cpu().numpy()))
            except TypeError as exc:
                raise TypeError(f"impl.load: {name}: {path} has dtype {obj.dtype}, which impl "
                                "does not support") from exc
            if isinstance(obj, torch.nn.Parameter):
                return Parameter(t, obj.requires_grad)
            return t.requires_grad_(obj.requires_grad)
        if isinstance(obj, dict):
            return (OrderedDict if isinstance(obj, OrderedDict) else dict)(
                (k, convert(v, f"{path}[{k!r}]")) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return (list if isinstance(obj, list) else tuple)(
                convert(v, f"{path}[{i}]") for i, v in enumerate(obj))
        return obj

    return convert(obj, "obj")
