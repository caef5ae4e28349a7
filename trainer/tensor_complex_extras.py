"""``conj_physical_`` (the conjugate written into the tensor itself) and ``chalf`` (a cast to complex32, a dtype
trainer does not have)."""

from __future__ import annotations


def conj_physical_(self):
    """Conjugate in place; a real tensor is its own conjugate and comes back unchanged."""
    self._check_inplace()
    return self._assign(self._own_version_alias().conj_physical())


def chalf(self, memory_format=None):
    raise TypeError("chalf(): trainer has no complex32 (ComplexHalf) dtype, since NumPy and CuPy have no "
                    "half-precision complex type; use cfloat() for complex64 instead")
