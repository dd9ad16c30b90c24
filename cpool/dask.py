"""Pooling of Dask arrays: every cpool op, lazily, block by block, equal to the in-memory result.

``cpool.dask.max_pool2d(d, 2)`` takes a :class:`dask.array.Array` and returns one, with the
arguments (names, defaults, validation, errors) of :func:`cpool.max_pool2d`. Nothing is read or
computed until the result is; on compute, the result equals ``cpool.max_pool2d(d.compute(), 2)``
for any chunking of ``d``: bit for bit for max values and indices, integer sums and stochastic
draws, to float rounding for float sums and averages. ``import cpool`` does not import Dask;
this module does (the ``dask`` extra: ``pip install "cpool[dask]"``).

How the blocks are made
-----------------------
* Axes that are not pooled (batch axes) keep the input's chunks: one output block per input
  block, so a chain of pooling layers stays lazy and streams.
* Windowed ops (max, avg, sum, LP, stochastic): along a pooled axis cut into chunks, output block
  ``j`` holds the outputs whose windows start in input chunk ``j`` (:func:`_output_blocks`). Its
  task reads exactly the cells those windows cover, the chunk and a right-hand halo of about
  ``dilation * (k - 1) + 1 - stride`` cells, from as many chunks as it spans (a chunk smaller than
  the kernel is no problem), and pools them with the padding that lies at the array's true edges
  (:func:`_span`). No rechunking; indices become positions in the whole plane, and stochastic
  pooling draws from each output's position in the whole output.
* Global ops: a partial result per input block, combined in a tree (:data:`_SPLIT_EVERY` at a
  time): max by value, then position (the in-memory scan's rules: ties keep the first, NaN the
  last), integer sums exactly, float sums and averages from float64 sums rounded once.
* Gradients of avg, sum and LP pooling over chunked pooled axes: gradient block ``j`` starts
  where output block ``j``'s windows do (LP: x's chunks); its task takes the gradient of the
  outputs whose windows reach it (a halo of output cells), spreads it over their span with the
  padding at the true edges, and keeps its own cells (:func:`_windowed_backward`).
* Adaptive and fractional pooling (windows at no fixed step) and the gradients that scatter at
  indices (max, stochastic, adaptive, fractional, global, ``max_unpool``): every task takes
  whole planes (the pooled axes are joined into one chunk) and a batch block.

A block whose items are not aligned (distributed's workers may deserialise a block sent from
another process at any byte offset) is pooled a slab of planes at a time through one aligned
buffer, rather than as an aligned copy of the whole block (:func:`_realigned`).

Each task calls the in-memory op with ``num_threads=1`` unless told otherwise: Dask's workers
are the parallelism, and a task's OpenMP team on top of them would oversubscribe the cores.
"""
import functools
import inspect
import math
import operator
import string
from typing import Any, Callable, Dict, List, NamedTuple, Sequence, Tuple

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

import cpool
from cpool import _api
from cpool import _validation as _v

# Partial results of a global op combined per task: a tree of this fan-in.
_SPLIT_EVERY = 8

__all__: List[str] = []  # filled below: the names of cpool's ops that take a Dask array


# ---------------------------------------------------------------------------------------------
# window geometry of blocks (from the one geometry helper's bounds)
# ---------------------------------------------------------------------------------------------
class _Span(NamedTuple):
    """What output block ``o0 .. o1 - 1`` reads along one axis: input cells ``lo .. hi - 1``,
    pooled with ``pad`` (before, after) cells of padding."""

    lo: int
    hi: int
    pad: Tuple[int, int]


def _reach(geom: "_v.Geometry", i: int) -> int:
    """Cells one window covers along spatial axis ``i``: dilation * (kernel - 1) + 1."""
    return geom.dilation[i] * (geom.kernel[i] - 1) + 1


def _span(geom: "_v.Geometry", i: int, size: int, o0: int, o1: int) -> _Span:
    """The input span of outputs ``o0 .. o1 - 1`` along spatial axis ``i`` (``size`` cells).

    The op on that span, with that padding and the call's ``ceil_mode``, gives exactly these
    outputs: window ``o`` starts at ``o * stride - pad_before`` in the array, so at
    ``(o - o0) * stride - pad`` in the span. The block holding the last output keeps the
    array's right padding and runs to its end, where the ceil-mode rules give the same last
    window; any other block ends at its last window's end (a window that reaches into the right
    padding gets just that much padding, so average divisors count the same cells)."""
    w = geom.windows[i]
    start = o0 * geom.stride[i] - w.pad_before
    lo = max(0, start)
    if o1 == w.out_size:
        return _Span(lo, size, (lo - start, w.pad_after))
    end = (o1 - 1) * geom.stride[i] - w.pad_before + _reach(geom, i)
    hi = min(size, end)
    return _Span(lo, hi, (lo - start, end - hi))


