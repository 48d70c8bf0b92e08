"""The adapter that makes tests/tinytape.py a subject: the worked example of the README's
"Checking your own library".

    tenshell conform --subject tests.tinytape_adapter:TinyTape --ops add,sub,mul,exp,tanh,sum,mm
"""

import numpy as np

from oracles.adapter import TapeAdapter
from tests import tinytape


class TinyTape(TapeAdapter):
    name = "tinytape"
    module = tinytape  # ops resolve on it by torch's public name ...
    names = {"mm": "matmul"}  # ... or by the names it spells otherwise
    keywords = {"dim": "axis", "keepdim": "keepdims"}  # torch's keywords, renamed
    # what it lacks: whole ops (None), or argument forms ("method": a Tensor method) in any op
    unsupported = {"matmul": None, "nn.functional.tanh": None,
                   "*": ("method", "alpha", "dtype", "out")}
    cannot = {"out": "has no out= form"}  # checks it cannot take part in: not applicable
    errors = {RuntimeError: (ValueError,)}  # NumPy raises ValueError where torch RuntimeError

    def tensor(self, array, requires_grad=False):  # shares the array, strides and all
        return tinytape.Var(array, requires_grad)

    def numpy(self, t):
        return t.value if isinstance(t, tinytape.Var) else np.asarray(t)

    def backward(self, y, g, retain_graph=False):
        # its backward() takes no gradient: the VJP for g is the gradient of sum(y * g); the
        # graph is kept, so a second backward needs nothing more
        tinytape.sum(tinytape.mul(y, g)).backward()

    def grad(self, t):
        return None if t.grad is None else np.array(t.grad)

    def no_grad(self):
        return tinytape.no_grad()
