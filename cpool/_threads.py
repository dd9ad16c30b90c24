"""Thread-count control shared by every op.

``num_threads=None`` means :func:`get_num_threads`: the value given to :func:`set_num_threads`,
or else OpenMP's current maximum, read at call time so that ``OMP_NUM_THREADS`` and
threadpoolctl's ``threadpool_limits`` are respected.

Two limits apply to every call, whatever was asked for:

* the CPUs this process may run on: more threads than that only add overhead (and a count such
  as 10**6 made GNU OpenMP start threads until the process died);
* one thread in a child made by ``fork()`` (multiprocessing's 'fork' start method, DataLoader
  workers) when the OpenMP runtime is GNU libgomp and the parent may have had an OpenMP thread
  pool: libgomp keeps the parent's pool in the child, where its threads do not exist, and a
  team of two or more threads waits for them forever. 'spawn' and 'forkserver' children are
  fresh processes and use threads as usual.
"""
import numbers
import os
import threading
import time

from cpool._kernels import _openmp

_lock = threading.Lock()
_override = None


def _available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13: affinity-aware
        return max(1, os.process_cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _os_threads() -> int:
    """Threads of this process (Linux: /proc/self/task; elsewhere assume several)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 2


_cpus = _available_cpus()
# Whether the kernels were built with OpenMP: a property of the build, read once (every call
# with num_threads=None asks, twice: two calls into the extension a call).
_OPENMP = bool(_openmp.openmp_enabled())
_max_threads = _openmp.max_threads
_serial_after_fork = False  # a fork() child whose inherited libgomp pool cannot run teams
_parent_threads = 1


def _before_fork():
    global _parent_threads
    _parent_threads = _os_threads()


def _after_fork_in_child():
    """In the child: run serially if the parent may have had an OpenMP pool (any thread besides
    the one that forked: libgomp's pool threads stay alive between calls), or was such a child
    itself. A parent with a single thread has no pool, and its child keeps its threads."""
    global _serial_after_fork, _cpus
    _cpus = _available_cpus()
    if not _openmp.runtime_survives_fork() and _parent_threads > 1:
        _serial_after_fork = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def openmp_enabled() -> bool:
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
    return _OPENMP


def get_num_threads() -> int:
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
    ``OMP_NUM_THREADS`` apply without a restart. An op may still use fewer threads than this:
    never more than the CPUs the process may run on, nor more than its input can keep busy;
    results do not depend on the count. In a child made by ``fork()`` of a process that may
    have had an OpenMP thread pool, with GNU OpenMP, it is 1 (see the threads page).

    Examples
    --------
    >>> import cpool
    >>> cpool.get_num_threads() >= 1
    True
    """
    if not _OPENMP or _serial_after_fork:
        return 1
    if _override is not None:
        return _override
    return max(1, _max_threads())


def set_num_threads(n: int) -> None:
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
    # The usual case first, without the ABC checks below: they were a tenth of a (1, 1, 2, 2)
    # max_pool2d call (54.5k -> 49.1k instructions).
    if type(n) is int and n >= 1:
        return n
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{fn}: `{name}` must be a positive int or None, got {n!r}")
    if n < 1:
        raise ValueError(f"{fn}: `{name}` must be >= 1, got {n}")
    return int(n)


def resolve(num_threads, fn):
    """The thread count for one call: ``num_threads`` checked, or the default; at most the CPUs
    available, and 1 where threads cannot run (a serial build, a fork child of a pool)."""
    if num_threads is not None:
        n = _check(num_threads, fn)
    else:  # get_num_threads' value, here: every call comes here, and a call of it cost 0.1 us
        n = max(1, _max_threads()) if _override is None else _override
    if not _OPENMP or _serial_after_fork:
        return 1
    return min(n, _cpus)


# ---------------------------------------------------------------------------------------------
# Busy machines
# ---------------------------------------------------------------------------------------------
# A team of threads joins at the end of every call, so a thread that waits for a core (taken by
# another process) holds up the whole call: with four busy processes on this 2-core machine,
# max_pool2d on (32, 256, 56, 56) took 24 ms at two threads and 14 ms at one. Dynamic
# scheduling does not help (the join still waits for the slowest thread to be scheduled).
# The default thread count is therefore capped by the cores that other runnable tasks leave
# free. The runnable count comes from the kernel's count of runnable tasks (Linux
# /proc/loadavg, an instant count), less this process's own running threads (its OpenMP
# workers spin for a while after a call, and count as running). It is read at most every
# _LOAD_TTL seconds, for calls of at least LOAD_CHECK_WORK values: every call big enough for two
# threads (the kernels give a thread at least 64K values). A read costs 1 us on a quiet machine
# and 25-40 us on a busy one (this process's threads are then counted), once per _LOAD_TTL.
# With the old bound of 2M values, avg 3x3 s1 p1 on (4, 128, 28, 28) (0.8M values) ran two
# threads under two busy processes: 1.83x its one-thread time. An explicit ``num_threads`` is
# never capped.
LOAD_CHECK_WORK = 1 << 17
_LOAD_TTL = 0.005
_load_lock = threading.Lock()
_load_at = -1.0
_load_free = 1 << 30
_machine_cpus = max(1, os.cpu_count() or 1)


_loadavg_fd = None  # /proc/loadavg, kept open: a pread costs 1 us, an open and read 8 us


def _running_tasks():
    """Runnable tasks on the machine, this thread included (None where unknown)."""
    global _loadavg_fd
    try:
        if _loadavg_fd is None:
            _loadavg_fd = os.open("/proc/loadavg", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return int(os.pread(_loadavg_fd, 128, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError, AttributeError):  # no procfs, no pread
        return None


def _own_running_threads() -> int:
    """This process's threads in the running state, the caller included."""
    running = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for t in tasks:
        try:
            with open(f"/proc/self/task/{t}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        state = stat.rindex(b")") + 2  # the state follows the (name)
        running += stat[state:state + 1] == b"R"
    return max(1, running)


def free_cores() -> int:
    """The machine's cores that no runnable task of another process holds (at least 1)."""
    global _load_at, _load_free
    now = time.monotonic()
    if now - _load_at < _LOAD_TTL:
        return _load_free
    with _load_lock:
        running = _running_tasks()
        if running is None:
            free = _machine_cpus
        else:
            others = running - 1
            if others > 0:  # busy, unless the running tasks are our own
                others = running - _own_running_threads()
            free = max(1, _machine_cpus - max(0, others))
        _load_free, _load_at = free, now
    return free


_planning = threading.local()  # .uncapped: plans to record keep the count the load did not cap


class uncapped:
    """Within it, :func:`for_load` caps nothing on this thread (a plan that is recorded for
    later calls keeps its count, capped again at each call)."""

    def __enter__(self):
        _planning.uncapped = True

    def __exit__(self, *exc):
        _planning.uncapped = False


def load_capped(n: int, work: int) -> bool:
    """Whether :func:`for_load` may cap a default count ``n`` for a call of ``work`` values (a
    recorded plan of a call it never caps skips it)."""
    return n > 1 and work >= LOAD_CHECK_WORK


def for_load(n: int, work: int) -> int:
    """A default thread count ``n`` for a call of ``work`` values, capped by the free cores."""
    if not load_capped(n, work) or getattr(_planning, "uncapped", False):
        return n
    return min(n, free_cores())
