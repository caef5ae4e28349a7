"""``RemovableHandle``, what registering a hook returns (``torch.utils.hooks``'s name): tensors and modules
share it."""

from __future__ import annotations

import itertools
from collections import OrderedDict


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends: ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: OrderedDict, *, extra_dict: dict | list[dict] | None = None):
        self.id = next(RemovableHandle._ids)
        self._hooks = hooks
        # dicts that also key something by this hook's id (its options), emptied of it on remove, as in PyTorch
        self._extra_dicts = [] if extra_dict is None else extra_dict if isinstance(extra_dict, list) else [extra_dict]

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        for extra in self._extra_dicts:
            extra.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
