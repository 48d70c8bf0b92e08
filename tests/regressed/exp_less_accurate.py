"""exp a few ulps less accurate: its result (and so its gradient) times 1 + 3 epsilons of its
dtype — within the derived tolerance, several times further from the truth than torch's and
JAX's."""

import numpy as np

import impl
from impl.ops.elementwise import Exp
from tests.planted._base import plant, substitute


class ExpSloppy(Exp):
    def forward(self, a):
        out = super().forward(a) * (1 + 3 * np.finfo(a.dtype).eps)
        self.save(out)
        return out


plant(globals(), {"exp": substitute(impl.exp, Exp, ExpSloppy)})
