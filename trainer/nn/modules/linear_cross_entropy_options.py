"""``LinearCrossEntropyOptions``: how ``F.linear_cross_entropy`` walks the batch in chunks, as in PyTorch.

Passing an instance to ``linear_cross_entropy`` (or ``LinearCrossEntropyLoss``) selects the chunked path, which
never holds the whole ``(num_batches, num_classes)`` logits matrix; ``options=None`` selects the reference path
(``linear`` then ``cross_entropy``). The ``"auto"`` sentinels resolve per call, from the same table PyTorch uses,
so the chunk sizes match PyTorch's for the same shapes.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

from trainer import dtypes

__all__ = ["LinearCrossEntropyOptions"]


class _AutoDefault(NamedTuple):
    acc_policy: str
    chunking_method: str


# PyTorch's picks for the "auto" sentinels, keyed by (device type, input dtype); other pairs use the fallback.
_AUTO_DEFAULTS: dict[tuple[str, dtypes.dtype], _AutoDefault] = {
    ("cuda", dtypes.bfloat16): _AutoDefault("compact", "aspect_ratio:2"),
    ("cuda", dtypes.float16): _AutoDefault("compact", "aspect_ratio:2"),
    ("cpu", dtypes.bfloat16): _AutoDefault("accurate", "aspect_ratio"),
    ("cpu", dtypes.float16): _AutoDefault("accurate", "aspect_ratio"),
}
_AUTO_FALLBACK = _AutoDefault("compact", "aspect_ratio:2")

_ACC_POLICIES = ("auto", "accurate", "balanced", "compact")
_ACC_DTYPES = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """Configuration of the chunked ``linear_cross_entropy``.

    - ``allow_retain_graph``: for ``"mean"`` / ``"sum"`` the gradients are computed in forward and handed out
      by backward; with ``False`` they are handed out once (a second backward raises), with ``True`` they are
      kept for repeated backward passes. ``"none"`` recomputes its gradients in backward and ignores this.
    - ``batch_chunk_size``: rows per chunk (``None``: one chunk, unless ``chunking_method`` picks a size).
    - ``chunking_method``: ``"auto"``, ``"aspect_ratio"``, ``"aspect_ratio:N"`` or ``None``. ``aspect_ratio``
      sizes a chunk so that its ``(rows, num_classes)`` logits take about as much memory as the input
      ``(num_batches, in_features)``; ``:N`` divides that by ``N``.
    - ``acc_policy``: ``"auto"``, ``"accurate"``, ``"balanced"`` or ``"compact"``: PyTorch's precision/memory
      trade-off for float16/bfloat16 inputs. Trainer accepts and resolves all four but always accumulates in
      ``acc_dtype`` (PyTorch's ``"accurate"``), since NumPy and CuPy have no mixed-precision matmul to save by.
    - ``acc_dtype``: the accumulation dtype (``None``: float32 for float16/bfloat16 inputs under ``"auto"``,
      else the input's dtype).
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: Literal["accurate", "balanced", "compact", "auto"] = "auto"
    acc_dtype: dtypes.dtype | None = None

    def __post_init__(self):
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = str(self.chunking_method).partition(":")
            if not sep:
                factor = "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        valid_size = isinstance(self.batch_chunk_size, int) and not isinstance(self.batch_chunk_size, bool)
        if not (self.batch_chunk_size is None or (valid_size and self.batch_chunk_size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {self.batch_chunk_size!r}")
        if self.acc_dtype is not None and self.acc_dtype not in _ACC_DTYPES:
            raise ValueError(
                "acc_dtype must be one of {None, trainer.float16, trainer.bfloat16, trainer.float32, "
                f"trainer.float64}}, got {self.acc_dtype!r}. Pass acc_dtype=None to let the op pick automatically."
            )

    @staticmethod
    def _ceil_div(a: int, b: int) -> int:
        return -(-a // b)

    @staticmethod
    def _resolve_auto_acc_dtype(dtype: dtypes.dtype) -> dtypes.dtype | None:
        """float32 for half-precision inputs: trainer casts each chunk up explicitly, so every device has it."""
        return dtypes.float32 if dtype in (dtypes.float16, dtypes.bfloat16) else None

    def _compute_batch_chunk_size(self, num_batches: int, in_features: int, num_classes: int, method: str) -> int:
        """Rows per chunk for ``aspect_ratio[:N]``: the next power of two at or above
        ``num_batches / ceil(num_classes / in_features)``, divided by ``N``."""
        factor = int(method.split(":", 1)[1]) if ":" in method else 1
        target = self._ceil_div(num_batches, self._ceil_div(num_classes, max(in_features, 1)))
        chunk_size = 1 << (target - 1).bit_length()
        return min(chunk_size // factor, num_batches)

    def _adjust(self, num_batches: int, in_features: int, num_classes: int, dtype, device=None):
        """These options with every ``"auto"`` and ``None`` resolved for one call (PyTorch's internal API of the
        same name): a concrete ``acc_policy``, ``batch_chunk_size`` and ``acc_dtype``."""
        acc_policy = self.acc_policy
        chunking_method = self.chunking_method
        if chunking_method == "auto" and self.batch_chunk_size is not None:
            chunking_method = None  # an explicit size wins over the heuristic
        if acc_policy == "auto" or chunking_method == "auto":
            auto = _AUTO_DEFAULTS.get((device.type, dtype), _AUTO_FALLBACK) if device is not None else _AUTO_FALLBACK
            acc_policy = auto.acc_policy if acc_policy == "auto" else acc_policy
            chunking_method = auto.chunking_method if chunking_method == "auto" else chunking_method

        batch_chunk_size = num_batches if self.batch_chunk_size is None else min(self.batch_chunk_size, num_batches)
        if chunking_method is not None:
            batch_chunk_size = self._compute_batch_chunk_size(num_batches, in_features, num_classes, chunking_method)
            if self.batch_chunk_size is not None and self.batch_chunk_size != batch_chunk_size:
                raise ValueError(
                    f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method ('{chunking_method}') give "
                    f"different chunk sizes ({self.batch_chunk_size} vs {batch_chunk_size}); pass only one."
                )

        acc_dtype = self.acc_dtype
        if acc_dtype is None:
            auto_acc = self._resolve_auto_acc_dtype(dtype) if self.acc_policy == "auto" else None
            acc_dtype = auto_acc if auto_acc is not None else dtype
        return dataclasses.replace(self, acc_policy=acc_policy, chunking_method=chunking_method,
                                   batch_chunk_size=max(1, batch_chunk_size), acc_dtype=acc_dtype)
