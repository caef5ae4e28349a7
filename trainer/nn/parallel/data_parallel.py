"""``DataParallel``: the wrapper that multi-GPU scripts put around their model.

PyTorch without an accelerator keeps the module, sets ``device_ids`` to ``[]`` and calls the module directly on
the whole batch; trainer does the same everywhere (it never splits a batch across devices), so such a script runs
unchanged. As in PyTorch the wrapped model is the child ``module``, so ``state_dict`` keys gain the ``module.``
prefix that checkpoints saved from a wrapped model carry.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from trainer.nn.modules.module import Module
from trainer.profiler.record_function import record_function

T = TypeVar("T", bound=Module)


class DataParallel(Module, Generic[T]):
    """``module`` run in this process on the device its parameters and inputs are on. ``device_ids``,
    ``output_device`` and ``dim`` are accepted and ignored, as PyTorch ignores them without an accelerator."""

    def __init__(self, module: T, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        with record_function("DataParallel.forward"):
            return self.module(*inputs, **kwargs)
