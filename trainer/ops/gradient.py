"""``gradient``: the derivative of a sampled function along each dimension by finite differences (as
``torch.gradient`` and ``numpy.gradient``): central differences inside, one-sided differences of first or second
order at the edges, with uniform spacing (a number per dimension) or the sample coordinates (a 1-D tensor per
dimension).

Composed from differentiable trainer ops, in PyTorch's order of operations, so it has gradients of every order
and exports as ordinary nodes.
"""

from __future__ import annotations

from numbers import Number

from trainer.ops._operands import normalize_dim
from trainer.ops.join import cat
from trainer.tensor import Tensor


def _slice(t: Tensor, dim: int, start: int | None, stop: int | None = None) -> Tensor:
    return t[(slice(None),) * dim + (slice(start, stop),)]


def _uniform(f: Tensor, dim: int, h, edge_order: int) -> Tensor:
    """Along ``dim`` with samples ``h`` apart."""
    center = (_slice(f, dim, 2) - _slice(f, dim, 0, -2)) / h
    if edge_order == 1:
        first = (_slice(f, dim, 1, 2) - _slice(f, dim, 0, 1)) / h
        last = (_slice(f, dim, -1) - _slice(f, dim, -2, -1)) / h
    else:
        first = (_slice(f, dim, 0, 1) * -1.5 + _slice(f, dim, 1, 2) * 2 - _slice(f, dim, 2, 3) * 0.5) / h
        last = (_slice(f, dim, -3, -2) * 0.5 + _slice(f, dim, -2, -1) * -2 + _slice(f, dim, -1) * 1.5) / h
    return cat([first, center / 2, last], dim)


def _at_coordinates(f: Tensor, dim: int, x: Tensor, edge_order: int) -> Tensor:
    """Along ``dim`` with samples at the coordinates ``x``: the second-order accurate weights for unequal steps."""
    shape = [1] * f.ndim
    shape[dim] = -1
    dx = x.diff(1, 0)
    dx1, dx2 = dx[:-1], dx[1:]
    a = (-dx2 / (dx1 * (dx1 + dx2))).reshape(shape)
    b = ((dx2 - dx1) / (dx1 * dx2)).reshape(shape)
    c = (dx1 / (dx2 * (dx1 + dx2))).reshape(shape)
    center = a * _slice(f, dim, 0, -2) + b * _slice(f, dim, 1, -1) + c * _slice(f, dim, 2)
    if edge_order == 1:
        first = (_slice(f, dim, 1, 2) - _slice(f, dim, 0, 1)) / dx[0]
        last = (_slice(f, dim, -1) - _slice(f, dim, -2, -1)) / dx[-1]
    else:
        a = -(2.0 * dx[0] + dx[1]) / (dx[0] * (dx[0] + dx[1]))
        b = (dx[0] + dx[1]) / (dx[0] * dx[1])
        c = -dx[0] / (dx[1] * (dx[0] + dx[1]))
        first = a * _slice(f, dim, 0, 1) + b * _slice(f, dim, 1, 2) + c * _slice(f, dim, 2, 3)
        a = dx[-1] / (dx[-2] * (dx[-1] + dx[-2]))
        b = -(dx[-1] + dx[-2]) / (dx[-1] * dx[-2])
        c = (2 * dx[-1] + dx[-2]) / (dx[-1] * (dx[-1] + dx[-2]))
        last = a * _slice(f, dim, -3, -2) + b * _slice(f, dim, -2, -1) + c * _slice(f, dim, -1)
    return cat([first, center, last], dim)


def _dims(dim, ndim: int) -> list[int]:
    if dim is None:
        return list(range(ndim))
    dims = [normalize_dim(d, ndim) for d in (dim if isinstance(dim, (list, tuple)) else [dim])]
    for i, d in enumerate(dims):
        if d in dims[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return dims


def _spacings(spacing, dims: list[int], given_dim: bool, ndim: int) -> list:
    """One spacing (a number or a coordinate tensor) per dimension in ``dims``."""
    if isinstance(spacing, Tensor) and spacing.ndim == 0:
        spacing = spacing.item()
    if isinstance(spacing, Number):
        return [spacing] * len(dims)
    if not isinstance(spacing, (list, tuple)):
        raise TypeError(f"torch.gradient: spacing must be a number, a list of numbers or a list of 1-D tensors, "
                        f"got {type(spacing).__name__}")
    if not given_dim and len(spacing) != ndim:
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or a list of length equal "
                           f"to 'self.dim() = {ndim}', since dim argument was not given, but got a list of length "
                           f"{len(spacing)}")
    if given_dim and len(spacing) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                           f"arguments to have the same length, but got a spacing argument of length {len(spacing)} "
                           f"and a dim argument of length {len(dims)}.")
    return list(spacing)


def gradient(input, *, spacing=1, dim=None, edge_order=1):  # noqa: A002 - PyTorch's names
    """A tuple with the estimated derivative of ``input`` along each dimension in ``dim`` (all by default)."""
    if input.dtype.name == "uint8":
        raise RuntimeError("torch.gradient does not support uint8 input.")
    dims = _dims(dim, input.ndim)
    spacings = _spacings(spacing, dims, dim is not None, input.ndim)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    if any(input.shape[d] < edge_order + 1 for d in dims):
        raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    for d, h in zip(dims, spacings):
        if isinstance(h, Tensor):
            if h.ndim != 1:
                raise RuntimeError(f"torch.gradient expected each element of spacing to have one dimension, but got "
                                   f"an element with {h.ndim} dimensions!")
            if h.shape[0] != input.shape[d]:
                raise RuntimeError(f"torch.gradient expected the coordinates for dimension {d} to have "
                                   f"{input.shape[d]} elements, one per sample, but got {h.shape[0]}")
    return tuple(_at_coordinates(input, d, h, edge_order) if isinstance(h, Tensor) else
                 _uniform(input, d, h, edge_order) for d, h in zip(dims, spacings))
