"""In-place writes while tracing: which storage a view lies in, and a write into it as ONNX nodes.

ONNX values never change, so a write makes new values: the tensor written to (``x += y``, ``x[:, 0] = 0``,
``x.copy_(y)``) gets the written result, and when it is a view (``x[:, 1:] += y``, ``x.t()[0].zero_()``), the
tensor whose storage it lies in (its root) gets a copy of itself with that region replaced. The region's element
positions are computed inside the graph, not read from the traced memory layout: the ops that made the view from
its root (each a ``ViewLink``) are replayed, through their own lowerings, on the root's element positions
``Reshape(Range(0, size), Shape(root))``, so the positions are right at every size of a dynamic axis. Other views
of the root are then re-read from its new value in the same way the next time they are used.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from exporter.emitter import onnx_dtype
from exporter.errors import UnsupportedOpError
from exporter.lowerings import LOWERINGS
from trainer.autograd.view_writes import data_address


class ViewLink(NamedTuple):
    """``array`` is output ``index`` of op ``op`` (with ``attrs``) applied to ``parent``, and lies in its storage."""

    array: Any
    parent: Any
    op: str
    attrs: dict
    index: int
    shape: tuple


def storage_owner(array):
    """The array that owns ``array``'s memory (NumPy and CuPy both keep it as ``.base``)."""
    while isinstance(array.base, type(array)):
        array = array.base
    return array


def view_link(op: str, attrs: dict, index: int, parent, array) -> ViewLink | None:
    """The link that says ``array`` (an op's output) is a view into ``parent`` (its only tensor input), or None.

    A view reads its elements from its parent's memory, so the op only moves elements around and its lowering,
    applied to element positions, gives the positions the view reads. A view that reinterprets the elements as
    another dtype (``.real``, ``view_as_real``) is not followed: positions of a different element size."""
    if array is parent or array.dtype != parent.dtype or storage_owner(array) is not storage_owner(parent):
        return None
    return ViewLink(array, parent, op, attrs, index, tuple(array.shape))


def replay(g, link: ViewLink, name: str) -> str:
    """What ``link``'s op makes of the value ``name`` (shaped as its parent), through the op's own lowering."""
    lowering = LOWERINGS.get(link.op)
    if lowering is None:
        raise UnsupportedOpError(f"an in-place write goes through a view made by trainer op {link.op}, which has no "
                                 "ONNX lowering; write into the tensor itself (or a slice of it) instead")
    out = lowering(g, name, **link.attrs)
    out = out if isinstance(out, str) else out[link.index]
    return g.record(out, link.shape, g.dtype(name))


def element_positions(g, root: str) -> str:
    """The flat (row-major) position of each element of ``root``, shaped as ``root``, computed at run time."""
    shape = g.op("Shape", root)
    count = g.reduce("ReduceProd", shape, None, keepdims=False)
    positions = g.op("Range", g.const(np.int64(0)), count, g.const(np.int64(1)))
    return g.record(g.op("Reshape", positions, shape), g.shape(root), np.int64)


def cast_to(g, name: str, dtype) -> str:
    if g.dtype(name) == np.dtype(dtype):
        return name
    return g.record(g.op("Cast", name, to=onnx_dtype(dtype)), g.shape(name), dtype)


def written(g, target: str, key, value: str) -> str:
    """``target`` after ``target[key] = value`` (every element when ``key`` is None; ``value`` in its dtype)."""
    if key is None:
        if g.shape(value) == g.shape(target):
            return value
        return g.record(g.op("Expand", value, g.op("Shape", target)), g.shape(target), g.dtype(target))
    lowering = LOWERINGS.get("IndexPut")
    if lowering is None:
        raise UnsupportedOpError("an item assignment (x[key] = value) needs the lowering of trainer op IndexPut, "
                                 "which is not registered")
    return g.record(lowering(g, target, value, key=key), g.shape(target), g.dtype(target))


def written_through(g, root: str, chain: list[ViewLink], view: str) -> str:
    """``root`` with the region that the view made by ``chain`` reads replaced by ``view``'s values."""
    positions = element_positions(g, root)
    for link in chain:
        positions = replay(g, link, positions)
    updates = view
    if g.shape(view) != g.shape(positions):
        updates = g.op("Expand", view, g.op("Shape", positions))
    flat = g.op("Reshape", root, g.ints([-1]))
    scattered = g.op("ScatterElements", flat, g.op("Reshape", positions, g.ints([-1])),
                     g.op("Reshape", updates, g.ints([-1])), axis=0)
    return g.record(g.op("Reshape", scattered, g.op("Shape", root)), g.shape(root), g.dtype(root))


_BASIC_KEYS = (int, np.integer, slice, type(None), type(Ellipsis))


def writes_itself(target, key, value) -> bool:
    """Whether ``target[key] = value`` puts each element back where it is: Python's ``x[k] += y`` ends with
    ``x[k] = (the view x[k], already changed in place)``, which changes nothing."""
    items = key if isinstance(key, tuple) else (key,)
    if key is not None and not all(isinstance(k, _BASIC_KEYS) and not isinstance(k, bool) for k in items):
        return False
    region = target if key is None else target[key]
    return (region.shape == value.shape and region.strides == value.strides
            and data_address(region) == data_address(value))
