"""linear's forward five times as slow: the product computed five times, the same result."""

import impl.nn.functional as F
from tests.planted._base import plant


def linear(input, weight, bias=None):
    for _ in range(4):
        F.linear(input.detach(), weight.detach(), None if bias is None else bias.detach())
    return F.linear(input, weight, bias)


plant(globals(), {"nn.functional.linear": linear})
