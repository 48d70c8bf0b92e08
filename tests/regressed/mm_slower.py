"""mm twice as slow: the product computed twice, the same result."""

import impl
from tests.planted._base import plant


def mm(input, mat2):
    impl.mm(input.detach(), mat2.detach())
    return impl.mm(input, mat2)


plant(globals(), {"mm": mm})
