"""Every invalid argument raises ValueError or TypeError naming the parameter and the value."""
import warnings

import numpy as np
import pytest

import cpool

X = np.zeros((2, 3, 8, 8), np.float32)
WINDOW_OPS = {
    "max_pool2d": cpool.max_pool2d,
    "avg_pool2d": cpool.avg_pool2d,
    "sum_pool2d": cpool.sum_pool2d,
}
GLOBAL_OPS = {
    "global_max_pool2d": cpool.global_max_pool2d,
    "global_avg_pool2d": cpool.global_avg_pool2d,
    "global_sum_pool2d": cpool.global_sum_pool2d,
}
ALL_OPS = {**WINDOW_OPS, **GLOBAL_OPS}


def _call(name, x, **kw):
    op = ALL_OPS[name]
    return op(x, 2, **kw) if name in WINDOW_OPS else op(x, **kw)


@pytest.mark.parametrize("name", sorted(ALL_OPS))
@pytest.mark.parametrize("x,exc,match", [
    (np.zeros(5, np.float32), ValueError, r"`x` must have at least 2 dimensions.*\(5,\)"),
    (np.float32(1), ValueError, r"at least 2 dimensions"),
    (np.zeros((2, 0, 4), np.float32), ValueError, r"\(H, W\) must be non-empty"),
    (np.zeros((4, 4), np.complex64), TypeError, r"unsupported dtype complex64"),
    (np.zeros((4, 4), object), TypeError, r"unsupported dtype object"),
    (np.array([["a", "b"], ["c", "d"]]), TypeError, r"unsupported dtype <U1"),
    (np.zeros((4, 4), "datetime64[s]"), TypeError, r"unsupported dtype datetime64"),
])
def test_bad_input(name, x, exc, match):
    with pytest.raises(exc, match=rf"^{name}: .*{match}"):
        _call(name, x)


@pytest.mark.parametrize("name", ["avg_pool2d", "sum_pool2d", "global_avg_pool2d", "global_sum_pool2d"])
def test_bool_rejected_for_sums(name):
    with pytest.raises(TypeError, match="boolean input is ambiguous"):
        _call(name, np.zeros((4, 4), bool))


@pytest.mark.parametrize("name", sorted(WINDOW_OPS))
@pytest.mark.parametrize("kwargs,exc,match", [
    ({"kernel_size": 0}, ValueError, r"`kernel_size` must be positive, got \(0, 0\)"),
    ({"kernel_size": (2, -1)}, ValueError, r"`kernel_size` must be positive, got \(2, -1\)"),
    ({"kernel_size": 2.0}, TypeError, r"`kernel_size` must be an int or a pair of ints, got 2.0"),
    ({"kernel_size": "3"}, TypeError, r"`kernel_size` must be an int or a pair of ints, got '3'"),
    ({"kernel_size": True}, TypeError, r"`kernel_size` must be an int .* got True"),
    ({"kernel_size": (1, 2, 3)}, ValueError, r"`kernel_size` must be an int or a pair of ints, got \(1, 2, 3\)"),
    ({"kernel_size": None}, TypeError, r"`kernel_size` .* got None"),
    ({"kernel_size": 2**40}, ValueError, r"`kernel_size` is out of range \(\|value\| <= 2147483647\), got 1099511627776"),
    ({"kernel_size": 2, "stride": 10**20}, ValueError, r"`stride` is out of range .*got 100000000000000000000"),
    ({"kernel_size": 2, "padding": (0, -2**33)}, ValueError, r"`padding` is out of range"),
    ({"kernel_size": 2, "stride": 0}, ValueError, r"`stride` must be positive, got \(0, 0\)"),
    ({"kernel_size": 2, "stride": (1, -2)}, ValueError, r"`stride` must be positive, got \(1, -2\)"),
    ({"kernel_size": 2, "stride": 1.5}, TypeError, r"`stride` must be an int or a pair of ints, got 1.5"),
    ({"kernel_size": 2, "padding": -1}, ValueError, r"`padding` must be non-negative, got \(-1, -1\)"),
    ({"kernel_size": 3, "padding": 2}, ValueError, r"`padding` must be at most half of `kernel_size` \(3, 3\), got \(2, 2\)"),
    ({"kernel_size": 2, "padding": "full"}, ValueError, r"`padding` must be an int, a pair of ints, a pair of \(before, after\) pairs, 'valid', 'same' or 'same_lower', got 'full'"),
    ({"kernel_size": 2, "padding": 0.5}, TypeError, r"`padding` must be an int, a pair of ints, a pair of \(before, after\) pairs, 'valid', 'same' or 'same_lower', got 0.5"),
    ({"kernel_size": 2, "padding": "same", "ceil_mode": True}, ValueError, r"`ceil_mode=True` cannot be combined with padding='same'"),
    ({"kernel_size": 9}, ValueError, r"output size would be empty for input size \(H, W\) = \(8, 8\)"),
    ({"kernel_size": 2, "ceil_mode": 1}, TypeError, r"`ceil_mode` must be True or False, got 1"),
    ({"kernel_size": 2, "num_threads": 0}, ValueError, r"`num_threads` must be >= 1, got 0"),
    ({"kernel_size": 2, "num_threads": -3}, ValueError, r"`num_threads` must be >= 1, got -3"),
    ({"kernel_size": 2, "num_threads": 2.0}, TypeError, r"`num_threads` must be a positive int or None, got 2.0"),
])
def test_bad_geometry_and_threads(name, kwargs, exc, match):
    with pytest.raises(exc, match=rf"^{name}: {match}"):
        WINDOW_OPS[name](X, **kwargs)


