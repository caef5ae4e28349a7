"""``RemovableHandle``, what registering a hook returns (``torch.utils.hooks``'s name): tensors and modules
share it."""

from __future__ import annotations

import itertools
from collections import OrderedDict


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends: ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: OrderedDict):
        self.id = next(RemovableHandle._ids)
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
