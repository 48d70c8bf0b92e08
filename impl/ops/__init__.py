"""The ops, by family. Each family module defines its primitives (Function subclasses), the
public functions over them, and ``METHODS``: the Tensor methods and operators it provides,
installed on :class:`~impl.tensor.Tensor` here."""

from impl.ops import conv, elementwise, linalg, nn, norm, pool, reduction, shape
from impl.tensor import Tensor

for _family in (elementwise, reduction, shape, linalg, nn, pool, norm, conv):
    for _name, _fn in _family.METHODS.items():
        setattr(Tensor, _name, _fn)
