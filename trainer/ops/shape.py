"""Shape ops: reshape/view, flatten, transpose/permute, squeeze/unsqueeze, expand, repeat, tril/triu, flip,
roll, diag/diagonal, repeat_interleave, narrow/select, unbind, tensor_split, movedim, meshgrid.

Where NumPy returns a view, the result shares the input's version counter, so an in-place change
through either is seen by autograd's saved-tensor check.
"""

from __future__ import annotations

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import broadcast_shapes, normalize_dim, unbroadcast


class _Reshaping(Function):
    """An op that only changes the shape: its gradient takes the input's shape back (``ctx.in_shape``)."""

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)

    backward_graph = backward  # the same on tensors, recorded


class Reshape(_Reshaping):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)


class Flatten(_Reshaping):
    @staticmethod
    def forward(ctx, a, start_dim, end_dim):
        ctx.in_shape = a.shape
        if a.ndim == 0:
            return a.reshape(1)
        size = 1
        for s in a.shape[start_dim:end_dim + 1]:
            size *= s
        return a.reshape(a.shape[:start_dim] + (size,) + a.shape[end_dim + 1:])


class Transpose(Function):
    """Any permutation of dims (``transpose``, ``permute``, ``.T``), as ONNX's Transpose."""

    @staticmethod
    def forward(ctx, a, perm):
        ctx.perm = perm
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(_inverse(ctx.perm))

    @staticmethod
    def backward_graph(ctx, g):
        return g.permute(_inverse(ctx.perm))


def _inverse(perm):
    """The permutation that undoes ``perm`` (computed in backward: a forward without one never needs it)."""
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return inverse


class Squeeze(_Reshaping):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.in_shape = a.shape
        return a.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))


class Unsqueeze(_Reshaping):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.in_shape = a.shape
        return xp_of(a).expand_dims(a, axis)


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape)

    @staticmethod
    def backward_graph(ctx, g):
        return g.sum_to_size(ctx.in_shape)


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


    @staticmethod
    def backward_graph(ctx, g):
        shape = (1,) * (g.ndim - len(ctx.in_shape)) + ctx.in_shape
        split = []
        for r, s in zip(g.shape, shape):
            split += [r // s, s]
        return g.reshape(split).sum(tuple(range(0, len(split), 2))).reshape(ctx.in_shape)


def _share_version(out, a):
    """``out`` marked as a view of ``a`` where its array is one (NumPy and CuPy give a copy for some shapes)."""
    return out._mark_view_of(a) if out._data.base is not None else out


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
    _infer_shape(requested, a._data.size)  # a size that does not fit raises here, before the op runs
    # a new tensor even where the shape stays, as in PyTorch: gradients with respect to it are its own
    return _share_version(Reshape.apply(a, shape=requested), a)


view = reshape


def flatten(a, start_dim=0, end_dim=-1):
    if a.is_quantized:  # the integers reshaped, the grid kept (QuantizedTensor.flatten)
        return a.flatten(start_dim, end_dim)
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
    return _share_version(Expand.apply(a, shape=tuple(target)), a)


def expand_as(a, other):
    return expand(a, *other.shape)


def repeat(a, *sizes):
    sizes = tuple(int(s) for s in _shape_args(sizes))
    if len(sizes) < a._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           f"of tensor: repeat dims {list(sizes)}, tensor shape {list(a.shape)}")
    return Tile.apply(a, repeats=sizes)


