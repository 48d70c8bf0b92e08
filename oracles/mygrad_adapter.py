"""MyGrad (a NumPy autograd library, not written here) as the subject: a tape-style adapter.

MyGrad spells torch's ops NumPy's way: ``axis``/``keepdims`` for ``dim``/``keepdim``,
``multiply`` for ``mul``, the activations and losses under ``mygrad.nnet``. The data below
maps torch's names and arguments to MyGrad's; the few functions translate an argument
convention to an op MyGrad has (``clamp`` to ``clip``, ``transpose`` to ``swapaxes``, ``var``'s
``correction`` to ``ddof``) and raise :class:`~oracles.base.Unsupported` for the forms it lacks.
An op MyGrad does not have (``linear``, ``mse_loss``, average pooling) is declared unsupported,
not rebuilt from other ops: the report's share of supported ops is MyGrad's own.
"""

from __future__ import annotations

import warnings

import numpy as np

from oracles.adapter import TapeAdapter
from oracles.base import NotApplicable, Unsupported


def _lacks(op, argument, why):
    return Unsupported(f"mygrad: {op}: {why}", op, argument)


def _mg():
    import mygrad

    return mygrad


def _clamp(input, min=None, max=None):
    return _mg().clip(input, min, max)


def _var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    ddof = correction if correction is not None else 0 if unbiased is False else 1
    # torch reduces every dim for dim=(), NumPy none
    return _mg().var(input, axis=None if dim == () else dim, ddof=ddof, keepdims=keepdim)


def _extreme(name):
    """torch.max/min: of all elements, (values, indices) along ``dim``, or elementwise with
    ``other``."""
    def f(input, dim=None, keepdim=False, *, other=None):
        mg = _mg()
        if other is not None or not isinstance(dim, (int, type(None))):
            return (mg.maximum if name == "max" else mg.minimum)(
                input, dim if other is None else other)
        if dim is None:
            return getattr(mg, name)(input)
        values = getattr(mg, name)(input, axis=dim, keepdims=keepdim)
        indices = getattr(np, f"arg{name}")(input.data, axis=dim, keepdims=keepdim)
        return values, mg.tensor(indices)
    return f


def _softmax(name, mygrad_name, functional):
    """torch's softmax/log_softmax (``torch.softmax(input, dim, dtype)``, or
    ``F.softmax(input, dim, _stacklevel, dtype)``): ``dim=None`` is torch's legacy implicit dim
    (0 for 0-, 1- and 3-d inputs, else 1), with torch's deprecation warning; MyGrad's default is
    the last axis."""
    def f(input, dim=None, dtype=None):
        if dtype is not None:
            raise _lacks(name, "dtype", "no dtype")
        if dim is None:
            warnings.warn(f"Implicit dimension choice for {name} has been deprecated",
                          UserWarning, stacklevel=2)
            dim = 0 if input.ndim in (0, 1, 3) else 1
        return getattr(_mg().nnet, mygrad_name)(input, axis=dim)

    def nn_f(input, dim=None, _stacklevel=3, dtype=None):
        return f(input, dim, dtype)
    return nn_f if functional else f


def _reduction(name):
    """torch's sum/mean/amax/amin: ``dim=()`` reduces every dim (NumPy's ``axis=()`` none)."""
    def f(input, dim=None, keepdim=False, *, dtype=None):
        if dtype is not None:
            raise _lacks(name, "dtype", "no dtype")
        return getattr(_mg(), name)(input, axis=None if dim == () else dim, keepdims=keepdim)
    return f


def _transpose(input, dim0, dim1):
    return input if input.ndim == 0 else _mg().swapaxes(input, dim0, dim1)


def _t(input):
    return input if input.ndim < 2 else _mg().swapaxes(input, 0, 1)


def _permute(input, *dims):
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    return _mg().transpose(input, *dims)


