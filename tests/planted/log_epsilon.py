"""log: computes log(x + 1e-7) "to guard against log(0)" — a forward off by a tiny constant."""

import impl
from impl.ops.elementwise import Log
from tests.planted._base import plant, substitute

KIND = "forward off by a tiny constant"
REQUIRES = "basic"
AFFECTS = ("log",)
EXPECT_CHECK = "forward"
DTYPES = ("float64",)


class LogEpsilon(Log):
    def forward(self, a):
        return super().forward(a + 1e-7)


plant(globals(), {"log": substitute(impl.log, Log, LogEpsilon)})
