"""Compiled kernels. Private: call the public functions in :mod:`cpool` instead.

On x86-64 every kernel module is built twice (setup.py): for the portable baseline (SSE2, any
x86-64 CPU) and with AVX2 (``_w_avx2`` for ``_window``, ``_g_avx2``, ``_stoch_avx2``,
``_bac_avx2``: setup.py's ``avx2_twin`` names, as long as the baseline's). One set is chosen
once, at import, and bound to the names below, which the rest of cpool calls:

* ``"avx2"`` when the CPU and OS support AVX2 and the variant was built, else ``"baseline"``;
* ``CPOOL_KERNELS=baseline`` or ``CPOOL_KERNELS=avx2`` in the environment forces a choice (for
  comparisons); asking for AVX2 where it cannot run warns and uses the baseline.

Both sets compute bitwise identical results (the same C code, compiled without FMA contraction
or float reassociation); only speed differs. The one exception is a NaN's sign and payload
where NaNs of both signs meet in one sum (an input's NaN and one made by ``inf - inf``, say):
the first operand's NaN comes out, and which operand is first each compiled loop decides
(addition commutes; IEEE 754 leaves the NaN open). The NaN's position never differs.
``SIMD`` names the set in use.
"""
import importlib
import os
import warnings
from typing import Any, Dict, Tuple

import numpy as np

import cpool._kernels._openmp as _openmp

_CHOICES = ("auto", "baseline", "avx2")


def _avx2_built():
    try:
        importlib.import_module("cpool._kernels._w_avx2")
    except ImportError:
        return False
    return True


def _choose():
    want = os.environ.get("CPOOL_KERNELS", "auto").strip().lower() or "auto"
    if want not in _CHOICES:
        warnings.warn(f"CPOOL_KERNELS={want!r} is not one of {_CHOICES}; using 'auto'",
                      RuntimeWarning, stacklevel=3)
        want = "auto"
    if want == "baseline":
        return "baseline"
    usable = _openmp.cpu_has_avx2() and _avx2_built()
    if want == "avx2" and not usable:
        warnings.warn("CPOOL_KERNELS='avx2' but the AVX2 kernels "
                      + ("were not built" if _openmp.cpu_has_avx2() else "cannot run on this CPU")
                      + "; using the baseline kernels", RuntimeWarning, stacklevel=3)
    return "avx2" if usable else "baseline"


SIMD = _choose()
_MODULES = {"window": ("_window", "_w_avx2"), "global_pool": ("_global", "_g_avx2"),
            "stochastic": ("_stochastic", "_stoch_avx2"), "backward": ("_backward", "_bac_avx2")}
_pick = 1 if SIMD == "avx2" else 0
window = importlib.import_module("cpool._kernels." + _MODULES["window"][_pick])
global_pool = importlib.import_module("cpool._kernels." + _MODULES["global_pool"][_pick])
stochastic = importlib.import_module("cpool._kernels." + _MODULES["stochastic"][_pick])
backward = importlib.import_module("cpool._kernels." + _MODULES["backward"][_pick])


# The C types the kernels' fused types specialise on, by NumPy dtype (native byte order).
_C_TYPES = {np.dtype(t): name for t, name in (
    (np.float32, "float"), (np.float64, "double"), (np.int8, "int8_t"), (np.uint8, "uint8_t"),
    (np.int16, "int16_t"), (np.uint16, "uint16_t"), (np.int32, "int32_t"),
    (np.uint32, "uint32_t"), (np.int64, "int64_t"), (np.uint64, "uint64_t"))}


class Specialisations(Dict[Any, Any]):
    """The versions of fused kernels for one input dtype and one output dtype:
    ``specialisations[kernel]`` is ``kernel``'s version for them, looked up once in its
    ``__signatures__`` ("input|output" where it has two fused types, else "input"), or
    ``kernel`` itself where it has none (its own dispatch then decides, and raises as it
    would). Only for kernels whose first two arguments are the input and the output.

    A fused kernel's own dispatch reads each call's buffer formats to choose its version: 0.3
    us of a 5 us call on a (1, 1, 2, 2) input, where every repeated call of an op comes here.
    A version given the wrong dtypes would raise Cython's buffer dtype mismatch, never
    compute."""

    __slots__ = ("_names",)

    def __init__(self, names: Tuple[str, ...]):
        super().__init__()
        self._names = names

    def __missing__(self, kernel):
        signatures = getattr(kernel, "__signatures__", None) or {}
        found = next((signatures[n] for n in self._names if n in signatures), kernel)
        self[kernel] = found
        return found


_SPECIALISATIONS: Dict[Tuple[np.dtype, np.dtype], Specialisations] = {}


def specialisations(input_dtype: np.dtype, output_dtype: np.dtype) -> Specialisations:
    """The :class:`Specialisations` of kernels reading ``input_dtype`` into ``output_dtype``
    (one per pair, shared by every plan)."""
    found = _SPECIALISATIONS.get((input_dtype, output_dtype))
    if found is None:
        x, out = _C_TYPES.get(input_dtype), _C_TYPES.get(output_dtype)
        names = () if x is None else (x,) if out is None else (f"{x}|{out}", x)
        found = _SPECIALISATIONS.setdefault((input_dtype, output_dtype), Specialisations(names))
    return found
