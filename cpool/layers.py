"""Pooling layers for NumPy models: PyTorch's ``torch.nn`` pooling modules, with a backward.

Each layer is constructed with its op's arguments, under PyTorch's constructor names and
defaults (``MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
ceil_mode=False)``), plus cpool's keyword-only ``axes=`` and ``num_threads=``.
``forward(x)`` (or calling the layer) pools and keeps what the gradient needs (the indices of
max pooling, the input's shape, LP pooling's input); ``backward(grad)`` returns the gradient
with respect to the last forward's input. Both are the functions of :mod:`cpool` (the same
results, bit for bit); a layer holds no weights.

>>> import numpy as np
>>> from cpool.layers import MaxPool2d
>>> pool = MaxPool2d(2)
>>> x = np.array([[[[1., 2.], [4., 3.]]]])
>>> pool(x)
array([[[[4.]]]])
>>> pool.backward(np.array([[[[1.]]]]))
array([[[[0., 0.],
         [1., 0.]]]])
>>> pool
MaxPool2d(kernel_size=2, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, ClassVar, Dict, FrozenSet, Optional, Tuple

import numpy as np

import cpool
from cpool._typing import Array, ArrayLike, Axes, OptionalSize, Padding, Ratio, Seed, Size

__all__ = [
    "Layer",
    "MaxPool1d", "MaxPool2d", "MaxPool3d",
    "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "SumPool1d", "SumPool2d", "SumPool3d",
    "LPPool1d", "LPPool2d", "LPPool3d",
    "GlobalMaxPool1d", "GlobalMaxPool2d", "GlobalMaxPool3d",
    "GlobalAvgPool1d", "GlobalAvgPool2d", "GlobalAvgPool3d",
    "GlobalSumPool1d", "GlobalSumPool2d", "GlobalSumPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "FractionalMaxPool2d", "FractionalMaxPool3d",
    "StochasticPool2d",
]

_DEFAULT_AXES = {1: (-1,), 2: (-2, -1), 3: (-3, -2, -1)}


@functools.lru_cache(maxsize=None)
def _gradient(op: str) -> Tuple[Callable[..., Any], FrozenSet[str]]:
    """``op``'s gradient function and its parameter names, looked up once per op (not on every
    backward: inspect.signature costs more than a small layer's pooling)."""
    fn = getattr(cpool, op + "_backward")
    return fn, frozenset(inspect.signature(fn).parameters)


