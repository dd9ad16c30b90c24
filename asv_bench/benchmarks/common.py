"""Settings shared by the benchmark modules.

CPOOL_ASV_SMALL=1 shrinks every input (CI smoke runs: the suite must run, not measure).
"""
import os

SMALL = os.environ.get("CPOOL_ASV_SMALL", "0") not in ("", "0")
ALL_THREADS = os.cpu_count() or 1


def scaled(shape):
    """``shape`` as given, or much smaller under CPOOL_ASV_SMALL=1."""
    if not SMALL:
        return shape
    return tuple(max(1, n // 8) for n in shape[:-2]) + tuple(max(8, n // 4) for n in shape[-2:])
