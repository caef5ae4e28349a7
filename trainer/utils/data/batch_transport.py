"""How a batch crosses from a DataLoader worker to the main process: its tensors travel as NumPy arrays.

A worker replaces each ``Tensor`` in the collated batch (inside dicts, named tuples, tuples and lists) by a
``TensorPayload`` holding a host NumPy array and the tensor's device; the main process turns each payload back
into a tensor on that device and, when asked, pins CPU tensors in page-locked memory.
"""

from __future__ import annotations

import collections.abc
from dataclasses import dataclass

import numpy as np

from trainer.backend import CPU, as_device, to_device
from trainer.tensor import Tensor


@dataclass(frozen=True)
class TensorPayload:
    """A tensor's data as a host NumPy array, plus the device it is restored to."""

    array: np.ndarray
    device: str


def map_leaves(data, leaf_type, fn):
    """``data`` with every ``leaf_type`` object inside its containers replaced by ``fn(leaf)``; the
    containers keep their types (a tuple stays a tuple)."""
    if isinstance(data, leaf_type):
        return fn(data)
    if isinstance(data, str):
        return data
    if isinstance(data, collections.abc.Mapping):
        mapped = {key: map_leaves(value, leaf_type, fn) for key, value in data.items()}
        try:
            return type(data)(mapped)
        except TypeError:  # a mapping type that cannot be built from a dict
            return mapped
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(map_leaves(field, leaf_type, fn) for field in data))
    if isinstance(data, (tuple, list)):
        return type(data)(map_leaves(item, leaf_type, fn) for item in data)
    return data


def _to_payload(tensor: Tensor) -> TensorPayload:
    return TensorPayload(np.asarray(to_device(tensor.detach()._data, CPU)), str(tensor.device))


def _from_payload(payload: TensorPayload) -> Tensor:
    return Tensor._wrap(to_device(payload.array, as_device(payload.device)))


def _pin(tensor: Tensor) -> Tensor:
    return tensor.pin_memory() if tensor.device.type == "cpu" else tensor


def pack_batch(batch):
    """The batch as sent by a worker: tensors replaced by ``TensorPayload``s."""
    return map_leaves(batch, Tensor, _to_payload)


def unpack_batch(batch, pin_memory: bool):
    """The batch as the main process yields it: payloads back to tensors, pinned when ``pin_memory``."""
    batch = map_leaves(batch, TensorPayload, _from_payload)
    return pin_batch(batch) if pin_memory else batch


def pin_batch(batch):
    """Every CPU tensor in ``batch`` copied to page-locked memory (needs CuPy and a CUDA device)."""
    return map_leaves(batch, Tensor, _pin)
