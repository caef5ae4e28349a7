"""``trainer.nn.attention``: PyTorch's switch for ``F.scaled_dot_product_attention``'s backends, and causal biases.

PyTorch picks one of several kernels (math, flash, memory-efficient, cuDNN, ...) for each call; trainer has one
implementation, the composed math one (``trainer.ops.attention``), which serves whatever backends are enabled.
``sdpa_kernel`` therefore records the choice and its priority as PyTorch does, and the one thing it changes is
PyTorch's refusal to run when no backend at all is enabled.
"""

from __future__ import annotations

import contextlib
from enum import IntEnum

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

# PyTorch's flag for warnings on why fused kernels were not used; trainer has no fused kernels to warn about
WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(IntEnum):
    """The backends of scaled dot product attention, with PyTorch's names and values."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


# the backends a switch controls, in the order PyTorch lists the enabled ones
_SWITCHED = (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
             SDPBackend.MATH, SDPBackend.OVERRIDEABLE)
_enabled = set(_SWITCHED)
_priority = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
             SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]


def _cur_sdpa_kernel_backends(with_priority: bool = False) -> list[SDPBackend]:
    """The enabled backends, in PyTorch's listing order or (``with_priority``) in priority order."""
    backends = [backend for backend in _SWITCHED if backend in _enabled]
    if with_priority:
        backends.sort(key=_priority.index)
    return backends


def _sdpa_kernel(backends, set_priority: bool = False) -> None:
    _enabled.clear()
    _enabled.update(backend for backend in _SWITCHED if backend in backends)
    if set_priority:  # the given order first, then the others in their previous order
        chosen = [SDPBackend(int(backend)) for backend in backends]
        _priority[:] = chosen + [backend for backend in _priority if backend not in chosen]


@contextlib.contextmanager
def sdpa_kernel(backends: list[SDPBackend] | SDPBackend, set_priority: bool = False):
    """Enable only ``backends`` (one or a list) for ``F.scaled_dot_product_attention`` inside the block; with
    ``set_priority`` their order becomes the priority order. The previous choice is restored on exit.

    Usable as a decorator too. trainer runs its single implementation whichever backends are enabled, and raises
    PyTorch's ``RuntimeError`` when none is.
    """
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError(f"Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
                             f"{type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    previous = _cur_sdpa_kernel_backends(with_priority=set_priority)
    try:
        _sdpa_kernel(backends, set_priority)
        yield {}
    finally:
        _sdpa_kernel(previous, set_priority)


def check_a_backend_is_enabled() -> None:
    """Raise PyTorch's error when ``sdpa_kernel`` left no backend enabled for scaled dot product attention."""
    if not _enabled:
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due to "
                           "turning off both the math kernel and the fused kernels: enable at least one backend, "
                           "e.g. with sdpa_kernel(SDPBackend.MATH)")

from trainer.nn.attention import bias  # noqa: E402 - torch.nn.attention.bias: the causal biases (they need the classes above)