class Layer:
    """Base of the pooling layers: an op, its gradient, and what the last forward kept.

    Subclasses name the op (``_op``, a function of :mod:`cpool`) and, through their
    constructor, its arguments, passed by name; the gradient is the op's ``*_backward``,
    called with those of the op's arguments and the saved values (input shape, indices, LP's
    input) that it takes.
    """

    _op: ClassVar[str]
    _n: ClassVar[int]
    #: What the gradient reads from the forward: "indices" (max family) or "x" (LP pooling).
    _keeps: ClassVar[Tuple[str, ...]] = ()
    #: The constructor arguments shown by repr, in order.
    _shown: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, kwargs: Dict[str, Any], axes: Optional[Axes],
                 num_threads: Optional[int]) -> None:
        self._kwargs = kwargs
        self.axes: Axes = _DEFAULT_AXES[self._n] if axes is None else axes
        self.num_threads = num_threads
        self.training = True
        # Arguments are checked by the op at the first forward (against the input's sizes),
        # and errors name the op and the argument.
        self._saved: Optional[Dict[str, Any]] = None

    def __getattr__(self, name: str) -> Any:
        kwargs = self.__dict__.get("_kwargs", {})
        if name in kwargs:
            return kwargs[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _call(self, x: ArrayLike, **extra: Any) -> Any:
        op = getattr(cpool, self._op)
        return op(x, **{**self._kwargs, **extra}, axes=self.axes, num_threads=self.num_threads)

    def forward(self, x: ArrayLike) -> Any:
        """Pool ``x`` (see the op's documentation) and keep what :meth:`backward` needs."""
        x = np.asarray(x)
        result = self._call(x, **self._forward_extra())
        saved: Dict[str, Any] = {"input_shape": x.shape}
        if "indices" in self._keeps:
            values, saved["indices"] = result
            result = (values, saved["indices"]) if self._kwargs.get("return_indices") else values
        else:
            values = result
        saved["output_shape"] = values.shape
        if "x" in self._keeps:
            saved["x"] = x
        self._saved = saved
        return result

    def __call__(self, x: ArrayLike) -> Any:
        return self.forward(x)

    def _forward_extra(self) -> Dict[str, Any]:
        return {"return_indices": True} if "indices" in self._keeps else {}

    def backward(self, grad: ArrayLike) -> Array:
        """The gradient with respect to the last :meth:`forward`'s input, given ``grad``, the
        gradient with respect to its output (the values; not the indices)."""
        if self._saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first")
        shape = np.shape(grad)
        if shape != self._saved["output_shape"]:  # else the gradient's error names `indices`
            raise ValueError(f"{type(self).__name__}.backward: `grad` must have the shape of "
                             f"the last forward's output {self._saved['output_shape']}, got "
                             f"{shape}")
        fn, params = _gradient(self._op)
        args: Dict[str, Any] = {k: v for k, v in self._kwargs.items() if k in params}
        args.update({k: v for k, v in self._saved.items() if k in params})
        result: Array = fn(grad, **args, axes=self.axes, num_threads=self.num_threads)
        return result

    def train(self, mode: bool = True) -> "Layer":
        """Set training mode (only stochastic pooling behaves differently); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> "Layer":
        """Set evaluation mode, ``train(False)``; returns self."""
        return self.train(False)

    def __repr__(self) -> str:
        shown = [f"{k}={self._kwargs[k]!r}" for k in self._shown]
        if self.axes != _DEFAULT_AXES[self._n]:
            shown.append(f"axes={self.axes!r}")
        if self.num_threads is not None:
            shown.append(f"num_threads={self.num_threads!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


class _MaxPool(Layer):
    _keeps = ("indices",)
    _shown = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")

    def __init__(self, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
                 dilation: Size = 1, return_indices: bool = False, ceil_mode: bool = False, *,
                 axes: Optional[Axes] = None, num_threads: Optional[int] = None) -> None:
        super().__init__(dict(kernel_size=kernel_size, stride=stride, padding=padding,
                              dilation=dilation, return_indices=return_indices,
                              ceil_mode=ceil_mode), axes, num_threads)


class MaxPool1d(_MaxPool):
    """``torch.nn.MaxPool1d``: :func:`cpool.max_pool1d` and its gradient."""
    _op, _n = "max_pool1d", 1


class MaxPool2d(_MaxPool):
    """``torch.nn.MaxPool2d``: :func:`cpool.max_pool2d` and its gradient."""
    _op, _n = "max_pool2d", 2


class MaxPool3d(_MaxPool):
    """``torch.nn.MaxPool3d``: :func:`cpool.max_pool3d` and its gradient."""
    _op, _n = "max_pool3d", 3


class _AvgPool(Layer):
    _shown = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
              "divisor_override")

    def __init__(self, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: Optional[int] = None, *, axes: Optional[Axes] = None,
                 num_threads: Optional[int] = None) -> None:
        super().__init__(dict(kernel_size=kernel_size, stride=stride, padding=padding,
                              ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                              divisor_override=divisor_override), axes, num_threads)


class AvgPool1d(_AvgPool):
    """``torch.nn.AvgPool1d``: :func:`cpool.avg_pool1d` and its gradient."""
    _op, _n = "avg_pool1d", 1


class AvgPool2d(_AvgPool):
    """``torch.nn.AvgPool2d``: :func:`cpool.avg_pool2d` and its gradient."""
    _op, _n = "avg_pool2d", 2


class AvgPool3d(_AvgPool):
    """``torch.nn.AvgPool3d``: :func:`cpool.avg_pool3d` and its gradient."""
    _op, _n = "avg_pool3d", 3


class _SumPool(Layer):
    _shown = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")

    def __init__(self, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
                 dilation: Size = 1, ceil_mode: bool = False, *, axes: Optional[Axes] = None,
                 num_threads: Optional[int] = None) -> None:
        super().__init__(dict(kernel_size=kernel_size, stride=stride, padding=padding,
                              dilation=dilation, ceil_mode=ceil_mode), axes, num_threads)


class SumPool1d(_SumPool):
    """Sum pooling, :func:`cpool.sum_pool1d`, and its gradient."""
    _op, _n = "sum_pool1d", 1


class SumPool2d(_SumPool):
    """Sum pooling, :func:`cpool.sum_pool2d`, and its gradient."""
    _op, _n = "sum_pool2d", 2


class SumPool3d(_SumPool):
    """Sum pooling, :func:`cpool.sum_pool3d`, and its gradient."""
    _op, _n = "sum_pool3d", 3


class _LPPool(Layer):
    _keeps = ("x",)
    _shown = ("norm_type", "kernel_size", "stride", "ceil_mode")

    def __init__(self, norm_type: float, kernel_size: Size, stride: Optional[Size] = None,
                 ceil_mode: bool = False, *, axes: Optional[Axes] = None,
                 num_threads: Optional[int] = None) -> None:
        super().__init__(dict(norm_type=norm_type, kernel_size=kernel_size, stride=stride,
                              ceil_mode=ceil_mode), axes, num_threads)


class LPPool1d(_LPPool):
    """``torch.nn.LPPool1d``: :func:`cpool.lp_pool1d` and its gradient."""
    _op, _n = "lp_pool1d", 1


class LPPool2d(_LPPool):
    """``torch.nn.LPPool2d``: :func:`cpool.lp_pool2d` and its gradient."""
    _op, _n = "lp_pool2d", 2


class LPPool3d(_LPPool):
    """``torch.nn.LPPool3d``: :func:`cpool.lp_pool3d` and its gradient."""
    _op, _n = "lp_pool3d", 3


class _GlobalPool(Layer):
    _shown = ("keepdims",)

    def __init__(self, keepdims: bool = False, *, axes: Optional[Axes] = None,
                 num_threads: Optional[int] = None) -> None:
        super().__init__(dict(keepdims=keepdims), axes, num_threads)


class GlobalMaxPool1d(_GlobalPool):
    """Keras' ``GlobalMaxPooling1D``: :func:`cpool.global_max_pool1d` and its gradient."""
    _op, _n, _keeps = "global_max_pool1d", 1, ("indices",)


class GlobalMaxPool2d(_GlobalPool):
    """Keras' ``GlobalMaxPooling2D``: :func:`cpool.global_max_pool2d` and its gradient."""
    _op, _n, _keeps = "global_max_pool2d", 2, ("indices",)


class GlobalMaxPool3d(_GlobalPool):
    """Keras' ``GlobalMaxPooling3D``: :func:`cpool.global_max_pool3d` and its gradient."""
    _op, _n, _keeps = "global_max_pool3d", 3, ("indices",)


class GlobalAvgPool1d(_GlobalPool):
    """Keras' ``GlobalAveragePooling1D``: :func:`cpool.global_avg_pool1d` and its gradient."""
    _op, _n = "global_avg_pool1d", 1


class GlobalAvgPool2d(_GlobalPool):
    """Keras' ``GlobalAveragePooling2D``: :func:`cpool.global_avg_pool2d` and its gradient."""
    _op, _n = "global_avg_pool2d", 2


class GlobalAvgPool3d(_GlobalPool):
    """Keras' ``GlobalAveragePooling3D``: :func:`cpool.global_avg_pool3d` and its gradient."""
    _op, _n = "global_avg_pool3d", 3


class GlobalSumPool1d(_GlobalPool):
    """Global sum pooling, :func:`cpool.global_sum_pool1d`, and its gradient."""
    _op, _n = "global_sum_pool1d", 1


class GlobalSumPool2d(_GlobalPool):
    """Global sum pooling, :func:`cpool.global_sum_pool2d`, and its gradient."""
    _op, _n = "global_sum_pool2d", 2


class GlobalSumPool3d(_GlobalPool):
    """Global sum pooling, :func:`cpool.global_sum_pool3d`, and its gradient."""
    _op, _n = "global_sum_pool3d", 3


class _AdaptiveMaxPool(Layer):
    _keeps = ("indices",)
    _shown = ("output_size", "return_indices")

    def __init__(self, output_size: OptionalSize, return_indices: bool = False, *,
                 axes: Optional[Axes] = None, num_threads: Optional[int] = None) -> None:
        super().__init__(dict(output_size=output_size, return_indices=return_indices), axes,
                         num_threads)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """``torch.nn.AdaptiveMaxPool1d``: :func:`cpool.adaptive_max_pool1d` and its gradient."""
    _op, _n = "adaptive_max_pool1d", 1


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """``torch.nn.AdaptiveMaxPool2d``: :func:`cpool.adaptive_max_pool2d` and its gradient."""
    _op, _n = "adaptive_max_pool2d", 2


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """``torch.nn.AdaptiveMaxPool3d``: :func:`cpool.adaptive_max_pool3d` and its gradient."""
    _op, _n = "adaptive_max_pool3d", 3


class _AdaptiveAvgPool(Layer):
    _shown = ("output_size",)

    def __init__(self, output_size: OptionalSize, *, axes: Optional[Axes] = None,
                 num_threads: Optional[int] = None) -> None:
        super().__init__(dict(output_size=output_size), axes, num_threads)


class AdaptiveAvgPool1d(_AdaptiveAvgPool):
    """``torch.nn.AdaptiveAvgPool1d``: :func:`cpool.adaptive_avg_pool1d` and its gradient."""
    _op, _n = "adaptive_avg_pool1d", 1


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    """``torch.nn.AdaptiveAvgPool2d``: :func:`cpool.adaptive_avg_pool2d` and its gradient."""
    _op, _n = "adaptive_avg_pool2d", 2


class AdaptiveAvgPool3d(_AdaptiveAvgPool):
    """``torch.nn.AdaptiveAvgPool3d``: :func:`cpool.adaptive_avg_pool3d` and its gradient."""
    _op, _n = "adaptive_avg_pool3d", 3


class _FractionalMaxPool(Layer):
    _keeps = ("indices",)
    _shown = ("kernel_size", "output_size", "output_ratio", "return_indices")

    def __init__(self, kernel_size: Size, output_size: Optional[Size] = None,
                 output_ratio: Optional[Ratio] = None, return_indices: bool = False, *,
                 seed: Seed = None, axes: Optional[Axes] = None,
                 num_threads: Optional[int] = None) -> None:
        # Every forward draws new windows (as PyTorch's module does), from one generator:
        # a given seed repeats the sequence of draws.
        self._rng = np.random.default_rng(seed)
        super().__init__(dict(kernel_size=kernel_size, output_size=output_size,
                              output_ratio=output_ratio, return_indices=return_indices),
                         axes, num_threads)

    def _call(self, x: ArrayLike, **extra: Any) -> Any:
        return super()._call(x, seed=self._rng, **extra)


class FractionalMaxPool2d(_FractionalMaxPool):
    """``torch.nn.FractionalMaxPool2d``: :func:`cpool.fractional_max_pool2d` and its gradient."""
    _op, _n = "fractional_max_pool2d", 2


class FractionalMaxPool3d(_FractionalMaxPool):
    """``torch.nn.FractionalMaxPool3d``: :func:`cpool.fractional_max_pool3d` and its gradient."""
    _op, _n = "fractional_max_pool3d", 3


class StochasticPool2d(Layer):
    """Stochastic pooling (Zeiler & Fergus 2013), :func:`cpool.stochastic_pool2d`, as a layer.

    In training mode each window samples one activation (new draws every forward, from one
    generator that ``seed`` starts); in evaluation mode (``eval()``) each output is the
    probability-weighted average, and there is no gradient."""

    _op, _n, _keeps = "stochastic_pool2d", 2, ("indices",)
    _shown = ("kernel_size", "stride", "padding", "ceil_mode")

    def __init__(self, kernel_size: Size, stride: Optional[Size] = None, padding: Padding = 0,
                 ceil_mode: bool = False, *, seed: Seed = None, axes: Optional[Axes] = None,
                 num_threads: Optional[int] = None) -> None:
        self._rng = np.random.default_rng(seed)
        super().__init__(dict(kernel_size=kernel_size, stride=stride, padding=padding,
                              ceil_mode=ceil_mode), axes, num_threads)

    def _call(self, x: ArrayLike, **extra: Any) -> Any:
        return cpool.stochastic_pool2d(x, **self._kwargs, training=self.training,
                                       seed=self._rng, axes=self.axes,
                                       num_threads=self.num_threads, **extra)

    def _forward_extra(self) -> Dict[str, Any]:
        return {"return_indices": True} if self.training else {}

    def forward(self, x: ArrayLike) -> Array:
        """Sample (training) or average (evaluation) each window of ``x``."""
        if self.training:
            result: Array = super().forward(x)
            return result
        self._saved = None  # evaluation keeps nothing: its gradient is not offered
        out: Array = self._call(x)
        return out

    def backward(self, grad: ArrayLike) -> Array:
        """The gradient of the last training-mode forward (to the sampled cells)."""
        if self._saved is None and not self.training:
            raise RuntimeError("StochasticPool2d.backward: the gradient is defined for "
                               "training mode (train()); the last forward ran in eval mode")
        return super().backward(grad)


def _layer_types() -> Dict[str, Callable[..., Layer]]:
    """Every public layer class by name (tests and docs)."""
    return {name: globals()[name] for name in __all__ if name != "Layer"}


# ---------------------------------------------------------------------------------------------
# Docstrings: one numpydoc template per family, each class's example run as a doctest
# ---------------------------------------------------------------------------------------------
_COMMON = """axes : tuple of int, optional
    Keyword only. The spatial axes (default: {last}); channels-last input is pooled in place,
    as by the function.
num_threads : int, optional
    Keyword only. Threads of each call (default: cpool's, :func:`cpool.set_num_threads`)."""

# Per family: (the parameters' docs, the constructor arguments of the example).
_FAMILIES: Dict[type, Tuple[str, str]] = {
    _MaxPool: ("""kernel_size, stride, padding, dilation : int or tuple of int
    As :func:`cpool.{op}` (``stride`` None: ``kernel_size``).
return_indices : bool, default=False
    ``forward`` returns (values, int64 indices), as PyTorch's module.
ceil_mode : bool, default=False
    As :func:`cpool.{op}` (PyTorch's order: after ``return_indices``).""", "2"),
    _AvgPool: ("""kernel_size, stride, padding : int or tuple of int
    As :func:`cpool.{op}` (``stride`` None: ``kernel_size``).
ceil_mode, count_include_pad : bool
    As :func:`cpool.{op}` (defaults False and True).
divisor_override : int, optional
    As :func:`cpool.{op}`.""", "2"),
    _SumPool: ("""kernel_size, stride, padding, dilation : int or tuple of int
    As :func:`cpool.{op}` (``stride`` None: ``kernel_size``).
ceil_mode : bool, default=False
    As :func:`cpool.{op}`.""", "2"),
    _LPPool: ("""norm_type : float
    The power ``p``, as :func:`cpool.{op}`.
kernel_size, stride : int or tuple of int
    As :func:`cpool.{op}` (``stride`` None: ``kernel_size``).
ceil_mode : bool, default=False
    As :func:`cpool.{op}`.""", "2, 2"),
    _GlobalPool: ("""keepdims : bool, default=False
    Keep the pooled axes with size 1, as :func:`cpool.{op}`.""", ""),
    _AdaptiveMaxPool: ("""output_size : int or tuple of int or None
    As :func:`cpool.{op}` (None keeps an axis's size).
return_indices : bool, default=False
    ``forward`` returns (values, int64 indices).""", "1"),
    _AdaptiveAvgPool: ("""output_size : int or tuple of int or None
    As :func:`cpool.{op}` (None keeps an axis's size).""", "1"),
    _FractionalMaxPool: ("""kernel_size : int or tuple of int
    As :func:`cpool.{op}`.
output_size, output_ratio : optional
    Exactly one of them, as :func:`cpool.{op}`.
return_indices : bool, default=False
    ``forward`` returns (values, int64 indices).
seed : None, int or numpy.random.Generator, optional
    Keyword only. Starts the generator that every ``forward`` draws new windows from.""",
                         "2, output_size=1, seed=0"),
    StochasticPool2d: ("""kernel_size, stride, padding : int or tuple of int
    As :func:`cpool.{op}` (``stride`` None: ``kernel_size``).
ceil_mode : bool, default=False
    As :func:`cpool.{op}`.
seed : None, int or numpy.random.Generator, optional
    Keyword only. Starts the generator that every training ``forward`` draws from.""", "2"),
}

_DOC = """{summary}

Parameters
----------
{params}
{common}

See Also
--------
cpool.{op} : The op.
cpool.{grad} : Its gradient.

Notes
-----
``forward(x)`` (or calling the layer) returns the op's result and keeps what ``backward``
needs; ``backward(grad)`` returns the gradient with respect to that input, given the
gradient with respect to the output's values. ``train()`` and ``eval()`` set ``training``
(only stochastic pooling behaves differently); a layer has no weights.

Examples
--------
>>> import numpy as np
>>> from cpool.layers import {name}
>>> layer = {name}({args})
>>> x = np.ones({shape}, np.float32)
>>> y = layer(x)
>>> layer.backward(np.ones_like(y)).shape == x.shape
True
"""


def _document(cls: type) -> None:
    family = next(base for base in cls.__mro__ if base in _FAMILIES)
    params, args = _FAMILIES[family]
    op = cls._op  # type: ignore[attr-defined]
    n = cls._n  # type: ignore[attr-defined]
    shape = (1, 1) + (4,) * n
    cls.__doc__ = _DOC.format(summary=inspect.cleandoc(cls.__doc__ or ""), name=cls.__name__,
                              params=params.format(op=op), op=op,
                              common=_COMMON.format(last=("the last axis", "the last two",
                                                          "the last three")[n - 1]),
                              grad=op + "_backward", args=args, shape=shape)


for _cls in _layer_types().values():
    _document(_cls)  # type: ignore[arg-type]
del _cls


def __dir__() -> list:
    """The layers only (tab completion offers no typing helpers; they stay reachable)."""
    return sorted(__all__)
