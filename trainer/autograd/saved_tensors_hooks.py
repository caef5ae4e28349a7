"""``torch.autograd.graph.saved_tensors_hooks``: pack what a recorded op keeps for backward, unpack it when
backward runs (to offload it, compress it, or count it).

An op keeps its inputs, outputs or intermediate arrays on its graph node (``saved_tensors`` and array attributes;
a custom ``Function`` its ``save_for_backward`` tensors). While hooks are active, recording an op passes each of them
through the innermost ``pack_hook`` and keeps only what it returns; the engine hands them to ``unpack_hook`` just
before the node's backward. Without hooks an op pays one list check.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

stack: list[tuple] = []  # (pack_hook, unpack_hook), innermost last
_disabled_message: str | None = None


class saved_tensors_hooks:  # noqa: N801 - PyTorch's public name
    """Inside the block, each tensor an op saves for backward is ``pack_hook(tensor)``; backward reads it back as
    ``unpack_hook(packed)``, which must return a tensor equal to the one packed."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        if _disabled_message is not None:
            raise RuntimeError(_disabled_message)
        stack.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc) -> None:
        stack.pop()


class save_on_cpu(saved_tensors_hooks):  # noqa: N801 - PyTorch's public name
    """Saved tensors wait on the CPU and go back to their device for backward (GPU memory for host memory)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        super().__init__(lambda t: (t.device, t.cpu()), lambda packed: packed[1].to(packed[0]))


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str):
    """Inside the block, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``, and so does
    entering this block while hooks are active."""
    global _disabled_message
    if stack:
        raise RuntimeError(error_message)
    previous, _disabled_message = _disabled_message, error_message
    try:
        yield
    finally:
        _disabled_message = previous


def pack(node) -> None:
    """Replace what ``node`` keeps for backward by what the innermost pack hook makes of it."""
    pack_hook, unpack_hook = stack[-1]
    packed = {}
    for key in node._saved_entries():
        value = node.__dict__.pop(key)
        items = value if isinstance(value, tuple) else (value,)
        packed[key] = (isinstance(value, tuple), [_packed_item(pack_hook, item) for item in items])
    node._packed = (unpack_hook, packed)


def unpack(node) -> None:
    """Give ``node`` back what it keeps for backward, through the unpack hook it was packed with."""
    unpack_hook, packed = node._packed
    node._packed = None
    for key, (is_tuple, items) in packed.items():
        values = tuple(_unpacked_item(unpack_hook, item) for item in items)
        node.__dict__[key] = values if is_tuple else values[0]


def is_array(value) -> bool:
    """Whether ``value`` is an array (NumPy, NumPy scalar or CuPy) a node keeps for backward."""
    if isinstance(value, (np.ndarray, np.generic)):
        return True
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(value, cupy.ndarray)


def _packed_item(pack_hook, item):
    """``(is_array, shape, dtype, packed)``; None stays None."""
    from trainer.tensor import Tensor

    if item is None:
        return None
    array = is_array(item)
    tensor = Tensor._wrap(item) if array else item
    return array, tuple(tensor._data.shape), tensor._data.dtype, pack_hook(tensor)


def _unpacked_item(unpack_hook, item):
    from trainer.tensor import Tensor

    if item is None:
        return None
    array, shape, dtype, packed = item
    tensor = unpack_hook(packed)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                        f"{type(tensor).__name__}")
    if tuple(tensor._data.shape) != shape or tensor._data.dtype != dtype:
        raise RuntimeError(f"saved tensor unpack_hook returned a tensor of shape {list(tensor._data.shape)} and dtype "
                           f"{tensor._data.dtype}, but the tensor packed had shape {list(shape)} and dtype {dtype}: "
                           "unpack_hook must give back a tensor equal to the one pack_hook received")
    return tensor._data if array else tensor
