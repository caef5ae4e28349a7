"""``Dim``, ``dims`` and ``ShapesCollection``: declaring which input sizes an exported program accepts, and checking
a ``dynamic_shapes`` argument against the example inputs (``torch.export.dynamic_shapes``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

import trainer
from trainer.export.errors import ConstraintViolationError, UserError

# what torch calls int_oo: the upper bound of a dimension with no maximum
int_oo = math.inf


class DimHint(Enum):
    """``Dim.AUTO`` (dynamic unless the program needs it static), ``Dim.DYNAMIC`` (must stay dynamic),
    ``Dim.STATIC`` (the example's size)."""

    AUTO = "AUTO"
    DYNAMIC = "DYNAMIC"
    STATIC = "STATIC"

    def __repr__(self) -> str:
        return f"DimHint({self.value})"

    __str__ = __repr__


class Dim:
    """A named dynamic dimension with an inclusive range; the same name on several inputs means equal sizes."""

    AUTO = DimHint.AUTO
    DYNAMIC = DimHint.DYNAMIC
    STATIC = DimHint.STATIC

    def __init__(self, name: str, *, min: int | None = None, max: int | None = None) -> None:  # noqa: A002
        if not isinstance(name, str) or not name.isidentifier():
            raise AssertionError(f"Dim name must be a valid identifier, got {name}")
        self.__name__ = name
        self.min = 0 if min is None else min
        self.max = int_oo if max is None else max
        if self.max < self.min:
            raise AssertionError(f"Cannot create Dim with inconsistent min={self.min}, max={self.max}")

    def __repr__(self) -> str:
        bounds = "" if self.min == 2 else f", min={self.min}"
        bounds += "" if self.max == int_oo else f", max={self.max}"
        return f"Dim('{self.__name__}'{bounds})"

    # a derived dim: an increasing linear function of this one (``dx + 1``, ``2 * dx``), as torch's _DerivedDim
    def __add__(self, other: int) -> DerivedDim:
        return DerivedDim(self, 1, 0) + other

    __radd__ = __add__

    def __sub__(self, other: int) -> DerivedDim:
        return DerivedDim(self, 1, 0) - other

    def __mul__(self, other: int) -> DerivedDim:
        return DerivedDim(self, 1, 0) * other

    __rmul__ = __mul__


class DerivedDim:
    """``coefficient * root + offset`` for a root ``Dim``: the size of one input declared from another's."""

    def __init__(self, root: Dim, coefficient: int, offset: int) -> None:
        self.root = root
        self.coefficient = coefficient
        self.offset = offset
        term = root.__name__ if coefficient == 1 else f"{coefficient}*{root.__name__}"
        self.__name__ = term if offset == 0 else f"{term} {'+' if offset > 0 else '-'} {abs(offset)}"
        self.min = self.size_of(root.min)
        self.max = int_oo if root.max == int_oo else self.size_of(root.max)

    def size_of(self, root_size: int) -> int:
        return self.coefficient * root_size + self.offset

    def __add__(self, other: int) -> DerivedDim:
        if not isinstance(other, int) or isinstance(other, bool):
            raise NotImplementedError(f"Attempted to add {other} to {self.__name__}, where an integer was expected. "
                                      "(Only increasing linear operations with integer coefficients are supported.)")
        return DerivedDim(self.root, self.coefficient, self.offset + other)

    __radd__ = __add__

    def __sub__(self, other: int) -> DerivedDim:
        if not isinstance(other, int) or isinstance(other, bool):
            raise NotImplementedError(f"Attempted to subtract {other} from {self.__name__}, where an integer was "
                                      "expected. (Only increasing linear operations with integer coefficients are "
                                      "supported.)")
        return DerivedDim(self.root, self.coefficient, self.offset - other)

    def __mul__(self, other: int) -> DerivedDim:
        if not isinstance(other, int) or isinstance(other, bool) or other <= 0:
            raise NotImplementedError(f"Attempted to multiply {other!r} with {self.__name__}, where a positive "
                                      "integer was expected. (Only increasing linear operations with integer "
                                      "coefficients are supported.)")
        return DerivedDim(self.root, self.coefficient * other, self.offset * other)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return self.__name__

    __str__ = __repr__


def dims(*names: str, min: int | None = None, max: int | None = None) -> tuple[Dim, ...]:  # noqa: A002
    """One ``Dim`` per name, all with the same range."""
    return tuple(Dim(name, min=min, max=max) for name in names)


class ValueRange(NamedTuple):
    """The inclusive range of a dynamic size (``upper`` is ``int_oo`` when unbounded)."""

    lower: int
    upper: float

    def __repr__(self) -> str:
        upper = "int_oo" if self.upper == int_oo else self.upper
        return f"VR[{self.lower}, {upper}]"


@dataclass
class DynamicDim:
    """One dynamic axis of one input, as resolved from ``dynamic_shapes``; ``auto`` ones may turn static."""

    name: str
    min: int
    max: float
    auto: bool = False
    # a derived dim's size is coefficient * root + offset; a plain one is its own root
    root: str = ""
    coefficient: int = 1
    offset: int = 0

    def __post_init__(self) -> None:
        self.root = self.root or self.name


class ShapesCollection:
    """``dynamic_shapes`` keyed by the example tensors themselves: ``sc[x] = {0: batch}`` then
    ``export(m, (x,), dynamic_shapes=sc.dynamic_shapes(m, (x,)))``."""

    def __init__(self) -> None:
        self._shapes: dict[int, tuple[trainer.Tensor, Any]] = {}

    def __setitem__(self, tensor: trainer.Tensor, shape: Any) -> None:
        if not isinstance(tensor, trainer.Tensor):
            raise ValueError(f"Cannot assign shape to non-tensor type {type(tensor)}")
        self._shapes[id(tensor)] = (tensor, shape)

    def __getitem__(self, tensor: trainer.Tensor) -> Any:
        if id(tensor) not in self._shapes:
            self._shapes[id(tensor)] = (tensor, {})
        return self._shapes[id(tensor)][1]

    def __len__(self) -> int:
        return len(self._shapes)

    def dynamic_shapes(self, m: Any, args: tuple, kwargs: dict | None = None) -> tuple:
        """The specs in the order of ``args`` then ``kwargs`` (None for an input not in the collection)."""
        inputs = [*args, *(kwargs or {}).values()]
        found = {id(v) for v in inputs}
        for tensor, _ in self._shapes.values():
            if id(tensor) not in found:
                raise ValueError(f"A tensor of shape {list(tensor.shape)} in the ShapesCollection is not an input "
                                 "of the model")
        return tuple(self._shapes[id(v)][1] if id(v) in self._shapes else None for v in inputs)


def _spec_per_input(names: list[str], dynamic_shapes: Any) -> dict[str, Any]:
    if isinstance(dynamic_shapes, dict):
        if set(dynamic_shapes) - set(names) or len(dynamic_shapes) != len(names):
            raise UserError(f"When `dynamic_shapes` is specified as a dict, its top-level keys must be the arg names "
                            f"{names} of `inputs`, but here they are {list(dynamic_shapes)}. Alternatively, you could "
                            "also ignore arg names entirely and specify `dynamic_shapes` as a list/tuple matching "
                            "`inputs`.")
        return dict(dynamic_shapes)
    if isinstance(dynamic_shapes, tuple | list):
        if len(dynamic_shapes) != len(names):
            raise UserError(f"Detected mismatch between the structure of `inputs` and `dynamic_shapes`: `inputs` has "
                            f"{len(names)} elements, but `dynamic_shapes` has {len(dynamic_shapes)} elements")
        return dict(zip(names, dynamic_shapes, strict=True))
    raise UserError(f"dynamic_shapes must be a dict keyed by argument name, a tuple/list matching the inputs, or "
                    f"None; got {type(dynamic_shapes).__name__}")


def _axis_entries(name: str, spec: Any, shape: tuple[int, ...]) -> dict[int, Any]:
    if isinstance(spec, tuple | list):
        if len(spec) != len(shape):
            raise UserError(f"Expected dynamic shape spec {list(spec)} specified at `dynamic_shapes[{name!r}]` to "
                            f"have the same length as the actual tensor shape {trainer.Size(shape)} (expected "
                            f"{len(shape)}, but got {len(spec)} instead)")
        return dict(enumerate(spec))
    if isinstance(spec, dict):
        for axis in spec:
            if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
                raise IndexError(f"dynamic_shapes[{name!r}] names dimension {axis}, but that input has "
                                 f"{len(shape)} dimensions (shape {list(shape)})")
        return {axis % len(shape): entry for axis, entry in spec.items()}
    raise UserError(f"dynamic_shapes[{name!r}] must be None, a dict from dimension index to Dim, or a tuple/list "
                    f"with one entry per dimension; got {type(spec).__name__}")


def _resolve_axis(name: str, axis: int, size: int, entry: Any, spec: Any, auto_count: list[int]) -> int | DynamicDim:
    where = f"{name}.size()[{axis}]"
    if entry is None or entry is DimHint.STATIC:
        return size
    if isinstance(entry, int) and not isinstance(entry, bool):
        if entry != size:
            raise ConstraintViolationError(f"Static shape constraint of {entry} does not match input size of {size}, "
                                           f"for {where}")
        return size
    if isinstance(entry, DimHint):
        auto_count[0] += 1
        return DynamicDim(f"s{auto_count[0] - 1}", 2, int_oo, auto=entry is DimHint.AUTO)
    if isinstance(entry, Dim):
        if not entry.min <= size <= entry.max:
            upper = "int_oo" if entry.max == int_oo else entry.max
            raise ConstraintViolationError(f"{size} not in range [{entry.min}, {upper}] (the size of {where}, "
                                           f"declared as {entry!r})")
        return DynamicDim(entry.__name__, entry.min, entry.max)
    if isinstance(entry, DerivedDim):
        if not entry.min <= size <= entry.max:
            upper = "int_oo" if entry.max == int_oo else entry.max
            raise ConstraintViolationError(f"{size} not in range [{entry.min}, {upper}] (the size of {where}, "
                                           f"declared as {entry})")
        return DynamicDim(entry.__name__, entry.min, entry.max, root=entry.root.__name__,
                          coefficient=entry.coefficient, offset=entry.offset)
    raise UserError(f"Unexpected dimension mapped to index {axis} in input tensor shape {spec} specified at "
                    f"`dynamic_shapes[{name!r}]` (expected None, an int, a Dim, Dim.AUTO, Dim.STATIC, or "
                    f"Dim.DYNAMIC,  but got {entry!r} instead)")


def resolve_dynamic_shapes(inputs: dict[str, Any], dynamic_shapes: Any) -> dict[str, tuple[int | DynamicDim, ...]]:
    """For every tensor input (by argument name): one entry per axis, its static size or a ``DynamicDim``.
    Raises as torch.export does when the declaration does not fit the example inputs."""
    specs = {} if dynamic_shapes is None else _spec_per_input(list(inputs), dynamic_shapes)
    resolved: dict[str, tuple[int | DynamicDim, ...]] = {}
    sizes_by_dim: dict[str, tuple[int, str]] = {}
    roots: dict[str, tuple[int, str, DynamicDim]] = {}  # per root Dim: its size, as first found, and where
    auto_count = [0]
    for name, value in inputs.items():
        spec = specs.get(name)
        if not isinstance(value, trainer.Tensor):
            if spec is not None:
                raise UserError(f"dynamic_shapes[{name!r}] is {spec!r}, but that input is a "
                                f"{type(value).__name__}, not a tensor: only tensor sizes can be dynamic")
            continue
        shape = tuple(value.shape)
        entries = {} if spec is None else _axis_entries(name, spec, shape)
        resolved[name] = tuple(_resolve_axis(name, axis, size, entries.get(axis), spec, auto_count)
                               for axis, size in enumerate(shape))
        for axis, entry in enumerate(resolved[name]):
            if isinstance(entry, DynamicDim):
                first = sizes_by_dim.setdefault(entry.name, (shape[axis], f"{name}.size()[{axis}]"))
                if first[0] != shape[axis]:
                    raise ConstraintViolationError(f"Dim {entry.name!r} is used for {first[1]} = {first[0]} and for "
                                                   f"{name}.size()[{axis}] = {shape[axis]}; one Dim means equal sizes")
                _check_derived_size(entry, shape[axis], f"{name}.size()[{axis}]", roots)
    return resolved


def _check_derived_size(dim: DynamicDim, size: int, where: str, roots: dict[str, tuple[int, str, DynamicDim]]) -> None:
    """Sizes declared from one root Dim must agree on the root's value (an integer in the root's range)."""
    root_size, remainder = divmod(size - dim.offset, dim.coefficient)
    if dim.root not in roots:
        if remainder:
            raise UserError(f"Expected input {where} = {size} to be of the form {dim.name}, where {dim.root} is an "
                            "integer")
        roots[dim.root] = (root_size, where, dim)
        return
    first_size, first_where, first = roots[dim.root]
    expected = dim.coefficient * first_size + dim.offset
    if size != expected:
        detail = "" if first.name == dim.root else f" (from {first_where} = {first.name})"
        raise UserError(f"Expected input {where} to be equal to {dim.name}, where {dim.root} = {first_size}"
                        f"{detail}, but got {size}")


def root_ranges(input_dims: dict[str, tuple]) -> dict[str, ValueRange]:
    """The range of every dynamic size, by name, with the root of each derived one (declared or not)."""
    ranges: dict[str, ValueRange] = {}
    roots: dict[str, DynamicDim] = {}
    for dims in input_dims.values():
        for d in dims:
            if isinstance(d, DynamicDim):
                ranges[d.name] = ValueRange(d.min, d.max)
                roots.setdefault(d.root, d)
    for root, d in roots.items():
        # a root only used through derived dims: its range is the one its Dim declared
        lower = (d.min - d.offset) // d.coefficient
        upper = int_oo if d.max == int_oo else (int(d.max) - d.offset) // d.coefficient
        ranges.setdefault(root, ValueRange(lower, upper))
    return ranges
