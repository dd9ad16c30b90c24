"""Type aliases of the public API's annotations (one place; ``cpool.layers`` uses them too).

The arrays cpool returns are NumPy arrays of the dtype its docs give for the op (the input's,
int64/uint64 for integer sums, float64 for averages of integers), so results are typed
``NDArray[Any]``; indices are always int64.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ArrayLike", "Array", "Indices", "Size", "OptionalSize", "Padding", "Axes", "Shape",
           "Out", "OutPair", "Seed", "Ratio", "WithIndices"]

#: A result array.
Array = NDArray[Any]
#: Max pooling's indices: flat positions in each input plane, int64.
Indices = NDArray[np.int64]
#: ``kernel_size``, ``stride``, ``dilation``: one int for every spatial axis or one per axis.
Size = Union[int, Sequence[int]]
#: Adaptive pooling's ``output_size``: an entry None keeps that axis's input size.
OptionalSize = Union[int, None, Sequence[Optional[int]]]
#: ``padding``: an int, one per axis, ``(before, after)`` pairs per axis, or 'valid'/'same'/'same_lower'.
Padding = Union[int, str, Sequence[Union[int, Sequence[int]]]]
#: ``axes``: the spatial axes, in order.
Axes = Union[int, Sequence[int]]
#: ``input_shape`` of a gradient: the forward input's shape (or just its spatial sizes).
Shape = Sequence[int]
#: ``out=`` of an op without indices.
Out = Optional[NDArray[Any]]
#: ``out=`` of an op that can return indices: the values' array, or (values, indices).
OutPair = Optional[Union[NDArray[Any], Tuple[NDArray[Any], NDArray[Any]]]]
#: ``seed=``: None (fresh entropy), an int key, or a NumPy Generator to draw the key from.
Seed = Union[None, int, np.random.Generator]
#: Fractional pooling's ``output_ratio``.
Ratio = Union[float, Sequence[float]]
#: What an op returns with ``return_indices=True``.
WithIndices = Tuple[NDArray[Any], NDArray[np.int64]]
