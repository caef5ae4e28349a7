"""Turning other objects into tensors: ``asarray`` (sharing memory where it can, as ``torch.asarray``) and
``scalar_tensor`` (a 0-d tensor of the default float dtype)."""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.backend import as_device, cuda_context
from trainer.creation import _finish, _target, as_tensor, tensor
from trainer.tensor import Tensor


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor holding the number ``s``, of the default float dtype unless ``dtype`` says otherwise."""
    dev, xp, dt = _target(device, dtype)
    if isinstance(s, Tensor):
        s = s.item()
    with cuda_context(dev):
        return _finish(xp.asarray(s, dtype=dt.np), requires_grad)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    """``obj`` as a tensor: a tensor, or a NumPy array, comes back sharing its memory when neither ``dtype`` nor
    ``device`` asks for a change and ``copy`` is not True; ``copy=False`` refuses to copy. Other objects (numbers,
    nested sequences) are read as ``tensor`` reads them. ``requires_grad=True`` marks the result as a leaf that
    requires grad."""
    target_dtype = None if dtype is None else dtypes.as_dtype(dtype)
    if isinstance(obj, Tensor):
        out = _alias_or_convert(obj, target_dtype, device, copy)
    elif isinstance(obj, np.ndarray):
        out = _alias_or_convert(as_tensor(obj), target_dtype, device, copy)
    else:
        if copy is False:
            raise ValueError(f"can't alias a {type(obj).__name__} into a tensor without copying it")
        out = tensor(obj, dtype=target_dtype, device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _alias_or_convert(t: Tensor, dtype, device, copy) -> Tensor:
    changes_dtype = dtype is not None and dtype is not t.dtype
    changes_device = device is not None and as_device(device) != t.device
    if changes_dtype and copy is False:
        raise ValueError(f"can't alias tensor with dtype '{t.dtype.name}' into dtype '{dtype.name}'.")
    if changes_device and copy is False:
        raise ValueError(f"can't alias tensor on device '{t.device}' into device '{as_device(device)}'.")
    if changes_dtype or changes_device:
        return t.to(device=device, dtype=dtype)
    return t.clone() if copy else t
