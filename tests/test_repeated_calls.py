"""Repeated calls: a call like an earlier one reuses its recorded plan (the geometry, the
kernel's view of the input, the threads) instead of validating it again. These tests check
that a recorded plan is only ever reused for a call that validation would have planned the
same way, and that it gives what a fresh plan gives."""
import numpy as np
import pytest

import cpool
from _helpers import assert_identical, general_path, random_array
from cpool import _kernels, _validation

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_recipes():
    _validation._RECIPES.clear()
    yield
    _validation._RECIPES.clear()


def _fresh(call):
    """``call()`` with no recorded plan to reuse."""
    _validation._RECIPES.clear()
    return call()


CALLS = [
    lambda x: cpool.max_pool2d(x, 2),
    lambda x: cpool.max_pool2d(x, (3, 2), (2, 1), (1, 0), return_indices=True),
    lambda x: cpool.max_pool2d(x, 3, 2, ceil_mode=True, dilation=(1, 2)),
    lambda x: cpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
    lambda x: cpool.avg_pool2d(x, 2, divisor_override=3),
    lambda x: cpool.sum_pool2d(x, 2, padding="same"),
    lambda x: cpool.sum_pool2d(x, 3, padding=((1, 2), (0, 1))),
    lambda x: cpool.max_pool1d(x, 3, 2),
    lambda x: cpool.avg_pool3d(x[None], 2),
    lambda x: cpool.max_pool2d(x, 2, axes=(1, 2)),
    lambda x: cpool.global_max_pool2d(x, return_indices=True),
    lambda x: cpool.global_avg_pool2d(x, keepdims=True),
    lambda x: cpool.global_sum_pool2d(x, axes=(1, 2)),
    lambda x: cpool.global_max_pool2d(x, axes=(1, 2)),
    lambda x: cpool.stochastic_pool2d(np.abs(x), 2, seed=7),
    lambda x: cpool.adaptive_avg_pool2d(x, (4, None)),
    lambda x: cpool.adaptive_max_pool2d(x, 4, return_indices=True),
    lambda x: cpool.adaptive_max_pool2d(x, (3, 5), axes=(1, 2)),
]


KERNEL_DTYPES = [np.float32, np.float64, np.int8, np.uint8, np.int16, np.uint16, np.int32,
                 np.uint32, np.int64, np.uint64]


@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
@pytest.mark.parametrize("call", CALLS)
def test_plans_call_the_kernels_versions_for_their_dtypes(rng, call, dtype, monkeypatch):
    # A plan calls each kernel's version for its input's and output's dtypes, looked up once
    # (_kernels.Specialisations), not through the fused kernel's own dispatch: every kernel
    # the call runs has one, and it computes what the dispatch's choice computes (or raises
    # the same error: stochastic pooling of integers).
    x = random_array(rng, (2, 5, 9, 10), dtype)
    if dtype in (np.float32, np.float64):
        x = np.abs(x)  # stochastic pooling's input
    missing = _kernels.Specialisations.__missing__
    found = []

    def looked_up(self, kernel):
        found.append((kernel, missing(self, kernel)))
        return found[-1][1]

    answers = []
    for how in (lambda self, kernel: kernel, looked_up):  # the fused kernels, then versions
        monkeypatch.setattr(_kernels, "_SPECIALISATIONS", {})
        monkeypatch.setattr(_kernels.Specialisations, "__missing__", how)
        answers.append(_answer(lambda: _fresh(lambda: call(x))))
    answers.append(_answer(lambda: call(x)))  # the recorded plan, with the versions found
    for answer in answers[1:]:
        _same_answer(answer, answers[0])
    if answers[0][0] == "ok":
        assert found and all(version is not kernel
                             and version in kernel.__signatures__.values()
                             for kernel, version in found), found


