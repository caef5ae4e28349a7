"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights; ``Buffer``, one it registers as
state; and the uninitialized kinds of both that lazy modules hold until their first ``forward``."""

from __future__ import annotations

import os
import sys

from trainer.tensor import Tensor


class Parameter(Tensor):
    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from trainer.creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter expects a Tensor, got {type(data).__name__}")
        self._init(data.detach()._data, False)
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        copied = Parameter(self.detach().clone(), self._requires_grad)
        memo[id(self)] = copied
        return copied


class Buffer(Tensor):
    """``nn.Buffer``: a tensor that, assigned to a ``Module`` attribute, becomes one of its buffers (state, not a
    learnable weight; ``persistent=False`` keeps it out of ``state_dict``). It shares ``data``'s storage."""

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            from trainer.creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer expects a Tensor, got {type(data).__name__}")
        self._init(data._data, data._requires_grad)
        self._version_counter = data._version_counter
        self.persistent = persistent


_STORAGE = Tensor.__dict__["_data"]  # the slot itself, which UninitializedTensorMixin guards with a property
_TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Wrappers that pass a call on to the op they wrap (autocast's casts, nested tensors' dispatch): the op names the call.
_WRAPPER_FILES = frozenset(os.path.join(_TRAINER_DIR, *parts)
                           for parts in (("amp", "cast_policy.py"), ("nested", "functional.py")))


class UninitializedTensorMixin:
    """An empty tensor whose shape a lazy module infers on its first ``forward``: it can change dtype and device
    and ``materialize`` into a ``cls_to_become``; anything that would read its values raises, as in PyTorch."""

    __slots__ = ()
    cls_to_become: type

    @property
    def _data(self):
        raise ValueError(f"Attempted to use an uninitialized parameter in {_called_function()}. This error happens "
                         f"when you are using a `LazyModule` or explicitly manipulating "
                         f"`trainer.nn.parameter.{type(self).__name__}` objects. When using LazyModules Call "
                         "`forward` with a dummy batch to initialize the parameters before calling trainer functions")

    @_data.setter
    def _data(self, array) -> None:
        _STORAGE.__set__(self, array)

    def _stand_in(self) -> Tensor:
        """A plain tensor over the empty storage, for the few things PyTorch lets an uninitialized tensor do."""
        return Tensor._wrap(_STORAGE.__get__(self))

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Become a ``cls_to_become`` of ``shape`` (values uninitialised), on this tensor's device and dtype unless
        others are given."""
        from trainer.creation import empty

        current = self._stand_in()
        storage = empty(tuple(shape), device=current.device if device is None else device,
                        dtype=current.dtype if dtype is None else dtype)
        _STORAGE.__set__(self, storage._data)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually happens "
                           "in `load_state_dict` when trying to load an uninitialized parameter into an initialized "
                           "one. Call `forward` to initialize the parameters before accessing their attributes.")

    def size(self, dim: int | None = None):
        return self._stand_in().size(dim)

    @property
    def ndim(self) -> int:
        return self._stand_in().ndim

    @property
    def dtype(self):
        return self._stand_in().dtype

    @property
    def device(self):
        return self._stand_in().device

    def is_floating_point(self) -> bool:
        return self._stand_in().is_floating_point()

    def is_complex(self) -> bool:
        return self._stand_in().dtype.is_complex

    @property
    def data(self) -> Tensor:
        return self._stand_in()

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    def requires_grad_(self, requires_grad: bool = True):
        self._stand_in().requires_grad_(requires_grad)  # PyTorch's dtype check, on the storage
        self._requires_grad = bool(requires_grad)
        return self

    def to(self, *args, **kwargs):
        return self._converted(self._stand_in().to(*args, **kwargs))

    def copy_(self, src):
        if not is_lazy(src):
            self._stand_in().copy_(src)  # only what broadcasts to no elements at all fits
        return self

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, proto):
        return type(self), (self._requires_grad,)


def is_lazy(param) -> bool:
    """Whether ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer``."""
    return isinstance(param, UninitializedTensorMixin)


def _called_function() -> str:
    """The trainer function the caller's code called that led to reading an uninitialized tensor: the outermost
    frame of trainer's own code on the stack (or the reader itself when that is not trainer's)."""
    frame = sys._getframe(2)
    called = None
    while frame is not None:
        if frame.f_code.co_filename in _WRAPPER_FILES:
            frame = frame.f_back
            continue
        inside = frame.f_code.co_filename.startswith(_TRAINER_DIR + os.sep)
        if called is not None and not inside:
            break
        if inside or called is None:
            called = frame
        frame = frame.f_back
    code = called.f_code
    return getattr(code, "co_qualname", code.co_name) + "()"


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A ``Parameter`` whose shape is not known yet (a lazy module's weight until its first ``forward``)."""

    __slots__ = ()  # no __dict__: materialize changes __class__, which needs the layout of cls_to_become
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        from trainer.creation import empty

        self._init(empty(0, device=device, dtype=dtype)._data, False)
        self.requires_grad_(requires_grad)

    def _converted(self, tensor: Tensor) -> Tensor:
        # as in PyTorch, converting a parameter's values gives a plain tensor (Module._apply takes its storage)
        return tensor

    def __deepcopy__(self, memo):
        copied = type(self)(self._requires_grad, self.device, self.dtype)
        memo[id(self)] = copied
        return copied


class UninitializedBuffer(UninitializedTensorMixin, Buffer):
    """A buffer whose shape is not known yet (a lazy normalisation layer's running statistics)."""

    __slots__ = ()

    # a Buffer rather than PyTorch's plain Tensor: the ``persistent`` slot must stay for __class__ to change
    cls_to_become = Buffer

    def __init__(self, requires_grad: bool = False, device=None, dtype=None, persistent: bool = True):
        from trainer.creation import empty

        self._init(empty(0, device=device, dtype=dtype)._data, False)
        self.requires_grad_(requires_grad)
        self.persistent = persistent

    def _converted(self, tensor: Tensor) -> UninitializedBuffer:
        converted = UninitializedBuffer(self._requires_grad, persistent=self.persistent)
        converted._data = tensor._data
        return converted

    def __deepcopy__(self, memo):
        copied = type(self)(self._requires_grad, self.device, self.dtype, self.persistent)
        memo[id(self)] = copied
        return copied
