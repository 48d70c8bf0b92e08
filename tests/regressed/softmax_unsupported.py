"""softmax removed, and declared unsupported: a run that passes, checking less."""

from tests.planted._base import plant

plant(globals(), {})
del nn.functional.softmax  # noqa: F821 (plant() filled the namespace)
__tenshell_unsupported__ = {"nn.functional.softmax": None}
