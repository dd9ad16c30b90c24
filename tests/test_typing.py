"""Type information: cpool ships ``py.typed`` and annotations that a user's strictly checked
code can rely on (``mypy --strict`` on a script that calls every public function), and
``mypy cpool`` passes. Skipped where mypy is not installed (the test extra installs it)."""
import inspect
import os
import pathlib
import subprocess
import sys
import typing

import pytest

import cpool
from cpool import layers

ROOT = pathlib.Path(__file__).resolve().parent.parent

# A user's script: every public function called the way the docs show, its results assigned
# to annotated names (a wrong inferred type fails the check).
USER_SCRIPT = '''
from typing import Dict, Tuple

import numpy as np
from numpy.typing import NDArray

import cpool
from cpool.layers import MaxPool2d

x = np.zeros((1, 2, 8, 8), np.float32)
v = np.zeros((1, 2, 4, 8, 8), np.float32)
s = np.zeros((1, 2, 8), np.float32)

y = cpool.max_pool2d(x, 2)
reveal: NDArray[np.generic] = y
values, where = cpool.max_pool2d(x, 2, return_indices=True)
pair: Tuple[NDArray[np.generic], NDArray[np.int64]] = cpool.max_pool2d(x, 2, 2, 0, 1, False, True)
either = cpool.max_pool2d(x, 2, return_indices=bool(x.size))
a: NDArray[np.generic] = cpool.max_pool2d(x, (2, 2), stride=(2, 1), padding="same")
b: NDArray[np.generic] = cpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
c: NDArray[np.generic] = cpool.sum_pool2d(x, 2, padding=((0, 1), (1, 0)))
d: NDArray[np.generic] = cpool.global_max_pool2d(x, keepdims=True)
dv, di = cpool.global_max_pool2d(x, return_indices=True)
e: NDArray[np.generic] = cpool.global_avg_pool2d(x, axes=(2, 3))
f: NDArray[np.generic] = cpool.global_sum_pool2d(x, out=None, num_threads=1)
g: NDArray[np.generic] = cpool.stochastic_pool2d(x, 2, seed=0)
gv, gi = cpool.stochastic_pool2d(x, 2, seed=np.random.default_rng(0), return_indices=True)
h: NDArray[np.generic] = cpool.stochastic_pool2d(x, 2, training=False)
cpool.stochastic_pool2d_backward(np.ones_like(gv), gi, x.shape)
cpool.max_pool2d_backward(np.ones_like(values), where, x.shape)
cpool.avg_pool2d_backward(np.ones_like(b), x.shape, 3, 1, 1, count_include_pad=False)
cpool.sum_pool2d_backward(np.ones_like(c), x.shape, 2, padding=((0, 1), (1, 0)))
cpool.global_max_pool2d_backward(np.ones_like(dv), di, x.shape)
cpool.global_avg_pool2d_backward(np.ones_like(e), x.shape)
cpool.global_sum_pool2d_backward(np.ones_like(f), x.shape)
cpool.max_unpool2d(values, where, 2, output_size=x.shape[-2:])

m1: NDArray[np.generic] = cpool.max_pool1d(s, 2)
m1v, m1i = cpool.max_pool1d(s, 2, return_indices=True)
cpool.max_pool1d_backward(np.ones_like(m1v), m1i, s.shape)
cpool.max_unpool1d(m1v, m1i, 2)
cpool.avg_pool1d_backward(cpool.avg_pool1d(s, 2), s.shape, 2)
cpool.sum_pool1d_backward(cpool.sum_pool1d(s, 2), s.shape, 2)
g1v, g1i = cpool.global_max_pool1d(s, return_indices=True)
cpool.global_max_pool1d_backward(g1v, g1i, s.shape)
cpool.global_avg_pool1d_backward(cpool.global_avg_pool1d(s), s.shape)
cpool.global_sum_pool1d_backward(cpool.global_sum_pool1d(s), s.shape)
m3: NDArray[np.generic] = cpool.max_pool3d(v, 2)
m3v, m3i = cpool.max_pool3d(v, 2, return_indices=True)
cpool.max_pool3d_backward(m3v, m3i, v.shape)
cpool.max_unpool3d(m3v, m3i, 2)
cpool.avg_pool3d_backward(cpool.avg_pool3d(v, 2), v.shape, 2)
cpool.sum_pool3d_backward(cpool.sum_pool3d(v, 2), v.shape, 2)
g3v, g3i = cpool.global_max_pool3d(v, return_indices=True)
cpool.global_max_pool3d_backward(g3v, g3i, v.shape)
cpool.global_avg_pool3d_backward(cpool.global_avg_pool3d(v), v.shape)
cpool.global_sum_pool3d_backward(cpool.global_sum_pool3d(v), v.shape)

am1v, am1i = cpool.adaptive_max_pool1d(s, 3, return_indices=True)
cpool.adaptive_max_pool1d_backward(am1v, am1i, s.shape)
am2: NDArray[np.generic] = cpool.adaptive_max_pool2d(x, (3, None))
am2v, am2i = cpool.adaptive_max_pool2d(x, 3, return_indices=True)
cpool.adaptive_max_pool2d_backward(am2v, am2i, x.shape)
am3v, am3i = cpool.adaptive_max_pool3d(v, (2, 3, 3), return_indices=True)
cpool.adaptive_max_pool3d_backward(am3v, am3i, v.shape)
cpool.adaptive_avg_pool1d_backward(cpool.adaptive_avg_pool1d(s, 3), s.shape)
cpool.adaptive_avg_pool2d_backward(cpool.adaptive_avg_pool2d(x, 1), x.shape)
cpool.adaptive_avg_pool3d_backward(cpool.adaptive_avg_pool3d(v, (1, 2, 2)), v.shape)
cpool.lp_pool1d_backward(cpool.lp_pool1d(s, 2, 2), s, 2, 2)
cpool.lp_pool2d_backward(cpool.lp_pool2d(x, 2.0, 2), x, 2.0, 2)
cpool.lp_pool3d_backward(cpool.lp_pool3d(v, 3, 2, ceil_mode=True), v, 3, 2, ceil_mode=True)
fr: NDArray[np.generic] = cpool.fractional_max_pool2d(x, 2, output_ratio=0.5, seed=1)
frv, fri = cpool.fractional_max_pool2d(x, 2, (4, 4), return_indices=True,
                                        random_samples=np.zeros((1, 2, 2)))
cpool.fractional_max_pool2d_backward(frv, fri, x.shape)
f3v, f3i = cpool.fractional_max_pool3d(v, 2, output_ratio=(0.5, 0.5, 0.5), return_indices=True)
cpool.fractional_max_pool3d_backward(f3v, f3i, v.shape)

threads: int = cpool.get_num_threads()
cpool.set_num_threads(threads)
enabled: bool = cpool.openmp_enabled()
previous_cache: int = cpool.set_buffer_cache(1 << 20)
cache: Dict[str, int] = cpool.buffer_cache_info()
cpool.set_buffer_cache(previous_cache)
version: str = cpool.__version__

layer = MaxPool2d(2)
out: NDArray[np.generic] = layer.forward(x)
grad: NDArray[np.generic] = layer.backward(np.ones_like(out))
'''


