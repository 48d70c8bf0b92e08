"""nn.functional.cross_entropy: the class log-probabilities are log(sigmoid(logit)) per class —
each class scored as an independent binary problem — instead of log_softmax over the classes
(class-index targets)."""

import impl
from impl.nn import functional
from tests.planted._base import plant, substitute

KIND = "cross entropy computed as a binary cross entropy"
REQUIRES = "basic"
AFFECTS = ("nn.functional.cross_entropy[class index]",)
EXPECT_CHECK = "forward"
DTYPES = ("float64",)


def _log_sigmoid(input, dim, dtype=None):
    return impl.log(impl.sigmoid(input))


plant(globals(), {"nn.functional.cross_entropy":
                  substitute(functional.cross_entropy, functional._log_softmax, _log_sigmoid)})
