# Type stub of the compiled module _half.pyx (mypy cannot read extension modules).
import numpy as np

usable: bool

def widen(src: np.ndarray, dst: np.ndarray) -> None: ...
def narrow(src: np.ndarray, dst: np.ndarray) -> None: ...
