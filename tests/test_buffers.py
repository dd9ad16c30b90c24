"""The buffer cache (cpool._kernels._buffers, cpool.set_buffer_cache): large results reuse the
blocks of dropped ones, are ordinary arrays, give the same answers as fresh memory, and the
cache never holds more than its limit."""
import os
import pathlib
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

import cpool
from cpool import _validation
from cpool._kernels import _buffers
from _helpers import OPS, misaligned_copy, random_array

MIB = 1 << 20


@pytest.fixture
def cache():
    """The cache at its default limit, emptied before and after the test."""
    previous = cpool.set_buffer_cache(0)
    cpool.set_buffer_cache(_buffers.DEFAULT_LIMIT)
    yield
    cpool.set_buffer_cache(0)
    cpool.set_buffer_cache(previous)


def _address(a):
    return a.__array_interface__["data"][0]


def _handler_name(a):
    core = getattr(np, "_core", None) or np.core
    return core.multiarray.get_handler_name(a)


def test_numpys_api_table_indices_are_the_headers():
    """The module reads PyDataMem_SetHandler, GetHandler and DefaultHandler from NumPy's C-API
    table by index (import_array's table); the installed NumPy's header must agree."""
    header = pathlib.Path(np.get_include()) / "numpy" / "__multiarray_api.h"
    if not header.is_file():
        pytest.skip("NumPy's headers are not installed")
    text = header.read_text()
    for name, index in (("PyDataMem_SetHandler", 304), ("PyDataMem_GetHandler", 305),
                        ("PyDataMem_DefaultHandler", 306)):
        found = re.search(rf"#define {name}\s*\\?\s*\(.*?PyArray_API\[(\d+)\]", text, re.S)
        assert found and int(found.group(1)) == index, name


def test_a_dropped_results_block_serves_the_next_result_of_its_size(cache):
    x = np.ones((8, 32, 64, 64), np.float32)
    first = cpool.max_pool2d(x, 2)            # 1 MiB
    address = _address(first)
    assert _handler_name(first) == "cpool_buffer_cache"
    del first
    info = cpool.buffer_cache_info()
    assert info["held_bytes"] == MIB and info["held_blocks"] == 1
    again = cpool.max_pool2d(x, 2)
    assert _address(again) == address
    after = cpool.buffer_cache_info()
    assert after["reused"] == info["reused"] + 1 and after["held_blocks"] == 0
    np.testing.assert_array_equal(again, 1)


def test_small_results_are_numpys_own(cache):
    r = cpool.max_pool2d(np.ones((1, 4, 64, 64), np.float32), 2)   # 16 KiB
    assert _handler_name(r) != "cpool_buffer_cache"
    del r
    assert cpool.buffer_cache_info()["held_blocks"] == 0


def test_results_are_ordinary_arrays(cache):
    r = cpool.avg_pool2d_backward(np.ones((4, 32, 32, 32), np.float32), (4, 32, 64, 64), 2)
    assert _handler_name(r) == "cpool_buffer_cache"
    assert r.flags.owndata and r.base is None and r.flags.writeable and r.flags.c_contiguous
    assert r.flags.aligned and _address(r) % 16 == 0
    # realloc through the handler: grown and shrunk, the contents kept, then freed into it
    r.resize((4, 32, 64, 128), refcheck=False)
    np.testing.assert_array_equal(r.reshape(-1)[: 4 * 32 * 64 * 64], 0.25)
    r.resize((3, 7), refcheck=False)
    np.testing.assert_array_equal(r, 0.25)
    r.resize((8, 32, 64, 64), refcheck=False)
    r[...] = 1
    del r
    assert cpool.buffer_cache_info()["held_bytes"] == 8 * 32 * 64 * 64 * 4


def test_pickles_and_copies_are_plain(cache):
    import pickle

    r = cpool.max_pool2d(np.ones((8, 32, 64, 64), np.float32), 2)
    for other in (r.copy(), pickle.loads(pickle.dumps(r)), np.array(r)):
        np.testing.assert_array_equal(other, r)
        assert _handler_name(other) != "cpool_buffer_cache"


def _garbage(nbytes):
    """Leave a kept block of ``nbytes`` full of NaN bytes (what a reused block may hold)."""
    block = _buffers.empty((nbytes,), np.dtype(np.uint8))
    block.fill(0xFF)
    del block


