"""The headline cases: a few calls that stand for the library's speed, at one thread.

One table serves three readers:

- asv (``Headline.time_call``): the subset ``asv continuous -b ^headline`` compares a branch
  with main on, and the one the committed history (``asv_bench/results/``) is run over;
- the CI gate (``asv_bench/gate.py``), which times each case against a memory copy of its
  input in the same process, for two builds side by side;
- the history page of the docs (``docs/plot_history.py``), which plots them over commits.

Every case is float32 at ``num_threads=1``: a shared 2-core machine's second core is where the
noise comes from. ``copy`` (``np.copyto`` of the max-pool input) is the machine's own
reference: a drift of the machine moves it with the pooling cases, a regression of cpool
does not. The calls use only what cpool has had since its first commits (the max-pool
gradient and stochastic pooling since their own), so the history runs them on old commits;
a case whose function is missing in a commit is skipped there, not failed.
"""
import numpy as np

import cpool

from .common import scaled

DTYPE = np.float32
THREADS = 1


def _max_backward(x):
    """The gradient of 2x2 max pooling, given the forward's output and indices."""
    out, indices = cpool.max_pool2d(x, 2, return_indices=True)
    grad = np.ones_like(out)
    return lambda: cpool.max_pool2d_backward(grad, indices, x.shape, num_threads=THREADS)


def _copy(x):
    into = np.empty_like(x)
    return lambda: np.copyto(into, x)


# case -> (input shape, make(x) -> the call to time). Shapes are the speed targets' (README).
CASES = {
    "copy": ((32, 256, 56, 56), _copy),
    "max_2x2_s2": ((32, 256, 56, 56),
                   lambda x: lambda: cpool.max_pool2d(x, 2, num_threads=THREADS)),
    "max_3x3_s2_p1": ((32, 64, 112, 112),
                      lambda x: lambda: cpool.max_pool2d(x, 3, 2, 1, num_threads=THREADS)),
    "avg_2x2_s2": ((32, 256, 56, 56),
                   lambda x: lambda: cpool.avg_pool2d(x, 2, num_threads=THREADS)),
    "global_avg": ((256, 2048, 7, 7),
                   lambda x: lambda: cpool.global_avg_pool2d(x, num_threads=THREADS)),
    "stochastic_train_2x2_s2": ((32, 256, 56, 56), lambda x: lambda: cpool.stochastic_pool2d(
        x, 2, seed=0, num_threads=THREADS)),
    "max_2x2_s2_backward": ((32, 256, 56, 56), _max_backward),
}


def make_input(case):
    """The input of ``case``: seeded, non-negative (stochastic pooling's activations), and
    filled here so that no timing pays for lazily faulted pages."""
    rng = np.random.default_rng(0)
    return np.abs(rng.standard_normal(scaled(CASES[case][0]), dtype=DTYPE))


def make_call(case, x):
    """The timed call of ``case`` on ``x``, run once (a warm-up, and the check that this
    commit of cpool has the function: NotImplementedError, asv's "skip", where it has not)."""
    try:
        call = CASES[case][1](x)
        call()
    except (AttributeError, TypeError) as error:
        raise NotImplementedError(f"{case}: {error}") from error
    return call


class Headline:
    """The headline cases, each timed by asv (median of its samples)."""

    params = [list(CASES)]
    param_names = ["case"]
    timeout = 300

    def setup(self, case):
        self.call = make_call(case, make_input(case))

    def time_call(self, case):
        self.call()