def test_dtypes_without_a_kernel_version_keep_the_dispatch():
    # float16 (read by slabs in float32) and byte-swapped dtypes have no version of their own:
    # the fused kernel itself is called, whose dispatch converts or raises as it always has.
    kernel = cpool._kernels.window.window_max
    for pair in [(np.float16, np.float16), (">f4", ">f4"), (np.float32, np.complex64)]:
        versions = _kernels.specialisations(*map(np.dtype, pair))
        expected = kernel.__signatures__["float"] if pair[0] == np.float32 else kernel
        assert versions[kernel] is expected
    summing = cpool._kernels.window.window_sum
    versions = _kernels.specialisations(np.dtype(np.int16), np.dtype(np.float64))
    assert versions[summing] is summing.__signatures__["int16_t|double"]
    assert versions[kernel] is kernel.__signatures__["int16_t"]


def test_a_recorded_call_does_not_reorder_the_recipes(rng):
    # A repeated call looks its recipe up without moving it (0.3 us of a (1, 1, 2, 2) call):
    # recipes are dropped oldest recorded first.
    xs = [random_array(rng, (2, 3, 4 + i, 4), np.float32) for i in range(3)]
    for x in xs + xs[:1]:
        cpool.max_pool2d(x, 2)
    assert [key[2] for key in _validation._RECIPES._entries] == [x.shape for x in xs]


@pytest.mark.parametrize("call", CALLS)
def test_contiguous_calls_are_recorded(rng, call, monkeypatch):
    # Every call on a C-contiguous array of a kernel dtype is recorded once and then reused,
    # channels-last ones included: their kernel view is read-only where the input is not,
    # which once kept them from being recorded (26 us a call instead of 3.5 us).
    x = random_array(rng, (2, 5, 9, 10), np.float32)
    first = call(x)
    assert len(_validation._RECIPES._entries) == 1

    def planned_again(*args, **kwargs):
        raise AssertionError("a recorded call was planned again")

    monkeypatch.setattr(_validation, "_new_plan", planned_again)
    assert_identical(call(x), first)


def test_adaptive_errors_raise_every_time(rng):
    x = random_array(rng, (2, 5, 9, 10), np.float32)
    cpool.adaptive_avg_pool2d(x, 3)
    for _ in range(2):  # never recorded: the second call validates, and raises, again
        with pytest.raises(ValueError, match="output_size"):
            cpool.adaptive_avg_pool2d(x, -1)
        with pytest.raises(TypeError):
            cpool.adaptive_max_pool2d(x, 3, return_indices=2)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.float16, np.bool_])
def test_repeated_call_gives_a_fresh_plans_answer(rng, call, dtype):
    if dtype == np.bool_:
        x = rng.random((2, 5, 9, 10)) < 0.5
    else:
        x = random_array(rng, (2, 5, 9, 10), dtype)
    before = x.copy()
    try:
        first = call(x)
    except TypeError:  # a dtype the op does not take: an error every time, never recorded
        with pytest.raises(TypeError):
            call(x)
        return
    again = call(x)          # the recorded plan
    other = call(x.copy())   # the recorded plan, another array of the same kind
    assert_identical(first, again)
    assert_identical(first, other)
    assert_identical(first, _fresh(lambda: call(x)))
    assert_identical(x, before)
    # New results every call, never the previous call's arrays.
    a, b = (first, again) if isinstance(first, np.ndarray) else (first[0], again[0])
    assert not np.shares_memory(a, b)


