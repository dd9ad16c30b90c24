"""`python -m cpool` runs the documented demo and its timing table."""
import subprocess
import sys

import numpy as np
import pytest

import cpool


def test_demo_prints_the_documented_results():
    proc = subprocess.run(
        [sys.executable, "-m", "cpool", "--shape", "2", "3", "20", "20", "--repeat", "1"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    out = " ".join(proc.stdout.split())  # whitespace-insensitive
    assert "max_pool2d(x, 2) [[7., 4.], [9., 7.]]" in out
    assert "avg_pool2d(x, 2) [[3.25, 1.75], [6.25, 3.75]]" in out
    assert "sum_pool2d(x, 3, stride=1) [[32., 30.], [37., 38.]]" in out
    assert "global_max_pool2d(x) 9." in out
    assert "global_avg_pool2d(x) 3.75" in out
    assert "global_sum_pool2d(x) 60." in out
    assert "speed-up" in out and " NO" not in proc.stdout
    for label in ("max 2x2 s2", "max 3x3 s2 p1", "avg 3x3 s1 p1", "sum 2x2 s2", "global avg"):
        assert label in out


def test_demo_rejects_bad_shape():
    proc = subprocess.run([sys.executable, "-m", "cpool", "--shape", "4"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--shape" in proc.stderr


def test_bench_command_runs_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cpool", "bench", "--ops", "tiny", "gavg",
         "--threads", "1", "2", "--repeat", "1", "--no-numpy", "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=300,
    )
    assert "| max 2x2, tiny | (1, 16, 32, 32) | 1 |" in proc.stdout
    assert "| global avg |" in proc.stdout and "speed-up" in proc.stdout
    assert "[1/4]" in proc.stderr  # progress
    import json

    rows = json.loads(out.read_text())["rows"]
    assert {(r["key"], r["threads"]) for r in rows} == {("tiny", 1), ("tiny", 2), ("gavg", 1), ("gavg", 2)}
    assert all(r["cpool_ms"] > 0 and r["of_copy"] > 0 for r in rows)
    # The floor: reading the input once, which no op that reads it all can beat.
    assert all(r["read_ms"] > 0 and r["of_read"] == r["read_ms"] / r["cpool_ms"] for r in rows)
    assert "of read" in proc.stdout


def test_read_floor_reads_every_byte_once(monkeypatch):
    # The floor's pass is a max over the input's bytes as int32 (bytes where the size is no
    # multiple of 4): it must see every byte of the array, whatever its dtype and size.
    from cpool import _bench

    seen = []
    monkeypatch.setattr(_bench, "_time", lambda f, repeat: seen.append(f()) or 1.0)
    for x, want in [(np.arange(12, dtype=np.float32), np.arange(12, dtype=np.float32)
                     .view(np.int32).max()),
                    (np.array([1, 250, 3], np.uint8), 250)]:
        seen.clear()
        _bench._read_time(x, 1, None, 1)
        assert seen == [want]


def test_bench_row_width_sweep_covers_16_to_4096():
    # Issue 19's sweep: max, avg and sum 2x2 stride 2 at every power-of-two row width from 16
    # to 4096, each on square planes filling the same bytes, each held to 0.85 of copy.
    from cpool import _bench

    cases = _bench.width_cases()
    assert [c.key for c in cases[:9]] == [f"max2_w{w}" for w in (16, 32, 64, 128, 256, 512,
                                                                  1024, 2048, 4096)]
    assert {c.key.split("_")[0] for c in cases} == {"max2", "avg2", "sum2"}
    for c in cases:
        n, planes, h, w = c.shape
        assert n == 1 and h == w and planes * h * w * 4 == _bench.WIDTH_SWEEP_BYTES
        assert c.copy_target == 0.85 and c.torch is not None
    x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(1, 2, 4, 4)
    for c in cases[::9]:  # each op's case computes its op
        want = {"max2": cpool.max_pool2d, "avg2": cpool.avg_pool2d,
                "sum2": cpool.sum_pool2d}[c.key.split("_")[0]](x, 2)
        np.testing.assert_array_equal(c.ours(x, 1), want)


def test_bench_runs_a_row_width_case_by_key():
    proc = subprocess.run(
        [sys.executable, "-m", "cpool", "bench", "--ops", "sum2_w4096", "--repeat", "1",
         "--no-numpy"], capture_output=True, text=True, check=True, timeout=300)
    assert "| sum 2x2 s2, rows of 4096 | (1, 1, 4096, 4096) | 1 |" in proc.stdout


def test_bench_rejects_unknown_case():
    proc = subprocess.run([sys.executable, "-m", "cpool", "bench", "--ops", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "no case matches" in proc.stderr


def test_bench_under_load_runs_and_stops_its_busy_processes(tmp_path):
    # --load N: N busy processes during the measurement, gone afterwards; the table says so.
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cpool", "bench", "--ops", "unit", "--threads", "1", "0",
         "--repeat", "1", "--no-numpy", "--load", "1", "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=300,
    )
    assert "measured with 1 busy processes running" in proc.stdout
    # --threads 0: cpool's default count (num_threads=None), shown as "default".
    assert "| max 2x2, one window | (1, 1, 2, 2) | default |" in proc.stdout
    import json

    report = json.loads(out.read_text())
    assert report["machine"]["load"] == 1
    assert sorted(r["threads"] for r in report["rows"]) == [0, 1]
    # the default count against one thread, timed alternately with it
    assert "| max 2x2, one window | (1, 1, 2, 2) |" in proc.stdout.split("against one thread")[1]
    (default,) = [r for r in report["rows"] if r["threads"] == 0]
    assert default["one_thread_ms"] > 0


def test_busy_processes_are_stopped(monkeypatch):
    from cpool import _bench

    started = []
    popen = subprocess.Popen

    def recording(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(_bench.subprocess, "Popen", recording)
    with _bench.busy_processes(2):
        assert [p.poll() for p in started] == [None, None]  # spinning during the block
    assert len(started) == 2 and all(p.returncode is not None for p in started)
    with pytest.raises(RuntimeError):  # stopped when the block raises, too
        with _bench.busy_processes(1):
            raise RuntimeError
    assert len(started) == 3 and started[-1].returncode is not None


def test_bench_rejects_negative_threads():
    proc = subprocess.run([sys.executable, "-m", "cpool", "bench", "--threads", "-1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--threads" in proc.stderr


def test_bench_rejects_negative_load():
    proc = subprocess.run([sys.executable, "-m", "cpool", "bench", "--load", "-1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--load" in proc.stderr


def test_bench_peers_time_the_nchw_cases_against_every_installed_peer(tmp_path):
    # --peers: the NCHW cases get a column per installed library, the fastest peer named, and
    # cpool's speed-up over it held to the case's peer target.
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cpool", "bench", "--ops", "tiny", "--peers", "--repeat", "1",
         "--no-numpy", "--json", str(out)],
        capture_output=True, text=True, check=True, timeout=300,
    )
    assert "| best peer | cpool vs best |" in proc.stdout
    assert "torch NCHW ms" in proc.stdout and "torch channels_last ms" in proc.stdout
    import json

    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert report["machine"]["peers"] is True
    assert {"torch NCHW", "torch channels_last"} <= set(row["peers_ms"])
    assert row["best_peer"] == min(row["peers_ms"], key=row["peers_ms"].get)
    assert row["speedup_vs_torch"] == pytest.approx(row["peers_ms"][row["best_peer"]] / row["cpool_ms"])
    assert row["speedup_target"] == 1.0  # the tiny case's own: no slower than the fastest peer


@pytest.mark.parametrize("op,args", [("max", (2, 2)), ("max", (3, 2, 1)), ("avg", (2, 2)),
                                     ("avg", (3, 1, 1)), ("global_avg", ()), ("global_max", ()),
                                     ("max_indices", (2, 2)), ("max_backward", (2, 2))])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_peers_are_checked_against_cpools_output(rng, op, args, layout):
    # Every peer's result must match cpool's before it is timed: a wrong expected result
    # leaves none, the right one keeps every peer installed (PyTorch's at least).
    pytest.importorskip("torch")
    import numpy as np

    import cpool
    from cpool import _peers

    if layout == "nhwc" and op in ("global_max", "max_backward"):
        pytest.skip("not a channels-last case of the bench")
    x = rng.standard_normal((2, 8, 12, 12)).astype(np.float32)
    kw = {"axes": (1, 2)} if layout == "nhwc" else {}
    if layout == "nhwc":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    if op in ("max", "avg"):
        ours = (cpool.max_pool2d if op == "max" else cpool.avg_pool2d)(x, *args, **kw)
    elif op.startswith("global"):
        ours = (cpool.global_avg_pool2d if op == "global_avg" else cpool.global_max_pool2d)(x, **kw)
    else:
        ours = cpool.max_pool2d(x, *args, return_indices=True, **kw)
        if op == "max_backward":
            ours = cpool.max_pool2d_backward(ours[0], ours[1], x.shape)
    pool = _peers.Pool(op, *args, layout=layout)
    found = _peers.calls(x, pool, 1, expected=ours)
    assert "torch channels_last" in found
    assert ("torch NCHW" in found) == (layout == "nchw")
    wrong = tuple(a + 1 for a in ours) if isinstance(ours, tuple) else ours + 1
    assert _peers.calls(x, pool, 1, expected=wrong) == {}
