"""Both cores for the compiled loops, from threads that sleep when idle.

A kernel's loop over ``ntasks`` independent tasks is cut into contiguous ranges; the calling
thread runs the first range and worker threads the others, each inside the kernel's ``with
nogil`` block, and the call returns when all are done. OpenMP's ``prange`` would do the same,
but libgomp's idle workers spin for milliseconds after every parallel loop, and what runs next
is usually a BLAS call (or torch) that wants every core: on conv2d forward+backward, where
im2col and col2im alternate with sgemm, the spinning cost 20-55% of the time. These workers
block on a queue instead; waking one costs tens of microseconds, so a loop over fewer than
``GRAIN`` elements runs on the calling thread alone.

:func:`set_num_threads` / :func:`get_num_threads` are torch's (``impl.set_num_threads``); they
set how many threads these loops use, not NumPy's BLAS pool.
"""

from __future__ import annotations

import os
import queue
import threading

GRAIN = 1 << 16  # elements of work below which a second thread costs more than it saves

_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
    os.cpu_count() or 1)
_workers: list[queue.SimpleQueue] = []  # one job queue per started worker thread
_lock = threading.Lock()


def get_num_threads() -> int:
    """The number of threads the compiled loops use (all available cores by default)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the compiled loops (torch.set_num_threads)."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_threads: expected a positive integer, got {n!r}")
    _num_threads = n


def _work(jobs):
    while True:
        fn, args, begin, end, done = jobs.get()
        try:
            fn(*args, begin, end)
            done.put(None)
        except BaseException as exc:  # handed to the caller, which re-raises it
            done.put(exc)


def _queues(n):
    """Job queues of ``n`` worker threads, started on first use (and again after a fork)."""
    with _lock:
        while len(_workers) < n:
            jobs = queue.SimpleQueue()
            threading.Thread(target=_work, args=(jobs,), daemon=True,
                             name=f"impl-kernel-{len(_workers)}").start()
            _workers.append(jobs)
        return _workers[:n]


def parallel(fn, ntasks, work, *args):
    """``fn(*args, begin, end)`` over consecutive ranges covering ``range(ntasks)``, on up to
    :func:`get_num_threads` threads (one per ``GRAIN`` elements of ``work``, the loop's total
    size). ``fn`` must release the GIL while it loops and the ranges must be independent."""
    k = max(1, min(_num_threads, ntasks, work // GRAIN))
    if k == 1:
        fn(*args, 0, ntasks)
        return
    bounds = [ntasks * i // k for i in range(k + 1)]
    done = queue.SimpleQueue()
    for jobs, begin, end in zip(_queues(k - 1), bounds[1:-1], bounds[2:]):
        jobs.put((fn, args, begin, end, done))
    error = None
    try:
        fn(*args, 0, bounds[1])
    except BaseException as exc:
        error = exc
    for _ in range(k - 1):  # wait for every range, even after an error: they write our arrays
        exc = done.get()
        error = error or exc
    if error is not None:
        raise error


def _after_fork():
    # A forked child has none of the parent's threads (and maybe a lock a thread held): start
    # new workers there on demand.
    global _lock
    _lock = threading.Lock()
    _workers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
