"""The CI speed gate: this tree's cpool against a base commit's, side by side, in one run.

    python asv_bench/gate.py [--base REV] [--threshold 1.25] [--rounds 20]

The base commit (``HEAD~1`` by default, ``$CPOOL_GATE_BASE`` or ``--base``; a branch would
give ``main``) is exported with ``git archive`` and built with the same interpreter, reusing
this tree's build cache (``build/ext-cache``): a base whose kernels match this tree's builds in
seconds. Two worker processes, one per build, then time the headline cases
(``benchmarks/headline.py``) in alternating rounds. In each round a worker times every case
beside a memory copy of its input, call after call, so what it reports is the case's time
*over the copy's*: a machine that slows down (another job, a throttled core) slows both. The
gate's figure per case is the median over rounds of this tree's ratio over the median of the
base's.

A case over ``--threshold`` (1.25: 25 % slower) is measured again with fresh rounds, and the
gate fails only when the re-run confirms it. Noise on a shared machine moves single timings by
10-30 %, the ratio of medians of interleaved rounds by a few percent (``--repeat 10`` runs the
gate ten times, for the record in asv_bench/README.md).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
THRESHOLD = 1.25
ROUNDS = 20
REPEATS = 5  # timed pairs (case, copy) per case per round


# --- worker: one build of cpool, timing the cases on request -------------------------------

def _worker():
    """Serve rounds over stdin/stdout: a line with a list of cases in, a JSON object of
    ``{case: median(case time / copy time) over REPEATS pairs}`` out."""
    sys.path.insert(0, HERE)
    import cpool
    from benchmarks import headline

    cases = [c for c in headline.CASES if c != "copy"]
    calls = {}
    for case in cases:
        try:
            calls[case] = headline.make_call(case, headline.make_input(case))
        except NotImplementedError:
            pass  # the base has no such function: reported as missing
    copy = headline.make_call("copy", headline.make_input("copy"))
    print(json.dumps({"cpool": os.path.dirname(cpool.__file__), "cases": list(calls)}),
          flush=True)
    for line in sys.stdin:
        ratios = {}
        for case in json.loads(line):
            call = calls[case]
            pairs = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                call()
                middle = time.perf_counter()
                copy()
                pairs.append((middle - start) / (time.perf_counter() - middle))
            ratios[case] = statistics.median(pairs)
        print(json.dumps(ratios), flush=True)


class Worker:
    def __init__(self, name, pythonpath=None):
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        env.pop("CPOOL_ASV_SMALL", None)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
        self.name = name
        self.process = subprocess.Popen([sys.executable, __file__, "--worker"], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = json.loads(self._read())
        self.cpool, self.cases = hello["cpool"], hello["cases"]

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"gate: the {self.name} worker died (exit {self.process.wait()})")
        return line

    def round(self, cases):
        self.process.stdin.write(json.dumps(cases) + "\n")
        self.process.stdin.flush()
        return json.loads(self._read())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


# --- driver ------------------------------------------------------------------------------

def _git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def build_base(rev, work):
    """Build commit ``rev`` of cpool into ``work``/lib; return that directory."""
    source, lib = os.path.join(work, "src"), os.path.join(work, "lib")
    archive = os.path.join(work, "src.tar")
    with open(archive, "wb") as f:
        subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", rev], stdout=f, check=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(source, filter="data")
        else:  # a Python before extraction filters (3.9.17, 3.10.12, 3.11.4): git's own archive
            tar.extractall(source)
    env = dict(os.environ, CPOOL_BUILD_CACHE=os.environ.get(
        "CPOOL_BUILD_CACHE", os.path.join(ROOT, "build", "ext-cache")))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", lib,
                    source], check=True, env=env)
    print(f"gate: built the base in {time.perf_counter() - start:.0f} s", flush=True)
    return lib


def measure(workers, cases, rounds):
    """``{case: [ratio per round]}`` per worker, the workers taking turns (their order
    alternating) so that a change in the machine's load falls on both."""
    samples = {w.name: {c: [] for c in cases} for w in workers}
    for r in range(rounds):
        for w in (workers if r % 2 == 0 else workers[::-1]):
            for case, ratio in w.round(cases).items():
                samples[w.name][case].append(ratio)
    return samples


def compare(samples, cases):
    """``{case: this tree's median ratio over the base's}``."""
    return {c: statistics.median(samples["head"][c]) / statistics.median(samples["base"][c])
            for c in cases}


def run_gate(base_rev, threshold, rounds):
    """Return 0 when no headline case is slower than the base by more than ``threshold``."""
    with tempfile.TemporaryDirectory(prefix="cpool-gate-") as work:
        lib = build_base(base_rev, work)
        workers = [Worker("base", lib)]
        try:
            workers.append(Worker("head"))
            if os.path.realpath(workers[0].cpool) == os.path.realpath(workers[1].cpool):
                raise SystemExit(f"gate: both workers imported {workers[0].cpool}")
            cases = [c for c in workers[1].cases if c in workers[0].cases]
            missing = sorted(set(workers[1].cases) - set(cases))
            start = time.perf_counter()
            ratios = compare(measure(workers, cases, rounds), cases)
            slow = [c for c in cases if ratios[c] > threshold]
            confirmed = {}
            if slow:
                print(f"gate: {', '.join(slow)} over {threshold:.2f}; measuring again",
                      flush=True)
                confirmed = compare(measure(workers, slow, rounds), slow)
            took = time.perf_counter() - start
        finally:
            for w in workers:
                w.close()
    failed = [c for c, r in confirmed.items() if r > threshold]
    print(f"gate: this tree against {base_rev} ({rounds} rounds, {took:.0f} s); time over a "
          f"memory copy, this tree's / the base's (fails over {threshold:.2f}, confirmed):")
    for case in cases:
        again = f"  re-run {confirmed[case]:.3f}" if case in confirmed else ""
        verdict = "SLOWER" if case in failed else "ok"
        print(f"  {case:<26} {ratios[case]:.3f}{again}  {verdict}")
    for case in missing:
        print(f"  {case:<26} (not in the base)")
    if failed:
        print(f"gate: FAILED: {', '.join(failed)} slower than {base_rev} by more than "
              f"{(threshold - 1) * 100:.0f} % in two measurements", flush=True)
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=os.environ.get("CPOOL_GATE_BASE", "HEAD~1"),
                        help="the commit to compare with (default HEAD~1, or $CPOOL_GATE_BASE)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help="fail over this ratio, confirmed by a re-run (default 1.25)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per measurement")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole gate N times")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker()
    if args.threshold <= 1:
        parser.error(f"--threshold must be above 1, got {args.threshold}")
    if args.rounds < 1 or args.repeat < 1:
        parser.error(f"--rounds and --repeat must be at least 1, got {args.rounds}, "
                     f"{args.repeat}")
    try:
        base = _git("rev-parse", "--verify", "--short", f"{args.base}^{{commit}}")
    except subprocess.CalledProcessError:
        print(f"gate: no commit {args.base!r} to compare with (a first commit, a shallow "
              "clone); skipped")
        return 0
    status = 0
    for _ in range(args.repeat):
        status |= run_gate(base, args.threshold, args.rounds)
    return status


if __name__ == "__main__":
    sys.exit(main())
