import os
import subprocess
import sys

import numpy as np
import pytest

import cpool


def test_openmp_enabled():
    # A build that silently came out serial must fail here (CPOOL_SKIP_OPENMP_TEST=1 to allow it).
    if os.environ.get("CPOOL_SKIP_OPENMP_TEST", "0") not in ("", "0"):
        pytest.skip("serial build allowed by CPOOL_SKIP_OPENMP_TEST")
    assert cpool.openmp_enabled() is True


def test_set_and_get_num_threads():
    default = cpool.get_num_threads()
    assert default >= 1
    try:
        cpool.set_num_threads(3)
        assert cpool.get_num_threads() == (3 if cpool.openmp_enabled() else 1)
    finally:
        cpool.set_num_threads(None)
    assert cpool.get_num_threads() == default


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                     (True, TypeError)])
def test_set_num_threads_errors(bad, exc):
    with pytest.raises(exc, match=r"^set_num_threads: `n` must be"):
        cpool.set_num_threads(bad)


def test_threadpoolctl_limits_cpool():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    cpool.max_pool2d(np.zeros((4, 4), np.float32), 2)  # the OpenMP runtime is loaded
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert cpool.get_num_threads() == 1
    assert cpool.get_num_threads() >= 1


def test_omp_num_threads_is_respected():
    code = "import cpool; print(cpool.get_num_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("3" if cpool.openmp_enabled() else "1")


def test_num_threads_larger_than_cores_is_fine(rng):
    x = rng.standard_normal((2, 4, 300, 300)).astype(np.float32)
    np.testing.assert_array_equal(cpool.max_pool2d(x, 2, num_threads=64), cpool.max_pool2d(x, 2, num_threads=1))


SCENARIOS = os.path.join(os.path.dirname(__file__), "_fork_scenarios.py")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
@pytest.mark.parametrize("scenario", ["fork", "fork_reports_its_threads", "nested_fork",
                                      "fork_pool", "forkserver_pool", "spawn_pool",
                                      "fork_before_any_team"])
def test_children_of_fork_forkserver_and_spawn_work(scenario):
    # After the parent ran a team of two threads, a fork() child used to hang in its first call
    # (GNU OpenMP's pool does not survive fork). A hang fails here by the timeout.
    env = dict(os.environ, OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", SCENARIOS, scenario],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_thread_count_is_capped_at_the_cpus():
    # num_threads=10**6 started 1,280 OS threads on 2 cores ("libgomp: Thread creation failed").
    from cpool import _threads, _validation

    cpus = _threads._available_cpus()
    assert _validation._threads_for(10**6, 10**12, 10**12, "f") == cpus
    assert _threads.resolve(10**6, "f") == (cpus if cpool.openmp_enabled() else 1)
    x = np.random.default_rng(1).standard_normal((8, 8, 256, 256)).astype(np.float32)
    np.testing.assert_array_equal(cpool.max_pool2d(x, 2, num_threads=10**6),
                                  cpool.max_pool2d(x, 2, num_threads=1))
    try:
        cpool.set_num_threads(10**6)
        np.testing.assert_array_equal(cpool.avg_pool2d(x, 2), cpool.avg_pool2d(x, 2, num_threads=1))
    finally:
        cpool.set_num_threads(None)


def test_huge_thread_count_does_not_start_huge_teams():
    # In a fresh process: the OS threads after a call with num_threads=10**6 stay at the CPUs.
    code = ("import os, numpy as np, cpool\n"
            "x = np.ones((64, 64, 64, 64), np.float32)\n"
            "cpool.max_pool2d(x, 2, num_threads=10**6)\n"
            "print(len(os.listdir('/proc/self/task')))")
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=120)
    from cpool import _threads

    assert int(out.stdout) <= _threads._available_cpus() + 4  # the team, plus Python's own
