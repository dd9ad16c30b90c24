"""cpool: fast, PyTorch-exact 1-D, 2-D and 3-D pooling for NumPy arrays on CPUs.

Pooling runs over the spatial axes of any array (the last one, two or three by default), in typed Cython kernels that
release the GIL and use OpenMP threads. See the README for the semantics and dtype policy.
"""
from typing import TYPE_CHECKING

try:
    import cpool._kernels  # noqa: F401  (the compiled kernels; private, see cpool._kernels)
except ImportError as exc:  # pragma: no cover - only in an unbuilt source checkout
    raise ImportError(
        "cpool's compiled kernels are missing: this looks like an unbuilt source checkout. "
        "Build in place with `pip install -e .` (or run from outside the source directory)."
    ) from exc

from cpool._api import (
    fractional_max_pool2d,
    fractional_max_pool3d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    max_pool1d,
    avg_pool1d,
    sum_pool1d,
    global_max_pool1d,
    global_avg_pool1d,
    global_sum_pool1d,
    max_pool3d,
    avg_pool3d,
    sum_pool3d,
    global_max_pool3d,
    global_avg_pool3d,
    global_sum_pool3d,
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    global_sum_pool2d,
    max_pool2d,
    stochastic_pool2d,
    sum_pool2d,
)
from cpool._gradients import (
    fractional_max_pool2d_backward,
    fractional_max_pool3d_backward,
    lp_pool1d_backward,
    lp_pool2d_backward,
    lp_pool3d_backward,
    adaptive_max_pool1d_backward,
    adaptive_max_pool2d_backward,
    adaptive_max_pool3d_backward,
    adaptive_avg_pool1d_backward,
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool3d_backward,
    max_pool1d_backward,
    avg_pool1d_backward,
    sum_pool1d_backward,
    global_max_pool1d_backward,
    global_avg_pool1d_backward,
    global_sum_pool1d_backward,
    max_pool3d_backward,
    avg_pool3d_backward,
    sum_pool3d_backward,
    global_max_pool3d_backward,
    global_avg_pool3d_backward,
    global_sum_pool3d_backward,
    max_unpool1d,
    max_unpool3d,
    avg_pool2d_backward,
    global_avg_pool2d_backward,
    global_max_pool2d_backward,
    global_sum_pool2d_backward,
    max_pool2d_backward,
    max_unpool2d,
    stochastic_pool2d_backward,
    sum_pool2d_backward,
)
from cpool._memory import buffer_cache_info, set_buffer_cache
from cpool._threads import get_num_threads, openmp_enabled, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "fractional_max_pool2d_backward",
    "fractional_max_pool3d_backward",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "lp_pool1d_backward",
    "lp_pool2d_backward",
    "lp_pool3d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d_backward",
    "adaptive_max_pool2d_backward",
    "adaptive_max_pool3d_backward",
    "adaptive_avg_pool1d_backward",
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool3d_backward",
    "max_pool1d",
    "avg_pool1d",
    "sum_pool1d",
    "global_max_pool1d",
    "global_avg_pool1d",
    "global_sum_pool1d",
    "max_pool3d",
    "avg_pool3d",
    "sum_pool3d",
    "global_max_pool3d",
    "global_avg_pool3d",
    "global_sum_pool3d",
    "max_pool1d_backward",
    "avg_pool1d_backward",
    "sum_pool1d_backward",
    "global_max_pool1d_backward",
    "global_avg_pool1d_backward",
    "global_sum_pool1d_backward",
    "max_pool3d_backward",
    "avg_pool3d_backward",
    "sum_pool3d_backward",
    "global_max_pool3d_backward",
    "global_avg_pool3d_backward",
    "global_sum_pool3d_backward",
    "max_unpool1d",
    "max_unpool3d",
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
    "buffer_cache_info",
    "set_buffer_cache",
    "stochastic_pool2d",
    "sum_pool2d",
]

if TYPE_CHECKING:  # type checkers see the lazy submodules as attributes; nothing imported
    from cpool import dask, layers  # noqa: F401

# Submodules that are public but import on first use: ``cpool.dask`` needs the optional Dask
# extra, and ``import cpool`` never imports an optional extra.
_LAZY_SUBMODULES = ("dask", "layers")


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        try:
            return importlib.import_module(f"cpool.{name}")
        except ImportError as exc:
            # An AttributeError, which hasattr(), inspect.getmembers() and help(cpool) expect
            # of a missing attribute; `import cpool.dask` still raises the ImportError.
            raise AttributeError(f"cpool.{name} needs its optional dependencies "
                                 f"(pip install 'cpool[{name}]'): {exc}") from exc
    raise AttributeError(f"module 'cpool' has no attribute {name!r}")


def __dir__() -> list:
    """The public API only: the functions, ``__version__`` and the public submodules whose
    dependencies are installed (the private modules, ``_api``, ``_kernels`` and the rest, stay
    reachable but are not offered)."""
    import importlib.util

    usable = [m for m in _LAZY_SUBMODULES if m != "dask" or importlib.util.find_spec("dask")]
    return sorted(__all__ + ["__version__", *usable])
