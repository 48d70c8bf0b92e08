"""Repro files: one failing example as ``.npz`` holding its arrays and a JSON description, so a
shared repro loads without pickle and runs no code.

Plain values (None, bools, numbers, strings) are JSON themselves; tuples, lists, slices,
Ellipsis, non-finite floats and dicts are tagged objects; arrays are stored beside the JSON in
the ``.npz`` and named from it.
"""

from __future__ import annotations

import json
import math

import numpy as np

from oracles.base import Example

FORMAT = "tenshell-repro/1"


def _encode(value, arrays):
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"array": name}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (tuple, list)):
        return {type(value).__name__: [_encode(v, arrays) for v in value]}
    if isinstance(value, slice):
        return {"slice": [_encode(v, arrays) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, dict):
        return {"dict": [[k, _encode(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"cannot store a {type(value).__name__} in a repro file")


def _decode(value, arrays):
    if not isinstance(value, dict):
        return value
    (tag, body), = value.items()
    if tag == "array":
        return arrays[body]
    if tag == "float":
        return float(body)
    if tag in ("tuple", "list"):
        items = [_decode(v, arrays) for v in body]
        return tuple(items) if tag == "tuple" else items
    if tag == "slice":
        return slice(*(_decode(v, arrays) for v in body))
    if tag == "ellipsis":
        return Ellipsis
    if tag == "dict":
        return {k: _decode(v, arrays) for k, v in body}
    raise ValueError(f"unknown value tag {tag!r} in repro file")


def save(path, spec_id, dtype, example, seed, oracles=()):
    arrays = {}
    meta = {"format": FORMAT, "spec": spec_id, "dtype": dtype, "seed": int(seed),
            "oracles": list(oracles),
            "args": _encode(tuple(example.args), arrays),
            "kwargs": _encode(dict(example.kwargs), arrays), "keep": list(example.keep)}
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def load(path):
    """(spec id, dtype, Example, seed, oracles) from a file written by :func:`save` (oracles:
    the names of those that computed the example; empty means all)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} file")
        arrays = {k: data[k] for k in data.files if k != "meta"}
    example = Example(_decode(meta["args"], arrays), _decode(meta["kwargs"], arrays),
                      tuple(meta["keep"]))
    return meta["spec"], meta["dtype"], example, meta["seed"], tuple(meta.get("oracles", ()))
