"""Shape ops: reshape/view, flatten, transpose/permute, squeeze/unsqueeze, expand, repeat.

Where NumPy returns a view, the result shares the input's version counter, so an in-place change
through either is seen by autograd's saved-tensor check.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim, unbroadcast


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Flatten(Function):
    @staticmethod
    def forward(ctx, a, start_dim, end_dim):
        ctx.in_shape = a.shape
        if a.ndim == 0:
            return a.reshape(1)
        size = 1
        for s in a.shape[start_dim:end_dim + 1]:
            size *= s
        return a.reshape(a.shape[:start_dim] + (size,) + a.shape[end_dim + 1:])

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Transpose(Function):
    """Any permutation of dims (``transpose``, ``permute``, ``.T``), as ONNX's Transpose."""

    @staticmethod
    def forward(ctx, a, perm):
        ctx.perm = perm
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.perm)
        for i, p in enumerate(ctx.perm):
            inverse[p] = i
        return g.transpose(inverse)


class Squeeze(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.in_shape = a.shape
        return a.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Unsqueeze(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.in_shape = a.shape
        return xp_of(a).expand_dims(a, axis)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape)


class Tile(Function):
    """``repeat(*sizes)``: PyTorch's repeat is NumPy's (and ONNX's) tile."""

    @staticmethod
    def forward(ctx, a, repeats):
        ctx.in_shape = a.shape
        return xp_of(a).tile(a, repeats)

    @staticmethod
    def backward(ctx, g):
        shape = (1,) * (g.ndim - len(ctx.in_shape)) + ctx.in_shape
        split = []
        for r, s in zip(g.shape, shape):
            split += [r // s, s]
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(ctx.in_shape)



def _share_version(out, a):
    if out._data.base is not None:
        out._version_counter = a._version_counter
    return out


def _size(s) -> int:
    """``s`` as an int; an int stays the object it is, so that a size a size observer tagged keeps its tag."""
    return s if isinstance(s, int) else int(s)


def _infer_shape(shape, numel: int) -> tuple:
    """Resolve one ``-1`` and check the element count, with PyTorch's message."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def reshape(a, *shape):
    """The op records the shape as the caller wrote it (``-1`` included), so an observer sees which size was
    inferred and which sizes were read from tensors."""
    requested = tuple(_size(s) for s in _shape_args(shape))
    if _infer_shape(requested, a._data.size) == a._data.shape:
        return a
    return _share_version(Reshape.apply(a, shape=requested), a)


view = reshape


def flatten(a, start_dim=0, end_dim=-1):
    ndim = a._data.ndim
    if ndim == 0:
        return _share_version(Flatten.apply(a, start_dim=0, end_dim=0), a)
    start, end = normalize_dim(start_dim, ndim), normalize_dim(end_dim, ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return a
    return _share_version(Flatten.apply(a, start_dim=start, end_dim=end), a)


def permute(a, *dims):
    dims = _shape_args(dims)
    ndim = a._data.ndim
    if len(dims) != ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {ndim} is not equal "
                           f"to len(dims) = {len(dims)}")
    perm = tuple(normalize_dim(d, ndim) for d in dims)
    if len(set(perm)) != ndim:
        raise RuntimeError(f"permute(): duplicate dims are not allowed: {list(dims)}")
    return _share_version(Transpose.apply(a, perm=perm), a)


def transpose(a, dim0, dim1):
    ndim = a._data.ndim
    if ndim == 0:
        return a
    d0, d1 = normalize_dim(dim0, ndim), normalize_dim(dim1, ndim)
    perm = list(range(ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return _share_version(Transpose.apply(a, perm=tuple(perm)), a)


def t(a):
    if a._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a._data.ndim}D")
    return transpose(a, 0, 1) if a._data.ndim == 2 else a


def squeeze(a, dim=None):
    ndim = a._data.ndim
    if dim is None:
        axes = tuple(i for i, s in enumerate(a._data.shape) if s == 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = tuple(d for d in (normalize_dim(d, ndim) for d in dims) if ndim and a._data.shape[d] == 1)
    if not axes:
        return a
    return _share_version(Squeeze.apply(a, axes=axes), a)


def unsqueeze(a, dim):
    axis = normalize_dim(dim, a._data.ndim + 1)
    return _share_version(Unsqueeze.apply(a, axis=axis), a)


def expand(a, *sizes):
    sizes = _shape_args(sizes)
    shape = a._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        own = shape[i - lead] if i >= lead else None
        if s == -1:
            if own is None:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension {i}")
            s = own
        elif own is not None and own != 1 and own != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({own}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(shape)}")
        target.append(_size(s))
    target = tuple(target)
    if target == shape:
        return a
    return _share_version(Expand.apply(a, shape=target), a)


def expand_as(a, other):
    return expand(a, *other.shape)


def repeat(a, *sizes):
    sizes = tuple(int(s) for s in _shape_args(sizes))
    if len(sizes) < a._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           f"of tensor: repeat dims {list(sizes)}, tensor shape {list(a.shape)}")
    return Tile.apply(a, repeats=sizes)
