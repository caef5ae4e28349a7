"""In-place changes through a view while autograd records (PyTorch's ``CopySlices``): ``x[0].mul_(3)`` on an ``x``
that requires grad changes ``x``, and both ``x`` and the view get a history that says so.

As a recorded in-place op on a whole tensor does (``Tensor._assign``), the change is made out of place: the base
gets a new array, a copy with the view's elements replaced, and the view becomes the same view of it. Arrays that
earlier ops saved for backward keep their values; other views taken of the base before the change keep seeing the
old array. The view's elements are found by position, not by replaying how the view was made:
``view_positions`` reads the flat (row-major) index in the base of each element of the view from the memory
layouts. ``ViewWrite`` is the base with that region replaced (gradient: the base's gradient outside the region,
the region's to the new values) and ``ViewOf`` the view read from it; both are linear, so differentiable to any
order.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.higher_order import linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of


def data_address(array) -> int:
    return array.__array_interface__["data"][0] if isinstance(array, np.ndarray) else array.data.ptr


def view_positions(base, view):
    """The flat row-major index in ``base`` of each element of ``view`` (an array over ``base``'s memory), shaped
    like ``view``; None where ``view`` does not lie in ``base``'s memory or ``base`` is not dense."""
    xp = xp_of(base)
    offset = data_address(view) - data_address(base)
    if offset < 0 or offset % base.itemsize or view.itemsize != base.itemsize:
        return None
    layout = xp.empty_like(base, dtype=np.int64)  # base's memory order, so its strides scale base's
    ratio = layout.itemsize // base.itemsize if layout.itemsize >= base.itemsize else 0
    if not ratio or layout.itemsize % base.itemsize or layout.strides != tuple(s * ratio for s in base.strides):
        return None
    layout[...] = xp.arange(base.size, dtype=np.int64).reshape(base.shape)
    memory = layout.ravel(order="K")  # the elements in memory order: a view, as layout is dense
    start = offset // base.itemsize
    extent = start + sum((n - 1) * s // base.itemsize for n, s in zip(view.shape, view.strides)) if view.size else 0
    if not view.size or extent >= base.size or any(s < 0 for s in view.strides):
        return None if view.size else xp.zeros(view.shape, dtype=np.int64)
    positions = xp.lib.stride_tricks.as_strided(memory[start:], shape=view.shape,
                                                strides=tuple(s * ratio for s in view.strides))
    return positions.copy()


class ViewWrite(Function):
    """``base`` with the elements at ``positions`` replaced by ``values``: ``out``, the new array that
    ``write_through`` made."""

    @staticmethod
    def forward(ctx, base, values, *, positions, out):
        ctx.positions, ctx.base_shape, ctx.values_shape = positions, base.shape, values.shape
        return out

    @staticmethod
    def backward(ctx, g):
        return _outside(ctx, g), _inside(ctx, g)

    @staticmethod
    def backward_graph(ctx, g):
        return (linear_backward(ctx, g, lambda v: _outside(ctx, v), position=0),
                linear_backward(ctx, g, lambda v: _placed(ctx, v), position=1))


class ViewOf(Function):
    """The elements of ``base`` at ``positions``: the existing view array, re-entered on the graph after ``base``
    was rewritten."""

    @staticmethod
    def forward(ctx, base, *, positions, view):
        ctx.positions, ctx.base_shape, ctx.values_shape = positions, base.shape, view.shape
        return view

    @staticmethod
    def backward(ctx, g):
        return _placed(ctx, g)

    @staticmethod
    def backward_graph(ctx, g):
        return linear_backward(ctx, g, lambda v: _inside(ctx, v))


def _outside(ctx, g):
    """``g`` (shaped like the base) with the view's region zeroed."""
    out = xp_of(g).array(g, copy=True).reshape(-1)
    out[ctx.positions.reshape(-1)] = 0
    return out.reshape(ctx.base_shape)


def _inside(ctx, g):
    """The view's region of ``g`` (shaped like the base), shaped like the view."""
    return xp_of(g).ascontiguousarray(g).reshape(-1)[ctx.positions]


def _placed(ctx, g):
    """``g`` (shaped like the view) placed into zeros shaped like the base."""
    xp = xp_of(g)
    out = xp.zeros(int(np.prod(ctx.base_shape)), dtype=g.dtype)
    out[ctx.positions.reshape(-1)] = xp.broadcast_to(g, ctx.values_shape).reshape(-1)
    return out.reshape(ctx.base_shape)


def write_through(view, result) -> bool:
    """Give ``view`` the values of ``result`` (same shape and dtype, recorded) and its base the same change, with
    histories to match. False, with nothing changed, where the view's elements cannot be located in its base
    (then the caller rebinds the view alone)."""
    from trainer.tensor import Tensor

    base = view._view_base
    if view._data.dtype != base._data.dtype:
        raise RuntimeError(f"an in-place change of a {view.dtype.name} view (.real, .imag, view_as_real, "
                           f"view_as_complex) of a {base.dtype.name} tensor while autograd records is not supported: "
                           "build the new value out of place instead (e.g. trainer.complex(new_real, z.imag))")
    positions = view_positions(base._data, view._data)
    if positions is None:
        return False
    xp = xp_of(positions)
    if positions.size and int(xp.unique(positions).size) != positions.size:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    new_base = xp.array(base._data, copy=True, order="K")  # the base's layout, so the view sits where it did
    new_view = _same_place(new_base, base._data, view._data)
    new_view[...] = result._data
    before = Tensor._wrap(base._data)
    before._grad_fn, before._output_nr, before._requires_grad = base._grad_fn, base._output_nr, base._requires_grad
    rewritten = ViewWrite.apply(before, result, positions=positions, out=new_base)
    base._data = new_base
    base._grad_fn, base._output_nr, base._requires_grad = rewritten._grad_fn, 0, True
    reread = ViewOf.apply(base, positions=positions, view=new_view)
    view._data = new_view
    view._grad_fn, view._output_nr, view._requires_grad = reread._grad_fn, 0, True
    view._version_counter.value += 1  # shared with the base: ops that saved either see the change, as in PyTorch
    result._grad_fn._accept_version(view._version_counter)  # except the op that made ``result``: its inputs stay
    if base._views:
        repoint_views(base, before._data, skip=view)
    return True


def _same_place(new_base, old_base, view):
    """The view of ``new_base`` that ``view`` is of ``old_base`` (the two bases laid out alike)."""
    start = (data_address(view) - data_address(old_base)) // old_base.itemsize
    return xp_of(new_base).lib.stride_tricks.as_strided(new_base.ravel(order="K")[start:], shape=view.shape,
                                                        strides=view.strides)


def repoint_views(base, old, skip=None):
    """After a recorded in-place change gave ``base`` a new array (``old`` was its array), each view taken of it
    before becomes the same view of the new array, read from ``base`` on the graph, as PyTorch's views see the
    change; ``skip`` is a view already done."""
    xp = xp_of(old)
    if base._data.strides != old.strides:  # lay the new values out as the old ones, so the views fit on them
        relaid = xp.empty_like(old)
        relaid[...] = base._data
        base._data = relaid
    for ref in list(base._views.values()):
        view = ref()
        if view is None or view is skip:
            continue
        positions = view_positions(old, view._data)
        if positions is None:  # no longer in the old array: given an array of its own since
            continue
        view._data = _same_place(base._data, old, view._data)
        reread = ViewOf.apply(base, positions=positions, view=view._data)
        view._grad_fn, view._output_nr, view._requires_grad = reread._grad_fn, 0, True
