"""Memory layout: uninitialised tensors laid out as asked (``torch.empty_permuted``, ``Tensor.new_empty_strided``)
and the layout query ``Tensor.dim_order()``, the order in which a tensor's dims lie in memory, outermost first, as
PyTorch computes it (``torch._prims_common.compute_elementwise_output_logical_to_physical_perm``)."""

from __future__ import annotations

from trainer.memory_formats import channels_last, memory_format
from trainer.ops.as_strided import empty_strided


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, pin_memory=False,
                   requires_grad=False):
    """A tensor of logical shape ``size`` whose dims lie in memory in the order ``physical_layout`` (outermost
    first), e.g. ``(0, 2, 3, 1)`` for channels-last NCHW."""
    size, order = [int(s) for s in size], list(physical_layout)
    if len(size) != len(order):
        raise RuntimeError("Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           f"len(size) = {len(size)} is not equal to len(physical_layout) = {len(order)}")
    for index, dim in enumerate(order):
        if not 0 <= dim < len(size):
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and {len(size) - 1}, but got {dim} "
                               f"at index {index}).  NB: negative dims not currently supported")
    if len(set(order)) != len(order):
        raise RuntimeError("Duplicate dim not allowed")
    stride, step = [0] * len(size), 1
    for dim in reversed(order):  # the innermost physical dim gets stride 1
        stride[dim] = step
        step *= max(size[dim], 1)
    return empty_strided(size, stride, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad,
                         pin_memory=pin_memory)


def new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                      pin_memory=False):
    """``Tensor.new_empty_strided``: ``empty_strided`` with this tensor's dtype and device unless told otherwise."""
    return empty_strided(size, stride, dtype=dtype or self.dtype, layout=layout, device=device or self.device,
                         requires_grad=requires_grad, pin_memory=pin_memory)


_AMBIGUITY_TYPE_ERROR = "The ambiguity_check argument must be a bool or a list of memory formats."


def _has_several_dim_orders(sizes, strides) -> bool:
    """Size-1 dims, or neighbouring dims of equal stride, can trade places without changing the layout."""
    return any(a == b for a, b in zip(strides, strides[1:])) or any(n == 1 for n in sizes)


def _fits_exactly_one(tensor, formats) -> bool:
    return sum(bool(tensor.is_contiguous(memory_format=fmt)) for fmt in formats) == 1


def _at_least(a: int, b: int) -> bool:
    """``a >= b`` for sizes or strides, treating a multiple as larger, as PyTorch's comparison does."""
    if b == 0:
        return True
    if a == 0:
        return False
    return a >= b or a % b == 0


def _order_of(sizes, strides, idx_a: int, idx_b: int) -> int:
    """1 when dim ``idx_a`` lies inside ``idx_b`` in memory, -1 when outside, 0 when the strides cannot tell."""
    stride_a, stride_b = strides[idx_a], strides[idx_b]
    if stride_a == 0 or stride_b == 0:
        return 0
    if stride_a == stride_b:
        return 0 if _at_least(sizes[idx_b], sizes[idx_a]) else 1
    if _at_least(stride_b, stride_a):
        return -1
    return 1 if _at_least(stride_a, stride_b) else 0


def _physical_order(tensor, ambiguity_check) -> tuple[list[int], bool]:
    sizes, strides, ndim = tuple(tensor.shape), tensor.stride(), tensor.ndim
    if ndim <= 1:
        return list(range(ndim)), False
    is_contiguous = tensor.is_contiguous()
    is_channels_last = tensor.is_contiguous(memory_format=channels_last)
    if is_contiguous and not is_channels_last:
        return list(range(ndim)), False
    if is_channels_last and not is_contiguous:
        return [0, *range(2, ndim), 1], False
    perm = list(reversed(range(ndim)))  # sorted innermost first, then reversed
    for i in range(1, ndim):  # insertion sort that leaves dims the strides cannot order where they are
        dim1 = i
        for dim0 in reversed(range(i)):
            comparison = _order_of(sizes, strides, perm[dim0], perm[dim1])
            if comparison > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif comparison < 0:
                break
    ambiguous = bool(ambiguity_check) and any(_order_of(sizes, strides, perm[i], perm[i + 1]) != -1
                                               for i in range(ndim - 1))
    return list(reversed(perm)), ambiguous


def dim_order(self, *, ambiguity_check=False) -> tuple[int, ...]:
    """The dims of ``self`` from outermost to innermost in memory. ``ambiguity_check=True`` raises when more than
    one order fits; a list of memory formats instead accepts a tensor that fits exactly one of them."""
    if self.is_sparse:
        raise AttributeError(f"Can't get dim order on sparse type: {self.type()} Use Tensor.to_dense() to convert to "
                             "a dense tensor first.")
    if not isinstance(ambiguity_check, bool):
        if not isinstance(ambiguity_check, list) or not all(isinstance(f, memory_format) for f in ambiguity_check):
            raise TypeError(_AMBIGUITY_TYPE_ERROR)
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    check_several = ambiguity_check if isinstance(ambiguity_check, bool) else True
    if (check_several and _has_several_dim_orders(tuple(self.shape), self.stride())
            and not _fits_exactly_one(self, formats)):
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the given memory "
                           "formats.")
    order, ambiguous = _physical_order(self, ambiguity_check)
    if ambiguous:
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(order)

