"""How many threads the compiled kernels' parallel loops use (``impl.set_num_threads``).

Each kernel module runs its loops on a thread team of its own (``threads.h``): the calling
thread and up to ``get_num_threads() - 1`` workers, one per ``GRAIN`` elements of work, so small
loops stay on the calling thread. This is not NumPy's BLAS pool, which has its own setting.
"""

from __future__ import annotations

import os

GRAIN = 1 << 15  # elements of work per thread, at least: less is not worth a handoff

_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
    os.cpu_count() or 1)


def get_num_threads() -> int:
    """The number of threads the compiled loops use (all available cores by default)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the compiled loops (torch.set_num_threads)."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_threads: expected a positive integer, got {n!r}")
    _num_threads = n


def threads(ntasks: int, work: int) -> int:
    """Threads for a loop of ``ntasks`` independent tasks touching ``work`` elements in all."""
    return max(1, min(_num_threads, ntasks, work // GRAIN))