@pytest.mark.parametrize("name", sorted(OPS))
def test_reused_blocks_give_the_fresh_results(rng, name):
    """Every op, its blocks first filled with NaN bytes by a dropped array, gives the result it
    gives with the cache off (the kernels write every value of their results)."""
    x = random_array(rng, (8, 32, 64, 64), np.float32)
    previous = cpool.set_buffer_cache(0)
    try:
        expected = OPS[name](x)
        cpool.set_buffer_cache(1 << 30)
        results = expected if isinstance(expected, tuple) else (expected,)
        for r in results:
            for _ in range(2):
                _garbage(r.nbytes)
        got = OPS[name](x)
        got = got if isinstance(got, tuple) else (got,)
        assert any(_handler_name(g) == "cpool_buffer_cache" for g in got) or all(
            r.nbytes < MIB for r in results)
        for g, e in zip(got, results):
            np.testing.assert_array_equal(g, e)
    finally:
        cpool.set_buffer_cache(0)
        cpool.set_buffer_cache(previous)


def test_gradients_into_reused_blocks(rng):
    x = random_array(rng, (8, 32, 64, 64), np.float32)
    previous = cpool.set_buffer_cache(0)
    try:
        calls = [
            lambda: cpool.max_pool2d_backward(*cpool.max_pool2d(x, 3, 2, 1, return_indices=True),
                                              x.shape),
            lambda: cpool.avg_pool2d_backward(cpool.avg_pool2d(x, 2), x.shape, 2),
            lambda: cpool.sum_pool2d_backward(cpool.sum_pool2d(x, 3, 1, 1), x.shape, 3, 1, 1),
            lambda: cpool.global_avg_pool2d_backward(cpool.global_avg_pool2d(x), x.shape),
            lambda: cpool.lp_pool2d_backward(cpool.lp_pool2d(x, 2, 2), x, 2, 2),
            lambda: cpool.lp_pool2d_backward(cpool.lp_pool2d(x, 1.5, 2), x, 1.5, 2),
            lambda: cpool.adaptive_avg_pool2d_backward(cpool.adaptive_avg_pool2d(x, 5), x.shape),
        ]
        expected = [c() for c in calls]
        cpool.set_buffer_cache(1 << 30)
        for e in expected:
            for _ in range(3):
                _garbage(e.nbytes)
        for c, e in zip(calls, expected):
            np.testing.assert_array_equal(c(), e)
            np.testing.assert_array_equal(c(), e)  # its own dropped result's block
    finally:
        cpool.set_buffer_cache(0)
        cpool.set_buffer_cache(previous)


_COPIED_GRADIENT_INPUTS = {
    "strided grad_output": lambda g, i: (np.asfortranarray(g), i),
    "misaligned grad_output": lambda g, i: (misaligned_copy(g), i),
    "byte-swapped grad_output": lambda g, i: (g.astype(g.dtype.newbyteorder()), i),
    "int32 indices": lambda g, i: (g, i.astype(np.int32)),
    "misaligned indices": lambda g, i: (g, misaligned_copy(i)),
}


@pytest.mark.parametrize("case", sorted(_COPIED_GRADIENT_INPUTS))
def test_gradient_inputs_copy_into_reused_blocks(cache, rng, case):
    """A gradient's input that the kernel cannot read as it is (strided, misaligned, another
    dtype or byte order) is copied into a block of the cache, which the next call's copy
    takes again; the answers are those of the input the kernel reads directly."""
    x = random_array(rng, (8, 32, 64, 64), np.float32)  # grad_output, indices: 1 MiB, 2 MiB
    values, indices = cpool.max_pool2d(x, 2, return_indices=True)
    grad = random_array(rng, values.shape, np.float32)
    expected = cpool.max_pool2d_backward(grad, indices, x.shape)
    g, i = _COPIED_GRADIENT_INPUTS[case](grad, indices)
    before = (g.copy(), i.copy())
    cpool.max_pool2d_backward(g, i, x.shape)
    reused = cpool.buffer_cache_info()["reused"]
    np.testing.assert_array_equal(cpool.max_pool2d_backward(g, i, x.shape), expected)
    # The copy and the result each take the block the first call's left behind.
    assert cpool.buffer_cache_info()["reused"] >= reused + 2
    np.testing.assert_array_equal(g, before[0])
    np.testing.assert_array_equal(i, before[1])


