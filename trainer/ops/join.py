"""Joining and splitting: cat, stack, split, chunk."""

from __future__ import annotations

from trainer.amp import cast_policy
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim, promote


class Concat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.meta = axis, [a.shape[axis] for a in arrays]
        return xp_of(arrays[0]).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis, sizes = ctx.meta
        return tuple(_split_array(g, sizes, axis))

    @staticmethod
    def backward_graph(ctx, g):
        axis, sizes = ctx.meta
        return tuple(g.split(sizes, axis))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return xp_of(arrays[0]).stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        return tuple(xp.take(g, i, axis=ctx.axis) for i in range(g.shape[ctx.axis]))

    @staticmethod
    def backward_graph(ctx, g):
        return g.unbind(ctx.axis)


class Split(Function):
    @staticmethod
    def forward(ctx, a, sizes, axis):
        ctx.axis = axis
        return tuple(_split_array(a, sizes, axis))

    @staticmethod
    def backward(ctx, *grads):
        return xp_of(grads[0]).concatenate(grads, axis=ctx.axis)

    @staticmethod
    def backward_graph(ctx, *grads):
        return cat(list(grads), ctx.axis)


def _split_array(a, sizes, axis):
    out, start = [], 0
    index = [slice(None)] * a.ndim
    for size in sizes:
        index[axis] = slice(start, start + size)
        out.append(a[tuple(index)])
        start += size
    return out


def _check_joinable(op, tensors, axis, same_shape):
    if not tensors:
        raise RuntimeError(f"{op}() expects a non-empty sequence of Tensors")
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != len(first):
            raise RuntimeError(f"{op}(): Tensors must have same number of dimensions: got {len(first)} and {t.ndim} "
                               f"(tensor 0 has shape {list(first)}, tensor {i} has shape {list(t.shape)})")
        for d, (x, y) in enumerate(zip(first, t.shape)):
            if x != y and same_shape:
                raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 "
                                   f"and {list(t.shape)} at entry {i}")
            if x != y and d != axis:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. Expected size {x} but "
                                   f"got size {y} for tensor number {i} in the list (shapes {list(first)} and "
                                   f"{list(t.shape)}).")


def _dim_or_axis(op, dim, axis):
    """PyTorch's argument parser takes NumPy's ``axis`` for ``dim`` when ``dim`` is not given (Hugging Face's T5 calls
    ``torch.cat(..., axis=-1)``)."""
    if axis is None:
        return 0 if dim is None else dim
    if dim is not None:
        raise TypeError(f"{op}() got an unexpected keyword argument 'axis': it is an alias of 'dim', pass one of them")
    return axis


@cast_policy.promote
def cat(tensors, dim=None, *, axis=None):
    dim = _dim_or_axis("cat", dim, axis)
    tensors = promote(*tensors) if tensors else ()
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or list(tensors)  # legacy empty
    axis = normalize_dim(dim, tensors[0].ndim) if tensors else 0
    _check_joinable("cat", tensors, axis, same_shape=False)
    if len(tensors) == 1:
        return tensors[0]
    return Concat.apply(*tensors, axis=axis)


concat = concatenate = cat


@cast_policy.promote
def stack(tensors, dim=None, *, axis=None):
    dim = _dim_or_axis("stack", dim, axis)
    tensors = promote(*tensors) if tensors else ()
    _check_joinable("stack", tensors, None, same_shape=True)
    axis = normalize_dim(dim, tensors[0].ndim + 1)
    return Stack.apply(*tensors, axis=axis)


def split(a, split_size_or_sections, dim=0):
    if a.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    axis = normalize_dim(dim, a.ndim)
    length = a.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise RuntimeError(f"split_size can only be a positive integer, but got split_size={step}")
        sizes = [min(step, length - start) for start in range(0, length, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {length} (input tensor's size "
                               f"at dimension {axis}), but got split_sizes={sizes}")
    return Split.apply(a, sizes=tuple(sizes), axis=axis) if len(sizes) > 1 else (a,)


def chunk(a, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if a.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    length = a.shape[normalize_dim(dim, a.ndim)]
    return split(a, max(-(-length // chunks), 1), dim)


def _tensor_list(op, tensors):
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return list(tensors)


def hstack(tensors):
    """Concatenate along dim 1, or dim 0 when the tensors are vectors (0-d tensors count as vectors)."""
    from trainer.ops.shape import reshape

    tensors = [reshape(t, 1) if t.ndim == 0 else t for t in _tensor_list("hstack", tensors)]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0, lifting vectors and 0-d tensors to one-row matrices."""
    from trainer.ops.shape import reshape

    tensors = [reshape(t, 1, -1) if t.ndim < 2 else t for t in _tensor_list("vstack", tensors)]
    return cat(tensors, 0)


row_stack = vstack


def column_stack(tensors):
    """Concatenate along dim 1, vectors and 0-d tensors becoming columns."""
    from trainer.ops.shape import reshape

    tensors = [reshape(t, -1, 1) if t.ndim < 2 else t for t in _tensor_list("column_stack", tensors)]
    return cat(tensors, 1)
