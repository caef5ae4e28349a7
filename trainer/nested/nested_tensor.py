"""``NestedTensor``: a batch of tensors of different lengths (``torch.nested``), stored packed.

Both layouts keep one ordinary, differentiable trainer tensor of packed elements (``_values``), so most ops are
ops on ``_values`` and autograd reaches the constituent tensors with no code of its own:

- ``trainer.jagged``: ``_values`` is ``(sum of lengths, *other dims)`` with the ragged dim at position
  ``_ragged_idx - 1`` (``transpose`` moves it, as PyTorch's ``_ragged_idx``), ``_offsets`` marks where each
  component starts along it. Only one dim is ragged; it is ``j<n>`` in ``shape``.
- ``trainer.strided``: ``_values`` is the flat buffer of every component, one after the other, and ``_sizes`` the
  shape of each, so components may differ in any dim (PyTorch's ``_nested_tensor_size()``).

The shape-aware ops (``transpose``, ``softmax``, ``linear``, attention, ...) are in ``trainer.nested.nested_ops``.
Every other ``Tensor`` method raises ``NotImplementedError`` naming itself ("... is not supported for nested
tensors"); so do array routines reaching the storage (``trainer.exp(nt)`` rather than ``nt.exp()``).
"""

from __future__ import annotations

import itertools
import operator

import trainer
from trainer.backend import xp_of
from trainer.layouts import jagged, strided
from trainer.nested.nested_ops import NestedShapeOps
from trainer.tensor import Size, Tensor


class NestedInt:
    """The size of a ragged dim in a jagged tensor's ``shape`` (PyTorch's ``j1``, ``j2``, ...): one per offsets,
    shared by every tensor made from the same offsets (the results of elementwise ops)."""

    __slots__ = ("number",)
    _counter = itertools.count(1)

    def __init__(self):
        self.number = next(NestedInt._counter)

    def __repr__(self):
        return f"j{self.number}"