@pytest.mark.parametrize("name", ["max_pool2d", "sum_pool2d"])
def test_bad_dilation(name):
    with pytest.raises(ValueError, match=rf"^{name}: `dilation` must be positive, got \(0, 0\)"):
        WINDOW_OPS[name](X, 2, dilation=0)
    with pytest.raises(TypeError, match=r"`dilation` must be an int or a pair of ints, got 1.0"):
        WINDOW_OPS[name](X, 2, dilation=1.0)
    with pytest.raises(ValueError, match=r"output size would be empty"):
        WINDOW_OPS[name](X, 3, dilation=4)
    with pytest.raises(ValueError, match=r"`dilation` is out of range"):
        WINDOW_OPS[name](X, 3, dilation=2**40)


def test_avg_specific_errors():
    with pytest.raises(ValueError, match=r"^avg_pool2d: `divisor_override` must not be zero, got 0"):
        cpool.avg_pool2d(X, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"`divisor_override` is out of range .*got 10000000000"):
        cpool.avg_pool2d(X, 2, divisor_override=10**10)
    with pytest.raises(TypeError, match=r"`divisor_override` must be an int, got 1.5"):
        cpool.avg_pool2d(X, 2, divisor_override=1.5)
    with pytest.raises(TypeError, match=r"`count_include_pad` must be True or False, got 'yes'"):
        cpool.avg_pool2d(X, 2, count_include_pad="yes")


def test_max_flag_errors():
    with pytest.raises(TypeError, match=r"^max_pool2d: `return_indices` must be True or False, got None"):
        cpool.max_pool2d(X, 2, return_indices=None)
    with pytest.raises(TypeError, match=r"^global_max_pool2d: `keepdims` must be True or False, got 2"):
        cpool.global_max_pool2d(X, keepdims=2)


@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_bad_out(name):
    good = _call(name, X)
    with pytest.raises(ValueError, match=rf"^{name}: `out` must have shape {tuple(good.shape)}".replace("(", r"\(").replace(")", r"\)")):
        _call(name, X, out=np.empty(good.shape + (1,), good.dtype))
    with pytest.raises(TypeError, match=rf"^{name}: `out` must have dtype {good.dtype}, got int16"):
        _call(name, X, out=np.empty(good.shape, np.int16))
    with pytest.raises(TypeError, match=rf"^{name}: `out` must be a numpy.ndarray, got list"):
        _call(name, X, out=good.tolist())
    if good.ndim >= 2:
        with pytest.raises(ValueError, match=rf"^{name}: `out` must be C-contiguous"):
            _call(name, X, out=np.asfortranarray(np.empty(good.shape, good.dtype)))
    ro = np.empty(good.shape, good.dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=rf"^{name}: `out` is read-only"):
        _call(name, X, out=ro)


def test_out_with_indices_must_be_a_pair():
    v, i = cpool.max_pool2d(X, 2, return_indices=True)
    with pytest.raises(TypeError, match=r"with return_indices=True, `out` must be a tuple \(values, indices\)"):
        cpool.max_pool2d(X, 2, return_indices=True, out=v)
    with pytest.raises(ValueError, match=r"`out` must be a tuple \(values, indices\), got a tuple of length 3"):
        cpool.max_pool2d(X, 2, return_indices=True, out=(v, i, i))
    with pytest.raises(ValueError, match=r"^global_max_pool2d: .*got a tuple of length 1"):
        cpool.global_max_pool2d(X, return_indices=True, out=(v,))
    with pytest.raises(TypeError, match=r"`out\[1\]` must have dtype int64, got int32"):
        cpool.max_pool2d(X, 2, return_indices=True, out=(v, i.astype(np.int32)))


