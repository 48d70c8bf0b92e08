"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum."""

from __future__ import annotations

from impl.optim.optimizer import Optimizer
from impl.tensor import Tensor


class SGD(Optimizer):
    """SGD (torch.optim.SGD), step for step equal to torch's single-tensor implementation::

        g = -grad if maximize else grad
        g = g + weight_decay * p                          (if weight_decay)
        b = g (first step) else momentum * b + (1 - dampening) * g   (if momentum)
        g = g + momentum * b if nesterov else b           (if momentum)
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize})

    def _update(self, param, grad, group):
        p = param.data
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p
        momentum = group["momentum"]
        if momentum != 0:
            state = self.state[param]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor(grad.copy())
                buf = state["momentum_buffer"].data
            else:
                buf = state["momentum_buffer"].data
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p += -group["lr"] * grad
