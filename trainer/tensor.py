"""``Tensor``: one ``xp`` array plus what autograd needs (``requires_grad``, ``grad``, its graph node).

Methods are thin: the maths lives in ``trainer.ops``, one ``Function`` per op.
"""

from __future__ import annotations

import weakref

import numpy as np

import trainer  # trainer.ops and trainer.creation are looked up at call time: they load after this module
from trainer import dtypes, memory_formats
from trainer.autograd import grad_mode, observe, write_observers
from trainer.backend import as_device, device_of, to_device, xp_of
from trainer.tensor_complex_methods import ComplexMethods
from trainer.tensor_elementwise import ElementwiseMethods
from trainer.tensor_inplace import InplaceMethods
from trainer.tensor_methods import TensorMethods
from trainer.tensor_sparse_methods import SparseLayoutMethods


class Size(tuple):
    """``torch.Size``: a tuple of ints that prints as ``trainer.Size([2, 3])``."""

    def __repr__(self):
        return f"trainer.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


def as_array(value):
    """``value`` as an array: NumPy returns immutable scalars, not 0-d arrays, from full reductions and from
    arithmetic on 0-d arrays, and a tensor's storage must be writable in place."""
    return np.asarray(value) if isinstance(value, np.generic) else value


# storage type -> the Tensor subclass that wraps it (trainer.sparse_tensor registers its sparse storage)
_TENSOR_TYPE_OF: dict = {}