def test_arguments_of_another_type_are_validated_again():
    x = np.ones((1, 1, 4, 4), np.float32)
    cpool.max_pool2d(x, 1)
    with pytest.raises(TypeError, match="kernel_size"):
        cpool.max_pool2d(x, True)           # equal to 1, hashes as 1: not the same call
    with pytest.raises(TypeError, match="kernel_size"):
        cpool.max_pool2d(x, 1.0)
    cpool.max_pool2d(x, (1, 1))
    with pytest.raises(TypeError, match="kernel_size"):
        cpool.max_pool2d(x, (1, True))
    cpool.max_pool2d(x, 2, padding=((1, 0), (0, 1)))
    with pytest.raises(TypeError):
        cpool.max_pool2d(x, 2, padding=((1, 0), (0, 1.0)))
    assert_identical(cpool.max_pool2d(x, np.int64(2)), cpool.max_pool2d(x, 2))
    for _ in range(2):  # an error is never recorded
        with pytest.raises(ValueError, match="kernel_size"):
            cpool.max_pool2d(x, 0)


def test_same_objects_is_identity_item_by_item():
    # The repeat path's check that a call's arguments are its recorded call's own objects
    # (in C: _buffers.same_objects): equal values of other types, equal tuples that are other
    # objects, other lengths and empty tuples.
    from cpool._kernels._buffers import same_objects
    axes = (-2, -1)
    args = (2, None, 0, 1, False, False, axes, 2, True, None)
    assert same_objects(args, tuple(list(args)))
    assert same_objects((), ())
    assert not same_objects(args, args[:-1]) and not same_objects(args[:-1], args)
    assert not same_objects(args, (2, None, 0, 1, False, False, tuple([-2, -1]), 2, True, None))
    assert not same_objects((1,), (True,)) and not same_objects((2,), (2.0,))
    assert not same_objects((2,), (np.int64(2),))
    with pytest.raises(TypeError):
        same_objects([1], [1])


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("name", ["adaptive_avg_pool", "adaptive_max_pool"])
def test_adaptive_calls_never_take_a_global_ops_plan(rng, name, n):
    # Regression (2026-12-06): an adaptive op with output size 1 runs the global op under
    # the adaptive op's name, whose recorded arguments (keepdims=True, False, axes, n) equal
    # an adaptive call's (output_size=True, False, axes, n): output_size=True then took the
    # global op's plan, and adaptive_avg_pool2d raised an internal TypeError ("Value after *
    # must be an iterable") where validation names `output_size`.
    op = getattr(cpool, f"{name}{n}d")
    x = rng.standard_normal((2, 3) + (5,) * n).astype(np.float32)
    for keepdims_like in (1, (1,) * n):
        op(x, keepdims_like)  # recorded: the global op's plan
        with pytest.raises(TypeError, match="`output_size`"):
            op(x, True)
    assert_identical(op(x, 1), op(x.copy(), (1,) * n))


def test_equal_arguments_of_the_recorded_types_reuse_the_plan(rng, monkeypatch):
    # A repeat is found by the arguments' values, and reused when they are the recorded call's
    # objects or others of the same types (new tuples, equal ints); arguments of other types
    # (np.int64 for int, True for 1) are validated again, whatever their values.
    x = random_array(rng, (2, 3, 8, 9), np.float32)
    first = cpool.max_pool2d(x, (3, 2), (2, 1), ((1, 0), (0, 1)))
    planned = []
    validate = _validation._window_plan_of

    def counted(*args):
        planned.append(args)
        return validate(*args)

    monkeypatch.setattr(_validation, "_window_plan_of", counted)
    again = cpool.max_pool2d(x, tuple([3, 2]), tuple([2, 1]), tuple([(1, 0), tuple([0, 1])]))
    assert_identical(first, again)
    assert planned == []
    assert_identical(cpool.max_pool2d(x, (3, np.int64(2)), (2, 1), ((1, 0), (0, 1))), first)
    assert len(planned) == 1
    with pytest.raises(TypeError, match="padding"):
        cpool.max_pool2d(x, (3, 2), (2, 1), ((1, 0), (0, True)))
    assert len(planned) == 2
    assert len(_validation._RECIPES._entries) == 1