def _mypy():
    pytest.importorskip("mypy")
    return [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull]


def test_package_is_marked_typed():
    assert (pathlib.Path(cpool.__file__).parent / "py.typed").is_file()


def test_every_public_function_is_annotated():
    for name in cpool.__all__:
        hints = typing.get_type_hints(getattr(cpool, name))
        params = inspect.signature(getattr(cpool, name)).parameters
        assert "return" in hints, name
        assert set(params) <= set(hints), (name, set(params) - set(hints))


@pytest.mark.parametrize("name", [n for n in cpool.__all__ if "return_indices" in
                                  inspect.signature(getattr(cpool, n)).parameters])
def test_return_indices_has_overloads(name):
    """With return_indices the result is a pair: overloads tell a type checker which."""
    overloads = typing.get_overloads(getattr(cpool, name)) if hasattr(typing, "get_overloads") \
        else None
    if overloads is None:
        pytest.skip("typing.get_overloads needs Python 3.11")
    # False (the default), True by keyword, True by position (where it is positional), bool.
    positional = inspect.signature(getattr(cpool, name)).parameters["return_indices"].kind \
        is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert len(overloads) == (4 if positional else 3), name


def test_mypy_strict_on_a_user_script(tmp_path):
    """Run from outside the repository, as a user would: mypy finds the installed cpool
    (the README's editable install puts a plain path entry on sys.path, which mypy follows)."""
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    result = subprocess.run(_mypy() + ["--strict", str(script)], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reveals_the_overloaded_return_types(tmp_path):
    script = tmp_path / "reveal.py"
    script.write_text("import numpy as np\nimport cpool\nx = np.zeros((2, 2))\n"
                      "reveal_type(cpool.max_pool2d(x, 2))\n"
                      "reveal_type(cpool.max_pool2d(x, 2, return_indices=True))\n"
                      "reveal_type(cpool.layers.AvgPool2d(2))\n")
    result = subprocess.run(_mypy() + [str(script)], capture_output=True, text=True,
                            cwd=tmp_path)
    revealed = [line for line in result.stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 3, result.stdout
    assert 'Revealed type is "numpy.ndarray[' in revealed[0]
    assert 'Revealed type is "tuple[numpy.ndarray[' in revealed[1] and "64Bit" in revealed[1]
    assert "AvgPool2d" in revealed[2]


def test_mypy_on_cpool_itself():
    result = subprocess.run(_mypy() + ["cpool"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
