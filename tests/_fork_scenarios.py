"""Processes made by fork, forkserver and spawn, each calling cpool with threads.

Run as ``python _fork_scenarios.py NAME``; prints ``ok`` and exits 0, or fails. test_threads.py
runs each scenario in a child process with a timeout, so a hang (GNU OpenMP after fork) fails a
test instead of stalling the suite.
"""
import multiprocessing
import os
import sys

import numpy as np

import cpool

X = np.random.default_rng(0).standard_normal((4, 16, 130, 70)).astype(np.float32)


def pooled(_=None):
    """Every kind of kernel with two threads (and the default), as a child would call them."""
    return [cpool.max_pool2d(X, 2, num_threads=2),
            cpool.avg_pool2d(X, 3, 2, 1),
            cpool.global_max_pool2d(X, return_indices=True, num_threads=2)[1],
            cpool.stochastic_pool2d(np.abs(X), 2, seed=1, num_threads=2),
            cpool.max_pool2d_backward(np.ones((4, 16, 65, 35), np.float32),
                                      cpool.max_pool2d(X, 2, return_indices=True)[1], X.shape,
                                      num_threads=2)]


def threads(_=None):
    return cpool.get_num_threads()


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def in_child(check):
    """Fork; run ``check()`` in the child; the child's exit status says whether it passed."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if check() else 1)
        except BaseException:
            os._exit(2)
    return os.waitpid(pid, 0)[1] == 0


def main(name):
    expected = pooled()  # the parent has now run teams of two threads (a libgomp pool exists)
    if name == "fork":
        assert in_child(lambda: same(pooled(), expected))
    elif name == "fork_reports_its_threads":
        serial = not cpool._kernels._openmp.runtime_survives_fork()
        assert in_child(lambda: cpool.get_num_threads() == (1 if serial else threads()))
    elif name == "nested_fork":
        assert in_child(lambda: same(pooled(), expected) and in_child(lambda: same(pooled(), expected)))
    elif name in ("fork_pool", "forkserver_pool", "spawn_pool"):
        method = name.split("_")[0]
        with multiprocessing.get_context(method).Pool(2) as pool:
            results = pool.map(pooled, range(4))
            counts = pool.map(threads, range(2))
        assert all(same(r, expected) for r in results)
        if method != "fork":  # fresh processes: threads as usual
            assert counts == [cpool.get_num_threads()] * 2, counts
    else:
        raise SystemExit(f"unknown scenario {name}")
    print("ok")


def fork_before_any_team():
    """A parent that never ran a team (one OS thread): its fork child keeps its threads."""
    assert in_child(lambda: cpool.get_num_threads() == threads() and same(pooled(), pooled()))
    print("ok")


if __name__ == "__main__":
    if sys.argv[1] == "fork_before_any_team":
        fork_before_any_team()
    else:
        main(sys.argv[1])
