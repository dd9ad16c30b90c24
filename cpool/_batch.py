"""``python -m cpool pool IN OUT``: pool an array on disk into another, out of core.

IN and OUT are ``.npy`` files or zarr stores (any other name). The input is read block by block
(a memory map, or the zarr chunks), pooled by :mod:`cpool.dask` and written block by block, so
memory follows the chunks, not the array. OUT is written under a temporary name beside it and
renamed at the end: a failed or interrupted run leaves no partial OUT behind. Every argument is
checked (the op on the array's shape and dtype) before any work starts.
"""
import argparse
import contextlib
import os
import shutil
import sys
import time
from typing import Any, List, Optional

import numpy as np

OPS = ["max", "avg", "sum", "global_max", "global_avg", "global_sum"]
# How long to try to reach a scheduler given by address.
CONNECT_TIMEOUT = "10s"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cpool pool",
        description="Pool an array on disk (.npy or zarr) into another, out of core with Dask.")
    p.add_argument("input", metavar="IN", help="input array: a .npy file or a zarr store")
    p.add_argument("output", metavar="OUT",
                   help="output array: a .npy file if the name ends in .npy, else a zarr store")
    p.add_argument("--op", choices=OPS, default="max", help="pooling op (default: max)")
    p.add_argument("--kernel", type=int, nargs="+", default=None, metavar="K",
                   help="kernel_size: one int, or one per pooled axis (windowed ops)")
    p.add_argument("--stride", type=int, nargs="+", default=None, metavar="S",
                   help="stride (default: the kernel)")
    p.add_argument("--padding", type=int, nargs="+", default=[0], metavar="P", help="padding")
    p.add_argument("--ceil-mode", action="store_true", help="ceil_mode=True")
    p.add_argument("--axes", type=int, nargs="+", default=None, metavar="A",
                   help="the pooled axes (default: the last 2, or as many as --kernel has "
                        "entries when that is more than one)")
    p.add_argument("--chunks", default=None,
                   help="input chunks along each axis, comma-separated (-1: whole axis), e.g. "
                        "8,-1,-1,-1; default: the zarr store's chunks, or about 128 MiB blocks "
                        "along the first axis of a .npy file")
    p.add_argument("--scheduler", default="threads",
                   help="threads, processes, synchronous, or a distributed scheduler's ADDRESS "
                        "(default: threads)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker threads or processes of a local scheduler (default: every CPU)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


class BatchError(Exception):
    """A problem to report in one line (exit status 2: the command or its input; 1: the run)."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


def _is_npy(path: str) -> bool:
    return path.endswith(".npy")


class NpyFile:
    """A ``.npy`` file as Dask reads and stores blocks of it: each block opens the file's memory
    map where it runs. A memory map itself would be pickled whole (as an in-memory copy) to
    process workers: the input sent in full to each, and their writes into OUT lost."""

    def __init__(self, path: str, mode: str = "r"):
        self.path, self.mode = path, mode
        with open(path, "rb") as f:  # np.load calls any other file "pickled (object) data"
            if f.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
                raise ValueError("it does not start with the .npy format's header")
        mm = np.load(path, mmap_mode="r", allow_pickle=False)
        self.shape, self.dtype, self.ndim = mm.shape, mm.dtype, mm.ndim

    @classmethod
    def create(cls, path: str, shape, dtype) -> "NpyFile":
        np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape).flush()
        return cls(path, "r+")

    def __getitem__(self, index):
        return np.load(self.path, mmap_mode="r", allow_pickle=False)[index]

    def __setitem__(self, index, value):
        # No flush: the page cache is shared by every process that maps the file.
        np.load(self.path, mmap_mode="r+", allow_pickle=False)[index] = value


def _open_input(path: str, chunks_arg: Optional[str]):
    """The input as a Dask array over the file (nothing read yet)."""
    import dask.array as da

    data: Any  # a NpyFile or a zarr array
    default: Any  # chunk sizes: {axis: size} or zarr's chunk shape

    if not os.path.exists(path):
        raise BatchError(f"IN {path!r} does not exist")
    if _is_npy(path):
        try:
            data = NpyFile(path)
        except (ValueError, OSError, EOFError) as exc:
            raise BatchError(f"IN {path!r} is not a readable .npy file: {exc}") from None
        row = data.dtype.itemsize * int(np.prod(data.shape[1:]))
        default = {0: max(1, (128 << 20) // max(1, row))}
    else:
        import zarr

        try:
            data = zarr.open_array(path, mode="r")
        except Exception as exc:  # zarr raises several types for a non-store
            raise BatchError(f"IN {path!r} is not a zarr array (or a .npy file): {exc}") from None
        default = data.chunks
    if data.ndim == 0:
        raise BatchError(f"IN {path!r} holds a 0-dimensional array; nothing to pool")
    chunks = default
    if chunks_arg is not None:
        try:
            chunks = tuple(int(c) for c in chunks_arg.split(","))
        except ValueError:
            raise BatchError(f"--chunks must be comma-separated ints, got {chunks_arg!r}") from None
        if len(chunks) != data.ndim or any(c == 0 or c < -1 for c in chunks):
            raise BatchError(f"--chunks needs {data.ndim} entries, each positive or -1, got "
                             f"{chunks_arg!r}")
    return da.from_array(data, chunks=chunks, lock=False, asarray=True)


def _pooled(args, x):
    """The lazy result; cpool's own errors (the op's arguments on this array) surface here."""
    import cpool.dask as cd

    global_op = args.op.startswith("global_")
    if args.axes is not None:
        n = len(args.axes)
    elif args.kernel is not None and len(args.kernel) > 1:
        n = len(args.kernel)
    else:
        n = min(2, x.ndim)
    if n not in (1, 2, 3):
        raise BatchError(f"--axes: pool over 1, 2 or 3 axes, got {args.axes}")
    axes = tuple(args.axes) if args.axes is not None else tuple(range(-n, 0))
    name = f"{args.op}_pool{n}d"
    if global_op:
        if args.kernel or args.stride or args.padding != [0] or args.ceil_mode:
            raise BatchError(f"--op {args.op} pools whole planes: it takes no --kernel, "
                             f"--stride, --padding or --ceil-mode")
        return getattr(cd, name)(x, axes=axes)
    if args.kernel is None:
        raise BatchError(f"--op {args.op} needs --kernel")

    def one(v):
        return v[0] if len(v) == 1 else tuple(v)

    kwargs = dict(kernel_size=one(args.kernel), padding=one(args.padding),
                  ceil_mode=args.ceil_mode, axes=axes)
    if args.stride is not None:
        kwargs["stride"] = one(args.stride)
    return getattr(cd, name)(x, **kwargs)


def _temporary(path: str) -> str:
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(head, f".{tail}.partial-{os.getpid()}")


def _remove(path: str):
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)


def _scheduler(args):
    """(compute keyword arguments, a client to close or None)."""
    if args.scheduler in ("threads", "processes", "synchronous"):
        kw = {"scheduler": args.scheduler}
        if args.workers:
            kw["num_workers"] = args.workers
        return kw, None
    try:
        from distributed import Client
    except ImportError:
        raise BatchError("--scheduler ADDRESS needs the distributed package "
                         "(pip install \"cpool[dask]\")") from None
    try:
        client = Client(args.scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:
        raise BatchError(f"--scheduler {args.scheduler!r}: no scheduler there ({exc})") from None
    return {}, client


def _zarr_aligned(result):
    """``result`` with chunks that zarr chunks of each axis's largest block can hold one to a
    block: equal blocks, but for a smaller last one. Pooled blocks are uneven where the input's
    chunks are not whole strides (2, 1, 1, 2, ... outputs), and a block that straddled two zarr
    chunks shared them with its neighbours: written concurrently (each write of part of a
    chunk reads, changes and writes the whole chunk), one block's values were lost, and max
    3x3 s3 over chunks of 4 lost about 14 % of the output in every run. Such a result is
    rechunked to equal blocks, which dask does block by block, in bounded memory."""
    def even(sizes):
        return all(c == sizes[0] for c in sizes[:-1]) and sizes[-1] <= sizes[0]

    if result.size == 0 or all(even(c) for c in result.chunks):
        return result
    return result.rechunk(tuple(max(c) for c in result.chunks))


def _store(result, target, out_path, tmp, args):
    """Write ``result`` into ``target`` (a memory map or a zarr array), with a progress bar."""
    import dask
    import dask.array as da

    kw, client = _scheduler(args)
    try:
        stored = da.store(result, target, lock=False, compute=False)
        if client is not None:
            future = client.compute(stored)
            if not args.quiet:
                from distributed import progress

                # distributed's text bar writes to stdout; stdout is for results.
                with contextlib.redirect_stdout(sys.stderr):
                    progress(future, notebook=False)
                print(file=sys.stderr)
            future.result()
        elif args.quiet:
            dask.compute(stored, **kw)
        else:
            from dask.diagnostics import ProgressBar

            with ProgressBar(out=sys.stderr, dt=0.5):
                dask.compute(stored, **kw)
    finally:
        if client is not None:
            client.close()


def _chunks_joined(argv: List[str]) -> List[str]:
    """``--chunks VALUE`` as ``--chunks=VALUE`` where VALUE starts with ``-`` and a digit
    (``-1,8``): argparse takes a token that starts with ``-`` and is not a plain negative number
    for an option, and the help's own "-1: whole axis" failed as "expected one argument"."""
    out: List[str] = []
    for arg in argv:
        if out and out[-1] == "--chunks" and arg[:1] == "-" and arg[1:2].isdigit():
            out[-1] = f"--chunks={arg}"
        else:
            out.append(arg)
    return out


