"""cpool's namespace: what ``dir(cpool)`` offers, what ``import cpool`` imports, and one name per
argument."""
import importlib
import inspect
import subprocess
import sys
import types

import pytest

import cpool

PUBLIC_SUBMODULES = ["dask", "layers"]


def test_dir_is_the_public_api():
    pytest.importorskip("dask")  # (without it, cpool.dask is left out: see the last test)
    names = dir(cpool)
    assert names == sorted(cpool.__all__ + ["__version__", *cpool._LAZY_SUBMODULES])
    assert not any(name.startswith("_") and name != "__version__" for name in names)
    # No kernel module (window, backward, ...) is offered; the public submodules are.
    for name in names:
        if name not in PUBLIC_SUBMODULES:  # (those import on first use: dask may be missing)
            assert not isinstance(getattr(cpool, name), types.ModuleType), name


def test_every_public_name_is_a_documented_function_or_submodule():
    for name in cpool.__all__:
        fn = getattr(cpool, name)
        assert inspect.isfunction(fn), name
        assert fn.__module__.startswith("cpool."), name


def test_kernels_stay_reachable_under_the_private_package():
    from cpool import _kernels

    assert _kernels.SIMD in ("baseline", "avx2")
    for name in ("window", "global_pool", "stochastic", "backward"):
        assert isinstance(getattr(_kernels, name), types.ModuleType)
        assert not hasattr(cpool, name)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'maxpool2d'"):
        cpool.maxpool2d  # noqa: B018


def test_import_is_light():
    """``import cpool`` imports NumPy and its own modules only: no optional extra, no public
    submodule that would pull one in."""
    code = ("import sys, cpool; heavy = ('dask', 'distributed', 'zarr', 'torch', 'cpool.dask',"
            " 'cpool.layers', 'hypothesis', 'threadpoolctl');"
            " print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_public_submodules_import_on_first_use():
    pytest.importorskip("dask")
    import cpool.dask

    assert cpool.dask is sys.modules["cpool.dask"]
    assert "max_pool2d" in dir(cpool.dask)


@pytest.mark.parametrize("module", PUBLIC_SUBMODULES)
def test_public_submodules_offer_their_api_only(module):
    # Tab completion on cpool.layers offered Any, Callable, Dict, ...; on cpool.dask also
    # HighLevelGraph, NamedTuple, Sequence. dir() is the public names (__all__); the rest
    # stays reachable.
    if module == "dask":
        pytest.importorskip("dask")
    mod = importlib.import_module(f"cpool.{module}")
    assert dir(mod) == sorted(mod.__all__)
    assert all(callable(getattr(mod, name)) for name in dir(mod))
    assert {"MaxPool2d", "StochasticPool2d"} <= set(dir(mod)) if module == "layers" else \
        {"max_pool2d", "global_avg_pool3d_backward", "max_unpool2d"} <= set(dir(mod))
    assert mod.Any is not None  # still there


@pytest.mark.parametrize("name", cpool.__all__)
def test_one_name_per_argument(name):
    """The input is ``x`` (gradients: ``grad_output``) under one name; no PyTorch alias such as
    ``input=`` (docs/api.md lists how PyTorch's names map)."""
    params = inspect.signature(getattr(cpool, name)).parameters
    assert "input" not in params and "self" not in params
    assert not any(p.kind is p.VAR_KEYWORD or p.kind is p.VAR_POSITIONAL
                   for p in params.values()), name


def test_without_dask_the_namespace_still_works():
    """With Dask missing, dir(cpool) leaves cpool.dask out and getattr raises AttributeError
    (what hasattr, inspect.getmembers and help(cpool) expect), naming the extra to install."""
    code = ("import sys; sys.modules['dask'] = None; import cpool, inspect; "
            "assert 'dask' not in dir(cpool) and 'layers' in dir(cpool); "
            "assert not hasattr(cpool, 'dask'); inspect.getmembers(cpool); "
            "import pydoc; pydoc.render_doc(cpool)\n"
            "try:\n    cpool.dask\nexcept AttributeError as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert "pip install 'cpool[dask]'" in result.stdout