def _output_blocks(geom: "_v.Geometry", i: int, chunks: Sequence[int]) -> List[Tuple[int, int]]:
    """Output blocks along spatial axis ``i``: block ``j`` holds the outputs whose windows start
    in input chunk ``j`` (before its end), the first block those in the padding too and the last
    those up to the end. Chunks where no window starts give no block."""
    w, s = geom.windows[i], geom.stride[i]
    edges = np.cumsum(chunks)[:-1]
    bounds = [0] + [min(w.out_size, max(0, -(-(int(c) + w.pad_before) // s))) for c in edges]
    bounds.append(w.out_size)
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _chunks_of(chunks: Sequence[int], lo: int, hi: int) -> Tuple[range, int]:
    """The chunks (by number) that cells ``lo .. hi - 1`` lie in, and where the first starts."""
    edges = np.concatenate(([0], np.cumsum(chunks)))
    first = int(np.searchsorted(edges, lo, side="right")) - 1
    last = int(np.searchsorted(edges, hi, side="left")) - 1
    return range(first, max(first, last) + 1), int(edges[first])


def _assemble(parts, axes: Sequence[int]) -> np.ndarray:
    """One array from nested lists of blocks, nested along ``axes`` in order."""
    if not axes:
        return parts
    pieces = [_assemble(p, axes[1:]) for p in parts]
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=axes[0])


def _plane_positions(idx: np.ndarray, local: Sequence[int], origin: Sequence[int],
                     sizes: Sequence[int]) -> np.ndarray:
    """Flat positions in a block of shape ``local`` (spatial, row-major) as positions in the
    whole plane of ``sizes``, the block starting at ``origin``. -1 (a dilated max window with
    no real cell, which has none in the whole array either: a block holds every tap of its
    windows) stays -1."""
    if tuple(local) == tuple(sizes):
        return idx
    empty = idx < 0
    masked = bool(empty.any())  # else, as a rule, no pass to mask
    coords = np.unravel_index(np.where(empty, 0, idx) if masked else idx, tuple(local))
    whole = np.ravel_multi_index(tuple(c + o for c, o in zip(coords, origin)), tuple(sizes))
    return np.where(empty, -1, whole) if masked else whole


# ---------------------------------------------------------------------------------------------
# graphs
# ---------------------------------------------------------------------------------------------
def _arrays(prefix: str, tasks: Dict[tuple, tuple], chunks, metas, source, token,
            extra=None) -> tuple:
    """Dask arrays of the blocks ``tasks`` make (block index -> task; a task makes a tuple of
    len(metas) arrays when there is more than one), with ``chunks``; ``extra`` tasks (by key)
    go into the same graph layer."""
    name = f"{prefix}-{token}"
    whole = name if len(metas) == 1 else name + "-all"  # the layer of the tasks themselves
    dsk = {(whole,) + idx: task for idx, task in tasks.items()}
    dsk.update(extra or {})
    sources = source if isinstance(source, list) else [source]
    graph = HighLevelGraph.from_collections(whole, dsk, dependencies=sources)  # type: ignore[arg-type]
    if len(metas) == 1:
        return (da.Array(graph, name, chunks, meta=metas[0]),)
    # Several results: each array's blocks in a layer of its own name, which a later graph
    # built on that array names as its dependency (in one layer under another name, the
    # indices fed to a gradient made dask's graph fail with a KeyError on that name).
    layers, deps = dict(graph.layers), dict(graph.dependencies)
    names = [f"{name}-{k}" for k in range(len(metas))]
    for k, part in enumerate(names):
        layers[part] = MaterializedLayer({(part,) + idx: (operator.getitem, (whole,) + idx, k)
                                          for idx in tasks})
        deps[part] = {whole}
    graph = HighLevelGraph(layers, deps)
    return tuple(da.Array(graph, part, chunks, meta=meta) for part, meta in zip(names, metas))


def _result(arrays: tuple):
    return arrays[0] if len(arrays) == 1 else arrays


def _batch_blocks(d, spatial: Sequence[int]):
    """Every block index of ``d`` along its batch axes (the spatial ones left as None)."""
    ranges = [range(1) if a in spatial else range(len(c)) for a, c in enumerate(d.chunks)]
    for idx in np.ndindex(*[len(r) for r in ranges]):
        yield tuple(None if a in spatial else i for a, i in enumerate(idx))


def _offsets(chunks, idx) -> Tuple[int, ...]:
    return tuple(int(sum(c[:i])) for c, i in zip(chunks, idx))


# ---------------------------------------------------------------------------------------------
# windowed ops
# ---------------------------------------------------------------------------------------------
def _window_block(parts, axes, cut, call, pads, index_fix, origin):
    """One output block of a windowed op: the blocks ``parts`` joined along the pooled
    ``axes``, cut to the span, pooled by ``call(x, pads, origin)``; indices made positions in
    the whole plane (``index_fix``: the span's shape, its start, the plane's sizes)."""
    x = _assemble(parts, axes)[cut]
    if origin is None:  # stochastic pooling (draws placed by origin) takes the whole block
        result = _realigned(lambda b, out=None: call(b, pads, origin, out=out), x, axes)
    else:
        result = call(x, pads, origin)
    if index_fix is None or not isinstance(result, tuple):
        return result
    values, idx = result
    return values, _plane_positions(idx, *index_fix)


def _call_op(op, kwargs, padded, x, pads, origin, out=None):
    """``op(x, **kwargs)``, with per-side ``pads`` where the op takes padding, into ``out``
    when given."""
    if padded:
        kwargs = dict(kwargs, padding=tuple(pads))
    if out is not None:
        kwargs = dict(kwargs, out=out)
    return op(x, **kwargs)


# The input a slab at a time when a block is misaligned (see _realigned): slabs of about
# this many bytes, which stay in cache between their copy and their pooling. Of slabs of
# 0.2-3.2 MB on the 2-core machine, 1.6 MB were the fastest: smaller ones cost more calls,
# larger ones more misses.
_SLAB_BYTES = 2 << 20


def _realigned(fn, x, axes):
    """``fn(x)``, an op over the pooled ``axes`` that takes ``out=``; for an ``x`` whose items
    are not aligned, a slab of whole planes at a time.

    Why: distributed's workers deserialise a block sent from another process at whatever
    offset its frame lands on (an odd byte offset is common), and the kernels, which address
    items through typed pointers, then work on an aligned copy of the whole block: on a
    (8, 256, 112, 112) float32 block, max 2x2 took 34-47 ms in a worker against 9-12 ms
    aligned, the copy's writes and fresh pages costing more than the pooling. Here each slab
    (outer batch axes an index at a time, the next batch axis in runs of about
    :data:`_SLAB_BYTES`) is copied into one reused buffer, where it stays in cache for its
    pooling, and its outputs go straight into the block's result (``out=``). Slabs hold whole
    planes, so every output is the one the whole block gives."""
    pooled = {ax % x.ndim for ax in axes}
    batch = [a for a in range(x.ndim) if a not in pooled and x.shape[a] > 1]
    if not batch or _v._aligned(x):
        return fn(x)
    k, per = 0, x.nbytes // x.shape[batch[0]]  # bytes of one index of axis batch[k]
    while per > _SLAB_BYTES and k + 1 < len(batch):
        k += 1
        per //= x.shape[batch[k]]
    outer, a = batch[:k], batch[k]
    step = max(1, _SLAB_BYTES // max(1, per))
    if not outer and step >= x.shape[a]:
        return fn(x)

    def slab_of(index, lo, hi):
        sel = [slice(None)] * x.ndim
        for b, i in zip(outer, index):
            sel[b] = slice(i, i + 1)
        sel[a] = slice(lo, hi)
        return tuple(sel)

    slabs = [slab_of(index, lo, min(lo + step, x.shape[a]))
             for index in np.ndindex(*(x.shape[b] for b in outer))
             for lo in range(0, x.shape[a], step)]
    scratch = _v.empty(x[slabs[0]].shape, x.dtype)

    def copied(sel):  # the slab ``sel`` of x in the aligned buffer
        buffer = scratch[(slice(None),) * a + (slice(0, sel[a].stop - sel[a].start),)]
        np.copyto(buffer, x[sel])
        return buffer

    first = fn(copied(slabs[0]))  # its result gives the results' dtypes and shapes
    parts = first if isinstance(first, tuple) else (first,)
    results = tuple(_v.empty(tuple(x.shape[d] if d in outer or d == a else n
                                   for d, n in enumerate(p.shape)), p.dtype) for p in parts)
    for r, p in zip(results, parts):
        r[slabs[0]] = p
    for sel in slabs[1:]:
        out = tuple(r[sel] for r in results)
        fn(copied(sel), out=out if isinstance(first, tuple) else out[0])
    return results if isinstance(first, tuple) else results[0]


def _call_stochastic(kwargs, x, pads, origin):
    """stochastic_pool2d on a span, its draws placed at ``origin`` in the whole output:
    (batch offsets, whole batch shape, whole output rows, first row, first column)."""
    offsets, batch, rows, row0, col0 = origin
    local = _v.without_axes(x.shape, kwargs["axes"])
    planes = np.ravel_multi_index(
        tuple(i + o for i, o in zip(np.indices(local).reshape(len(local), -1), offsets)), batch
    ) if local else np.zeros(1, np.int64)
    row_origin = np.ascontiguousarray(planes, dtype=np.int64) * rows + row0
    return _api._stochastic_pool(
        "stochastic_pool2d", x, kwargs["kernel_size"], kwargs["stride"], tuple(pads),
        kwargs["training"], None, kwargs["return_indices"], kwargs["axes"], None,
        kwargs["num_threads"], kwargs["ceil_mode"], row_origin.ravel(), col0, kwargs["key"])


def _windowed(name: str, n: int, d, args: Dict[str, Any], metas: tuple):
    """A windowed op over a Dask array: one task per output block (see the module notes)."""
    axes = args["axes"]
    geom = _v._geometry(name, d.shape, axes, args["kernel_size"], args.get("stride"),
                        args.get("padding", 0), args.get("dilation", 1),
                        args.get("ceil_mode", False))
    sizes = tuple(d.shape[a] for a in axes)
    blocks = [_output_blocks(geom, i, d.chunks[a]) for i, a in enumerate(axes)]
    stochastic = name == "stochastic_pool2d"
    with_indices = len(metas) == 2
    kwargs = {k: v for k, v in args.items() if k != "x"}
    if stochastic:
        call = functools.partial(_call_stochastic, kwargs)
    else:
        call = functools.partial(_call_op, getattr(cpool, name), kwargs, "padding" in kwargs)
    batch_shape = _v.without_axes(d.shape, axes)
    tasks = {}
    for batch_idx in _batch_blocks(d, axes):
        for spatial_idx in np.ndindex(*[len(b) for b in blocks]):
            spans = [_span(geom, i, sizes[i], *blocks[i][j]) for i, j in enumerate(spatial_idx)]
            picks, cut = [], [slice(None)] * d.ndim
            for i, (a, s) in enumerate(zip(axes, spans)):
                numbers, first = _chunks_of(d.chunks[a], s.lo, s.hi)
                picks.append(numbers)
                cut[a] = slice(s.lo - first, s.hi - first)
            parts = _nested_keys(d.name, batch_idx, axes, picks)
            idx = list(batch_idx)
            for a, j in zip(axes, spatial_idx):
                idx[a] = j
            index_fix = ((tuple(s.hi - s.lo for s in spans), tuple(s.lo for s in spans), sizes)
                         if with_indices else None)
            origin = None
            if stochastic:
                batch_offsets = _v.without_axes(_offsets(d.chunks, [i or 0 for i in batch_idx]),
                                                axes)
                origin = (batch_offsets, batch_shape, geom.windows[0].out_size,
                          blocks[0][spatial_idx[0]][0], blocks[1][spatial_idx[1]][0])
            tasks[tuple(idx)] = (_window_block, parts, list(axes), tuple(cut), call,
                                 [s.pad for s in spans], index_fix, origin)
    chunks = list(d.chunks)
    for a, b in zip(axes, blocks):
        chunks[a] = tuple(o1 - o0 for o0, o1 in b)
    return _result(_arrays(name, tasks, tuple(chunks), metas, d,
                           tokenize(name, d, sorted(args.items(), key=str))))


def _nested_keys(name: str, batch_idx, axes, picks):
    """The keys of the blocks of ``name`` at ``batch_idx`` and the chunk numbers ``picks`` along
    ``axes``, nested along ``axes`` in order."""
    def nest(level, idx):
        if level == len(axes):
            return (name,) + tuple(idx)
        out = []
        for j in picks[level]:
            idx[axes[level]] = j
            out.append(nest(level + 1, idx))
        return out
    return nest(0, list(batch_idx))


# ---------------------------------------------------------------------------------------------
# global ops: partial results per block, combined in a tree
# ---------------------------------------------------------------------------------------------
def _global_partial(x, kind, axes, origin, sizes, num_threads):
    """A block's partial result, spatial axes kept (size 1): (max, its position in the whole
    plane) for 'max', the exact 64-bit sum of integers for 'sum', else the float64 sum.

    Float sums stay in float64 until the plane's last partial is added, then round once to
    the input's dtype, as the in-memory kernel's do: partials rounded to float16 (or float32)
    and added in it drifted by several of its ulps over a few blocks (a float16 plane of
    three blocks: 38.5 for 38.47). A block that holds whole planes is summed by the
    in-memory kernel (its bits; exact in float64, where it is the only partial)."""
    if kind == "max":
        n = len(axes)
        op = {1: cpool.global_max_pool1d, 2: cpool.global_max_pool2d,
              3: cpool.global_max_pool3d}[n]
        values, idx = _realigned(functools.partial(
            op, keepdims=True, return_indices=True, axes=axes, num_threads=num_threads), x, axes)
        local = tuple(x.shape[a] for a in axes)
        return values, _plane_positions(idx, local, origin, sizes)
    whole = tuple(x.shape[a] for a in axes) == tuple(sizes)
    if kind == "sum" and (x.dtype.kind != "f" or whole):
        op = {1: cpool.global_sum_pool1d, 2: cpool.global_sum_pool2d,
              3: cpool.global_sum_pool3d}[len(axes)]
        total = _realigned(functools.partial(op, keepdims=True, axes=axes,
                                             num_threads=num_threads), x, axes)
        return total.astype(np.float64) if x.dtype.kind == "f" else total
    return np.sum(x, axis=tuple(axes), dtype=np.float64, keepdims=True)


def _combine(partials, kind):
    """Partial results of one batch block combined. Max: the larger value, on a tie the
    smaller position (the first in the scan), and any NaN over a number, the NaN at the larger
    position (the scan's last NaN), whatever order the partials come in."""
    if kind != "max":
        return functools.reduce(np.add, partials)
    values, idx = partials[0]
    values, idx = values.copy(), idx.copy()
    for v, i in partials[1:]:
        if values.dtype.kind in "fc":
            nan_now, nan_new = np.isnan(values), np.isnan(v)
            take = nan_new & (~nan_now | (i > idx))
            take |= ~nan_now & ~nan_new & ((v > values) | ((v == values) & (i < idx)))
        else:
            take = (v > values) | ((v == values) & (i < idx))
        np.copyto(values, v, where=take)
        np.copyto(idx, i, where=take)
    return values, idx


def _global_finish(partial, kind, axes, keepdims, with_indices, count, dtype):
    """The combined partial result as the op's: spatial axes dropped unless ``keepdims``, the
    average divided, indices kept or dropped."""
    def shaped(a):
        return a if keepdims else a.reshape(_v.without_axes(a.shape, axes))
    if kind == "max":
        values, idx = partial
        return (shaped(values), shaped(idx)) if with_indices else shaped(values)
    with np.errstate(over="ignore"):  # a float16 sum past its range is inf, silently
        if kind == "avg":
            return shaped((partial / count).astype(dtype))
        return shaped(partial.astype(dtype, copy=False))


def _global(name: str, kind: str, d, axes, keepdims: bool, with_indices: bool, num_threads,
            metas: tuple):
    """A global op over a Dask array: a partial result per block, combined per batch block in
    a tree of fan-in :data:`_SPLIT_EVERY`."""
    sizes = tuple(d.shape[a] for a in axes)
    token = tokenize(name, d, axes, keepdims, with_indices, num_threads)
    part_name = f"{name}-partial-{token}"
    partials: Dict[Tuple[str, int], tuple] = {}
    tasks: Dict[Tuple[int, ...], tuple] = {}
    for batch_idx in _batch_blocks(d, axes):
        level = []
        for spatial_idx in np.ndindex(*[len(d.chunks[a]) for a in axes]):
            if any(d.chunks[a][j] == 0 for a, j in zip(axes, spatial_idx)):
                continue  # an empty block adds nothing (and a global max of it is an error)
            idx = list(batch_idx)
            for a, j in zip(axes, spatial_idx):
                idx[a] = j
            origin = _offsets([d.chunks[a] for a in axes], spatial_idx)
            key = (part_name, len(partials))
            partials[key] = (_global_partial, (d.name,) + tuple(idx), kind, list(axes), origin,
                             sizes, num_threads)
            level.append(key)
        while len(level) > 1:
            nxt = []
            for g in range(0, len(level), _SPLIT_EVERY):
                key = (part_name, len(partials))
                partials[key] = (_combine, level[g:g + _SPLIT_EVERY], kind)
                nxt.append(key)
            level = nxt
        out_idx = tuple(0 if i is None else i for a, i in enumerate(batch_idx)
                        if keepdims or a not in axes)
        tasks[out_idx] = (_global_finish, level[0], kind, list(axes), keepdims, with_indices,
                          math.prod(sizes), metas[0].dtype)
    chunks = tuple((1,) if a in axes else c for a, c in enumerate(d.chunks)
                   if keepdims or a not in axes)
    return _result(_arrays(name, tasks, chunks, metas, d, token, partials))


# ---------------------------------------------------------------------------------------------
# whole planes per task: adaptive, fractional, gradients
# ---------------------------------------------------------------------------------------------
_LETTERS = string.ascii_letters


def _planewise_block(op, kwargs, names, spatial_out, axes, *blocks):
    """The in-memory op on one batch block of whole planes, the arrays ``blocks`` passed as the
    arguments ``names``; a gradient's ``input_shape`` becomes the block's batch sizes and the
    whole planes' sizes ``spatial_out``."""
    if names == ["x"] and op.__name__.startswith("adaptive_"):
        # Adaptive forward ops: every plane's result depends on that plane alone (fractional
        # pooling's draws depend on the plane's position, and come as an array here).
        return _realigned(lambda x, out=None: op(x, out=out, **kwargs), blocks[0], axes)
    kwargs = dict(kwargs, **dict(zip(names, blocks)))
    if "input_shape" in kwargs:
        ndim, first = len(kwargs["input_shape"]), blocks[0]
        batch = iter(_v.without_axes(first.shape, axes) if first.ndim == ndim else first.shape)
        kwargs["input_shape"] = tuple(spatial_out[axes.index(a)] if a in axes else next(batch)
                                      for a in range(ndim))
    return op(**kwargs)


def _planewise(name: str, args: Dict[str, Any], arrays: Dict[str, Any], axes, out_ndim: int,
               spatial_out: Tuple[int, ...], metas: tuple, token: str):
    """The in-memory op over batch blocks of whole planes: every Dask array argument's pooled
    axes joined whole (``concatenate``), its batch axes aligned with the others', one task per
    batch block. Arguments without pooled axes (a global op's gradient, fractional samples)
    share the batch axes only."""
    nb = out_ndim - len(axes)
    batch_letters = _LETTERS[:nb]
    out_ind, b = [], iter(batch_letters)
    for a in range(out_ndim):
        out_ind.append(_LETTERS[26 + axes.index(a)] if a in axes else next(b))
    pairs, names, fresh = [], [], iter(_LETTERS[30:])
    for key, arr in arrays.items():
        if arr.ndim == out_ndim:  # pooled axes at `axes`: joined whole, then contracted
            arr = arr.rechunk({a: -1 for a in axes})
            ind, b = [], iter(batch_letters)
            for a in range(out_ndim):
                ind.append(next(fresh) if a in axes else next(b))
        elif key == "random_samples":  # the batch axes, then one sample per pooled axis
            arr = arr.rechunk({nb: -1})
            ind = list(batch_letters) + [next(fresh)]
        else:  # the batch axes only
            ind = list(batch_letters)
        pairs += [arr, "".join(ind)]
        names.append(key)
    kwargs = {k: v for k, v in args.items() if k not in arrays}
    block = functools.partial(_planewise_block, getattr(cpool, name), kwargs, names,
                              tuple(spatial_out), list(axes))
    meta = metas[0] if len(metas) == 1 else np.empty((0,) * out_ndim, dtype=object)
    out = da.blockwise(block, "".join(out_ind), *pairs, concatenate=True, meta=meta,
                       new_axes={out_ind[a]: s for a, s in zip(axes, spatial_out)},
                       name=f"{name}-{token}")
    if len(metas) == 1:
        return out
    return tuple(out.map_blocks(operator.getitem, k, meta=m, name=f"{name}-{k}-{token}")
                 for k, m in enumerate(metas))


# ---------------------------------------------------------------------------------------------
# gradients of windowed sums (avg, sum, LP) over chunked pooled axes: block by block
# ---------------------------------------------------------------------------------------------
# The gradients whose windows follow from their arguments (not from indices).
_SPREADS = {f"{op}_pool{n}d" for op in ("avg", "sum", "lp") for n in (1, 2, 3)}


def _gradient_blocks(geom: "_v.Geometry", i: int, size: int, grad_chunks, x_chunks):
    """The gradient's blocks along spatial axis ``i``, as (first cell, end) pairs: ``x``'s
    chunks (LP), or else those the gradient's chunks imply: block ``j`` starts where output
    block ``j``'s first window does (at 0 for the first), so a gradient of a forward made
    block by block has blocks like its input's."""
    if x_chunks is not None:
        cuts = [int(e) for e in np.concatenate(([0], np.cumsum(x_chunks)))]
    else:
        w, s = geom.windows[i], geom.stride[i]
        outs = np.cumsum(grad_chunks)[:-1]
        cuts = [0] + [min(size, max(0, int(o) * s - w.pad_before)) for o in outs] + [size]
    edges = sorted(set(cuts))
    return list(zip(edges[:-1], edges[1:]))


def _outputs_touching(geom: "_v.Geometry", i: int, lo: int, hi: int) -> Tuple[int, int]:
    """The outputs along spatial axis ``i`` whose windows reach into cells ``lo .. hi - 1``
    (every one whose span does; with dilation a few more, which add nothing there)."""
    w, s = geom.windows[i], geom.stride[i]
    first = max(0, (lo + w.pad_before - _reach(geom, i)) // s + 1)
    end = min(w.out_size, -(-(hi + w.pad_before) // s))
    return first, end


def _spread_block(grads, xs, axes, grad_cut, x_cut, call, pads, region, block, offset, dtype):
    """One gradient block: the gradient of outputs whose windows reach it, spread over their
    span (``region`` sizes, with ``pads``) by the in-memory gradient, then the block's cells
    ``offset`` into the span taken (cells outside the span get 0)."""
    g = _assemble(grads, axes)[grad_cut]
    x = None if xs is None else _assemble(xs, axes)[x_cut]
    spread = call(g, x, region, pads)
    if spread.shape == tuple(block) and not any(offset):
        return spread
    result = np.zeros(block, dtype)
    src, dst = [slice(None)] * len(block), [slice(None)] * len(block)
    for a, (o, m, r) in offset.items():  # o: block start - span start; m, r: their sizes
        start, stop = max(0, o), min(r, o + m)
        if stop <= start:  # the span misses the block: no window reaches its cells
            return result
        src[a], dst[a] = slice(start, stop), slice(start - o, stop - o)
    result[tuple(dst)] = spread[tuple(src)]
    return result


def _call_spread(op, kwargs, axes, g, x, region, pads):
    """The in-memory gradient of ``g`` over a span of ``region`` sizes, with per-side
    ``pads`` (LP, which takes no padding, reads its span of ``x``)."""
    if x is not None:
        return op(g, x, **kwargs)
    shape = list(g.shape)
    for a, m in zip(axes, region):
        shape[a] = m
    return op(g, tuple(shape), padding=tuple(pads), **kwargs)


def _windowed_backward(name: str, shape, args: Dict[str, Any], metas: tuple):
    """avg/sum/LP gradients over chunked pooled axes: each gradient block takes the gradient of
    the outputs whose windows reach it (a halo of output blocks), spreads it over their span
    with the padding at the array's true edges, and keeps its own cells."""
    axes = args["axes"]
    g = args["grad_output"]
    x: Any = args.get("x")
    lp = x is not None
    geom = _v._geometry(name, shape, axes, args["kernel_size"], args.get("stride"),
                        args.get("padding", 0), args.get("dilation", 1),
                        args.get("ceil_mode", False))
    sizes = tuple(shape[a] for a in axes)
    blocks = [_gradient_blocks(geom, i, sizes[i], g.chunks[a], x.chunks[a] if lp else None)
              for i, a in enumerate(axes)]
    skip = {"grad_output", "x", "input_shape", "padding", "axes"}
    kwargs = {k: v for k, v in args.items() if k not in skip}
    kwargs["axes"] = axes
    if lp:
        kwargs = {k: v for k, v in kwargs.items() if k != "norm_type"}
        kwargs = dict(norm_type=args["norm_type"], **kwargs)
    call = functools.partial(_call_spread, getattr(cpool, name), kwargs, axes)
    source = x if lp else g
    tasks: Dict[Tuple[int, ...], tuple] = {}
    for batch_idx in _batch_blocks(source, axes):
        block_shape = [len(c) and c[i or 0] for c, i in zip(source.chunks, batch_idx)]
        for spatial_idx in np.ndindex(*[len(b) for b in blocks]):
            cells = [blocks[i][j] for i, j in enumerate(spatial_idx)]
            outs = [_outputs_touching(geom, i, *cells[i]) for i in range(len(axes))]
            for a, (lo, hi) in zip(axes, cells):
                block_shape[a] = hi - lo
            idx = list(0 if i is None else i for i in batch_idx)
            for a, j in zip(axes, spatial_idx):
                idx[a] = j
            if any(o1 <= o0 for o0, o1 in outs):  # no window reaches the block
                tasks[tuple(idx)] = (np.zeros, tuple(block_shape), metas[0].dtype)
                continue
            spans = [_span(geom, i, sizes[i], *outs[i]) for i in range(len(axes))]
            grad_picks, grad_cut = [], [slice(None)] * g.ndim
            x_picks, x_cut = [], [slice(None)] * g.ndim
            for i, a in enumerate(axes):
                numbers, first = _chunks_of(g.chunks[a], *outs[i])
                grad_picks.append(numbers)
                grad_cut[a] = slice(outs[i][0] - first, outs[i][1] - first)
                if lp:
                    numbers, first = _chunks_of(x.chunks[a], spans[i].lo, spans[i].hi)
                    x_picks.append(numbers)
                    x_cut[a] = slice(spans[i].lo - first, spans[i].hi - first)
            g_batch = tuple(None if a in axes else i for a, i in enumerate(idx))
            grads = _nested_keys(g.name, g_batch, axes, grad_picks)
            xs = _nested_keys(x.name, g_batch, axes, x_picks) if lp else None
            offset = {a: (lo - s.lo, hi - lo, s.hi - s.lo)
                      for a, (lo, hi), s in zip(axes, cells, spans)}
            tasks[tuple(idx)] = (_spread_block, grads, xs, list(axes), tuple(grad_cut),
                                 tuple(x_cut), call, [s.pad for s in spans],
                                 tuple(s.hi - s.lo for s in spans), tuple(block_shape), offset,
                                 metas[0].dtype)
    chunks = list(source.chunks)
    for a, b in zip(axes, blocks):
        chunks[a] = tuple(hi - lo for lo, hi in b)
    deps = [g, x] if lp else [g]
    return _result(_arrays(name, tasks, tuple(chunks), metas, deps,
                           tokenize(name, sorted(args.items(), key=str))))


# ---------------------------------------------------------------------------------------------
# the public functions: cpool's signatures, Dask arrays in and out
# ---------------------------------------------------------------------------------------------
def _stand_ins(args: Dict[str, Any], arrays: Dict[str, Any], axes, ndim: int):
    """Arguments with every Dask array replaced by an empty NumPy array of its dtype whose
    first batch axis is 0 long (a new leading one where there is none; ``axes`` and
    ``input_shape`` then move with it): the in-memory op checks them all and reads nothing."""
    batch = [a for a in range(ndim) if a not in axes]
    kwargs = dict(args)
    for key, arr in arrays.items():
        shape = list(arr.shape)
        if batch:
            shape[0 if arr.ndim < ndim else batch[0]] = 0
        else:
            shape.insert(0, 0)
        kwargs[key] = np.empty(tuple(shape), arr.dtype)
    if not batch:
        kwargs["axes"] = tuple(a + 1 for a in axes)
    if "input_shape" in kwargs:
        shape = list(kwargs["input_shape"])
        if batch:
            shape[batch[0]] = 0
        else:
            shape.insert(0, 0)
        kwargs["input_shape"] = tuple(shape)
    return kwargs


def _normalised(op_name: str, bound: Dict[str, Any], x_name: str, n: int):
    """The pooled axes of the array argument ``x_name`` (or of ``input_shape``), normalised."""
    if "input_shape" in bound:
        shape, axes = _v.input_shape_arg(bound["input_shape"], bound["axes"], op_name, n)
        return tuple(shape), axes
    x = bound[x_name]
    return x.shape, _v.spatial_axes(bound["axes"], x.ndim, op_name, n)


def _as_dask(value, name: str, op_name: str):
    """``value`` as a Dask array with known chunk sizes (NumPy arrays wrapped)."""
    if isinstance(value, da.Array):
        if any(math.isnan(c) for chunks in value.chunks for c in chunks):
            raise ValueError(
                f"cpool.dask.{op_name}: `{name}` has unknown chunk sizes {value.chunks}; "
                f"call its compute_chunk_sizes() first")
        return value
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        # The in-memory ops' conversion: a masked array's masked elements are an error there.
        return da.from_array(_v.as_array(value, name, f"cpool.dask.{op_name}"))
    raise TypeError(f"cpool.dask.{op_name}: `{name}` must be a dask or NumPy array, "
                    f"got {type(value).__name__}")


_FAMILY = {
    "max_pool": "window", "avg_pool": "window", "sum_pool": "window", "lp_pool": "window",
    "stochastic_pool": "window", "global_max_pool": "global", "global_avg_pool": "global",
    "global_sum_pool": "global", "adaptive_max_pool": "planes", "adaptive_avg_pool": "planes",
    "fractional_max_pool": "planes",
}


def _dispatch(op_name: str, sig: inspect.Signature, *a, **kw):
    """cpool.dask's ``op_name`` called with ``a`` and ``kw``: the arguments bound to cpool's
    signature ``sig`` and checked (the in-memory op on empty stand-ins), then the graph of the
    op's family: windowed blocks, a global tree, spread gradient blocks, or whole planes."""
    try:
        bound = sig.bind(*a, **kw)
    except TypeError as exc:  # inspect's message names neither the function nor cpool.dask
        raise TypeError(f"cpool.dask.{op_name}: {exc}") from None
    bound.apply_defaults()
    args = dict(bound.arguments)
    if args.get("num_threads") is None:
        args["num_threads"] = 1
    n = int(op_name.split("pool")[-1][0])  # max_pool2d, max_unpool3d, lp_pool1d_backward
    array_names: List[str] = [k for k in ("x", "grad_output", "indices") if k in args]
    if args.get("random_samples") is not None:
        array_names.append("random_samples")
    arrays = {k: _as_dask(args[k], k, op_name) for k in array_names}
    args.update(arrays)
    shape, axes = _normalised(op_name, args, array_names[0], n)
    args["axes"] = axes
    ndim = len(shape)
    op = getattr(cpool, op_name)
    backward = op_name.endswith("_backward") or op_name.startswith("max_unpool")
    family = "planes" if backward else _FAMILY[op_name[:-2]]
    if op_name.startswith("fractional") and not backward:
        _fractional_samples_as_array(op_name, args, arrays, shape, axes, n)
    key = None
    if op_name == "stochastic_pool2d":
        # The generator's key, drawn once now (seed None: fresh entropy; a Generator: one
        # draw, as in memory): every block, and every compute of the result, draws with it.
        training = _v._flag("training", args["training"], op_name)
        key = _v.stochastic_key(args["seed"], op_name) if training else 0
        args["seed"] = 0  # checked; the stand-in's draws are never used
    stand_ins = _stand_ins(args, arrays, axes, ndim)
    result = op(**stand_ins)
    results = result if isinstance(result, tuple) else (result,)
    metas = tuple(np.empty((0,) * r.ndim, r.dtype) for r in results)
    if family == "window":
        return _windowed(op_name, n, args["x"], args if key is None else dict(args, key=key),
                         metas)
    if family == "global" or (op_name.startswith("adaptive") and not backward
                              and _v.is_global_size(args["output_size"])):
        keepdims = args.get("keepdims", family != "global")  # adaptive: the 1x1 kept
        return _global(op_name, op_name.split("_")[1], args["x"], axes, keepdims,
                       bool(args.get("return_indices", False)), args["num_threads"], metas)
    if "x" in args and "grad_output" in args:  # LP: the gradient's batch blocks are x's
        args["grad_output"] = arrays["grad_output"] = args["grad_output"].rechunk(
            {a: c for a, c in enumerate(args["x"].chunks) if a not in axes})
    if backward and op_name[:-len("_backward")] in _SPREADS:
        spread_by = args.get("x", args["grad_output"])  # LP's gradient follows x's blocks
        if any(len(spread_by.chunks[a]) > 1 for a in axes):
            return _windowed_backward(op_name, shape, args, metas)
    out_axes = stand_ins["axes"]
    spatial_out = tuple(results[0].shape[a] for a in out_axes)
    token = tokenize(op_name, sorted(((k, v) for k, v in args.items()), key=str))
    return _planewise(op_name, args, arrays, axes, ndim, spatial_out, metas, token)


def _fractional_samples_as_array(op_name, args, arrays, shape, axes, n):
    """Fractional pooling's per-plane samples for the whole batch, as a Dask array beside ``x``
    (drawn from ``seed`` as in memory, or the given ones checked), so each block takes its
    planes' samples: the same windows as in memory for any chunking."""
    x = args["x"]
    batch = _v.without_axes(shape, axes)
    samples = args.get("random_samples")
    if isinstance(samples, da.Array):
        samples = samples.compute()
    # As in memory: PyTorch's intervals are computed in the input's float dtype.
    dtype = (x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)).newbyteorder("=")
    u = _v._fractional_samples(op_name, samples, args.get("seed"), batch, n, dtype)
    args["seed"] = None
    args["random_samples"] = arrays["random_samples"] = da.from_array(
        u.reshape(tuple(batch) + (n,)), chunks=tuple(
            c for a, c in enumerate(x.chunks) if a not in axes) + ((n,),))


# Each op's example: (forward op, its arguments after the array, the call of the documented
# op: on `d` for a forward op, or on `g` / `i` (the forward's result and indices, chunked) and
# `x` for a gradient).
_EXAMPLE_FORWARD = {
    "max_pool": "2", "avg_pool": "2", "sum_pool": "2", "lp_pool": "2, 2",
    "stochastic_pool": "2, seed=0", "global_max_pool": "", "global_avg_pool": "",
    "global_sum_pool": "", "adaptive_max_pool": "3", "adaptive_avg_pool": "3",
    "fractional_max_pool": "2, output_size=3, seed=0", "max_unpool": "2",
}
_EXAMPLE_BACKWARD = {
    "max_pool": "g, i, x.shape", "stochastic_pool": "g, i, x.shape",
    "global_max_pool": "g, i, x.shape", "adaptive_max_pool": "g, i, x.shape",
    "fractional_max_pool": "g, i, x.shape", "avg_pool": "g, x.shape, 2",
    "sum_pool": "g, x.shape, 2", "global_avg_pool": "g, x.shape", "global_sum_pool": "g, x.shape",
    "adaptive_avg_pool": "g, x.shape", "lp_pool": "g, x, 2, 2", "max_unpool": "g, i, 2",
}
_WITH_INDICES = ("max_pool", "stochastic_pool", "global_max_pool", "adaptive_max_pool",
                 "fractional_max_pool", "max_unpool")


def _example(op_name: str) -> str:
    """A doctest of ``op_name`` on a small chunked array against the in-memory op."""
    n = int(op_name.split("pool")[-1][0])
    family = op_name.split("_backward")[0][:-2]
    shape = "(2, " + ", ".join(["6"] * n) + ")"
    chunks = "(1, " + ", ".join(["4"] * n) + ")"
    lines = [">>> import numpy as np, dask.array as da, cpool, cpool.dask",
             f">>> x = np.arange(2 * 6**{n}, dtype=np.float32).reshape{shape} % 7",
             f">>> d = da.from_array(x, chunks={chunks})  # blocks that cut windows"]
    backward = op_name.endswith("_backward") or family == "max_unpool"
    if not backward:
        call = ", ".join(a for a in ("d", _EXAMPLE_FORWARD[family]) if a)
        lines += [f">>> lazy = cpool.dask.{op_name}({call})  # nothing is computed yet",
                  f">>> want = cpool.{op_name}({call.replace('d', 'x', 1)})"]
    else:
        forward = "max_pool" if family == "max_unpool" else family
        fwd = f"{forward}{n}d"
        args = ", ".join(a for a in ("x", _EXAMPLE_FORWARD[forward]) if a)
        if forward in _WITH_INDICES:
            lines.append(f">>> y, i = cpool.{fwd}({args}, return_indices=True)")
        else:
            lines.append(f">>> y = cpool.{fwd}({args})")
        lines.append(">>> g = np.ones_like(y)")
        call = _EXAMPLE_BACKWARD[family]
        lazy_call = call.replace("g,", "da.from_array(g, chunks=1),").replace(
            "i,", "da.from_array(i, chunks=1),")
        if family == "lp_pool":
            lazy_call = lazy_call.replace(", x,", ", d,")
        lines += [f">>> lazy = cpool.dask.{op_name}({lazy_call})",
                  f">>> want = cpool.{op_name}({call})"]
    lines += [">>> got = lazy.compute() if not isinstance(lazy, tuple) else lazy[0].compute()",
              ">>> bool(np.allclose(got, want if not isinstance(want, tuple) else want[0]))",
              "True"]
    return "\n".join("    " + line for line in lines)


def _wrap(op_name: str):
    """cpool.dask's ``op_name``: cpool's signature without ``out``, Dask arrays in and out."""
    target = getattr(cpool, op_name)
    sig = inspect.signature(target)
    sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "out"])

    def op(*args, **kwargs):
        return _dispatch(op_name, sig, *args, **kwargs)

    op.__name__ = op.__qualname__ = op_name
    op.__module__ = __name__
    op.__signature__ = sig  # type: ignore[attr-defined]
    op.__doc__ = f"""Lazy :func:`cpool.{op_name}` of Dask arrays.

    The same arguments, defaults and errors as :func:`cpool.{op_name}` (less ``out``; errors
    are raised here, before any work). Array arguments may be Dask or NumPy arrays, in any
    chunks; nothing is computed until the result is.

    Parameters
    ----------
    *args, **kwargs
        As :func:`cpool.{op_name}`. ``num_threads`` (default 1) is each task's thread count:
        Dask's workers are the parallelism.

    Returns
    -------
    dask.array.Array or tuple of them
        Equal, once computed, to :func:`cpool.{op_name}` on the computed arguments (bit for
        bit for max values and indices, integer sums and stochastic draws). See
        :mod:`cpool.dask` for how the blocks are made.

    Examples
    --------
{_example(op_name)}
    """
    return op


_OPS = [name for name in cpool.__all__ if "pool" in name or name.startswith("max_unpool")]
for _name in _OPS:
    globals()[_name] = _wrap(_name)
    __all__.append(_name)
del _name


def __getattr__(name: str) -> Callable[..., Any]:
    """Type checkers' view of the generated functions above: each is a callable (its arguments
    are cpool's, checked at the call; it returns Dask arrays). At run time they are module
    attributes, and this is only reached for a name that is not one."""
    raise AttributeError(f"module 'cpool.dask' has no attribute {name!r}")


def __dir__() -> List[str]:
    """The ops only (tab completion offers no typing helpers or private functions; they stay
    reachable)."""
    return sorted(__all__)
