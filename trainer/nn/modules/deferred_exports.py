"""Names a layer module offers at PyTorch's path but imports only on first use: PyTorch keeps ``LazyConv2d`` in
``conv`` and ``SyncBatchNorm`` in ``batchnorm``, while trainer keeps them in modules that import those, so a plain
import there would be circular."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def deferred_exports(module_name: str, sources: dict[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``module_name`` that finds each name of ``sources`` in the module it maps
    to (``{"LazyConv2d": "trainer.nn.modules.lazy"}``), so ``from <module_name> import LazyConv2d`` works."""

    def find(name: str):
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        return getattr(importlib.import_module(source), name)

    return find