_CONVERTED_INPUTS = {
    # (float16 in C order or channels-last memory is read a slab at a time: see below.)
    "float16, reversed and strided": lambda x: x.astype(np.float16)[:, ::-1, :, ::2],
    "byte-swapped": lambda x: x.astype(x.dtype.newbyteorder()),
    "byte-swapped, Fortran order": lambda x: np.asfortranarray(x.astype(x.dtype.newbyteorder())),
}


@pytest.mark.parametrize("case", sorted(_CONVERTED_INPUTS))
@pytest.mark.parametrize("op", ["max", "avg"])
def test_converted_inputs_copy_into_reused_blocks_in_their_layout(cache, rng, monkeypatch, case,
                                                                  op):
    """An input in another dtype or byte order converted whole is converted into a block of
    the cache, laid out as the input is (as ``astype`` would), which the next call's
    conversion takes again; the answers are those of the input converted beforehand. (Here
    every conversion is whole: one by slabs takes no such block, see below.)"""
    monkeypatch.setattr(_validation, "_SLAB_BYTES", 1 << 40)
    x = random_array(rng, (8, 32, 64, 64), np.float32)  # 4 MiB as float32
    given = _CONVERTED_INPUTS[case](x)
    before = given.copy()
    pool = getattr(cpool, f"{op}_pool2d")

    def blocks_reused_by_a_second_call(a):
        cpool.set_buffer_cache(0)
        cpool.set_buffer_cache(_buffers.DEFAULT_LIMIT)
        first = pool(a, 2)
        reused = cpool.buffer_cache_info()["reused"]
        del first
        second = pool(a, 2)
        return second, cpool.buffer_cache_info()["reused"] - reused

    converted = given.astype(np.float32)  # in the input's layout, as the kernels read it
    expected, reused_without = blocks_reused_by_a_second_call(converted)
    result, reused = blocks_reused_by_a_second_call(given)
    assert result.dtype == (np.float16 if given.dtype == np.float16 else np.float32)
    np.testing.assert_array_equal(result, expected.astype(result.dtype))
    # The conversion takes the block the first call's conversion left behind (a strided
    # float16 input: and the block of its plain copy into one run, which F16C then widens).
    assert reused >= reused_without + 1
    np.testing.assert_array_equal(given, before)