class Trilu(Function):
    """``tril``/``triu``: keep the lower (upper) triangle of the last two dims, from ``diagonal`` on."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.meta = diagonal, upper
        return _triangle(a, diagonal, upper)

    @staticmethod
    def backward(ctx, g):
        return _triangle(g, *ctx.meta)

    @staticmethod
    def backward_graph(ctx, g):
        diagonal, upper = ctx.meta
        return g.triu(diagonal) if upper else g.tril(diagonal)


def _triangle(a, diagonal, upper):
    xp = xp_of(a)
    return xp.triu(a, diagonal) if upper else xp.tril(a, diagonal)


class Flip(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return xp_of(a).flip(a, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).flip(g, ctx.dims)

    @staticmethod
    def backward_graph(ctx, g):
        return g.flip(ctx.dims)


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.meta = shifts, dims
        return xp_of(a).roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        shifts, dims = ctx.meta
        return xp_of(g).roll(g, tuple(-s for s in shifts), dims)

    @staticmethod
    def backward_graph(ctx, g):
        shifts, dims = ctx.meta
        return g.roll(tuple(-s for s in shifts), dims)


class Diagonal(Function):
    """The diagonal of dims ``dim1``/``dim2`` at ``offset``, appended as the last dim, as a view of ``a``'s storage
    (as PyTorch's: writing into it writes into ``a``)."""

    @staticmethod
    def forward(ctx, a, offset, dim1, dim2):
        xp = xp_of(a)
        moved = xp.moveaxis(a, (dim1, dim2), (-2, -1))
        rows, cols = _diagonal_indices(xp, moved.shape[-2], moved.shape[-1], offset)
        ctx.meta = moved.shape, rows, cols, dim1, dim2
        first = moved[..., max(-offset, 0):, max(offset, 0):]  # starts at the diagonal's first element
        return xp.lib.stride_tricks.as_strided(first, shape=(*moved.shape[:-2], len(rows)),
                                               strides=(*moved.strides[:-2], moved.strides[-2] + moved.strides[-1]))

    @staticmethod
    def backward(ctx, g):
        moved_shape, rows, cols, dim1, dim2 = ctx.meta
        xp = xp_of(g)
        out = xp.zeros(moved_shape, g.dtype)
        out[..., rows, cols] = g
        return xp.moveaxis(out, (-2, -1), (dim1, dim2))

    @staticmethod
    def backward_graph(ctx, g):
        moved_shape, rows, cols, dim1, dim2 = ctx.meta
        return linear_backward(ctx, g, lambda v: xp_of(v).moveaxis(v, (dim1, dim2), (-2, -1))[..., rows, cols])


class Diag(Function):
    """A vector as the ``diagonal``-th diagonal of a square matrix, zeros elsewhere."""

    @staticmethod
    def forward(ctx, v, diagonal):
        xp = xp_of(v)
        n = v.shape[0] + abs(diagonal)
        rows, cols = _diagonal_indices(xp, n, n, diagonal)
        ctx.meta = rows, cols, diagonal
        out = xp.zeros((n, n), v.dtype)
        out[rows, cols] = v
        return out

    @staticmethod
    def backward(ctx, g):
        rows, cols, _ = ctx.meta
        return g[rows, cols]

    @staticmethod
    def backward_graph(ctx, g):
        _, _, diagonal = ctx.meta
        return linear_backward(ctx, g, lambda v: Diag.forward(Diag.__new__(Diag), v, diagonal))


def _diagonal_indices(xp, n_rows, n_cols, offset):
    """Row and column indices of the ``offset``-th diagonal of an ``n_rows x n_cols`` matrix."""
    length = max(min(n_rows + min(offset, 0), n_cols - max(offset, 0)), 0)
    steps = xp.arange(length)
    return steps + max(-offset, 0), steps + max(offset, 0)


class Unbind(Function):
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        xp = xp_of(a)
        return tuple(xp.take(a, i, axis=axis) for i in range(a.shape[axis]))

    @staticmethod
    def backward(ctx, *grads):
        return xp_of(grads[0]).stack(grads, axis=ctx.axis)

    @staticmethod
    def backward_graph(ctx, *grads):
        from trainer.ops.join import stack

        return stack(list(grads), ctx.axis)


def _matrix_op(name, a):
    if a._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got {a._data.ndim}")


def tril(a, diagonal=0):
    _matrix_op("tril", a)
    return Trilu.apply(a, diagonal=int(diagonal), upper=False)


def triu(a, diagonal=0):
    _matrix_op("triu", a)
    return Trilu.apply(a, diagonal=int(diagonal), upper=True)


def _dims_list(dims, ndim, op):
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    axes = tuple(normalize_dim(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}(): dims has duplicates: {list(dims)}")
    return axes


def flip(a, *dims):
    axes = _dims_list(_shape_args(dims), a._data.ndim, "flip")
    return Flip.apply(a, dims=axes) if axes else a.clone()


def roll(a, shifts, dims=None):
    shifts = tuple(int(s) for s in (shifts if isinstance(shifts, (tuple, list)) else (shifts,)))
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll(): with dims=None, shifts must hold one value, got {list(shifts)}")
        return reshape(roll(flatten(a), shifts, 0), *a.shape)
    axes = tuple(normalize_dim(d, a._data.ndim) for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
    if len(axes) != len(shifts):
        raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(axes)}")
    return Roll.apply(a, shifts=shifts, dims=axes)


def diagonal(a, offset=0, dim1=0, dim2=1):
    ndim = a._data.ndim
    d1, d2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if ndim < 2:
        raise RuntimeError(f"diagonal(): input must have at least 2 dimensions, got {ndim}")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _share_version(Diagonal.apply(a, offset=int(offset), dim1=d1, dim2=d2), a)


def diag(a, diagonal=0):
    """A 1-D tensor becomes a diagonal matrix; a 2-D tensor gives its diagonal."""
    if a._data.ndim == 1:
        return Diag.apply(a, diagonal=int(diagonal))
    if a._data.ndim == 2:
        return Diagonal.apply(a, offset=int(diagonal), dim1=0, dim2=1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {a._data.ndim}D")


def repeat_interleave(a, repeats, dim=None, *, output_size=None):
    """Each element ``repeats`` times along ``dim`` (the flattened tensor when ``dim`` is None)."""
    from trainer.ops.indexing import index_select
    from trainer.tensor import Tensor

    if dim is None:
        a, dim = flatten(a), 0
    axis = normalize_dim(dim, a._data.ndim)
    if isinstance(repeats, Tensor) and repeats.ndim == 0:
        repeats = int(repeats.item())
    if isinstance(repeats, Tensor):
        counts = repeats._data
        if counts.ndim != 1 or counts.shape[0] != a._data.shape[axis]:
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim {axis}, "
                               f"but got repeats of shape {list(repeats.shape)} and input of shape {list(a.shape)}")
        if counts.size and int(counts.min()) < 0:
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        xp = xp_of(counts)
        return index_select(a, axis, Tensor._wrap(xp.repeat(xp.arange(counts.shape[0]), counts)))
    if int(repeats) < 0:
        raise RuntimeError(f"repeat_interleave: repeats can not be negative, got {repeats}")
    # a new axis after ``axis``, stretched ``repeats`` times and merged back: ops every exporter knows
    shape = a.shape
    stretched = expand(unsqueeze(a, axis + 1), *shape[:axis + 1], int(repeats), *shape[axis + 1:])
    return reshape(stretched, *shape[:axis], shape[axis] * int(repeats), *shape[axis + 1:])


def broadcast_to(a, size):
    return expand(a, *size)


def movedim(a, source, destination):
    ndim = a._data.ndim
    src = _dims_list(source, ndim, "movedim")
    dst = _dims_list(destination, ndim, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    rest = iter(d for d in range(ndim) if d not in src)
    placed = dict(zip(dst, src))
    perm = tuple(placed[i] if i in placed else next(rest) for i in range(ndim))
    return permute(a, *perm) if perm != tuple(range(ndim)) else a


moveaxis = movedim


def narrow(a, dim, start, length):
    axis = normalize_dim(dim, a._data.ndim)
    size = a._data.shape[axis]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    start = start + size if start < 0 else start
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return a[(slice(None),) * axis + (slice(start, start + length),)]


def select(a, dim, index):
    axis = normalize_dim(dim, a._data.ndim)
    size = a._data.shape[axis]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(a.shape)} at "
                         f"dimension {axis}")
    return a[(slice(None),) * axis + (int(index),)]


def unbind(a, dim=0):
    if a._data.ndim == 0:
        raise RuntimeError("unbind(): dimension specified as 0 but tensor has no dimensions")
    axis = normalize_dim(dim, a._data.ndim)
    if a._data.shape[axis] == 0:
        return ()
    out = Unbind.apply(a, axis=axis)
    return out if isinstance(out, tuple) else (out,)


def tensor_split(a, indices_or_sections, dim=0):
    """Split into ``n`` near-equal parts (the first ones one longer) or at the given indices."""
    from trainer.ops.join import Split
    from trainer.tensor import Tensor

    if a._data.ndim == 0:
        raise RuntimeError("tensor_split expects at least a 1-dimensional tensor, but got a tensor with 0 dims")
    axis = normalize_dim(dim, a._data.ndim)
    length = a._data.shape[axis]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        sizes = [length // n + (1 if i < length % n else 0) for i in range(n)]
    else:
        bounds = [min(max(int(i) + length if int(i) < 0 else int(i), 0), length) for i in indices_or_sections]
        edges = [0, *bounds, length]
        if any(lo > hi for lo, hi in zip(edges, edges[1:])):  # indices out of order give empty pieces
            return tuple(a[(slice(None),) * axis + (slice(lo, max(lo, hi)),)] for lo, hi in zip(edges, edges[1:]))
        sizes = [hi - lo for lo, hi in zip(edges, edges[1:])]
    if len(sizes) == 1:
        return (a,)
    return Split.apply(a, sizes=tuple(sizes), axis=axis)


def meshgrid(*tensors, indexing="ij"):
    tensors = _shape_args(tensors)
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.ndim}D")
    swap = indexing == "xy" and len(tensors) >= 2
    order = [1, 0, *range(2, len(tensors))] if swap else list(range(len(tensors)))
    sizes = [tensors[i].shape[0] if tensors[i].ndim else 1 for i in order]  # traced sizes stay symbolic
    out = []
    for i, t in enumerate(tensors):
        position = order.index(i)
        view_shape = [1] * len(sizes)
        view_shape[position] = sizes[position]
        out.append(expand(reshape(t, *view_shape), *sizes))
    return tuple(out)


def _at_least(dims: int, tensors, lift):
    """``atleast_Nd``: each tensor with fewer than ``dims`` dims reshaped by ``lift``; one tensor in, one out."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = tuple(t if t.ndim >= dims else lift(t) for t in tensors)
    return out[0] if len(out) == 1 else out


def atleast_1d(*tensors):
    return _at_least(1, tensors, lambda t: t.reshape(1))


def atleast_2d(*tensors):
    return _at_least(2, tensors, lambda t: t.reshape(1, -1) if t.ndim else t.reshape(1, 1))


def atleast_3d(*tensors):
    """``(n,)`` becomes ``(1, n, 1)`` and ``(m, n)`` becomes ``(m, n, 1)``, as in NumPy and PyTorch."""
    lifts = {0: lambda t: t.reshape(1, 1, 1), 1: lambda t: t.reshape(1, -1, 1), 2: lambda t: t.unsqueeze(-1)}
    return _at_least(3, tensors, lambda t: lifts[t.ndim](t))


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(expand(t, *shape) for t in tensors)


def rot90(a, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first dim towards the second."""
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if a.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {a.ndim}")
    first, second = (normalize_dim(d, a.ndim) for d in dims)
    if first == second:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return transpose(flip(a, second), first, second)
    if k == 2:
        return flip(a, first, second)
    if k == 3:
        return transpose(flip(a, first), first, second)
    return a.clone()


def fliplr(a):
    if a.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(a, 1)


def flipud(a):
    if a.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(a, 0)