def _flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return _mg().reshape(input, (1,))
    start, end = start_dim % input.ndim, end_dim % input.ndim
    shape = input.shape[:start] + (-1,) + input.shape[end + 1:]
    return _mg().reshape(input, shape)


def _squeeze(input, dim=None):
    # torch leaves a dimension that is not 1 alone; NumPy raises
    if dim is None:
        return _mg().squeeze(input)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    ones = tuple(d for d in dims if input.shape[d] == 1) if input.ndim else ()
    return _mg().squeeze(input, axis=ones) if ones else input


def _conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if groups != 1:
        raise _lacks("conv2d", "groups", "conv_nd has no groups")
    if isinstance(padding, str):
        raise _lacks("conv2d", "padding", "conv_nd has no 'same'/'valid' padding")
    mg = _mg()
    batched = input.ndim == 4
    x = input if batched else input[None]
    try:
        out = mg.nnet.conv_nd(x, weight, stride=_pair(stride), padding=_pair(padding),
                              dilation=_pair(dilation))
    except ValueError as exc:
        if "stride" in str(exc).lower():  # windows that do not tile the padded input
            raise _lacks("conv2d", "stride", str(exc).splitlines()[0]) from None
        raise
    out = out if bias is None else out + bias.reshape(-1, 1, 1)
    return out if batched else out[0]


def _pair(v):
    """torch's int or 1- or 2-sequence for the two spatial dims."""
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    return v * 2 if len(v) == 1 else v


def _max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False):
    for argument, lacking in (("padding", set(_pair(padding)) != {0}),
                              ("dilation", set(_pair(dilation)) != {1}),
                              ("ceil_mode", ceil_mode), ("return_indices", return_indices)):
        if lacking:
            raise _lacks("max_pool2d", argument, f"max_pool has no {argument}")
    kernel = _pair(kernel_size)
    stride = _pair(stride) if stride not in (None, [], ()) else kernel
    try:
        return _mg().nnet.max_pool(input, kernel, stride)
    except ValueError as exc:
        if "incompatible" in str(exc):  # windows that do not tile the input
            raise _lacks("max_pool2d", "stride", str(exc).splitlines()[0]) from None
        raise


def _only(op, given, defaults):
    """Unsupported unless every argument of ``defaults`` has its default value."""
    for argument, default in defaults.items():
        value = given[argument]
        if value is not None if default is None else value != default:
            raise _lacks(op, argument, f"no {argument}")


def _nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
              reduction="mean"):
    _only("nll_loss", locals(), {"size_average": None, "reduce": None, "ignore_index": -100,
                                 "reduction": "mean"})
    if input.ndim != 2:
        raise _lacks("nll_loss", "input", "negative_log_likelihood takes (N, C) inputs only")
    if np.any(np.asarray(target) == ignore_index):
        raise _lacks("nll_loss", "ignore_index", "no ignored targets")
    return _mg().nnet.losses.negative_log_likelihood(input, target, weights=weight)


def _cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                   reduce=None, reduction="mean", label_smoothing=0.0):
    _only("cross_entropy", locals(), {"weight": None, "size_average": None, "reduce": None,
                                      "ignore_index": -100, "reduction": "mean",
                                      "label_smoothing": 0.0})
    if input.ndim != 2 or np.asarray(target).dtype.kind not in "iu":
        raise _lacks("cross_entropy", "target", "softmax_crossentropy takes (N, C) scores "
                                                "and class indices only")
    if np.any(np.asarray(target) == ignore_index):
        raise _lacks("cross_entropy", "ignore_index", "no ignored targets")
    return _mg().nnet.softmax_crossentropy(input, target)


def _batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
                momentum=0.1, eps=1e-5):
    if running_mean is not None or running_var is not None:
        raise _lacks("batch_norm", "running_mean", "batchnorm keeps no running statistics")
    if not training:
        raise _lacks("batch_norm", "training", "batchnorm normalizes by the batch only")
    return _mg().nnet.batchnorm(input, gamma=weight, beta=bias, eps=float(eps))  # a 0-d tensor


