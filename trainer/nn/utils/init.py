"""``skip_init``: a module whose parameters and buffers are allocated but whose initialisation is not wanted."""

from __future__ import annotations

import inspect

from trainer.nn.modules.module import Module


def skip_init(module_cls: type[Module], *args, **kwargs) -> Module:
    """``module_cls(*args, **kwargs)`` for a caller that will overwrite every parameter and buffer (from a
    checkpoint, say): their values are unspecified, as PyTorch promises. The class must take a ``device``
    argument, as in PyTorch; arrays are allocated once, directly on that device. Without a meta device the
    module's own initialisation still runs, so this saves no time, only keeps PyTorch programs working."""
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs.setdefault("device", "cpu")
    return module_cls(*args, **kwargs)
