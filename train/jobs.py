"""One job over many items, spread over worker processes, the results in item order."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_map(job: Callable[[Item], Result], items: Sequence[Item], workers: int) -> Iterator[Result]:
    """`job` of each item in item order, from `workers` processes (in this one for 1 or a single
    item). `job` must pickle: a module-level function or a frozen dataclass with `__call__`.

    Spawned rather than forked workers: the parent may hold threads (tqdm's monitor, BLAS,
    onnxruntime) whose locks a fork would copy in a locked state. Each worker's BLAS runs one
    thread: the processes share the cores already (two workers with two BLAS threads each
    measured no faster than one process). A worker that dies raises BrokenProcessPool here
    rather than leaving its items, and the caller, waiting; a caller that stops early cancels
    what has not started.
    """
    if workers <= 1 or len(items) < 2:
        yield from map(job, items)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(min(workers, len(items)), mp_context=context, initializer=_one_blas_thread)
    try:
        yield from pool.map(job, items, chunksize=4)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _one_blas_thread() -> None:
    import numpy  # noqa: F401  (loaded first: only a loaded BLAS can be limited)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
