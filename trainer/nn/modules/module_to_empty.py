"""``Module.to_empty``: give every parameter and buffer new, uninitialised storage on a device, keeping shapes and
dtypes (how a model built on the meta device gets real weights before it is initialised or loaded)."""

from __future__ import annotations

from trainer.creation import empty_like


def to_empty(self, *, device, recurse: bool = True):
    """Parameters and buffers (of submodules too, unless ``recurse`` is False) on ``device``, values left
    uninitialised; parameters stay the same objects, as with ``to()``."""
    return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)
