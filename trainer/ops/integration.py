"""The trapezoidal rule: ``trapezoid`` (alias ``trapz``) and ``cumulative_trapezoid`` along a dim, composed of
differentiable ops (so their gradients and ONNX export come from the parts), as in PyTorch."""

from __future__ import annotations

from trainer.ops._operands import normalize_dim


def _areas(y, x, dx, dim, op):
    """The area of each trapezoid between neighbours along ``dim``."""
    if x is not None and dx is not None:
        raise RuntimeError(f"{op}: received both x and dx; pass at most one")
    axis = normalize_dim(dim, y.ndim)
    n = y.shape[axis]
    heights = (y.narrow(axis, 1, n - 1) + y.narrow(axis, 0, n - 1)) / 2 if n else y
    if x is None:
        return heights * (1 if dx is None else dx), axis
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point, got {x.shape[0]} x values "
                               f"and {n} samples along dim {axis}")
        widths = x.diff().reshape(-1, *([1] * (y.ndim - axis - 1)))
    else:
        widths = x.diff(dim=axis)
    return heights * widths, axis


def trapezoid(y, x=None, *, dx=None, dim=-1):
    areas, axis = _areas(y, x, dx, dim, "trapezoid")
    return areas.sum(axis)


def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    areas, axis = _areas(y, x, dx, dim, "cumulative_trapezoid")
    return areas.cumsum(axis)
