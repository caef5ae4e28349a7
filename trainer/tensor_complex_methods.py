"""The complex-number methods of ``Tensor``: ``.real``/``.imag``, ``conj``, ``angle`` and the
conjugate/negative-bit queries, each delegating to ``trainer.ops.complex_ops``."""

from __future__ import annotations

import trainer  # trainer.ops is looked up at call time: it loads after this module


class ComplexMethods:
    __slots__ = ()

    @property
    def real(self):
        """The real part (a copy, see ``trainer.ops.complex_ops``); a real tensor itself."""
        return trainer.ops.complex_ops.real(self)

    @property
    def imag(self):
        return trainer.ops.complex_ops.imag(self)

    def conj(self):
        return trainer.ops.complex_ops.conj(self)

    def conj_physical(self):
        return trainer.ops.complex_ops.conj_physical(self)

    def resolve_conj(self):
        return trainer.ops.complex_ops.resolve_conj(self)

    def resolve_neg(self):
        return trainer.ops.complex_ops.resolve_neg(self)

    def is_conj(self) -> bool:
        return trainer.ops.complex_ops.is_conj(self)

    def is_neg(self) -> bool:
        return trainer.ops.complex_ops.is_neg(self)

    def angle(self):
        return trainer.ops.complex_ops.angle(self)
