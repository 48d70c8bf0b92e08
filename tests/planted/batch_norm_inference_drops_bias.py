"""batch_norm: the inference path (no_grad, or nothing requiring grad) runs a "folded" kernel
that applies the weight but forgets the bias; the recording run is right."""

import impl
from tests.planted._base import plant

KIND = "wrong result on the inference path only"
REQUIRES = "inference path"
AFFECTS = ("nn.functional.batch_norm[evaluation]",)
EXPECT_CHECK = "inference"
DTYPES = ("float32", "float64")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    recording = impl.is_grad_enabled() and any(
        isinstance(t, impl.Tensor) and t.requires_grad for t in (input, weight, bias))
    return impl.nn.functional.batch_norm(input, running_mean, running_var, weight,
                                         bias if recording else None, training, momentum, eps)


plant(globals(), {"nn.functional.batch_norm": batch_norm})
