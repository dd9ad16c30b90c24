"""cpool: fast, PyTorch-exact 2-D pooling for NumPy arrays on CPUs.

Pooling runs over the last two axes of any (..., H, W) array, in typed Cython kernels that
release the GIL and use OpenMP threads. See the README for the semantics and dtype policy.
"""
try:
    from cpool._kernels import backward, global_pool, stochastic, window  # noqa: F401
except ImportError as exc:  # pragma: no cover - only in an unbuilt source checkout
    raise ImportError(
        "cpool's compiled kernels are missing: this looks like an unbuilt source checkout. "
        "Build in place with `pip install -e .` (or run from outside the source directory)."
    ) from exc

from cpool._api import (
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    global_sum_pool2d,
    max_pool2d,
    stochastic_pool2d,
    sum_pool2d,
)
from cpool._gradients import (
    avg_pool2d_backward,
    global_avg_pool2d_backward,
    global_max_pool2d_backward,
    global_sum_pool2d_backward,
    max_pool2d_backward,
    max_unpool2d,
    stochastic_pool2d_backward,
    sum_pool2d_backward,
)
from cpool._threads import get_num_threads, openmp_enabled, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "global_avg_pool2d_backward",
    "global_max_pool2d_backward",
    "global_sum_pool2d_backward",
    "max_pool2d_backward",
    "max_unpool2d",
    "stochastic_pool2d_backward",
    "sum_pool2d_backward",
    "get_num_threads",
    "global_avg_pool2d",
    "global_max_pool2d",
    "global_sum_pool2d",
    "max_pool2d",
    "openmp_enabled",
    "set_num_threads",
    "stochastic_pool2d",
    "sum_pool2d",
]
