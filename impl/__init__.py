"""impl: a from-scratch autograd library on NumPy with Cython hot loops, shaped like PyTorch.

    import impl
    x = impl.randn(4, 3, requires_grad=True)
    loss = impl.nn.functional.mse_loss(x @ w.T, y)
    loss.backward()
"""

__version__ = "0.1.0"
# For the conformance harness (a subject declares its conventions): impl's errors name the op,
# and its results do not depend on the inputs' memory layouts, to the bit
__tenshell_name_the_op__ = True
__tenshell_exact_layouts__ = True

from impl._grad_mode import enable_grad, is_grad_enabled, no_grad
from impl._kernels.parallel import get_num_threads, set_num_threads
from impl.creation import (
    Generator,
    arange,
    as_tensor,
    float32,
    float64,
    from_numpy,
    full,
    int32,
    int64,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from impl.creation import bool_ as bool
from impl.ops.elementwise import (
    abs,
    add,
    clamp,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
)
from impl.ops.linalg import *  # noqa: F403
from impl.ops.nn import *  # noqa: F403
from impl.ops.reduction import *  # noqa: F403
from impl.ops.shape import *  # noqa: F403
from impl.serialization import load, save
from impl.tensor import Tensor

float = float32
double = float64
long = int64

from impl import models, nn, optim  # noqa: E402  (they build on the names above)
