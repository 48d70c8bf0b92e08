"""impl.optim: optimizers and learning-rate schedulers (torch.optim)."""

from impl.optim import lr_scheduler
from impl.optim.adam import Adam
from impl.optim.optimizer import Optimizer
from impl.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer", "lr_scheduler"]