class MyGrad(TapeAdapter):
    name = "mygrad"
    keywords = {"dim": "axis", "keepdim": "keepdims"}
    names = {
        "sub": "subtract", "mul": "multiply", "div": "divide", "neg": "negative",
        "pow": "power", "relu": "nnet.relu", "nn.functional.relu": "nnet.relu",
        "sigmoid": "nnet.sigmoid", "nn.functional.sigmoid": "nnet.sigmoid",
        "nn.functional.tanh": "tanh", "mm": "matmul", "bmm": "matmul",
        "softmax": _softmax("softmax", "softmax", False),
        "nn.functional.softmax": _softmax("softmax", "softmax", True),
        "log_softmax": _softmax("log_softmax", "logsoftmax", False),
        "nn.functional.log_softmax": _softmax("log_softmax", "logsoftmax", True),
        **{f"{prefix}{name}": _reduction(name) for name in ("sum", "mean", "amax", "amin")
           for prefix in ("", "Tensor.")},
        "cat": "concatenate", "unsqueeze": "expand_dims",
        "clamp": _clamp, "var": _var, "Tensor.var": _var, "max": _extreme("max"),
        "min": _extreme("min"), "transpose": _transpose, "Tensor.transpose": _transpose,
        "t": _t, "Tensor.t": _t, "permute": _permute, "Tensor.permute": _permute,
        "flatten": _flatten, "Tensor.flatten": _flatten, "squeeze": _squeeze,
        "Tensor.squeeze": _squeeze, "nn.functional.conv2d": _conv2d,
        "nn.functional.max_pool2d": _max_pool2d, "nn.functional.nll_loss": _nll_loss,
        "nn.functional.cross_entropy": _cross_entropy, "nn.functional.batch_norm": _batch_norm,
    }
    unsupported = {
        # ops MyGrad does not have
        "Tensor.view": None, "Tensor.expand": None, "gather": None,
        "nn.functional.linear": None, "nn.functional.mse_loss": None,
        "nn.functional.binary_cross_entropy": None, "nn.functional.avg_pool2d": None,
        "nn.functional.adaptive_avg_pool2d": None, "nn.functional.adaptive_max_pool2d": None,
        # argument forms it does not have, in any op; "method": a Tensor method it lacks
        "*": ("method", "alpha", "dtype", "rounding_mode", "groups", "padding", "stride",
              "dilation", "ceil_mode", "return_indices", "ignore_index", "reduction",
              "size_average", "reduce", "label_smoothing", "weight", "input", "target",
              "running_mean", "training"),
    }
    cannot = {"retain_graph": "clears its graph after a backward: there is no retain_graph",
              "out": "takes NumPy's out= (an array of the result's shape, never resized), "
                     "not torch's"}
    # NumPy's exceptions: shapes that do not broadcast are a ValueError, a dim out of range an
    # AxisError (a ValueError and an IndexError)
    errors = {RuntimeError: (ValueError,), IndexError: (IndexError,)}

    def __init__(self):
        self.module = _mg()

    def tensor(self, array, requires_grad=False):
        return self.module.tensor(array, copy=False, constant=not requires_grad
                                  if array.dtype.kind == "f" else None)

    def numpy(self, t):
        return t.data if isinstance(t, self.module.Tensor) else np.asarray(t)

    def backward(self, y, g, retain_graph=False):
        if retain_graph:
            raise NotApplicable(self.cannot["retain_graph"])
        y.backward(self.numpy(g))

    def clear_grad(self, t):
        t.null_grad()

    def no_grad(self):
        return self.module.no_autodiff

    def dtype(self, name):
        return getattr(np, name)

    def like(self, t, x):
        return t.astype(x.dtype)

    def scalar(self, value):
        return self.module.tensor(value)