@pytest.mark.parametrize("dtype", ["float16", "float32 byte-swapped"])
@pytest.mark.parametrize("layout", ["C order", "channels-last memory"])
@pytest.mark.parametrize("op", ["max", "avg", "global_avg"])
@pytest.mark.parametrize("threads", [1, 2])
def test_inputs_by_slabs_take_no_whole_copy(cache, rng, monkeypatch, dtype, layout, op,
                                            threads):
    """A float16 or byte-swapped input in one C-ordered block is converted a slab at a time:
    no buffer the call takes is as large as the input's float32 copy (the whole conversion
    took one that large: twice a float16 input's size), the slabs' buffers are about
    _SLAB_BYTES a thread, and the answer is that of the input converted beforehand. (On
    more than two threads, only copies past _WHOLE_COPY_BYTES go by slabs: lowered here.)"""
    monkeypatch.setattr(_validation, "_WHOLE_COPY_BYTES", 1 << 20)
    x = random_array(rng, (8, 32, 64, 64), np.float32)  # 4 MiB as float32
    given = x.astype(np.float16 if dtype == "float16" else x.dtype.newbyteorder())
    if layout == "channels-last memory":
        given = np.ascontiguousarray(given.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    pool = getattr(cpool, f"{op}_pool2d")
    args = () if op.startswith("global") else (2,)
    expected = pool(given.astype(np.float32), *args, num_threads=threads).astype(
        np.float16 if dtype == "float16" else np.float32)
    taken = []
    empty = _validation.empty
    monkeypatch.setattr(_validation, "empty",
                        lambda shape, dtype: taken.append(empty(shape, dtype)) or taken[-1])
    slabs = []
    by_slabs = _validation.by_slabs
    monkeypatch.setattr(_validation, "by_slabs",
                        lambda plan, *a, **k: (slabs.append(plan.x.nbytes),
                                               by_slabs(plan, *a, **k))[1])
    result = pool(given, *args, num_threads=threads)
    np.testing.assert_array_equal(result, expected)
    taken = [a for a in taken if a.dtype == np.float32]
    assert taken and max(a.nbytes for a in taken) < x.nbytes // 2
    assert slabs and max(slabs) <= _validation._SLAB_BYTES * threads  # the input's slab


@pytest.mark.parametrize("threads, always, by_slabs", [(1, 2, True), (2, 2, True),
                                                        (2, 1, False)])
def test_float16_copies_in_cache_are_whole_on_more_threads(monkeypatch, threads, always,
                                                           by_slabs):
    """On up to _SLABS_ALWAYS_THREADS threads (two; lowered to one here, as this machine runs
    no larger team) a float16 input past one slab always goes by slabs; on more, only one
    whose float32 copy is past _WHOLE_COPY_BYTES (each slab forks the threads three times,
    which costs more in a larger team)."""
    monkeypatch.setattr(_validation, "_SLABS_ALWAYS_THREADS", always)
    slabbed = []
    real = _validation.by_slabs
    monkeypatch.setattr(_validation, "by_slabs",
                        lambda plan, *a, **k: (slabbed.append(plan.slabs),
                                               real(plan, *a, **k))[1])
    x = np.ones((8, 32, 64, 64), np.float16)  # a 4 MiB float32 copy, 8 slabs at one thread
    monkeypatch.setattr(_validation, "_WHOLE_COPY_BYTES", x.size * 4)
    assert cpool.max_pool2d(x, 2, num_threads=threads).dtype == np.float16
    assert bool(slabbed) == by_slabs
    monkeypatch.setattr(_validation, "_WHOLE_COPY_BYTES", x.size * 4 - 1)
    cpool.max_pool2d(x, 2, num_threads=threads)
    assert slabbed


def test_never_holds_more_than_its_limit(cache):
    cpool.set_buffer_cache(5 * MIB)
    arrays = [_buffers.empty((n * MIB,), np.dtype(np.uint8)) for n in (1, 2, 3, 1, 4, 6)]
    held = []
    while arrays:
        arrays.pop(0)  # oldest first
        info = cpool.buffer_cache_info()
        assert info["held_bytes"] <= 5 * MIB
        held.append(info["held_bytes"])
    # kept oldest first: [1], [1, 2], [2, 3] (the 1 out), [3, 1] (the 2 out), [1, 4] (the 3
    # out), and the 6 MiB block is over the limit: released, the rest kept
    assert held == [MIB, 3 * MIB, 5 * MIB, 4 * MIB, 5 * MIB, 5 * MIB]
    assert cpool.set_buffer_cache(2 * MIB) == 5 * MIB
    assert cpool.buffer_cache_info()["held_bytes"] <= 2 * MIB
    cpool.set_buffer_cache(0)
    assert cpool.buffer_cache_info()["held_bytes"] == 0
    assert cpool.buffer_cache_info()["held_blocks"] == 0


def test_holds_at_most_64_blocks(cache):
    arrays = [_buffers.empty((MIB + i,), np.dtype(np.uint8)) for i in range(80)]
    while arrays:
        arrays.pop(0)  # oldest first
    info = cpool.buffer_cache_info()
    assert info["held_blocks"] == 64 and info["held_bytes"] == sum(MIB + i for i in range(16, 80))


def test_turned_off_it_keeps_nothing(cache):
    cpool.set_buffer_cache(0)
    r = cpool.max_pool2d(np.ones((8, 32, 64, 64), np.float32), 2)
    assert _handler_name(r) != "cpool_buffer_cache"
    del r
    assert cpool.buffer_cache_info()["held_bytes"] == 0


def test_threads_allocating_and_dropping_at_once(cache):
    cpool.set_buffer_cache(8 * MIB)
    x = np.arange(8 * 32 * 64 * 64, dtype=np.float32).reshape(8, 32, 64, 64)
    expected = cpool.max_pool2d(x, 2), cpool.avg_pool2d_backward(cpool.avg_pool2d(x, 2),
                                                                  x.shape, 2)
    failures = []

    def work():
        try:
            for _ in range(20):
                np.testing.assert_array_equal(cpool.max_pool2d(x, 2, num_threads=1), expected[0])
                g = cpool.avg_pool2d(x, 2, num_threads=1)
                np.testing.assert_array_equal(
                    cpool.avg_pool2d_backward(g, x.shape, 2, num_threads=1), expected[1])
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert cpool.buffer_cache_info()["held_bytes"] <= 8 * MIB


@pytest.mark.parametrize("bad", [1.5, "1", None, True])
def test_set_buffer_cache_type_errors(bad):
    with pytest.raises(TypeError, match="max_bytes"):
        cpool.set_buffer_cache(bad)


def test_set_buffer_cache_value_errors():
    with pytest.raises(ValueError, match="max_bytes.*-1"):
        cpool.set_buffer_cache(-1)


def test_set_buffer_cache_takes_numpy_ints_and_huge_ones(cache):
    previous = cpool.set_buffer_cache(np.int64(3 * MIB))
    assert cpool.buffer_cache_info()["limit"] == 3 * MIB
    cpool.set_buffer_cache(1 << 80)  # more than any size_t: no limit
    assert cpool.buffer_cache_info()["limit"] == _buffers.MAX_LIMIT
    cpool.set_buffer_cache(previous)


@pytest.mark.parametrize("value, limit, warns", [("0", 0, False), ("12345678", 12345678, False),
                                                 ("", None, False), ("lots", None, True),
                                                 ("-5", None, True)])
def test_the_environment_sets_the_limit(value, limit, warns):
    code = "import cpool; print(cpool.buffer_cache_info()['limit'])"
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, env=dict(os.environ, CPOOL_BUFFER_CACHE=value), check=True)
    assert int(done.stdout) == (_buffers.DEFAULT_LIMIT if limit is None else limit)
    assert ("CPOOL_BUFFER_CACHE" in done.stderr) == warns