class _UnsupportedStorage:
    """Stands in for the dense array a nested tensor does not have: array routines reaching it raise, naming
    the routine (its dtype, array module and packed values, as a sparse storage has, let ops get as far as
    calling one)."""

    __slots__ = ("dtype", "array_module", "values")
    __array_priority__ = 1000

    def __init__(self, values: Tensor):
        self.dtype, self.array_module, self.values = values._data.dtype, xp_of(values._data), values._data

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise unsupported(ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        raise unsupported(func.__name__)

    def __array__(self, dtype=None, copy=None):
        raise unsupported("conversion to a dense array")

    def __getattr__(self, name):
        raise unsupported(f"an op reading the dense array ('{name}')")


def unsupported(op: str) -> NotImplementedError:
    return NotImplementedError(f"{op} is not supported for nested tensors; unbind() it or convert it with "
                               f"trainer.nested.to_padded_tensor(nt, padding) first")


class NestedTensor(NestedShapeOps, Tensor):
    __slots__ = ("_values", "_offsets", "_offset_list", "_ragged_size", "_ragged_idx", "_sizes")
    is_nested = True
    _own_products = True

    @classmethod
    def _jagged(cls, values: Tensor, offset_list, ragged_idx: int = 1, like: NestedTensor | None = None):
        """A jagged tensor on ``values``; ``like`` (a jagged tensor with the same offsets) shares its ``j<n>``."""
        t = object.__new__(cls)
        t._init(_UnsupportedStorage(values))
        t._values, t._ragged_idx, t._sizes = values, ragged_idx, None
        if like is not None and like._offset_list == list(offset_list):
            t._offsets, t._offset_list, t._ragged_size = like._offsets, like._offset_list, like._ragged_size
        else:
            t._offset_list = [int(o) for o in offset_list]
            t._offsets = trainer.tensor(t._offset_list, dtype=trainer.int64, device=values.device)
            t._ragged_size = NestedInt()
        return t

    @classmethod
    def _strided(cls, values: Tensor, sizes):
        """A strided nested tensor on the flat buffer ``values`` holding components of shapes ``sizes``."""
        t = object.__new__(cls)
        t._init(_UnsupportedStorage(values))
        t._values, t._sizes = values, [tuple(int(n) for n in s) for s in sizes]
        t._offsets = t._offset_list = t._ragged_size = t._ragged_idx = None
        return t

    def _with_values(self, values: Tensor) -> NestedTensor:
        """The same structure around new values of the same shape (the result of an elementwise op)."""
        if self._sizes is not None:
            return NestedTensor._strided(values, self._sizes)
        return NestedTensor._jagged(values, self._offset_list, self._ragged_idx, like=self)

    # ------------------------------------------------------------- structure
    @property
    def layout(self):
        return strided if self._sizes is not None else jagged

    @property
    def is_sparse(self) -> bool:
        return False

    def _batch_size(self) -> int:
        return len(self._sizes) if self._sizes is not None else len(self._offset_list) - 1

    def _component_sizes(self) -> list[tuple]:
        if self._sizes is not None:
            return list(self._sizes)
        r = self._ragged_idx - 1
        rest = tuple(self._values.shape)
        return [rest[:r] + (end - start,) + rest[r + 1:]
                for start, end in itertools.pairwise(self._offset_list)]

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The components, each a differentiable view of the packed values."""
        if dim != 0:
            raise RuntimeError(f"unbind(): nested tensors can only be unbound along dim 0, got dim {dim}")
        if self._sizes is not None:
            starts = itertools.accumulate((_numel(s) for s in self._sizes), initial=0)
            return tuple(self._values.narrow(0, start, _numel(s)).reshape(s) for start, s in zip(starts, self._sizes))
        r = self._ragged_idx - 1
        return tuple(self._values.narrow(r, start, end - start) for start, end in itertools.pairwise(self._offset_list))

    def __getitem__(self, index):
        if isinstance(index, int):
            components = self.unbind()
            if not -len(components) <= index < len(components):
                raise IndexError(f"index {index} is out of bounds for a nested tensor of {len(components)} components")
            return components[index]
        if isinstance(index, tuple) and index and isinstance(index[0], int):  # nt[1, :, -1]: into one component
            return self[index[0]][index[1:]]
        raise unsupported(f"indexing with {type(index).__name__}")

    def __len__(self) -> int:
        return self._batch_size()

    def __iter__(self):
        return iter(self.unbind())

    def dim(self) -> int:
        if self._sizes is None:
            return self._values.ndim + 1
        return len(self._sizes[0]) + 1 if self._sizes else 1

    @property
    def ndim(self) -> int:
        return self.dim()

    @property
    def shape(self) -> Size:
        return self.size()

    def size(self, dim: int | None = None):
        """The sizes; a jagged tensor's ragged dim is ``j<n>``, a strided tensor's irregular dims have none."""
        if dim is None:
            if self._sizes is not None:
                raise RuntimeError("size() is not available for a nested tensor with the strided layout: its "
                                   "components differ in shape; use size(dim) for a regular dim, or the jagged layout")
            sizes = list(self._values.shape)
            sizes[self._ragged_idx - 1] = self._ragged_size
            return Size([self._batch_size(), *sizes])
        d = _normalize(dim, self.dim())
        if d == 0:
            return self._batch_size()
        if self._sizes is None:
            return self._ragged_size if d == self._ragged_idx else self._values.shape[d - 1]
        extents = {s[d - 1] for s in self._sizes}
        if len(extents) > 1:
            raise RuntimeError(f"Given dimension {dim} is irregular and does not have a size.")
        return extents.pop()

    def numel(self) -> int:
        return self._values.numel()

    def values(self) -> Tensor:
        """The packed values (differentiable): ``(sum of lengths, ...)`` for jagged, the flat buffer for strided."""
        return self._values

    def offsets(self) -> Tensor:
        self._require_jagged("offsets")
        return self._offsets

    def lengths(self):
        """None, as in PyTorch for a contiguous jagged tensor (``offsets()`` says where each component is)."""
        self._require_jagged("lengths")

    def _require_jagged(self, what: str) -> None:
        if self._sizes is not None:
            raise AttributeError(f"'{what}' is only defined for nested tensors with the jagged layout")

    def is_contiguous(self, memory_format=None) -> bool:
        return self._ragged_idx in (None, 1)

    # ------------------------------------------------------------- dtype, device, autograd
    @property
    def dtype(self):
        return self._values.dtype

    @property
    def device(self):
        return self._values.device

    def is_floating_point(self) -> bool:
        return self._values.is_floating_point()

    def element_size(self) -> int:
        return self._values.element_size()

    @property
    def requires_grad(self) -> bool:
        return self._values.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._values.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> NestedTensor:
        self._values.requires_grad_(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._values.is_leaf

    @property
    def grad_fn(self):
        return self._values.grad_fn

    @property
    def grad(self):
        """The gradient of a leaf nested tensor, nested like it."""
        grad = self._values.grad
        return None if grad is None else self._with_values(grad)

    def retain_grad(self) -> None:
        self._values.retain_grad()

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        if not isinstance(gradient, NestedTensor):
            raise RuntimeError("backward() of a nested tensor needs gradient=, a nested tensor of the same structure")
        self._values.backward(self._operand(gradient, "backward"), retain_graph=retain_graph,
                              create_graph=create_graph, inputs=inputs)

    def detach(self) -> NestedTensor:
        return self._with_values(self._values.detach())

    def clone(self, *, memory_format=None) -> NestedTensor:
        return self._with_values(self._values.clone())

    def contiguous(self, memory_format=None) -> NestedTensor:
        return self

    def to(self, *args, **kwargs) -> NestedTensor:
        values = self._values.to(*args, **kwargs)
        if self._sizes is not None or values.device == self.device:
            return self._with_values(values)
        return NestedTensor._jagged(values, self._offset_list, self._ragged_idx)

    def type_as(self, other) -> NestedTensor:
        return self.to(other.dtype)

    def float(self) -> NestedTensor:
        return self.to(trainer.float32)

    def double(self) -> NestedTensor:
        return self.to(trainer.float64)

    def half(self) -> NestedTensor:
        return self.to(trainer.float16)

    def cpu(self) -> NestedTensor:
        return self.to("cpu")

    def cuda(self, device=None) -> NestedTensor:
        return self.to("cuda" if device is None else device)

    # ------------------------------------------------------------- printing
    def __repr__(self):
        flags = _autograd_flags(self)
        if self._sizes is None:
            sizes = ", ".join(str(s) for s in self.size())
            return (f"NestedTensor(size=({sizes}), offsets={self._offsets!r}{flags}, "
                    f"contiguous={self.is_contiguous()})")
        body = ",\n".join("  " + repr(c.detach()).replace("\n", "\n  ") for c in self.unbind())
        return f"nested_tensor([\n{body}\n]{flags})"

    __str__ = __repr__

    # ------------------------------------------------------------- elementwise ops
    def _operand(self, other, op: str):
        """``other`` lined up with ``self._values``: a number, the values of a nested tensor of the same structure,
        or a dense tensor that broadcasts over every component (None: it differs per component)."""
        if isinstance(other, NestedTensor):
            if self._sizes is None and other._offsets is self._offsets and other._ragged_idx == self._ragged_idx:
                return other._values  # made from the same offsets (one j<n>): the same structure
            if self.layout is not other.layout or self._component_sizes() != other._component_sizes() or (
                    self._ragged_idx != other._ragged_idx):
                raise RuntimeError(f"{op}: nested tensors of different structures cannot be combined (no "
                                   f"broadcasting between nested tensors): {_structure(self)} and {_structure(other)}")
            return other._values
        if not isinstance(other, Tensor) or other.ndim == 0:
            return other
        if self._sizes is not None:
            raise RuntimeError(f"{op}: expected both self and other to be nested, but got a nested self and a "
                               f"non-nested other of shape {list(other.shape)} (only jagged nested tensors "
                               f"broadcast with dense tensors)")
        if other.ndim > self.dim():
            raise RuntimeError(f"{op}: a dense operand of shape {list(other.shape)} has more dims than the nested "
                               f"tensor ({self.dim()})")
        if other.ndim == self.dim():
            if other.shape[0] not in (1, self._batch_size()):
                raise RuntimeError(f"{op}: a dense operand of shape {list(other.shape)} needs size 1 or the batch "
                                   f"size {self._batch_size()} along dim 0")
            if other.shape[0] != 1:
                return None
            other = other.squeeze(0)
        ragged = other.ndim - (self.dim() - self._ragged_idx)  # the ragged dim's position in `other`, if present
        if ragged >= 0 and other.shape[ragged] != 1:
            raise RuntimeError(f"{op}: a dense operand of shape {list(other.shape)} must have size 1 along the "
                               f"ragged dim {self._ragged_idx} of the nested tensor")
        return other

    def _binary(self, op: str, fn, other, reverse: bool = False) -> NestedTensor:
        operand = self._operand(other, op)

        def apply(a, b):
            return fn(b, a) if reverse else fn(a, b)

        if operand is not None:
            return self._with_values(apply(self._values, operand))
        # a dense operand with one entry per component: each component takes its own
        components = [apply(c, o) for c, o in zip(self.unbind(), other.unbind(0))]
        return self._rebuilt(components, self._ragged_idx)

    def __hash__(self):
        return id(self)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _normalize(dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    return dim % ndim


def _structure(t: NestedTensor) -> str:
    return f"{t.layout} with component shapes {[list(s) for s in t._component_sizes()]}"


def _autograd_flags(t: NestedTensor) -> str:
    if t.grad_fn is not None:
        return f", grad_fn={t.grad_fn!r}"
    return ", requires_grad=True" if t.requires_grad else ""


_UNARY = ("abs", "neg", "negative", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
          "square", "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
          "acosh", "atanh", "sigmoid", "relu", "sign", "sgn", "floor", "ceil", "round", "trunc", "frac", "erf",
          "erfc", "logical_not", "bitwise_not", "isnan", "isinf", "isfinite", "clamp", "clip", "nan_to_num",
          "logit", "angle", "conj", "bool", "int", "long")
_BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "floor_divide": operator.floordiv, "remainder": operator.mod, "pow": operator.pow,
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge, "bitwise_and": operator.and_, "bitwise_or": operator.or_, "bitwise_xor": operator.xor,
    "logical_and": lambda a, b: trainer.logical_and(a, b),
    "logical_or": lambda a, b: trainer.logical_or(a, b), "maximum": lambda a, b: trainer.maximum(a, b),
    "minimum": lambda a, b: trainer.minimum(a, b), "atan2": lambda a, b: trainer.atan2(a, b),
}
_COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
_DUNDER = {"add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "floordiv": "floor_divide",
           "mod": "remainder", "pow": "pow", "eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt",
           "ge": "ge", "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor"}


def _unary_method(name: str):
    def method(self, *args, **kwargs):
        return self._with_values(getattr(self._values, name)(*args, **kwargs))

    method.__name__ = name
    return method


def _binary_method(name: str, fn, reverse: bool = False):
    def method(self, other, *, alpha=1):
        if alpha != 1:
            return self._binary(name, lambda a, b: fn(a, b * alpha), other)
        return self._binary(name, fn, other, reverse)

    method.__name__ = name
    return method


def _unsupported_method(name: str):
    def method(self, *args, **kwargs):
        raise unsupported(name)

    method.__name__ = name
    return method


for _name in _UNARY:
    setattr(NestedTensor, _name, _unary_method(_name))
for _name, _fn in _BINARY.items():
    setattr(NestedTensor, _name, _binary_method(_name, _fn))
for _dunder, _name in _DUNDER.items():
    setattr(NestedTensor, f"__{_dunder}__", _binary_method(_name, _BINARY[_name]))
    if _dunder not in _COMPARISONS:  # Python reflects a comparison by itself: `dense < nt` is `nt > dense`
        setattr(NestedTensor, f"__r{_dunder}__", _binary_method(_name, _BINARY[_name], reverse=True))
NestedTensor.true_divide = NestedTensor.divide = NestedTensor.div
NestedTensor.subtract, NestedTensor.multiply = NestedTensor.sub, NestedTensor.mul
NestedTensor.__neg__, NestedTensor.__abs__ = NestedTensor.neg, NestedTensor.abs
NestedTensor.__invert__ = NestedTensor.bitwise_not

# every other public Tensor method or property names itself in its error, rather than failing somewhere inside
_SUPPORTED = {name for cls in NestedTensor.__mro__[:2] for name in vars(cls)}
for _cls in Tensor.__mro__[:-1]:
    for _name, _member in vars(_cls).items():
        if _name.startswith("_") or _name in _SUPPORTED:
            continue
        if isinstance(_member, property):
            setattr(NestedTensor, _name, property(_unsupported_method(_name)))
        elif callable(_member):
            setattr(NestedTensor, _name, _unsupported_method(_name))