def test_unhashable_arguments_are_validated_every_time(rng):
    # Lists and arrays cannot key a recipe: such calls are planned in full, each time, with
    # the same answers and errors as tuples.
    x = random_array(rng, (2, 3, 8, 9), np.float32)
    expected = cpool.max_pool2d(x, (2, 3), (2, 1))
    for _ in range(2):
        assert_identical(cpool.max_pool2d(x, [2, 3], [2, 1]), expected)
        assert_identical(cpool.max_pool2d(x, np.array([2, 3]), (2, 1)), expected)
        with pytest.raises(ValueError, match="stride"):
            cpool.max_pool2d(x, 2, [2, 2, 2])
    assert len(_validation._RECIPES._entries) == 1


def test_average_divisors_are_part_of_the_call(rng):
    # An average's plan holds its divisors: count_include_pad and divisor_override key it,
    # and arguments of other types are validated (and refused) every time.
    x = random_array(rng, (2, 3, 8, 9), np.float32)
    calls = [lambda: cpool.avg_pool2d(x, 3, 1, 1),
             lambda: cpool.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
             lambda: cpool.avg_pool2d(x, 3, 1, 1, divisor_override=2),
             lambda: cpool.avg_pool2d(x, 3, 1, 1, False, False, 5)]
    expected = [_fresh(call) for call in calls]
    _validation._RECIPES.clear()
    for _ in range(2):
        for call, want in zip(calls, expected):
            assert_identical(call(), want)
        with pytest.raises(TypeError, match="count_include_pad"):
            cpool.avg_pool2d(x, 3, 1, 1, count_include_pad=1)
        with pytest.raises(TypeError, match="divisor_override"):
            cpool.avg_pool2d(x, 3, 1, 1, divisor_override=2.0)
    assert len(_validation._RECIPES._entries) == len(calls)


def test_inputs_of_another_kind_are_planned_again(rng):
    x = random_array(rng, (2, 3, 8, 9), np.float32)
    expected = cpool.max_pool2d(x, 2)
    # The same shape, but not C-contiguous, or another dtype, or byte order, or misaligned.
    strided = np.asfortranarray(x)
    swapped = x.astype(x.dtype.newbyteorder())
    raw = np.zeros(x.nbytes + 1, np.uint8)[1:].view(np.float32).reshape(x.shape)
    raw[...] = x
    for y in (strided, swapped, raw, x.astype(np.float64)):
        assert_identical(cpool.max_pool2d(y, 2), expected.astype(y.dtype.newbyteorder("=")))
    # Another shape with the same window arguments.
    assert_identical(cpool.max_pool2d(x[:, :, :6], 2), _fresh(lambda: cpool.max_pool2d(x[:, :, :6], 2)))


def test_thread_counts_are_part_of_the_call(rng):
    # The resolved thread count keys the plan: a call at another count (or another default)
    # is planned for that count.
    x = random_array(rng, (4, 8, 64, 64), np.float32)

    def plan(n):
        return _validation.prepare_window("max_pool2d", "max", x, 2, None, 0, 1, False, False,
                                          None, n)

    for n in (1, 2, 1, 2):
        assert plan(n).num_threads == _fresh(lambda: plan(n)).num_threads
    plan(None)
    try:
        cpool.set_num_threads(1)
        assert plan(None).num_threads == 1
    finally:
        cpool.set_num_threads(None)


def test_views_are_never_recorded(rng):
    x = random_array(rng, (2, 3, 8, 8), np.float32)
    cpool.max_pool2d(x[:, :, ::2], 2)
    cpool.max_pool2d(x.tolist(), 2)
    assert len(_validation._RECIPES._entries) == 0
    cpool.max_pool2d(x, 2)
    assert len(_validation._RECIPES._entries) == 1


OUT_CALLS = [
    lambda x, **kw: cpool.max_pool2d(x, 2, **kw),
    lambda x, **kw: cpool.avg_pool2d(x, 3, 1, 1, **kw),
    lambda x, **kw: cpool.sum_pool2d(x, 3, 1, 1, **kw),
    lambda x, **kw: cpool.global_avg_pool2d(x, **kw),
    lambda x, **kw: cpool.adaptive_max_pool2d(x, (3, 5), **kw),
]