class _Version:
    """A counter shared by a tensor and its views, bumped by every in-place change."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor(TensorMethods, ElementwiseMethods, InplaceMethods, ComplexMethods, SparseLayoutMethods):
    __slots__ = ("_data", "_requires_grad", "_grad", "_grad_fn", "_output_nr", "_version_counter",
                 "_retains_grad", "_hooks", "_view_base", "_views", "__weakref__")
    __array_priority__ = 1000  # as PyTorch's: ``np.float64(2) * t`` is ``t.__rmul__``, a Tensor, not an ndarray

    def __init__(self, *args, requires_grad: bool = False):
        """``torch.Tensor(data)`` (default float dtype) or ``torch.Tensor(*sizes)`` (uninitialised)."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            array = trainer.creation.tensor(args[0], dtype=dtypes.get_default_dtype())._data
        else:
            array = np.empty(_sizes(args), dtypes.get_default_dtype().np)
        self._init(array, requires_grad)

    def _init(self, array, requires_grad=False):
        self._data = array
        self._requires_grad = requires_grad
        self._grad = None
        self._grad_fn = None
        self._output_nr = 0
        self._version_counter = _Version()
        self._retains_grad = False
        self._hooks = None  # a leaf's gradient hooks; a non-leaf's live on its node, per output
        self._view_base = None  # for a view of another tensor's storage: that tensor (the root of a chain of views)
        self._views = None  # id -> weak reference of the views taken of this tensor while recording

    @classmethod
    def _wrap(cls, array, requires_grad: bool = False) -> Tensor:
        """A tensor around an existing array, without copying (the internal constructor)."""
        t = object.__new__(_TENSOR_TYPE_OF.get(type(array), Tensor))
        t._init(as_array(array), requires_grad)
        return t

    # ----------------------------------------------------------------- attributes
    @property
    def shape(self) -> Size:
        if observe.size_observers:
            return Size(observe.read_sizes(self, self._data.shape))
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return self.shape
        if observe.size_observers:
            return self.shape[_dim(dim, self._data.ndim)]
        return self._data.shape[_dim(dim, self._data.ndim)]

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy(self._data.dtype)

    @property
    def device(self):
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return dtypes.is_floating(self._data.dtype)

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def _version(self) -> int:
        return self._version_counter.value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            )
        if requires_grad and not dtypes.is_inexact(self._data.dtype):
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self.dtype}")
        self._requires_grad = bool(requires_grad) or self._grad_fn is not None
        return self

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has shape {list(value.shape)} but the tensor has "
                                   f"shape {list(self.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"assigned grad has dtype {value.dtype.name} but the tensor has dtype "
                                   f"{self.dtype.name}; convert it with .to({self.dtype!r})")
            if value.device != self.device:
                raise RuntimeError(f"assigned grad is on {value.device} but the tensor is on {self.device}")
        self._grad = value

    @property
    def data(self) -> Tensor:
        """The same storage without autograd history (``outputs.data`` in an evaluation loop)."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    @property
    def T(self) -> Tensor:
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    # ----------------------------------------------------------------- conversions
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self.numpy(force=True).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._data.dtype == dtypes.bfloat16.np and not force:  # as PyTorch; NumPy has no bfloat16 of its own
            raise TypeError("Got unsupported ScalarType BFloat16: NumPy has no bfloat16; convert the tensor first, "
                            "e.g. t.float().numpy()")
        if self._requires_grad and grad_mode._state.enabled and not force:  # as PyTorch: fine under no_grad
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if xp_of(self._data) is not np:
            if not force:
                raise TypeError(f"can't convert {self.device.type} tensor to numpy. Use Tensor.cpu() to copy the "
                                "tensor to host memory first.")
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        """NumPy's array protocol: ``np.asarray(t)`` shares a CPU tensor's memory, ``np.array(t)`` copies it, and
        ``copy=False`` refuses where a copy cannot be avoided (a CUDA tensor, another dtype)."""
        needs_copy = self.device.type != "cpu" or (dtype is not None and np.dtype(dtype) != self._data.dtype)
        if copy is False and needs_copy:
            raise ValueError(f"cannot give a {self.dtype} tensor on {self.device} to NumPy without a copy "
                             f"(copy=False was asked for); use np.asarray(tensor) to allow one")
        array = np.asarray(self.detach().cpu()._data)
        array = array if dtype is None else array.astype(dtype, copy=False)
        return array.copy() if copy and not needs_copy else array

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            count = "no values" if self._data.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {count} is ambiguous")
        return bool(self.item())

    def __format__(self, format_spec):
        # as PyTorch: a plain 0-d tensor formats as its number ('{:+.2f}'.format(loss)); others as objects do
        if self._data.ndim == 0 and type(self) is Tensor:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __getstate__(self):
        """For pickling and ``copy.deepcopy``: all but the links between a view and its base (a copy owns its
        array, and the record of views holds weak references)."""
        return {name: getattr(self, name) for name in Tensor.__slots__
                if name not in ("_view_base", "_views", "__weakref__") and hasattr(self, name)}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)
        self._view_base = self._views = None

    def __repr__(self):
        from trainer._tensor_str import tensor_repr  # PyTorch's layout, following set_printoptions

        return tensor_repr(self)

    # ----------------------------------------------------------------- device and dtype
    def to(self, *args, **kwargs) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``, with keyword forms; ``memory_format``
        (default ``preserve_format``) lays the result out as it says, copying only where the layout differs."""
        target_device, target_dtype = _parse_to(args, kwargs)
        layout = memory_formats.check_memory_format(kwargs.get("memory_format", memory_formats.preserve_format), "to")
        out = self
        if target_dtype is not None and target_dtype.np != out._data.dtype:
            out = trainer.ops.tensor_ops.cast(out, target_dtype)
        if target_device is not None and device_of(out._data) != _resolve_device(target_device):
            out = trainer.ops.tensor_ops.to_device(out, _resolve_device(target_device))
        if kwargs.get("copy") and out is self:
            out = self.clone(memory_format=layout)
        if layout is not memory_formats.preserve_format and memory_formats.suggested_format(out._data) is not layout:
            out = trainer.ops.tensor_ops.clone(out, layout)
        return out

    def cuda(self, device=None) -> Tensor:
        return self.to("cuda" if device is None else as_device(device if not isinstance(device, int) else device))

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def bfloat16(self) -> Tensor:
        return self.to(dtypes.bfloat16)

    def cfloat(self) -> Tensor:
        return self.to(dtypes.complex64)

    def cdouble(self) -> Tensor:
        return self.to(dtypes.complex128)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool)

    # ----------------------------------------------------------------- new tensors like this one
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        return trainer.creation.tensor(data, **self._new_options(dtype, device, requires_grad))

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return trainer.creation.zeros(*size, **self._new_options(dtype, device, requires_grad))

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return trainer.creation.ones(*size, **self._new_options(dtype, device, requires_grad))

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return trainer.creation.empty(*size, **self._new_options(dtype, device, requires_grad))

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        return trainer.creation.full(size, fill_value, **self._new_options(dtype, device, requires_grad))

    def _new_options(self, dtype, device, requires_grad) -> dict:
        """``new_*`` keep this tensor's dtype and device unless told otherwise."""
        return {"dtype": dtype or self.dtype, "device": device or self.device, "requires_grad": requires_grad}

    # ----------------------------------------------------------------- autograd
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        from trainer.autograd.engine import root_gradient, run_backward

        if inputs is not None:  # accumulate into ``inputs`` only, as ``torch.autograd.backward`` does
            from trainer.autograd.backward_pass import backward

            return backward(self, gradient, retain_graph, create_graph, inputs=inputs)

        # as in PyTorch, a graph that records its own backward is kept unless told otherwise
        retain_graph = create_graph if retain_graph is None else retain_graph
        run_backward((self,), (root_gradient(self, gradient, create_graph=create_graph),),
                     retain_graph=bool(retain_graph), create_graph=create_graph)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after ``backward()``."""
        import weakref

        if self._grad_fn is None:
            return
        node = self._grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """``hook(grad)`` runs on the gradient flowing into this tensor during backward; a tensor it returns
        replaces that gradient. Returns a handle whose ``remove()`` unregisters it."""
        from trainer.utils.hooks import RemovableHandle

        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:  # on the node, so a later in-place op leaves this hook on the value it was registered for
            hooks = self._grad_fn._hooks_of(self._output_nr)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def detach(self) -> Tensor:
        out = Tensor._wrap(self._data)
        out._version_counter = self._version_counter
        return out

    def detach_(self) -> Tensor:
        self._grad_fn = None
        self._requires_grad = False
        return self

    def clone(self, *, memory_format=memory_formats.preserve_format) -> Tensor:
        """A copy; by default laid out like this tensor (``preserve_format``), as in PyTorch."""
        return trainer.ops.tensor_ops.clone(self, memory_formats.check_memory_format(memory_format, "clone"))

    def contiguous(self, memory_format=memory_formats.contiguous_format) -> Tensor:
        """This tensor if its memory is already laid out as ``memory_format`` says, else a copy that is."""
        memory_formats.check_memory_format(memory_format, "contiguous")
        if memory_formats.is_contiguous_in(self._data, memory_format):
            return self
        if memory_format is memory_formats.preserve_format:
            raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
        return trainer.ops.tensor_ops.clone(self, memory_format)

    def is_contiguous(self, memory_format=memory_formats.contiguous_format) -> bool:
        return memory_formats.is_contiguous_in(self._data, memory_formats.check_memory_format(memory_format,
                                                                                             "is_contiguous"))

    # ----------------------------------------------------------------- in-place
    def _check_inplace(self) -> None:
        if not grad_mode._state.enabled:
            return
        if self._grad_fn is None and self._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._view_base
        if base is not None and base._grad_fn is None and base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")

    def _mark_view_of(self, base: Tensor) -> Tensor:
        """Record that ``self`` is a view of ``base``'s storage: they share a version counter, and an in-place
        change through ``self`` while recording also changes ``base`` (``trainer.autograd.view_writes``)."""
        self._version_counter = base._version_counter
        root = self._view_base = base if base._view_base is None else base._view_base
        # while recording, the root remembers its views: a recorded in-place change gives it a new array, which they
        # then view instead (a leaf that requires grad cannot change in place, so its views need no record)
        if grad_mode._state.enabled and (root._grad_fn is not None or not root._requires_grad):
            if root._views is None:
                root._views = {}
            key = id(self)
            root._views[key] = weakref.ref(self, lambda _, views=root._views, key=key: views.pop(key, None))
        return self

    def _assign(self, result: Tensor) -> Tensor:
        """Make ``self`` hold ``result``: written into the same storage when nothing records a graph,
        otherwise rebound so that backward sees the new op (PyTorch's rebase of history)."""
        if result._data.dtype != self._data.dtype:
            if not np.can_cast(result._data.dtype, self._data.dtype, "same_kind"):
                from trainer.ops._dtype_errors import scalar_type_name  # the ops load after this module

                raise RuntimeError(f"result type {scalar_type_name(dtypes.from_numpy(result._data.dtype))} can't be "
                                   f"cast to the desired output type {scalar_type_name(self.dtype)}")
        if result._data.shape != self._data.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        if result._grad_fn is None:
            if write_observers.observers:
                write_observers.notify_write(self, None, result)
            self._data[...] = result._data
            self._version_counter.value += 1
        else:
            if result._data.dtype != self._data.dtype:
                result = result.to(self.dtype)
            from trainer.autograd import view_writes  # it needs Tensor, so it loads after this module

            if self._view_base is not None and view_writes.write_through(self, result):
                return self
            previous = self._data
            self._data = result._data
            self._grad_fn, self._output_nr, self._requires_grad = result._grad_fn, result._output_nr, True
            self._version_counter.value += 1
            result._grad_fn._accept_version(self._version_counter)
            if self._views:
                view_writes.repoint_views(self, previous)
        return self

    def _own_version_alias(self) -> Tensor:
        """``self`` (same array, same place in the graph) with a version counter of its own: the input of an op
        whose result an in-place method assigns back to ``self``. ``_assign`` bumps ``self``'s counter and rebinds
        ``self`` to the result, leaving the old array as it was; an op made of several steps (``logit_``,
        ``addmm_``, ...) may have saved that array, and under ``self``'s counter would take it as changed."""
        alias = Tensor._wrap(self._data)
        alias._grad_fn, alias._output_nr, alias._requires_grad = self._grad_fn, self._output_nr, self._requires_grad
        return alias

    def _assign_view(self, result: Tensor) -> Tensor:
        """In-place view ops (``squeeze_``, ``t_``, ...): ``self`` takes the shape (and, when recording, the
        history) of ``result``, a view of its own storage."""
        self._data = result._data
        self._version_counter.value += 1  # as in PyTorch, an op that saved self's values sees it changed
        if result._grad_fn is not None:
            self._grad_fn, self._output_nr, self._requires_grad = result._grad_fn, result._output_nr, True
        return self

    def add_(self, other, *, alpha=1) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.arithmetic.add(self, other, alpha=alpha))

    def sub_(self, other, *, alpha=1) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.arithmetic.sub(self, other, alpha=alpha))

    def mul_(self, other) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.arithmetic.mul(self, other))

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.arithmetic.div(self, other, rounding_mode=rounding_mode))

    def clamp_(self, min=None, max=None) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.unary.clamp(self, min, max))

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        self._check_inplace()
        if grad_mode._state.enabled and (self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)):
            return self._overwrite(value)
        if write_observers.observers:
            write_observers.notify_write(self, None, value)
        if isinstance(value, Tensor):
            value = value.item()
        self._data[...] = value
        self._version_counter.value += 1
        return self

    def copy_(self, src: Tensor) -> Tensor:
        self._check_inplace()
        src = src if isinstance(src, Tensor) else trainer.creation.as_tensor(src)
        if grad_mode._state.enabled and (self._requires_grad or src._requires_grad):
            return self._overwrite(src.to(device=self.device, dtype=self.dtype))
        if write_observers.observers:
            write_observers.notify_write(self, None, src)
        array = to_device(src._data, self.device)
        xp = xp_of(self._data)
        self._data[...] = xp.broadcast_to(array, self._data.shape).astype(self._data.dtype, copy=False)
        self._version_counter.value += 1
        return self

    def _overwrite(self, value) -> Tensor:
        """Replace every element while recording: the old values get a zero gradient, ``value`` the rest."""
        everywhere = Tensor._wrap(xp_of(self._data).ones((), dtype=bool))
        return self._assign(trainer.ops.compare.where(everywhere, value, self))

    def tril_(self, diagonal=0) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.shape.tril(self, diagonal))

    def triu_(self, diagonal=0) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.shape.triu(self, diagonal))

    def scatter_(self, dim, index, src=None, *, value=None) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.indexing.scatter(self, dim, index, src, value=value))

    def scatter_add_(self, dim, index, src) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.indexing.scatter_add(self, dim, index, src))

    def index_add_(self, dim, index, source, *, alpha=1) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.indexing.index_add(self, dim, index, source, alpha=alpha))

    def index_fill_(self, dim, index, value) -> Tensor:
        self._check_inplace()
        return self._assign(trainer.ops.indexing.index_fill(self, dim, index, value))

    def __setitem__(self, key, value) -> None:
        self._check_inplace()
        trainer.ops.indexing.setitem(self, key, value)

    # ----------------------------------------------------------------- operators
    def __add__(self, other):
        return trainer.ops.arithmetic.add(self, other)

    def __radd__(self, other):  # the tensor first, as PyTorch records it (grad_fn.next_functions' order)
        return trainer.ops.arithmetic.add(self, other)

    def __sub__(self, other):
        return trainer.ops.arithmetic.sub(self, other)

    def __rsub__(self, other):
        return trainer.ops.arithmetic.sub(other, self)

    def __mul__(self, other):
        return trainer.ops.arithmetic.mul(self, other)

    def __rmul__(self, other):
        return trainer.ops.arithmetic.mul(self, other)

    def __truediv__(self, other):
        return trainer.ops.arithmetic.div(self, other)

    def __rtruediv__(self, other):
        return trainer.ops.arithmetic.div(other, self)

    def __floordiv__(self, other):
        return trainer.ops.arithmetic.div(self, other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return trainer.ops.arithmetic.div(other, self, rounding_mode="floor")

    def __mod__(self, other):
        return trainer.ops.arithmetic.remainder(self, other)

    def __rmod__(self, other):
        return trainer.ops.arithmetic.remainder(other, self)

    def __pow__(self, other):
        return trainer.ops.arithmetic.pow(self, other)

    def __rpow__(self, other):
        return trainer.ops.arithmetic.pow(other, self)

    def __matmul__(self, other):
        return trainer.ops.linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return trainer.ops.linalg.matmul(other, self)

    def __neg__(self):
        return trainer.ops.arithmetic.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return trainer.ops.unary.abs(self)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __eq__(self, other):
        return trainer.ops.compare.eq(self, other)

    def __ne__(self, other):
        return trainer.ops.compare.ne(self, other)

    def __lt__(self, other):
        return trainer.ops.compare.lt(self, other)

    def __le__(self, other):
        return trainer.ops.compare.le(self, other)

    def __gt__(self, other):
        return trainer.ops.compare.gt(self, other)

    def __ge__(self, other):
        return trainer.ops.compare.ge(self, other)

    def __and__(self, other):
        return trainer.ops.bitwise.bitwise_and(self, other)

    def __rand__(self, other):
        return trainer.ops.bitwise.bitwise_and(other, self)

    def __or__(self, other):
        return trainer.ops.bitwise.bitwise_or(self, other)

    def __ror__(self, other):
        return trainer.ops.bitwise.bitwise_or(other, self)

    def __xor__(self, other):
        return trainer.ops.bitwise.bitwise_xor(self, other)

    def __rxor__(self, other):
        return trainer.ops.bitwise.bitwise_xor(other, self)

    def __invert__(self):
        return trainer.ops.bitwise.invert(self)

    def __getitem__(self, key):
        return trainer.ops.indexing.getitem(self, key)


def _sizes(args) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(Size)`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        return tuple(int(s) for s in args)
    except TypeError:
        raise TypeError(f"sizes must be ints, got {args!r}") from None


def _dim(dim: int, ndim: int) -> int:
    """Wrap a negative dimension, with PyTorch's message when it is out of range."""
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim + max(ndim, 1) if dim < 0 else dim


def _resolve_device(spec):
    dev = as_device(spec)
    return dev if dev.type != "cuda" or dev.index is not None else as_device(f"cuda:{_current_cuda_index()}")


def _current_cuda_index() -> int:
    from trainer.backend import _cupy

    return _cupy().cuda.runtime.getDevice()


def _parse_to(args, kwargs):
    target_device = kwargs.get("device")
    target_dtype = kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            target_device, target_dtype = arg.device, arg.dtype
        elif isinstance(arg, dtypes.dtype):
            target_dtype = arg
        elif arg is not None:
            target_device = arg
    return target_device, (dtypes.as_dtype(target_dtype) if target_dtype is not None else None)