def run(argv: List[str]) -> int:
    args = _parser().parse_args(_chunks_joined(argv))
    try:
        import dask  # noqa: F401
    except ImportError:
        print("python -m cpool pool: needs Dask: pip install \"cpool[dask]\"", file=sys.stderr)
        return 2
    tmp = None
    try:
        if os.path.exists(args.output) and not args.overwrite:
            raise BatchError(f"OUT {args.output!r} exists (pass --overwrite to replace it)")
        if os.path.abspath(args.output) == os.path.abspath(args.input):
            raise BatchError("OUT must not be IN")
        x = _open_input(args.input, args.chunks)
        try:
            result = _pooled(args, x)
        except (ValueError, TypeError) as exc:
            raise BatchError(str(exc)) from None
        head = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(head):
            raise BatchError(f"OUT's folder {head!r} does not exist")
        free = shutil.disk_usage(head).free
        if result.nbytes > free:
            raise BatchError(f"not enough space for OUT: it needs {result.nbytes} bytes, "
                             f"{free} are free in {head!r}", 1)
        tmp = _temporary(args.output)
        start = time.perf_counter()
        target: Any  # a NpyFile or a zarr array
        if _is_npy(args.output):
            target = NpyFile.create(tmp, result.shape, result.dtype)
        else:
            import zarr

            result = _zarr_aligned(result)
            target = zarr.create_array(tmp, shape=result.shape, dtype=result.dtype,
                                       chunks=tuple(max(c) if c else 1 for c in result.chunks))
        _store(result, target, args.output, tmp, args)
        if os.path.exists(args.output):
            _remove(args.output)
        os.replace(tmp, args.output)
        tmp = None
        if not args.quiet:
            seconds = time.perf_counter() - start
            print(f"wrote {args.output} {tuple(result.shape)} {result.dtype} in {seconds:.1f} s "
                  f"({(x.nbytes + result.nbytes) / seconds / 1e6:.0f} MB/s read + written)",
                  file=sys.stderr)
        return 0
    except BatchError as exc:
        print(f"python -m cpool pool: {exc}", file=sys.stderr)
        return exc.status
    except OSError as exc:
        print(f"python -m cpool pool: writing {args.output!r} failed: {exc.strerror or exc}; "
              f"nothing was left at OUT", file=sys.stderr)
        return 1
    finally:
        if tmp is not None:
            _remove(tmp)
