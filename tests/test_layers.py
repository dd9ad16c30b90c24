"""cpool.layers: every layer's forward and backward equal the functions', PyTorch's constructor
names and defaults, train/eval, repr, errors, and the docs' NumPy CNN that trains."""
import doctest
import inspect
import pathlib

import numpy as np
import pytest

import cpool
from cpool import layers

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = layers._layer_types()

# name -> (constructor args, the function's args and keywords beyond x)
CASES = {
    "MaxPool{n}d": ((3,), dict(stride=2, padding=1), (3,), dict(stride=2, padding=1)),
    "AvgPool{n}d": ((3,), dict(stride=1, padding=1, count_include_pad=False),
                    (3,), dict(stride=1, padding=1, count_include_pad=False)),
    "SumPool{n}d": ((2,), dict(dilation=2, ceil_mode=True), (2,),
                    dict(dilation=2, ceil_mode=True)),
    "LPPool{n}d": ((3.0, 2), dict(ceil_mode=True), (3.0, 2), dict(ceil_mode=True)),
    "GlobalMaxPool{n}d": ((), dict(keepdims=True), (), dict(keepdims=True)),
    "GlobalAvgPool{n}d": ((), {}, (), {}),
    "GlobalSumPool{n}d": ((True,), {}, (True,), {}),
    "AdaptiveMaxPool{n}d": ((3,), {}, (3,), {}),
    "AdaptiveAvgPool{n}d": ((5,), {}, (5,), {}),
    "FractionalMaxPool{n}d": ((2,), dict(output_size=3, seed=7), (2,),
                              dict(output_size=3, seed=None)),  # seed: see the test
}
SHAPES = {1: (2, 3, 11), 2: (2, 3, 9, 11), 3: (2, 2, 7, 9, 11)}


def _cases():
    for pattern, case in CASES.items():
        for n in (1, 2, 3):
            name = pattern.format(n=n)
            if name in LAYERS:
                yield pytest.param(name, n, *case, id=name)


def test_every_layer_is_covered():
    covered = {p.values[0] for p in _cases()} | {"StochasticPool2d"}
    assert covered == set(LAYERS)


@pytest.mark.parametrize("name, n, args, kwargs, fargs, fkwargs", list(_cases()))
def test_forward_and_backward_equal_the_functions(rng, name, n, args, kwargs, fargs, fkwargs):
    x = rng.standard_normal(SHAPES[n]).astype(np.float32)
    layer = LAYERS[name](*args, **kwargs)
    y = layer(x)
    op = layer._op
    grad = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(grad)
    if name.startswith("Fractional"):
        # The layer draws from its own generator: the same draw as a generator from its seed.
        fkwargs = dict(fkwargs, seed=np.random.default_rng(7))
    fn = getattr(cpool, op)
    if "return_indices" in inspect.signature(fn).parameters:
        want, idx = fn(x, *fargs, **fkwargs, return_indices=True)
        np.testing.assert_array_equal(y, want)
        want_dx = getattr(cpool, op + "_backward")(grad, idx, x.shape)
    else:
        want = fn(x, *fargs, **fkwargs)
        np.testing.assert_array_equal(y, want)
        back = getattr(cpool, op + "_backward")
        if name.startswith("LP"):
            want_dx = back(grad, x, *fargs, **fkwargs)
        else:
            params = inspect.signature(back).parameters
            kw = {k: v for k, v in {**dict(zip(["kernel_size"], fargs)), **fkwargs}.items()
                  if k in params}
            want_dx = back(grad, x.shape, **kw)
    assert dx.shape == x.shape and dx.dtype == want_dx.dtype
    np.testing.assert_array_equal(dx, want_dx)


@pytest.mark.parametrize("name", ["MaxPool2d", "AdaptiveMaxPool3d", "FractionalMaxPool2d",
                                  "GlobalMaxPool1d"])
def test_return_indices_returns_the_pair_and_backward_takes_the_values_gradient(rng, name):
    n = int(name[-2])
    x = rng.standard_normal(SHAPES[n])
    args = {"MaxPool2d": (2,), "AdaptiveMaxPool3d": (2,), "FractionalMaxPool2d": (2, 3),
            "GlobalMaxPool1d": ()}[name]
    kwargs = {"return_indices": True} if name != "GlobalMaxPool1d" else {}
    layer = LAYERS[name](*args, **kwargs)
    out = layer(x)
    values = out[0] if kwargs else out
    if kwargs:
        assert out[1].dtype == np.int64 and out[1].shape == values.shape
    assert layer.backward(np.ones_like(values)).shape == x.shape


