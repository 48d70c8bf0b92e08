"""maximum: computed with ``np.fmax``, which returns the other operand where one is NaN; torch's
maximum propagates the NaN."""

import numpy as np

import impl
from impl.ops.elementwise import Maximum
from tests.planted._base import plant, substitute

KIND = "NaN not propagated"
REQUIRES = "values"
AFFECTS = ("maximum[nan/inf]",)
EXPECT_CHECK = "forward"
DTYPES = ("float64",)


class MaximumIgnoringNan(Maximum):
    pick = np.fmax


plant(globals(), {"maximum": substitute(impl.maximum, Maximum, MaximumIgnoringNan)})
