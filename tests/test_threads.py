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
