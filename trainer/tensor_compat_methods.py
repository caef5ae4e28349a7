"""``CompatMethods``, the ``Tensor`` methods PyTorch scripts call that are about storage, legacy forms or tensor
kinds: ``as_strided``, ``storage_offset``, ``new``, ``type``, ``resize_``, ``apply_``/``map_``/``map2_``, the kind
flags (``is_sparse``, ``is_quantized``, ... are False here and True on their subclasses), ``is_meta``,
``layout``, pinned and shared memory and ``register_post_accumulate_grad_hook``.
"""

from __future__ import annotations

import builtins

import numpy as np

import trainer  # trainer.ops is looked up at call time: it loads after this module
from trainer.autograd import post_accumulate_grad_hooks
from trainer.backend import cupy_available
from trainer.layouts import strided
from trainer.legacy_tensor_types import legacy_new, tensor_type


class CompatMethods:
    __slots__ = ()

    type = tensor_type

    # ----------------------------------------------------------------- storage
    def as_strided(self, size, stride, storage_offset=None):
        return trainer.ops.as_strided.as_strided(self, size, stride, storage_offset)

    def storage_offset(self) -> int:
        """Where this tensor starts in its storage, in elements."""
        return trainer.ops.as_strided.storage_offset(self._data)

    def resize_(self, *sizes, memory_format=None):
        return trainer.tensor_storage.resize_(self, *sizes, memory_format=memory_format)

    def resize_as_(self, the_template, memory_format=None):
        return trainer.tensor_storage.resize_as_(self, the_template, memory_format=memory_format)

    # ----------------------------------------------------------------- legacy forms
    def new(self, *args, device=None):
        """The legacy constructor with this tensor's dtype and device: ``x.new(2, 3)``, ``x.new([1, 2])``."""
        return legacy_new(self.dtype, trainer.device(device) if device is not None else self.device, args)

    def short(self):
        return self.to(trainer.int16)

    def apply_(self, callable):  # noqa: A002 - PyTorch's parameter name
        """Replace every element ``x`` by ``callable(x)`` (a Python callable, so CPU tensors only, as in
        PyTorch)."""
        return _map_in_place(self, "apply_", callable, ())

    def map_(self, tensor, callable):  # noqa: A002
        """``self[i] = callable(self[i], tensor[i])``, ``tensor`` broadcast to this tensor's shape."""
        return _map_in_place(self, "map_", callable, (tensor,))

    def map2_(self, x, y, callable):  # noqa: A002
        """``self[i] = callable(self[i], x[i], y[i])``, ``x`` and ``y`` broadcast to this tensor's shape."""
        return _map_in_place(self, "map2_", callable, (x, y))

    # ----------------------------------------------------------------- kinds of tensor
    @property
    def is_sparse(self) -> bool:
        """False for a dense tensor (``SparseTensor`` says True)."""
        return False

    @property
    def is_quantized(self) -> bool:
        """False for a float or integer tensor (``QuantizedTensor`` says True)."""
        return False

    @property
    def is_meta(self) -> bool:
        """Whether the tensor is on the meta device (a shape and a dtype, no data)."""
        return self.device.type == "meta"

    @property
    def is_mkldnn(self) -> bool:
        """False: trainer has no MKL-DNN tensors."""
        return False

    @property
    def is_nested(self) -> bool:
        """False: a dense tensor (``trainer.nested.NestedTensor`` answers True)."""
        return False

    @property
    def layout(self):
        """Always ``trainer.strided``: every tensor is a dense, strided array."""
        return strided

    @property
    def output_nr(self) -> int:
        """Which output of its ``grad_fn`` this tensor is."""
        return self._output_nr

    # ----------------------------------------------------------------- pinned and shared memory
    def pin_memory(self):
        """A copy in page-locked host memory (CuPy's pinned allocator), which CUDA copies read without
        staging. As in PyTorch, this needs a CUDA device and raises without one."""
        if not cupy_available():
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if self.device.type != "cpu":
            raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
        import cupyx

        pinned = cupyx.empty_pinned(self._data.shape, self._data.dtype)
        pinned[...] = self._data
        return trainer.Tensor._wrap(pinned)

    def is_pinned(self) -> bool:
        """Whether this CPU tensor lives in page-locked memory (never without CuPy and a CUDA device)."""
        if self.device.type != "cpu" or self._data.size == 0 or not cupy_available():
            return False
        import cupy

        attributes = cupy.cuda.runtime.pointerGetAttributes(self.data_ptr())
        return attributes.type == cupy.cuda.runtime.memoryTypeHost

    def share_memory_(self):
        """Returns this tensor unchanged. trainer tensors are ordinary process memory: a tensor sent to another
        process is copied (pickled), not shared, so ``is_shared()`` stays False."""
        return self

    def is_shared(self) -> bool:
        """False: trainer does not place tensors in shared memory (see ``share_memory_``)."""
        return False

    # ----------------------------------------------------------------- autograd
    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after ``backward()`` has accumulated this leaf's gradient into ``.grad``."""
        return post_accumulate_grad_hooks.register(self, hook)

    # ----------------------------------------------------------------- activations PyTorch also binds as methods
    def prelu(self, weight):
        return trainer.nn.functional.prelu(self, weight)

    def hardshrink(self, lambd=0.5):
        return trainer.nn.functional.hardshrink(self, lambd)


def _map_in_place(self, name, fn, others):
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() instead.")
    if not callable(fn):
        raise TypeError(f"'{builtins.type(fn).__name__}' object is not callable")
    tensors = (self, *others)
    if any(t.device.type != "cpu" for t in tensors):
        raise TypeError(f"{name} is only implemented on CPU tensors")
    columns = [np.broadcast_to(t._data, self._data.shape).ravel().tolist() for t in tensors]
    values = [fn(*args) for args in zip(*columns)]
    self._data[...] = np.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._version_counter.value += 1
    return self