@pytest.mark.parametrize("call", OUT_CALLS)
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_repeated_out_calls_write_out(rng, call, dtype):
    # An ``out=`` the kernel writes as it is (the result's shape and dtype, C-contiguous,
    # writeable, apart from the input) reuses the call's recorded plan; any other is validated
    # in full every time: the same errors, and a temporary where it overlaps the input.
    x = random_array(rng, (2, 3, 8, 8), dtype)
    expected = _fresh(lambda: call(x))
    for _ in range(3):  # the first call records, the next ones reuse
        out = np.full_like(expected, 7)
        assert call(x, out=out) is out
        assert_identical(out, expected)
    assert len(_validation._RECIPES._entries) == 1
    with pytest.raises(ValueError, match="shape"):
        call(x, out=np.empty(expected.shape + (1,), expected.dtype))
    with pytest.raises(TypeError, match="dtype"):
        call(x, out=np.empty(expected.shape, np.complex64))
    if expected.ndim == 4:
        with pytest.raises(ValueError, match="C-contiguous"):
            call(x, out=np.empty(expected.shape[:3] + (2 * expected.shape[3],), expected.dtype)[..., ::2])
    read_only = np.empty_like(expected)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        call(x, out=read_only)
    if expected.shape == x.shape and expected.dtype == x.dtype:  # x as its own output: as if
        # into a fresh array
        y = x.copy()
        assert call(y, out=y) is y
        assert_identical(y, expected)
    assert_identical(call(x), expected)


def test_out_with_indices_is_validated_every_time(rng):
    x = random_array(rng, (2, 3, 8, 8), np.float32)
    values, indices = _fresh(lambda: cpool.max_pool2d(x, 2, return_indices=True))
    out = (np.empty_like(values), np.empty_like(indices))
    for _ in range(2):
        assert cpool.max_pool2d(x, 2, return_indices=True, out=out) is not None
        assert_identical(out[0], values)
        assert_identical(out[1], indices)
        with pytest.raises(TypeError, match="tuple"):
            cpool.max_pool2d(x, 2, return_indices=True, out=np.empty_like(values))


def test_the_general_path_helper_replays_no_fast_plan(rng):
    # tests/_helpers.general_path puts the kernels on their general path for the calls made
    # inside it. A plan recorded before it (the fast path's, for the same arguments) must not
    # be replayed inside, nor the general path's after it: the fast-against-general tests
    # would compare a path with itself.
    x = random_array(rng, (2, 3, 8, 8), np.float32)

    def clipped():
        plan = _validation.prepare_window("max_pool2d", "max", x, 2, None, 0, 1, False, False,
                                          None, None)
        return plan.geometry.clipped

    assert not clipped() and not clipped()  # recorded, then replayed
    with general_path():
        assert clipped() and clipped()
    assert not clipped()


