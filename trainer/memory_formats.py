"""``trainer.memory_format`` and its instances (``contiguous_format``, ``channels_last``, ``channels_last_3d``,
``preserve_format``), with the array routines behind ``contiguous``/``is_contiguous``/``clone``/``to``/``empty``'s
``memory_format`` argument.

A memory format is an order of the axes in memory, outermost first: ``channels_last`` keeps an ``(N, C, H, W)``
tensor as the ``(N, H, W, C)``-contiguous buffer, transposed back to ``(N, C, H, W)``, so values and shape are
those of the contiguous tensor and only ``stride()`` differs. ``preserve_format`` keeps the order of the source's
strides (PyTorch's ``infer_dense_strides``). Ops read any strides, so a format never changes a result; ops need
not keep their input's format (PyTorch's often do), so a result may come back contiguous.
"""

from __future__ import annotations


class memory_format:  # noqa: N801 - PyTorch's name
    __slots__ = ("name", "rank")

    def __init__(self, name: str, rank: int | None = None):
        self.name = name
        self.rank = rank  # the only rank a channels-last format applies to

    def __repr__(self):
        return f"trainer.{self.name}"

    def __reduce__(self):  # a singleton: copies and pickles are the same object
        return self.name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last", 4)
channels_last_3d = memory_format("channels_last_3d", 5)
preserve_format = memory_format("preserve_format")


def check_memory_format(value, where: str) -> memory_format:
    """``value`` itself, or PyTorch's TypeError when it is not a memory format."""
    if not isinstance(value, memory_format):
        raise TypeError(f"{where}(): argument 'memory_format' must be trainer.memory_format, not "
                        f"{type(value).__name__}")
    return value


def _element_strides(array) -> tuple:
    return tuple(s // array.itemsize for s in array.strides)


def _channels_last_order(fmt: memory_format, ndim: int) -> tuple:
    if ndim != fmt.rank:
        raise RuntimeError(f"required rank {fmt.rank} tensor to use {fmt.name} format")
    return (0, *range(2, ndim), 1)


def _inferred_order(shape, strides) -> tuple:
    """PyTorch's ``infer_dense_strides`` permutation, outermost axis first: axes by decreasing stride, a larger
    axis outside a smaller one of equal stride, zero strides left where they are."""
    def should_swap(a, b):
        if strides[a] == 0 or strides[b] == 0:
            return 0
        if strides[a] != strides[b]:
            return 1 if strides[a] > strides[b] else -1
        return 1 if shape[a] > shape[b] else 0

    innermost_first = list(range(len(shape) - 1, -1, -1))
    for i in range(1, len(shape)):
        j = i
        for k in range(i - 1, -1, -1):
            comparison = should_swap(innermost_first[k], innermost_first[j])
            if comparison > 0:
                innermost_first[k], innermost_first[j] = innermost_first[j], innermost_first[k]
                j = k
            elif comparison < 0:
                break
    return tuple(reversed(innermost_first))


def axis_order(fmt: memory_format, array) -> tuple:
    """The order, outermost first, in which ``fmt`` lays out the axes of ``array``."""
    if fmt.rank is not None:
        return _channels_last_order(fmt, array.ndim)
    if fmt is preserve_format:
        return _inferred_order(array.shape, _element_strides(array))
    return tuple(range(array.ndim))


def is_contiguous_in(array, fmt: memory_format) -> bool:
    """``Tensor.is_contiguous(memory_format=fmt)``: PyTorch's test, which skips size-1 axes (any stride fits
    them); a channels-last format on another rank is simply False."""
    if fmt.rank is None:
        return bool(array.flags.c_contiguous)
    if array.ndim != fmt.rank:
        return False
    strides = _element_strides(array)
    expected = 1
    for axis in reversed(_channels_last_order(fmt, array.ndim)):
        if array.shape[axis] != 1:
            if strides[axis] != expected:
                return False
            expected *= array.shape[axis]
    return True


def _strides_like_channels_last(shape, strides) -> bool:
    """PyTorch's ``is_channels_last_strides_2d``/``_3d``: whether the strides read as a channels-last layout,
    ambiguous ones (a trivial channel axis, ``N111`` shapes) read as contiguous."""
    if strides[1] == 0:
        return False
    smallest = 0
    for axis in (1, *range(len(shape) - 1, 1, -1), 0):
        if shape[axis] == 0 or strides[axis] < smallest:
            return False
        if axis == 0 and smallest == strides[1]:
            return False
        smallest = strides[axis] * (shape[axis] if shape[axis] > 1 else 1)
    return True


def suggested_format(array) -> memory_format:
    """PyTorch's ``suggest_memory_format``: the format ``array``'s strides are taken to be in, which is what
    ``to(memory_format=...)`` compares with to decide whether to copy."""
    for fmt in (channels_last, channels_last_3d):
        if array.ndim == fmt.rank and _strides_like_channels_last(array.shape, _element_strides(array)):
            return fmt
    return contiguous_format


def _inverse(order) -> tuple:
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return tuple(inverse)


def copy_in_order(array, order):
    """A new dense array with ``array``'s values, laid out in memory with the axes in ``order`` (outermost
    first): the C-contiguous copy of the permuted array, permuted back."""
    return array.transpose(order).copy().transpose(_inverse(order))


def copy_in_format(array, fmt: memory_format):
    """A copy of ``array`` laid out as ``fmt`` says (``Tensor.clone(memory_format=fmt)``)."""
    return copy_in_order(array, axis_order(fmt, array))


def empty_in_format(xp, shape, dtype, fmt: memory_format):
    """``trainer.empty(shape, memory_format=fmt)``'s array; ``preserve_format`` has no source to preserve."""
    if fmt is preserve_format:
        raise RuntimeError("unsupported memory format Preserve")
    if fmt is contiguous_format:
        return xp.empty(shape, dtype)
    order = _channels_last_order(fmt, len(shape))
    return xp.empty(tuple(shape[a] for a in order), dtype).transpose(_inverse(order))


def laid_out_like(out, source, fmt: memory_format, where: str):
    """``out`` (a new tensor, the result of the ``*_like`` factory ``where``) laid out as ``fmt`` says, where
    ``preserve_format`` follows the strides of ``source``, the tensor it was made like."""
    check_memory_format(fmt, where)
    order = axis_order(fmt, source._data)
    if order != tuple(range(out.ndim)):
        out._data = copy_in_order(out._data, order)
    return out