def test_constructors_follow_pytorch():
    """PyTorch's constructor names, order and defaults (torch.nn.MaxPool2d: return_indices
    before ceil_mode, unlike F.max_pool2d), plus keyword-only axes and num_threads."""
    expected = {
        "MaxPool2d": "(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, "
                     "ceil_mode=False, *, axes=None, num_threads=None)",
        "AvgPool2d": "(kernel_size, stride=None, padding=0, ceil_mode=False, "
                     "count_include_pad=True, divisor_override=None, *, axes=None, "
                     "num_threads=None)",
        "LPPool2d": "(norm_type, kernel_size, stride=None, ceil_mode=False, *, axes=None, "
                    "num_threads=None)",
        "AdaptiveMaxPool2d": "(output_size, return_indices=False, *, axes=None, "
                             "num_threads=None)",
        "AdaptiveAvgPool2d": "(output_size, *, axes=None, num_threads=None)",
        "FractionalMaxPool2d": "(kernel_size, output_size=None, output_ratio=None, "
                               "return_indices=False, *, seed=None, axes=None, "
                               "num_threads=None)",
    }
    for name, sig in expected.items():
        params = inspect.signature(LAYERS[name]).parameters.values()
        text = "(" + ", ".join(("*, " if p.kind is p.KEYWORD_ONLY and i == min(
            j for j, q in enumerate(params) if q.kind is q.KEYWORD_ONLY) else "")
            + (p.name if p.default is p.empty else f"{p.name}={p.default!r}")
            for i, p in enumerate(params)) + ")"
        assert text == sig, name
    torch = pytest.importorskip("torch")
    for name in ("MaxPool2d", "AvgPool3d", "LPPool2d", "AdaptiveMaxPool1d", "AdaptiveAvgPool3d"):
        ours = [p for p in inspect.signature(LAYERS[name]).parameters.values()
                if p.kind is not p.KEYWORD_ONLY]
        theirs = list(inspect.signature(getattr(torch.nn, name)).parameters.values())
        assert [(p.name, p.default) for p in ours] == \
            [(p.name, p.default) for p in theirs][:len(ours)], name


def test_attributes_and_repr():
    pool = layers.AvgPool2d(3, 2, 1, axes=(1, 2), num_threads=1)
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
    assert repr(pool) == ("AvgPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=False, "
                          "count_include_pad=True, divisor_override=None, axes=(1, 2), "
                          "num_threads=1)")
    with pytest.raises(AttributeError, match="no attribute 'kernel'"):
        pool.kernel  # noqa: B018


def test_channels_last_layer(rng):
    x = rng.standard_normal((2, 8, 8, 5)).astype(np.float32)
    layer = layers.MaxPool2d(2, axes=(1, 2))
    y = layer(x)
    assert y.shape == (2, 4, 4, 5)
    np.testing.assert_array_equal(y, cpool.max_pool2d(x, 2, axes=(1, 2)))
    assert layer.backward(np.ones_like(y)).sum() == y.size


def test_stochastic_train_eval(rng):
    x = rng.random((2, 3, 8, 8)).astype(np.float32)
    layer = layers.StochasticPool2d(2, seed=3)
    assert layer.training
    first, second = layer(x), layer(x)
    rng3 = np.random.default_rng(3)
    np.testing.assert_array_equal(first, cpool.stochastic_pool2d(x, 2, seed=rng3))
    np.testing.assert_array_equal(second, cpool.stochastic_pool2d(x, 2, seed=rng3))
    values, idx = cpool.stochastic_pool2d(x, 2, seed=np.random.default_rng(3),
                                          return_indices=True)
    again = layers.StochasticPool2d(2, seed=3)
    again(x)
    np.testing.assert_array_equal(again.backward(np.ones_like(values)),
                                  cpool.stochastic_pool2d_backward(np.ones_like(values), idx,
                                                                   x.shape))
    assert layer.eval() is layer and not layer.training
    np.testing.assert_array_equal(layer(x), cpool.stochastic_pool2d(x, 2, training=False))
    with pytest.raises(RuntimeError, match="training mode"):
        layer.backward(np.ones_like(values))
    assert layer.train().training


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="call forward first"):
        layers.MaxPool2d(2).backward(np.ones((1, 1, 1, 1)))


def test_bad_arguments_name_the_op_and_argument():
    layer = layers.MaxPool2d(0)
    with pytest.raises(ValueError, match="max_pool2d.*kernel_size"):
        layer(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="AvgPool2d.backward: `grad` must have the shape of "
                                         r"the last forward's output \(1, 1, 2, 2\), got "
                                         r"\(1, 1, 3, 3\)"):
        pool = layers.AvgPool2d(2)
        pool(np.ones((1, 1, 4, 4)))
        pool.backward(np.ones((1, 1, 3, 3)))


@pytest.mark.parametrize("name, n, args, kwargs, fargs, fkwargs", list(_cases()))
def test_backward_names_a_gradient_of_another_shape(rng, name, n, args, kwargs, fargs, fkwargs):
    # The max family's gradient checked `indices` against it first, so a gradient of the
    # wrong shape was reported as indices of the wrong shape: every layer names `grad`.
    layer = LAYERS[name](*args, **kwargs)
    out = layer(rng.standard_normal(SHAPES[n]))
    values = out[0] if isinstance(out, tuple) else out
    for wrong in (values.shape[:-1] + (values.shape[-1] + 1,), values.shape[1:]):
        with pytest.raises(ValueError, match=f"{name}.backward: `grad` must have the shape"):
            layer.backward(np.ones(wrong))
    assert layer.backward(np.ones(values.shape)).shape == SHAPES[n]


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((2, 3, 8, 8))
    before = x.copy()
    for name, cls in LAYERS.items():
        if name.endswith("2d") and not name.startswith(("Stochastic", "LP", "Fractional",
                                                        "Adaptive", "Global")):
            layer = cls(2)
            layer.backward(np.ones_like(layer(x)))
    np.testing.assert_array_equal(x, before)


def test_the_docs_numpy_cnn_trains():
    """docs/layers.md: a tiny CNN with MaxPool2d and GlobalAvgPool2d learns its toy task (the
    loss falls from 0.69 to 0.10 and new images are classified)."""
    result = doctest.testfile(str(ROOT / "docs" / "layers.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0
