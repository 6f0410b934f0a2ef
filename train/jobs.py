"""One job over many items, spread over worker processes, the results in item order."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_map(job: Callable[[Item], Result], items: Sequence[Item], workers: int) -> Iterator[Result]:
    """`job` of each item in item order, from `workers` processes (in this one for 1 or a single
    item). `job` must pickle: a module-level function or a frozen dataclass with `__call__`.

    Spawned rather than forked workers: the parent may hold threads (tqdm's monitor, BLAS,
    onnxruntime) whose locks a fork would copy in a locked state. Each worker's BLAS runs one
    thread: the processes share the cores already (two workers with two BLAS threads each
    measured no faster than one process).
    """
    if workers <= 1 or len(items) < 2:
        yield from map(job, items)
        return
    with multiprocessing.get_context("spawn").Pool(min(workers, len(items)), _one_blas_thread) as pool:
        yield from pool.imap(job, items, chunksize=4)


def _one_blas_thread() -> None:
    import numpy  # noqa: F401  (loaded first: only a loaded BLAS can be limited)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