def test_the_default_limit_is_a_sixteenth_of_a_small_machines_memory(monkeypatch):
    import types

    def machine(pages):
        sizes = {"SC_PHYS_PAGES": pages, "SC_PAGE_SIZE": 4096}
        return types.SimpleNamespace(sysconf=sizes.__getitem__, environ=os.environ)

    monkeypatch.setattr(_buffers, "os", machine(2 * 2**30 // 4096))   # 2 GiB
    assert _buffers._default_limit() == 128 * MIB
    monkeypatch.setattr(_buffers, "os", machine(64 * 2**30 // 4096))  # 64 GiB
    assert _buffers._default_limit() == 256 * MIB
    monkeypatch.setattr(_buffers, "os", types.SimpleNamespace())      # no sysconf
    assert _buffers._default_limit() == 256 * MIB


def test_the_cache_follows_its_policy_over_random_sequences(cache):
    """Random allocations and frees against a model of the policy: an allocation takes the
    newest kept block of exactly its size, else a fresh one; a freed block is kept if it fits
    under the limit, the oldest kept blocks released first to make room (at most 64 kept)."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.given(st.integers(1, 12), st.lists(
        st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 40)), max_size=60))
    def run(limit_mib, steps):
        cpool.set_buffer_cache(0)
        cpool.set_buffer_cache(limit_mib * MIB)
        start = cpool.buffer_cache_info()
        kept, live, reused, fresh = [], [], 0, 0
        try:
            for allocate, size_class, pick in steps:
                if allocate or not live:
                    size = MIB + size_class * (MIB // 2)
                    live.append(_buffers.empty((size,), np.dtype(np.uint8)))
                    if size in kept:
                        del kept[len(kept) - 1 - kept[::-1].index(size)]  # the newest
                        reused += 1
                    else:
                        fresh += 1
                else:
                    size = live.pop(pick % len(live)).nbytes
                    if size <= limit_mib * MIB:
                        while len(kept) == 64 or sum(kept) + size > limit_mib * MIB:
                            kept.pop(0)
                        kept.append(size)
                info = cpool.buffer_cache_info()
                assert info["held_bytes"] == sum(kept) <= limit_mib * MIB
                assert info["held_blocks"] == len(kept)
                assert info["reused"] - start["reused"] == reused
                assert info["fresh"] - start["fresh"] == fresh
        finally:
            del live

    run()