def test_errors_leave_input_untouched():
    x = np.arange(64, dtype=np.float32).reshape(8, 8)
    before = x.copy()
    with pytest.raises(ValueError):
        cpool.max_pool2d(x, 2, out=x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_ragged_list_names_the_function_and_x(name):
    with pytest.raises(ValueError, match=rf"^{name}: `x` could not be converted to an array: "
                                         r"setting an array element with a sequence"):
        _call(name, [[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("name", sorted(WINDOW_OPS))
@pytest.mark.parametrize("kwargs,exc,match", [
    # The whole argument is shown, and what it may be (a padding may also be 'valid'/'same').
    ({"padding": None}, TypeError, r"`padding` must be an int, a pair of ints, a pair of \(before, after\) pairs, 'valid', 'same' or 'same_lower', got None"),
    ({"padding": (1, None)}, TypeError, r"`padding` must be an int, a pair of ints, a pair of \(before, after\) pairs, 'valid', 'same' or 'same_lower', got \(1, None\)"),
    ({"stride": (1, 1.5)}, TypeError, r"`stride` must be an int or a pair of ints, got \(1, 1.5\)"),
    ({"stride": [2, 2, 2]}, ValueError, r"`stride` must be an int or a pair of ints, got \[2, 2, 2\] \(length 3\)"),
])
def test_messages_show_the_whole_argument(name, kwargs, exc, match):
    with pytest.raises(exc, match=rf"^{name}: {match}$"):
        WINDOW_OPS[name](X, 2, **kwargs)


def test_divisor_override_is_one_int():
    with pytest.raises(TypeError, match=r"^avg_pool2d: `divisor_override` must be an int, got \(2, 2\)$"):
        cpool.avg_pool2d(X, 2, divisor_override=(2, 2))


def _matrix(a):
    """``np.asmatrix(a)``, without NumPy's warning that the class is not recommended."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(a)


@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_subclasses_of_ndarray_are_pooled_as_their_data(name, tmp_path):
    # np.matrix stays 2-D under every reshape (the ops' reshapes of it failed with NumPy's
    # "cannot reshape" message); a memory map and a masked array with nothing masked are
    # their data. Each result is a plain ndarray equal to the plain input's.
    plain = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    mapped = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, plain.shape)
    mapped[...] = plain
    unmasked = np.ma.masked_array(plain, mask=np.zeros(plain.shape, bool))
    for x in (_matrix(plain), mapped, unmasked, np.ma.masked_array(plain)):
        got = _call(name, x)
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, _call(name, plain))


@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_masked_elements_are_an_error(name):
    x = np.ma.masked_less(np.random.default_rng(0).standard_normal((2, 8, 8)), 0)
    count = int(x.mask.sum())
    with pytest.raises(ValueError, match=rf"^{name}: `x` is a masked array with {count} masked "
                                         r"element\(s\); .*`x.filled\(value\)`"):
        _call(name, x)


def test_masked_gradients_and_indices_are_an_error():
    x = np.random.default_rng(0).standard_normal((2, 8, 8))
    v, i = cpool.max_pool2d(x, 2, return_indices=True)
    masked = np.ma.masked_array(v, mask=np.eye(4, dtype=bool)[None].repeat(2, 0))
    with pytest.raises(ValueError, match=r"^max_pool2d_backward: `grad_output` is a masked array "
                                         r"with 8 masked"):
        cpool.max_pool2d_backward(masked, i, x.shape)
    with pytest.raises(ValueError, match=r"^max_pool2d_backward: `indices` is a masked array"):
        cpool.max_pool2d_backward(v, np.ma.masked_array(i, mask=i == 0), x.shape)
    with pytest.raises(ValueError, match=r"^avg_pool2d_backward: `grad_output` is a masked array"):
        cpool.avg_pool2d_backward(masked, x.shape, 2)
    # Unmasked, a matrix of gradients is its data.
    np.testing.assert_array_equal(cpool.avg_pool2d_backward(_matrix(v[0]), (8, 8), 2),
                                  cpool.avg_pool2d_backward(v[0], (8, 8), 2))


@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_out_that_cannot_hold_the_result_as_an_array(name, tmp_path):
    good = _call(name, X)
    for out in (np.ma.masked_array(np.empty(good.shape, good.dtype)),) + (
            (_matrix(np.empty(good.shape, good.dtype)),) if good.ndim == 2 else ()):
        with pytest.raises(TypeError, match=rf"^{name}: `out` must be a numpy.ndarray, got "
                                            rf"{type(out).__name__}"):
            _call(name, X, out=out)
    # A memory map is written as an array.
    mapped = np.lib.format.open_memmap(tmp_path / "out.npy", "w+", good.dtype, good.shape)
    assert _call(name, X, out=mapped) is mapped
    np.testing.assert_array_equal(mapped, good)