# ------------------------------------------------------------------------------ fuzzing
# A recipe is found by the arguments' values, and values equal across types (2, 2.0,
# np.int64(2); 1 and True; a tuple, a list, a tuple of another element type) find the same
# one. Each sequence below is a call and variants of it, each with an argument swapped for an
# equal value of another type (valid or not); every call must be answered (a result or an
# error) as a call with no recorded plan answers it, whatever the earlier calls recorded.
_EQUALS = [
    [0, False, 0.0, np.int64(0), np.bool_(False)],
    [1, True, 1.0, np.int64(1), np.uint8(1), np.bool_(True), np.float64(1.0)],
    [2, 2.0, np.int64(2), np.int16(2), np.float32(2.0)],
    [3, 3.0, np.uint32(3)],
    [None],
    [(2, 2), [2, 2], (2, np.int64(2)), (2, 2.0), (np.int8(2), 2)],
    [(1, 2), [1, 2], (True, 2), (1.0, 2), (np.int64(1), 2)],
    [((0, 1), (1, 0)), ((False, 1), (1, 0)), ((0, 1), (1, 0.0)), [(0, 1), (1, 0)],
     ((0, 1), [1, 0])],
    [(-2, -1), [-2, -1], (-2, -1.0), (np.int64(-2), -1)],
    [(2, 3), (2, 3.0), (np.int64(2), 3)],
    ["same"], ["valid"],
]
_ARGS = {  # each argument's equal-value classes (indices into _EQUALS)
    "kernel_size": [2, 3, 5, 6], "stride": [4, 1, 2, 6], "padding": [0, 1, 7, 10, 11],
    "dilation": [1, 2, 6], "ceil_mode": [0, 1], "return_indices": [0, 1],
    "count_include_pad": [0, 1], "divisor_override": [4, 2, 3, 1], "axes": [8, 9],
    "num_threads": [4, 1, 2], "keepdims": [0, 1], "output_size": [1, 2, 3, 5, 6, 4],
    "norm_type": [1, 2, 3],
}
_OP_ARGS = {"max": ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices",
                    "axes", "num_threads"],
            "avg": ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                    "divisor_override", "axes", "num_threads"],
            "sum": ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "axes",
                    "num_threads"],
            # One function, two plans: an adaptive op of output size 1 is the global op (keyed
            # apart: output_size=True once took its plan, 7d54727).
            "adaptive_max": ["output_size", "return_indices", "axes", "num_threads"],
            "adaptive_avg": ["output_size", "axes", "num_threads"],
            "global_max": ["keepdims", "return_indices", "axes", "num_threads"],
            "global_avg": ["keepdims", "axes", "num_threads"],
            "lp": ["norm_type", "kernel_size", "stride", "ceil_mode", "axes", "num_threads"]}
_OPS = {"max": cpool.max_pool2d, "avg": cpool.avg_pool2d, "sum": cpool.sum_pool2d,
        "adaptive_max": cpool.adaptive_max_pool2d, "adaptive_avg": cpool.adaptive_avg_pool2d,
        "global_max": cpool.global_max_pool2d, "global_avg": cpool.global_avg_pool2d,
        "lp": cpool.lp_pool2d}


def _answer(call):
    """What ``call()`` gives: ("ok", result) or ("error", its type, its message)."""
    try:
        return ("ok", call())
    except (TypeError, ValueError) as e:
        return ("error", type(e), str(e))


def _same_answer(a, b):
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1:] == b[1:]
    else:
        assert_identical(a[1], b[1])


@st.composite
def _calls(draw):
    """An op, a call of it (each argument a class of equal values) and its variants."""
    op = draw(st.sampled_from(sorted(_OP_ARGS)))
    names = _OP_ARGS[op]
    classes = {name: _EQUALS[draw(st.sampled_from(_ARGS[name]))] for name in names}
    calls = []
    for _ in range(draw(st.integers(2, 8))):
        calls.append({name: draw(st.sampled_from(values)) if draw(st.booleans()) else values[0]
                      for name, values in classes.items()})
    return op, calls


@given(case=_calls(), dtype=st.sampled_from([np.float32, np.int16]),
       seed=st.integers(0, 2**32 - 1))
def test_recorded_plans_answer_as_validation_does(case, dtype, seed):
    op, calls = case
    x = random_array(np.random.default_rng(seed), (2, 3, 7, 8), dtype)
    pool = _OPS[op]
    funcs = [(lambda kw=kw: pool(x, **kw)) for kw in calls]
    fresh = [_answer(lambda f=f: _fresh(f)) for f in funcs]
    _validation._RECIPES.clear()
    for f, want in zip(funcs, fresh):
        _same_answer(_answer(f), want)
        _same_answer(_answer(f), want)  # the same call again: its own recorded plan
