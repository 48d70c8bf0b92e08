"""Whether ops record the graph: ``no_grad`` / ``enable_grad`` switch it, as in torch."""

import functools

enabled = True


class _GradMode:
    _target = True

    def __new__(cls, func=None):
        # torch allows both ``@no_grad()`` and the bare ``@no_grad``.
        self = super().__new__(cls)
        return self if func is None else self(func)

    def __enter__(self):
        global enabled
        self._prev, enabled = enabled, self._target

    def __exit__(self, *exc):
        global enabled
        enabled = self._prev

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record no graph (torch.no_grad)."""

    _target = False


class enable_grad(_GradMode):
    """Context manager and decorator: turn graph recording back on (torch.enable_grad)."""

    _target = True


def is_grad_enabled():
    """True when ops record the graph."""
    return enabled
