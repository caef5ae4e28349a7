"""Collectives on picklable Python objects: each object travels as its pickle's bytes. As in PyTorch, unpickling
runs code the sender chose: use these only between processes of one trusted job."""

from __future__ import annotations

import pickle

import numpy as np

from trainer.distributed import group_state
from trainer.distributed.collectives import root_of


def _to_bytes(obj):
    return np.frombuffer(pickle.dumps(obj), dtype=np.uint8)


def _from_bytes(array):
    return pickle.loads(array.tobytes())


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None) -> None:
    """Every rank's ``object_list`` takes ``src``'s objects, position by position."""
    pg = group_state.resolve(group)
    if pg is None:
        return
    root = root_of(pg, src, group_src, "broadcast_object_list", "src")
    received = pg.submit(pg.broadcast, _to_bytes(list(object_list)), root, "broadcast_object_list").result()
    if pg.rank() != root:
        for i, obj in enumerate(_from_bytes(received)):
            object_list[i] = obj


def all_gather_object(object_list, obj, group=None) -> None:
    """``object_list[r]`` becomes rank ``r``'s ``obj``."""
    pg = group_state.resolve(group)
    if pg is None:
        return
    parts = pg.submit(pg.all_gather, _to_bytes(obj), "all_gather_object").result()
    for i, part in enumerate(parts):
        object_list[i] = _from_bytes(part)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None) -> None:
    """On ``dst``, ``object_gather_list[r]`` becomes rank ``r``'s ``obj``."""
    pg = group_state.resolve(group)
    if pg is None:
        return
    root = root_of(pg, dst, group_dst, "gather_object", "dst")
    if pg.rank() == root and (object_gather_list is None or len(object_gather_list) != pg.size()):
        raise ValueError(f"Argument ``object_gather_list`` must be a list of {pg.size()} entries on the destination "
                         "rank")
    parts = pg.submit(pg.gather, _to_bytes(obj), root, "gather_object").result()
    for i, part in enumerate(parts or []):
        object_gather_list[i] = _from_bytes(part)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None) -> None:
    """``scatter_object_output_list[0]`` on rank ``r`` becomes ``src``'s ``scatter_object_input_list[r]``."""
    pg = group_state.resolve(group)
    if pg is None:
        return
    root = root_of(pg, src, group_src, "scatter_object_list", "src")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    inputs = None
    if pg.rank() == root:
        if scatter_object_input_list is None or len(scatter_object_input_list) != pg.size():
            raise ValueError(f"scatter_object_input_list must hold {pg.size()} objects on the source rank")
        inputs = [_to_bytes(o) for o in scatter_object_input_list]
    scatter_object_output_list[0] = _from_bytes(pg.submit(pg.scatter, inputs, root, "scatter_object_list").result())
