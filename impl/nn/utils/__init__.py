"""impl.nn.utils (torch.nn.utils): folding an evaluation-mode batch norm into the convolution
before it."""

from impl.nn.utils import fusion
from impl.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights

__all__ = ["fusion", "fuse_conv_bn_eval", "fuse_conv_bn_weights"]
