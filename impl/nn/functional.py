"""The functional API of dense networks, mirroring torch.nn.functional: activations, softmax,
linear and the losses.

Argument names, defaults and semantics follow torch, including the deprecated ``size_average`` /
``reduce`` loss arguments. ``softmax``/``log_softmax`` with ``dim=None`` pick torch's implicit
dim (0 for 0-, 1- and 3-d inputs, else 1) and warn as torch does. Losses take ``reduction`` in
'none' | 'mean' | 'sum'. Class weights of ``nll_loss``/``cross_entropy`` (class-index targets)
and the weight of ``binary_cross_entropy`` are constants, as in torch: passing one that requires
grad is an error.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from impl import _grad_mode
from impl.ops import elementwise
from impl.ops._args import check_broadcast, check_tensor
from impl.ops.conv import conv2d
from impl.ops.elementwise import sigmoid, tanh, to_dtype
from impl.ops.nn import BinaryCrossEntropy, Linear, MaskedFill, NllLoss, float_input
from impl.ops.nn import log_softmax as _log_softmax
from impl.ops.nn import softmax as _softmax
from impl.ops.norm import batch_norm
from impl.ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from impl.tensor import Tensor

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "mse_loss",
           "binary_cross_entropy", "nll_loss", "cross_entropy", "conv2d",
           "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
           "batch_norm"]

_TARGET_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


def relu(input, inplace=False):
    """Elementwise max(input, 0), with relu'(0) = 0 (torch.nn.functional.relu). impl never
    modifies a tensor in place, so ``inplace=True`` is an error rather than a silent copy."""
    if inplace:
        raise RuntimeError("relu: inplace=True is not supported (impl tensors are never "
                           "modified in place); use relu(input)")
    return elementwise.relu(input)


def _implicit_dim(op, input, stacklevel):
    check_tensor(input, op)
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if input.ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(input) / sum(exp(input)) along ``dim``, stable for logits of any magnitude; ``dtype``
    casts the input first; ``dim=None`` takes torch's implicit dim with its deprecation warning
    (torch.nn.functional.softmax)."""
    if dim is None:
        dim = _implicit_dim("softmax", input, _stacklevel)
    return _softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(input)) along ``dim``, computed as (input - max) - log(sum(exp(input - max)));
    ``dtype`` and ``dim=None`` as in :func:`softmax` (torch.nn.functional.log_softmax)."""
    if dim is None:
        dim = _implicit_dim("log_softmax", input, _stacklevel)
    return _log_softmax(input, dim, dtype)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for input (*, in_features), weight (out_features, in_features)
    or (in_features,) and bias broadcastable to the output (*, out_features); one BLAS product
    per pass, no copy of the weight (torch.nn.functional.linear)."""
    check_tensor(input, "linear")
    check_tensor(weight, "linear", "weight")
    if input.ndim == 0 or weight.ndim not in (1, 2):
        raise RuntimeError(f"linear: 'input' must be at least 1-D and 'weight' 1-D or 2-D, got "
                           f"input of shape {input.shape} and weight of shape {weight.shape}")
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: input of shape {input.shape} and weight of shape {weight.shape} cannot be "
            f"multiplied: input has {input.shape[-1]} features (last dim) but weight expects "
            f"in_features={weight.shape[-1]}")
    _check_same_dtype(weight, input, "linear", "weight")
    if bias is None:
        return Linear.apply(input, weight)
    check_tensor(bias, "linear", "bias")
    out_shape = input.shape[:-1] + weight.shape[:-1]
    if weight.ndim == 1 or not _broadcasts_to(bias.shape, out_shape):
        raise RuntimeError(f"linear: bias of shape {bias.shape} does not broadcast to the output "
                           f"shape {out_shape} (input {input.shape}, weight {weight.shape})")
    _check_same_dtype(bias, input, "linear", "bias")
    return Linear.apply(input, weight, bias)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error (input - target)**2, reduced; a target of another shape broadcasts
    with a warning, as torch; ``weight`` (the input's shape) scales each element and 'mean' then
    divides by its sum (torch.nn.functional.mse_loss)."""
    check_tensor(input, "mse_loss")
    check_tensor(target, "mse_loss", "target")
    if target.shape != input.shape:
        warnings.warn(f"mse_loss: Using a target size ({target.shape}) that is different to the "
                      f"input size ({input.shape}). This will likely lead to incorrect results "
                      "due to broadcasting. Please ensure they have the same size.", stacklevel=2)
    reduction = _reduction(size_average, reduce, reduction, "mse_loss")
    check_broadcast(input.shape, target.shape, "mse_loss", ("input", "target"))
    if input.dtype != target.dtype and input.dtype.kind == target.dtype.kind == "f":
        # torch broadcasts input and target first (broadcast_tensors): a 0-d one of the wider
        # dtype widens the loss, where a 0-d operand of a subtraction alone would not
        wider = np.promote_types(input.dtype, target.dtype)
        input, target = to_dtype(input, wider), to_dtype(target, wider)
    loss = elementwise.pow(input - target, 2)
    if weight is None:
        return _reduce(loss, reduction)
    check_tensor(weight, "mse_loss", "weight")
    if weight.shape != input.shape:
        raise ValueError(f"mse_loss: Weights and input must have the same size: weight "
                         f"{weight.shape}, input {input.shape}")
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" else _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-weight * (target * log(input) + (1 - target) * log(1 - input)) for probabilities
    ``input`` and ``target`` in [0, 1], each log clamped at -100 as torch; differentiable in
    input and target, ``weight`` broadcasts to the input (torch.nn.functional.binary_cross_entropy).
    """
    op = "binary_cross_entropy"
    reduction = _reduction(size_average, reduce, reduction, op)
    float_input(input, op)
    check_tensor(target, op, "target")
    if target.shape != input.shape:
        raise ValueError(f"{op}: Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is deprecated. Please ensure they have the "
                         "same size.")
    _check_same_dtype(target, input, op, "target")
    for name, t in (("input", input), ("target", target)):
        if not np.all((t.data >= 0) & (t.data <= 1)):
            raise RuntimeError(f"{op}: all elements of {name} should be between 0 and 1")
    w = None
    if weight is not None:
        _check_constant_weight(weight, op)
        if not _broadcasts_to(weight.shape, input.shape):
            raise RuntimeError(f"{op}: weight of shape {weight.shape} does not broadcast to the "
                               f"input shape {input.shape}")
        w = weight.data.astype(input.dtype, copy=False)
    return _reduce(BinaryCrossEntropy.apply(input, target, weight=w), reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log likelihood of class-index targets: -weight[t] * input[n, t, d1, ...] for
    input (N, C), (C,) or (N, C, d1, ...) of log-probabilities; targets equal to
    ``ignore_index`` contribute 0 and 'mean' divides by the summed weights of the others
    (torch.nn.functional.nll_loss)."""
    reduction = _reduction(size_average, reduce, reduction, "nll_loss")
    target, w = _class_targets(input, target, weight, ignore_index, "nll_loss")
    return NllLoss.apply(input, target=target, weight=w, ignore_index=ignore_index,
                         reduction=reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits ``input`` (N, C), (C,) or (N, C, d1, ...) with class-index targets
    (log_softmax + nll_loss) or class-probability targets (a float target of the input's shape);
    ``label_smoothing`` mixes the target with the uniform distribution exactly as torch
    (torch.nn.functional.cross_entropy)."""
    op = "cross_entropy"
    reduction = _reduction(size_average, reduce, reduction, op)
    float_input(input, op)
    check_tensor(target, op, "target")
    if not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"{op}: argument 'label_smoothing' must be float, not "
                        f"{type(label_smoothing).__name__}")
    if label_smoothing > 1.0:
        raise RuntimeError(f"{op}: label_smoothing must be between 0.0 and 1.0. "
                           f"Got: {label_smoothing}")
    if target.shape == input.shape:
        return _cross_entropy_probabilities(input, target, weight, ignore_index, reduction,
                                            label_smoothing)
    target_index, w = _class_targets(input, target, weight, ignore_index, op)
    class_dim = 0 if input.ndim == 1 else 1
    logp = _log_softmax(input, class_dim)
    nll = NllLoss.apply(logp, target=target_index, weight=w, ignore_index=ignore_index,
                        reduction=reduction)
    if label_smoothing <= 0:
        return nll
    # torch's cross_entropy_loss_label_smoothing: the smoothing term is the (weighted) sum of
    # -log p over the classes, 0 at ignored targets; 'mean' divides it by the summed weights of
    # the targets that are not ignored (their count without weights). The reductions select the
    # kept targets, so ignored ones get exactly 0 gradient even when 'mean' divides by 0.
    keep = target_index != ignore_index
    if w is not None:
        logp = logp * Tensor._from_op(w.reshape(_class_shape(input)), None)
    smooth = -logp.sum(class_dim)
    if reduction == "none":
        smooth = MaskedFill.apply(smooth, mask=~keep)
    else:
        smooth = smooth[keep].sum()
    if reduction == "mean":
        count = keep.sum() if w is None else w[target_index[keep]].sum()
        smooth = smooth / float(count)
    n_classes = input.shape[class_dim]
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def _cross_entropy_probabilities(input, target, weight, ignore_index, reduction, label_smoothing):
    """torch's cross_entropy_loss_prob_target: -sum over classes of weight * target * log p,
    with target * (1 - ls) + ls / C under label smoothing; 'mean' divides by N * d1 * ..."""
    op = "cross_entropy"
    if target.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected floating point type for target with class "
                           f"probabilities (a target of the input's shape {input.shape}), got "
                           f"{target.dtype}")
    if ignore_index >= 0:
        raise RuntimeError(f"{op}: ignore_index is not supported for floating point target "
                           f"(got ignore_index={ignore_index})")
    if input.ndim == 0:
        raise IndexError(f"{op}: Dimension out of range: a 0-d input has no class dimension")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    loss = _log_softmax(input, class_dim) * target
    if weight is not None:
        _check_class_weight(weight, n_classes, op)
        loss = loss * weight.reshape(_class_shape(input))
    if reduction == "none":
        return -loss.sum(class_dim)
    total = -loss.sum()
    if reduction == "sum":
        return total
    return total / (input.numel() // n_classes if input.numel() else 0)


def _class_targets(input, target, weight, ignore_index, op):
    """Check class-index targets against the input (N, C, d1, ...) or (C,); return the target
    and the class weights (or None) as arrays for :class:`NllLoss`."""
    float_input(input, op)
    check_tensor(target, op, "target")
    if input.ndim == 0:
        raise ValueError(f"{op}: Expected 1 or more dimensions (got 0) for 'input'")
    if target.dtype not in _TARGET_DTYPES:
        raise RuntimeError(f"{op}: expected target dtype to be Long or Byte, but got "
                           f"{target.dtype} (class-index target of shape {target.shape} for "
                           f"input of shape {input.shape})")
    if not isinstance(ignore_index, numbers.Integral) or isinstance(ignore_index, bool):
        raise TypeError(f"{op}: argument 'ignore_index' must be int, not "
                        f"{type(ignore_index).__name__}")
    t = target.data.astype(np.int64, copy=False)
    if input.ndim == 1:
        if t.ndim > 1:
            raise RuntimeError(f"{op}: 0D or 1D target tensor expected, multi-target not "
                               f"supported (target of shape {t.shape})")
        if t.size != 1:
            raise ValueError(f"{op}: For 1D input, 1D target must have size 1, but got target "
                             f"size: {t.size}")
        t = t.reshape(())
    else:
        if (t.shape[0] if t.ndim else 0) != input.shape[0]:
            raise ValueError(f"{op}: Expected input batch_size ({input.shape[0]}) to match "
                             f"target batch_size ({t.shape[0] if t.ndim else 0}).")
        expected = input.shape[:1] + input.shape[2:]
        if t.shape != expected:
            raise RuntimeError(f"{op}: expected target of shape {expected} for input of shape "
                               f"{input.shape}, got target of shape {t.shape}")
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"{op}: Target {t[bad].flat[0]} is out of bounds (input has "
                         f"{n_classes} classes).")
    if weight is None:
        return t, None
    _check_constant_weight(weight, op)
    _check_class_weight(weight, n_classes, op)
    if weight.dtype != input.dtype:
        raise RuntimeError(f"{op}: expected scalar type {input.dtype} but found {weight.dtype} "
                           "(argument 'weight' must have the dtype of 'input')")
    return t, weight.data


def _check_class_weight(weight, n_classes, op):
    check_tensor(weight, op, "weight")
    if weight.shape != (n_classes,):
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{weight.shape}")


def _check_constant_weight(weight, op):
    check_tensor(weight, op, "weight")
    if weight.requires_grad and _grad_mode.enabled:
        raise RuntimeError(f"{op}: is not differentiable with respect to argument 'weight'. "
                           "This input cannot have requires_grad True.")


def _class_shape(input):
    """The shape of class weights (C,) that broadcasts along the class axis of ``input``."""
    if input.ndim == 1:
        return input.shape
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def _check_same_dtype(t, input, op, name):
    if t.dtype != input.dtype:
        raise RuntimeError(f"{op}: expected '{name}' to have the dtype of 'input' "
                           f"({input.dtype}), got {t.dtype}")


def _broadcasts_to(shape, target):
    """Whether an array of ``shape`` broadcasts to exactly ``target``."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _reduction(size_average, reduce, reduction, op):
    """The reduction as 'none' | 'mean' | 'sum'; the legacy ``size_average``/``reduce`` flags
    override it with torch's deprecation warning."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(f"{op}: size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: {reduction} is not a valid value for reduction (expected "
                         "'none', 'mean' or 'sum')")
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()

