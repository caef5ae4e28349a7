"""Index combinatorics: cartesian_prod and combinations (differentiable gathers of the input at index grids
that depend only on its length) and unravel_index (integer arithmetic on the flat indices)."""

from __future__ import annotations

from trainer import dtypes
from trainer.backend import xp_of
from trainer.creation import zeros
from trainer.ops.indexing import getitem
from trainer.ops.join import stack
from trainer.ops.shape import meshgrid, reshape
from trainer.tensor import Tensor


def cartesian_prod(*tensors):
    """Every tuple with one element from each 1-D tensor, in lexicographic order, as the rows of a matrix."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    if len({t._data.dtype for t in tensors}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    return stack([reshape(grid, -1) for grid in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input, r=2, with_replacement=False):  # noqa: A002 - PyTorch's name
    """The length-``r`` combinations of a 1-D tensor's elements (with repetition on request), as the rows of a
    matrix, in the order of ``itertools.combinations``."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:  # a new empty tensor, off the graph, as in PyTorch
        return zeros(0, dtype=input.dtype, device=input.device)
    xp = xp_of(input._data)
    n = input.shape[0]
    grids = xp.meshgrid(*([xp.arange(n)] * r), indexing="ij")
    # keep the index tuples that increase (or, with replacement, never decrease) from each position to the next
    keep = xp.ones(grids[0].shape, bool)
    for left, right in zip(grids, grids[1:]):
        keep &= (left <= right) if with_replacement else (left < right)
    positions = xp.stack([grid[keep] for grid in grids], axis=1)
    return getitem(input, Tensor._wrap(positions))


def unravel_index(indices, shape):
    """The coordinates, one tensor per dim of ``shape``, of each flat (row-major) index; indices outside the
    shape wrap around, as in PyTorch."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"expected 'indices' to be a Tensor, but got {type(indices).__name__}")
    if indices._data.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype!r}")
    sizes = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(s, int) for s in sizes):
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got {shape!r}")
    if any(s < 0 for s in sizes):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(sizes)}")
    if 0 in sizes:
        raise RuntimeError(f"unravel_index: shape {tuple(sizes)} has no elements, so no index lies inside it")
    flat = indices.to(dtypes.int64)
    coordinates, stride = [], 1
    for size in reversed(sizes):  # one step per dim of ``shape``: floor division then remainder, from the last
        coordinates.append((flat // stride) % size)
        stride *= size
    return tuple(reversed(coordinates))
