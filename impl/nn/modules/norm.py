"""BatchNorm1d and BatchNorm2d: batch normalization with learnable per-channel weight and bias
and running statistics, as torch.nn."""

from __future__ import annotations

from impl.creation import int64, ones, tensor, zeros
from impl.nn import functional as F
from impl.nn import init
from impl.nn.modules.module import Module
from impl.nn.parameter import Parameter
from impl.ops._args import check_tensor


class _BatchNorm(Module):
    """torch's _BatchNorm: weight (ones) and bias (zeros) when ``affine``; buffers running_mean
    (zeros), running_var (ones) and num_batches_tracked (int64 0) when ``track_running_stats``.

    Training normalizes with the batch statistics and, when tracked, updates the running ones
    with ``momentum`` (``None``: the cumulative average, momentum 1 / num_batches_tracked).
    Evaluation normalizes with the running statistics, or with the batch's when they are not
    tracked.
    """

    _expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batch tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        """Reset the running statistics; weight to ones and bias to zeros."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        check_tensor(input, type(self).__name__)
        if input.ndim not in self._expected_dims:
            raise ValueError(f"{type(self).__name__}: expected "
                             f"{' or '.join(f'{d}D' for d in self._expected_dims)} input (got "
                             f"{input.ndim}D input of shape {input.shape})")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data += 1  # in place, as torch's add_
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        # Batch statistics in training, and in evaluation when there are no running ones; the
        # buffers are passed only where they are read or updated.
        use_buffers = not self.training or self.track_running_stats
        return F.batch_norm(
            input, self.running_mean if use_buffers else None,
            self.running_var if use_buffers else None, self.weight, self.bias,
            self.training or (self.running_mean is None and self.running_var is None),
            factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs (torch.nn.BatchNorm1d)."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs (torch.nn.BatchNorm2d)."""

    _expected_dims = (4,)
