import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for `import _reference`, `import _helpers`

try:
    from hypothesis import settings

    # Each example runs a pure-Python reference; 60 examples keep a property test near a second.
    # CPOOL_HYPOTHESIS=fuzz runs a long campaign instead (5,000 examples a test).
    settings.register_profile("cpool", max_examples=60, deadline=None)
    settings.register_profile("fuzz", max_examples=5000, deadline=None)
    settings.load_profile("fuzz" if os.environ.get("CPOOL_HYPOTHESIS") == "fuzz" else "cpool")
except ImportError:  # hypothesis is in the `test` extra; property tests skip without it
    pass


@pytest.fixture
def rng():
    return np.random.default_rng(12345)

