"""Thread-count control shared by every op.

``num_threads=None`` means :func:`get_num_threads`: the value given to :func:`set_num_threads`,
or else OpenMP's current maximum, read at call time so that ``OMP_NUM_THREADS`` and
threadpoolctl's ``threadpool_limits`` are respected.
"""
import numbers
import threading

from cpool._kernels import _openmp

_lock = threading.Lock()
_override = None


def openmp_enabled():
    """Whether cpool's kernels were built with OpenMP.

    Returns
    -------
    bool
        False for a serial build (the compiler had no OpenMP); every op then runs on one thread.

    See Also
    --------
    get_num_threads, set_num_threads

    Notes
    -----
    ``setup.py`` compiles a small OpenMP test program first and falls back to a serial build,
    with a warning, when that fails; ``CPOOL_FAIL_NO_OPENMP=1`` turns the fallback into an
    error, and ``CPOOL_NO_OPENMP=1`` asks for a serial build.

    Examples
    --------
    >>> import cpool
    >>> isinstance(cpool.openmp_enabled(), bool)
    True
    """
    return _openmp.openmp_enabled()


def get_num_threads():
    """The number of threads an op uses when called with ``num_threads=None``.

    Returns
    -------
    int
        The value set by :func:`set_num_threads`, or else OpenMP's maximum for the calling
        thread (``OMP_NUM_THREADS``, threadpoolctl limits), or 1 in a serial build.

    See Also
    --------
    set_num_threads : Set the default.
    openmp_enabled : Whether more than one thread is possible at all.

    Notes
    -----
    Read at each call, so ``threadpoolctl.threadpool_limits(n, user_api="openmp")`` and
    ``OMP_NUM_THREADS`` apply without a restart. An op may still use fewer threads than this
    when its input is too small for more to pay off; results do not depend on the count.

    Examples
    --------
    >>> import cpool
    >>> cpool.get_num_threads() >= 1
    True
    """
    if _override is not None:
        return _override if _openmp.openmp_enabled() else 1
    return max(1, _openmp.max_threads())


def set_num_threads(n):
    """Set the default thread count of every op; ``None`` restores OpenMP's default.

    Parameters
    ----------
    n : int or None
        Threads to use when an op is called with ``num_threads=None``; must be >= 1.

    Raises
    ------
    ValueError
        If ``n < 1``.
    TypeError
        If ``n`` is not an int or None.

    See Also
    --------
    get_num_threads : The current default.

    Notes
    -----
    The setting is process-wide and takes precedence over ``OMP_NUM_THREADS`` and threadpoolctl;
    an op's own ``num_threads=`` takes precedence over it.

    Examples
    --------
    >>> import cpool
    >>> cpool.set_num_threads(2)
    >>> cpool.get_num_threads() in (1, 2)   # 1 in a serial build
    True
    >>> cpool.set_num_threads(None)
    """
    global _override
    with _lock:
        _override = None if n is None else _check(n, "set_num_threads", "n")


def _check(n, fn, name="num_threads"):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{fn}: `{name}` must be a positive int or None, got {n!r}")
    if n < 1:
        raise ValueError(f"{fn}: `{name}` must be >= 1, got {n}")
    return int(n)


def resolve(num_threads, fn):
    """The thread count for one call: ``num_threads`` checked, or the default."""
    if num_threads is None:
        return get_num_threads()
    n = _check(num_threads, fn)
    return n if _openmp.openmp_enabled() else 1
