# Type stub of the compiled module _buffers.pyx (mypy cannot read extension modules).
from typing import Any

import numpy as np

MIN_BYTES: int
DEFAULT_LIMIT: int
MAX_LIMIT: int

def empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray: ...
def set_limit(limit: int) -> int: ...
def stats() -> dict[str, int]: ...
