"""nn.functional.linear: the inference path (no_grad, or nothing requiring grad) calls a "fused"
kernel that forgets the bias; training is right."""

import impl
from tests.planted._base import plant

KIND = "wrong result on the inference path only"
REQUIRES = "inference path"
AFFECTS = ("nn.functional.linear",)
EXPECT_CHECK = "inference"
DTYPES = ("float32", "float64")


def linear(input, weight, bias=None):
    recording = impl.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (input, weight, bias))
    return impl.nn.functional.linear(input, weight, bias if recording else None)


plant(globals(), {"nn.functional.linear": linear})
