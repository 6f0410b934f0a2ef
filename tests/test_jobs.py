"""Work spread over worker processes (rtsynth.train.jobs): item order, one BLAS thread per
worker, and a worker that dies stops the caller instead of leaving it waiting."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from rtsynth.train.jobs import ordered_map


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _blas_threads(_: int) -> int:
    from threadpoolctl import threadpool_info

    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def _dies_on_three(x: int) -> int:
    if x == 3:
        os._exit(1)  # as a crash in a native library would
    return x


def test_results_come_in_item_order_from_other_processes():
    results = list(ordered_map(_square_and_pid, list(range(40)), 2))
    assert [r for r, _ in results] == [x * x for x in range(40)]
    assert os.getpid() not in {pid for _, pid in results}
    assert list(ordered_map(_square_and_pid, [5], 2)) == [(25, os.getpid())]  # one item: here


def test_each_worker_runs_one_blas_thread():
    assert set(ordered_map(_blas_threads, list(range(8)), 2)) == {1}


def test_a_worker_that_dies_raises_instead_of_hanging():
    with pytest.raises(BrokenProcessPool):
        list(ordered_map(_dies_on_three, list(range(20)), 2))
