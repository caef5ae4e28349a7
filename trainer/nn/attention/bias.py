"""Causal biases for ``F.scaled_dot_product_attention``, as in ``torch.nn.attention.bias``.

A ``CausalBias`` is, as in PyTorch, a ``Tensor`` subclass: the triangular boolean mask of its variant and two
sequence lengths. ``scaled_dot_product_attention`` recognises it when it is passed as ``attn_mask`` (trainer has no
``__torch_function__`` dispatch) and reads the mask on the query's device.
"""

from __future__ import annotations

import warnings
from enum import IntEnum, auto

from trainer import dtypes
from trainer.creation import ones
from trainer.ops.shape import tril
from trainer.tensor import Tensor

__all__ = ["causal_upper_left", "causal_lower_right", "CausalVariant", "CausalBias"]


class CausalVariant(IntEnum):
    """Where the causal triangle is anchored in the ``(seq_len_q, seq_len_kv)`` grid.

    ``UPPER_LEFT``: query ``i`` sees keys ``0..i`` (``tril(ones(size))``, what ``is_causal=True`` means).
    ``LOWER_RIGHT``: aligned to the last key, so the last query sees every key
    (``tril(ones(size), diagonal=seq_len_kv - seq_len_q)``). The two agree for square grids.
    """

    UPPER_LEFT = auto()
    LOWER_RIGHT = auto()


class CausalBias(Tensor):
    """A causal (triangular) attention mask of one ``CausalVariant``, made by ``causal_upper_left`` or
    ``causal_lower_right`` and passed to ``F.scaled_dot_product_attention`` as ``attn_mask``: a boolean
    ``(seq_len_q, seq_len_kv)`` tensor, True where a query may attend."""

    __slots__ = ("variant", "seq_len_q", "seq_len_kv")

    def __init__(self, variant: CausalVariant, seq_len_q: int, seq_len_kv: int):
        if not isinstance(variant, CausalVariant):
            raise AssertionError(f"variant must be a CausalVariant, got {type(variant).__name__}")
        self.variant = variant
        self.seq_len_q = seq_len_q
        self.seq_len_kv = seq_len_kv
        if seq_len_q > seq_len_kv and variant == CausalVariant.LOWER_RIGHT:
            warnings.warn("Lower right causal bias will produce NaNs in the output when seq_len_q > seq_len_kv!",
                          stacklevel=2)
        self._init(self._materialize()._data)

    def _materialize(self, device=None) -> Tensor:
        """The mask as a plain boolean tensor (on the CPU by default)."""
        grid = ones(self.seq_len_q, self.seq_len_kv, dtype=dtypes.bool, device=device or "cpu")
        if self.variant == CausalVariant.UPPER_LEFT:
            return tril(grid)
        return tril(grid, diagonal=self.seq_len_kv - self.seq_len_q)

    def __repr__(self) -> str:
        return repr(self._materialize())


def causal_upper_left(*size) -> CausalBias:
    """The ``UPPER_LEFT`` causal bias of ``size = (seq_len_q, seq_len_kv)``: the same as ``is_causal=True``."""
    if len(size) != 2:
        raise AssertionError(f"causal_upper_left only supports 2D tensors, but got size {size}")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.UPPER_LEFT, seq_len_q, seq_len_kv)


def causal_lower_right(*size) -> CausalBias:
    """The ``LOWER_RIGHT`` causal bias of ``size = (seq_len_q, seq_len_kv)``: the triangle ends at the last key."""
    if len(size) != 2:
        raise AssertionError(f"causal_lower_right only supports 2D tensors, but got size {size}")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.LOWER_RIGHT, seq_len_q, seq_len_kv)
