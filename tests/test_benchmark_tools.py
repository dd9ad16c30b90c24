"""The benchmark tooling: the headline cases asv and the CI gate share, the gate's decision
(asv_bench/gate.py) and the history page's reader of asv's results (docs/plot_history.py).

No timing is asserted here (timings belong in benchmarks): the gate's measuring workers are
replaced by fakes that report chosen ratios, so what is tested is what the gate decides."""
import importlib.util
import json
import math
import os
import sys

import numpy as np
import pytest

import cpool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASV_BENCH = os.path.join(ROOT, "asv_bench")
pytestmark = pytest.mark.skipif(not os.path.isdir(ASV_BENCH),
                                reason="needs the source tree's asv_bench/")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def headline(monkeypatch_module):
    monkeypatch_module.setenv("CPOOL_ASV_SMALL", "1")
    monkeypatch_module.syspath_prepend(ASV_BENCH)
    for name in ("benchmarks.common", "benchmarks.headline"):
        sys.modules.pop(name, None)
    import benchmarks.headline

    yield benchmarks.headline
    for name in ("benchmarks", "benchmarks.common", "benchmarks.headline"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def gate():
    return _load("cpool_gate", os.path.join(ASV_BENCH, "gate.py"))


@pytest.fixture(scope="module")
def plot_history():
    return _load("cpool_plot_history", os.path.join(ROOT, "docs", "plot_history.py"))


def test_headline_cases_compute_what_they_name(headline):
    assert list(headline.CASES)[0] == "copy"
    for case in headline.CASES:
        x = headline.make_input(case)
        assert x.dtype == np.float32 and x.min() >= 0 and x.ndim == 4
        headline.make_call(case, x)()  # runs (the warm-up inside make_call ran it too)
    x = headline.make_input("max_2x2_s2")
    call = headline.CASES["max_2x2_s2"][1](x)
    np.testing.assert_array_equal(call(), cpool.max_pool2d(x, 2))
    bench = headline.Headline()
    bench.setup("avg_2x2_s2")
    bench.time_call("avg_2x2_s2")


def test_headline_case_missing_in_a_commit_is_skipped(headline, monkeypatch):
    # asv runs today's suite on old commits: a function they lack means "skip", not "fail".
    monkeypatch.delattr(cpool, "stochastic_pool2d")
    with pytest.raises(NotImplementedError, match="stochastic_train_2x2_s2"):
        headline.make_call("stochastic_train_2x2_s2",
                           headline.make_input("stochastic_train_2x2_s2"))


class FakeWorker:
    """Reports ``ratios[case]`` (or a per-measurement sequence of them) for every round."""

    def __init__(self, name, ratios):
        self.name, self.ratios, self.cases, self.cpool = name, ratios, list(ratios), name
        self.rounds = []

    def round(self, cases):
        self.rounds.append(list(cases))
        out = {}
        for c in cases:
            r = self.ratios[c]
            out[c] = r[min(len(self.rounds) - 1, len(r) - 1)] if isinstance(r, list) else r
        return out

    def close(self):
        pass


def _run(gate, monkeypatch, base, head, threshold=1.25, rounds=4):
    workers = iter([FakeWorker("base", base), FakeWorker("head", head)])
    monkeypatch.setattr(gate, "build_base", lambda rev, work: "lib")
    monkeypatch.setattr(gate, "Worker", lambda name, path=None: next(workers))
    return gate.run_gate("abc1234", threshold, rounds)


def test_gate_passes_an_unchanged_tree(gate, monkeypatch, capsys):
    same = {"max_2x2_s2": 0.8, "avg_2x2_s2": 0.7}
    assert _run(gate, monkeypatch, same, dict(same)) == 0
    out = capsys.readouterr().out
    assert "max_2x2_s2" in out and "1.000  ok" in out and "FAILED" not in out


def test_gate_fails_a_confirmed_regression(gate, monkeypatch, capsys):
    base = {"max_2x2_s2": 0.8, "avg_2x2_s2": 0.7}
    head = {"max_2x2_s2": 0.8 * 1.4, "avg_2x2_s2": 0.7 * 1.1}
    assert _run(gate, monkeypatch, base, head) == 1
    out = capsys.readouterr().out
    assert "measuring again" in out and "re-run 1.400" in out and "SLOWER" in out
    assert "FAILED: max_2x2_s2 slower than abc1234 by more than 25 %" in out
    assert "avg_2x2_s2" in out.split("FAILED")[0] and "1.100  ok" in out


def test_gate_does_not_fail_on_noise_the_rerun_does_not_confirm(gate, monkeypatch, capsys):
    # The first measurement's rounds (4 here) are slow, the re-run's are not: noise.
    head = {"max_2x2_s2": [1.5] * 4 + [1.0] * 4}
    assert _run(gate, monkeypatch, {"max_2x2_s2": 1.0}, head) == 0
    out = capsys.readouterr().out
    assert "measuring again" in out and "re-run 1.000" in out and "FAILED" not in out


def test_gate_measures_in_alternating_turns_and_takes_medians(gate):
    base, head = FakeWorker("base", {"a": 1.0}), FakeWorker("head", {"a": [3.0, 1.2, 1.3, 1.1]})
    order = []
    for w in (base, head):
        real = w.round
        w.round = lambda cases, w=w, real=real: order.append(w.name) or real(cases)
    samples = gate.measure([base, head], ["a"], 4)
    assert order == ["base", "head", "head", "base", "base", "head", "head", "base"]
    assert samples["head"]["a"] == [3.0, 1.2, 1.3, 1.1]
    assert math.isclose(gate.compare(samples, ["a"])["a"], 1.25)  # the median, not the mean


def test_gate_cases_missing_in_the_base_are_reported_not_compared(gate, monkeypatch, capsys):
    assert _run(gate, monkeypatch, {"a": 1.0}, {"a": 1.0, "new_op": 5.0}) == 0
    assert "new_op" in capsys.readouterr().out.split("(not in the base)")[0]


def test_gate_arguments(gate, capsys):
    with pytest.raises(SystemExit) as err:
        gate.main(["--threshold", "0.9"])
    assert err.value.code == 2 and "--threshold must be above 1, got 0.9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        gate.main(["--rounds", "0"])
    assert "got 0" in capsys.readouterr().err
    assert gate.main(["--base", "no-such-revision-xyz"]) == 0
    assert "no commit 'no-such-revision-xyz'" in capsys.readouterr().out


# --- the history page ----------------------------------------------------------------------

def _asv_result(directory, commit, date, values):
    """A result file as asv 0.6 writes it (format version 2), for the headline benchmark."""
    names = [repr(n) for n in values]
    medians = [v for v in values.values()]
    row = [medians, [names], "0" * 64, 0, 1.0, medians, medians,
           [m * 0.9 if m == m else m for m in medians], [m * 1.1 if m == m else m for m in medians],
           [1] * len(names), [10] * len(names)]
    data = {"commit_hash": commit, "env_name": "virtualenv-py3.11", "date": date,
            "params": {}, "python": "3.11", "requirements": {}, "env_vars": {},
            "result_columns": ["result", "params", "version", "started_at", "duration",
                               "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75",
                               "stats_number", "stats_repeat", "samples", "profile"],
            "results": {"headline.Headline.time_call": row}, "durations": {}, "version": 2}
    directory.mkdir(parents=True, exist_ok=True)
    # asv writes NaN for a skipped parameter (json.dump's default allows it)
    (directory / f"{commit[:8]}-virtualenv-py3.11.json").write_text(json.dumps(data))


@pytest.fixture
def history_dir(tmp_path):
    machine = tmp_path / "results" / "m"
    _asv_result(machine, "bbbbbbbb22", 2000, {"copy": 0.005, "max_2x2_s2": 0.004,
                                              "stochastic_train_2x2_s2": 0.01})
    _asv_result(machine, "aaaaaaaa11", 1000, {"copy": 0.005, "max_2x2_s2": 0.1,
                                              "stochastic_train_2x2_s2": float("nan")})
    (machine / "machine.json").write_text("{}")
    return tmp_path / "results"


def test_history_reads_asv_results_oldest_first(history_dir, plot_history):
    history = plot_history.load(history_dir, "m")
    assert [h["commit"] for h in history] == ["aaaaaaaa", "bbbbbbbb"]
    assert history[0]["cases"]["max_2x2_s2"][0] == 0.1
    assert "stochastic_train_2x2_s2" not in history[0]["cases"]  # NaN: skipped there
    lines = plot_history.table(history).splitlines()
    assert lines[0] == "| commit | copy | max 2x2 s2 | stochastic train 2x2 s2 |"
    assert lines[2] == "| `aaaaaaaa` | 5.00 | 100.00 (20.00x) | - |"
    assert lines[3] == "| `bbbbbbbb` | 5.00 | 4.00 (0.80x) | 10.00 (2.00x) |"


def test_history_renders_the_plot_and_table(history_dir, tmp_path, plot_history):
    pytest.importorskip("matplotlib")
    plot_history.render(history_dir, "m", tmp_path / "out")
    assert (tmp_path / "out" / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert "`bbbbbbbb`" in (tmp_path / "out" / "history-table.md").read_text()
    with pytest.raises(SystemExit, match="no headline.Headline.time_call results"):
        plot_history.render(history_dir, "other-machine", tmp_path / "out")


def test_committed_history_is_readable(plot_history):
    # The docs build draws the history page from these files: they must parse, cover more
    # than a handful of commits and include the copy beside every commit.
    history = plot_history.load(os.path.join(ASV_BENCH, "results"), "history-2core")
    assert len(history) >= 8
    assert all("copy" in h["cases"] and "max_2x2_s2" in h["cases"] for h in history)
