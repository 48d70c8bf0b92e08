"""Hook handles (torch.utils.hooks): what ``Tensor.register_hook`` and a module's
``register_*_hook`` return."""

from __future__ import annotations

import weakref


class RemovableHandle:
    """The handle a ``register_*_hook`` returns (torch.utils.hooks.RemovableHandle):
    ``remove()`` unregisters the hook, as does leaving a ``with`` block on the handle. It holds
    the hook dicts weakly, so it does not keep a module alive."""

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        extras = ([] if extra_dict is None else
                  extra_dict if isinstance(extra_dict, list) else [extra_dict])
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self):
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks = ref()
            if hooks is not None:
                hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
