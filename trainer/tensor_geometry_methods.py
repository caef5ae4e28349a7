"""``Tensor`` methods about a tensor's sizes and strides: ``as_strided_`` (in place: any sizes, strides and storage
offset over the tensor's own storage), ``as_strided_scatter`` and ``slice_inverse`` (see
``trainer.ops.strided_inverses``), and the deprecated out-of-place ``resize``/``resize_as``, which PyTorch
keeps with a warning and which, unlike ``resize_``, only reshape (the number of elements must stay the same)."""

from __future__ import annotations

import math
import warnings

import trainer  # trainer.ops is looked up at call time: it loads after this module


def as_strided_(self, size, stride, storage_offset=None):
    """Make this tensor the view ``self.as_strided(size, stride, storage_offset)`` of its own storage."""
    self._check_inplace()
    return self._assign_view(trainer.ops.as_strided.as_strided(self, size, stride, storage_offset))


def as_strided_scatter(self, src, size, stride, storage_offset=None):
    return trainer.ops.strided_inverses.as_strided_scatter(self, src, size, stride, storage_offset)


def slice_inverse(self, src, dim=0, start=None, end=None, step=1):
    return trainer.ops.strided_inverses.slice_inverse(self, src, dim, start, end, step)


def resize(self, *sizes):
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _reshaped_for_resize(self, sizes)


def resize_as(self, tensor):
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return _reshaped_for_resize(self, tuple(tensor.shape))


def _reshaped_for_resize(self, sizes):
    # PyTorch takes sizes as separate ints; a single sequence is read as the sizes too
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    numel = math.prod(sizes)
    if numel != self.numel():
        raise RuntimeError(f"requested resize to {'x'.join(map(str, sizes))} ({numel} elements in total), but the "
                           f"given tensor has a size of {'x'.join(map(str, self.shape))} ({self.numel()} elements). "
                           "autograd's resize can only change the shape of a given tensor, while preserving the "
                           "number of elements. ")
    return self.contiguous().view(sizes)
