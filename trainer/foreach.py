"""PyTorch's ``torch._foreach_*`` functions: one op applied to each tensor of a list (EMA updates, custom optimizers,
gradient utilities call them).

Every function is made by one mechanism: its overloads (``trainer.foreach_signatures``) decide how the second and
third arguments pair with the tensors of ``self`` (one scalar for all, a list of scalars, one 0-dim tensor, a list
of tensors), and each tensor then goes through trainer's own single-tensor op, so a result is exactly that op's
result. The out-of-place form returns a tuple of results; the in-place form (``_foreach_add_``) calls the tensor's
in-place method (autograd and version counters as for ``t.add_(...)``) and, as PyTorch does at run time, returns
the list it was given. ``FUNCTIONS`` maps every name to its function, for ``trainer``'s namespace.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import trainer
from trainer.foreach_signatures import Overloads
from trainer.memory_formats import preserve_format
from trainer.ops import compare
from trainer.ops._dtype_errors import scalar_type_name
from trainer.tensor import Tensor
from trainer.tensor_inplace import _inplace as in_place_method

UNARY = ("abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "erfc", "exp", "expm1", "floor", "frac",
         "lgamma", "log", "log10", "log1p", "log2", "neg", "reciprocal", "round", "rsqrt", "sigmoid", "sign", "sin",
         "sinh", "sqrt", "tan", "tanh", "trunc")

_SCALAR, _SCALARS, _TENSOR, _TENSORS = "scalar", "scalar_list", "tensor", "tensor_list"


# ------------------------------------------------------------------------------------------------ checks
def _check_not_empty(tensors) -> None:
    if len(tensors) == 0:
        raise RuntimeError("Tensor list must have at least one tensor.")


def _check_tensor_lists(first, *others) -> None:
    for other in others:
        if len(other) != len(first):
            raise RuntimeError(f"Tensor lists must have the same number of tensors, got {len(first)} and {len(other)}")
    _check_not_empty(first)


def _number(value):
    """A Scalar argument as a Python number (PyTorch reads a 0-dim tensor given as a Scalar by its value)."""
    return value.item() if isinstance(value, Tensor) else value


def _per_tensor(form: str, tensors, value) -> list:
    """``value`` paired with each of ``tensors`` as ``form`` says, with PyTorch's checks of the pairing."""
    if form == _SCALARS:
        _check_not_empty(tensors)
        if len(value) != len(tensors):
            raise RuntimeError("Tensor list must have same number of elements as scalar list.")
        return list(value)
    if form == _TENSORS:
        _check_tensor_lists(tensors, value)
        return list(value)
    _check_not_empty(tensors)
    if form == _TENSOR:
        if value.ndim != 0:
            raise RuntimeError(f"scalar tensor expected to be 0 dim but it has {value.ndim} dimensions and "
                               f"{value.numel()} elements.")
        return [value] * len(tensors)
    return [_number(value)] * len(tensors)


def _packed_scalars(form: str, tensors, value) -> list:
    """The ``scalars`` of ``_foreach_addcmul``/``addcdiv``: one number for all, a list, or a 1-D tensor of them."""
    if form != _TENSOR:
        return [_number(v) for v in _per_tensor(form, tensors, value)]
    if value.ndim != 1:
        raise RuntimeError(f"Expected packed scalar Tensor to be of dimension 1. Got {value.ndim} instead.")
    if value.numel() != len(tensors):
        raise RuntimeError(f"Expected length of scalars to match input of length {len(tensors)} but got "
                           f"{value.numel()} instead.")
    return value.tolist()


# ------------------------------------------------------------------------------------------------ the mechanism
def _define(name: str, signatures: list[tuple[str, str]], apply: Callable, in_place: bool) -> Callable:
    """``_foreach_<name>``: binds a call to one of ``signatures``, then ``apply(form, **arguments)`` yields one result
    per tensor. The in-place form runs them for their effect and returns ``self``."""
    overloads = Overloads(name, signatures)

    def function(*args, **kwargs):
        form, arguments = overloads.bind(args, kwargs)
        results = tuple(apply(form, **arguments))
        return arguments["self"] if in_place else results

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"PyTorch's ``torch.{name}``: the op applied to each tensor of a list."
    return function


def _unary(method: str):
    def apply(form, self):
        _check_not_empty(self)
        return (getattr(t, method)() for t in self)

    return apply


def _binary(method: Callable):
    """``method(tensor, operand, **keywords)`` for each tensor of ``self`` and its operand (the second argument,
    whatever its name in the matched signature)."""

    def apply(form, self, alpha=None, **second):
        (operand,) = second.values()
        keywords = {} if alpha is None else {"alpha": alpha}
        return (method(t, o, **keywords) for t, o in zip(self, _per_tensor(form, self, operand)))

    return apply


def _tensor_or_scalar_extremum(extremum: Callable) -> Callable:
    """``maximum``/``minimum`` of a tensor and an operand that may be a number: the number as a 0-dim tensor of the
    dtype PyTorch's promotion gives, so ties share the gradient as in ``torch.maximum``."""

    def method(t, operand):
        if not isinstance(operand, Tensor):
            dtype = trainer.result_type(t, operand)
            operand = trainer.tensor(operand, dtype=dtype, device=t.device)
        return extremum(t, operand)

    return method


def _pow(form, self, exponent):
    if form == "scalar_base":  # _foreach_pow(scalar, tensors): the scalar raised to each tensor
        _check_not_empty(exponent)
        return (trainer.pow(_number(self), t) for t in exponent)
    return (t.pow(e) for t, e in zip(self, _per_tensor(form, self, exponent)))


def _pow_(form, self, exponent):
    return (t.pow_(e) for t, e in zip(self, _per_tensor(form, self, exponent)))


def _pointwise(method: str):
    """``addcmul``/``addcdiv``: ``self + value * tensor1 (*|/) tensor2`` with each tensor's own ``value``."""

    def apply(form, self, tensor1, tensor2, **scalars):
        _check_tensor_lists(self, tensor1, tensor2)
        values = _packed_scalars(form, self, next(iter(scalars.values())))
        return (getattr(t, method)(a, b, value=v) for t, a, b, v in zip(self, tensor1, tensor2, values))

    return apply


def _lerp(method: str):
    def apply(form, self, tensors1, **weight):
        _check_tensor_lists(self, tensors1)
        weights = _per_tensor(form, self, next(iter(weight.values())))
        return (getattr(t, method)(end, w) for t, end, w in zip(self, tensors1, weights))

    return apply


def _clone(form, self, memory_format):
    _check_not_empty(self)
    return (t.clone(memory_format=preserve_format if memory_format is None else memory_format) for t in self)


def _copy_(form, self, src, non_blocking):
    _check_tensor_lists(self, src)
    return (t.copy_(s) for t, s in zip(self, src))


def _zero_(form, self):
    _check_not_empty(self)
    return (t.zero_() for t in self)


def _max(form, self):
    _check_not_empty(self)
    for t in self:
        if t.numel() == 0:
            raise RuntimeError("_foreach_max cannot compute the maximum of an empty tensor; max over zero elements is "
                               "undefined.")
    return (t.max() for t in self)


def _norm(form, self, ord, dtype):
    _check_not_empty(self)
    ord = _number(ord)
    for t in self:
        if t.numel() == 0 and math.isinf(ord):
            raise RuntimeError("_foreach_norm cannot compute the infinity norm on an empty tensor because the "
                               "operation does not have an identity")
    return (trainer.linalg.vector_norm(t, ord, dtype=dtype) for t in self)


def _powsum(form, self, ord, dtype):
    """``sum(|t|^ord)`` for each tensor (the norm before its root: PyTorch's building block of ``_foreach_norm``);
    ``dtype`` names the precision, whose real counterpart the (real) result has."""
    _check_not_empty(self)
    ord = _number(ord)
    results = []
    for t in self:
        computed = t.dtype if dtype is None else dtype
        if not (computed.is_floating_point or computed.is_complex):
            raise NotImplementedError(f'"powsum_cpu" not implemented for \'{scalar_type_name(computed)}\'')
        magnitudes = t.abs()
        if dtype is not None:
            magnitudes = magnitudes.to(computed.to_real())
        results.append(magnitudes.pow(ord).sum())
    return results


def _mm(form, self, mat2):
    if len(self) == 0 or len(mat2) == 0:
        raise RuntimeError("_foreach_mm requires non-empty tensor lists")
    if len(self) != len(mat2):
        raise RuntimeError("_foreach_mm: self and mat2 must have the same number of tensors")
    return (a.mm(b) for a, b in zip(self, mat2))


# ------------------------------------------------------------------------------------------------ the table
_ONE_LIST = [("", "TensorList self")]
_REDUCTION = [("", "TensorList self, Scalar ord=2, ScalarType? dtype=None")]
_ADD = [(_SCALAR, "TensorList self, Scalar scalar"), (_SCALARS, "TensorList self, ScalarList scalars"),
        (_TENSOR, "TensorList self, Tensor other, *, Scalar alpha=1"),
        (_TENSORS, "TensorList self, TensorList other, *, Scalar alpha=1")]
_SUB = [s for s in _ADD if s[0] != _TENSOR]
# a 0-dim tensor is taken as ``Tensor other`` before ``Scalar scalar`` here (PyTorch's order: it sets the dtype)
_MUL = [(_SCALARS, "TensorList self, ScalarList scalars"), (_TENSOR, "TensorList self, Tensor other"),
        (_TENSORS, "TensorList self, TensorList other"), (_SCALAR, "TensorList self, Scalar scalar")]
_CLAMP = [(_SCALAR, "TensorList self, Scalar scalar"), (_SCALARS, "TensorList self, ScalarList scalars"),
          (_TENSORS, "TensorList self, TensorList other")]
_POW_ = [(_SCALAR, "TensorList self, Scalar exponent"), (_SCALARS, "TensorList self, ScalarList exponent"),
         (_TENSORS, "TensorList self, TensorList exponent")]
_POW = [("scalar_base", "Scalar self, TensorList exponent"), *_POW_]
_THREE = "TensorList self, TensorList tensor1, TensorList tensor2"
_POINTWISE = [(_SCALARS, f"{_THREE}, ScalarList scalars"), (_TENSOR, f"{_THREE}, Tensor scalars"),
              (_SCALAR, f"{_THREE}, Scalar value=1")]
_LERP = [(_SCALAR, "TensorList self, TensorList tensors1, Scalar weight"),
         (_SCALARS, "TensorList self, TensorList tensors1, ScalarList weight"),
         (_TENSORS, "TensorList self, TensorList tensors1, TensorList weights")]


def _method(name: str) -> Callable:
    return lambda t, *args, **kwargs: getattr(t, name)(*args, **kwargs)


def _table() -> dict[str, Callable]:
    functions = {}

    def both(name, signatures, apply, apply_in_place, in_place_signatures=None):
        functions[f"_foreach_{name}"] = _define(f"_foreach_{name}", signatures, apply, False)
        functions[f"_foreach_{name}_"] = _define(f"_foreach_{name}_", in_place_signatures or signatures,
                                                 apply_in_place, True)

    for name in UNARY:
        both(name, _ONE_LIST, _unary(name), _unary(name + "_"))
    for name, signatures in (("add", _ADD), ("sub", _SUB), ("mul", _MUL), ("div", _MUL), ("clamp_min", _CLAMP),
                             ("clamp_max", _CLAMP)):
        both(name, signatures, _binary(_method(name)), _binary(_method(name + "_")))
    for name in ("maximum", "minimum"):
        extremum = getattr(compare, name)
        both(name, _CLAMP, _binary(_tensor_or_scalar_extremum(extremum)),
             _binary(_tensor_or_scalar_extremum(in_place_method(name))))
    both("pow", _POW, _pow, _pow_, _POW_)
    for name in ("addcmul", "addcdiv"):
        both(name, _POINTWISE, _pointwise(name), _pointwise(name + "_"))
    both("lerp", _LERP, _lerp("lerp"), _lerp("lerp_"))

    def one(name, signatures, apply, in_place=False):
        functions[name] = _define(name, signatures, apply, in_place)

    one("_foreach_clone", [("", "TensorList self, *, MemoryFormat? memory_format=None")], _clone)
    one("_foreach_copy_", [("", "TensorList self, TensorList src, bool non_blocking=False")], _copy_, in_place=True)
    one("_foreach_zero_", _ONE_LIST, _zero_, in_place=True)
    one("_foreach_max", _ONE_LIST, _max)
    one("_foreach_norm", _REDUCTION, _norm)
    one("_foreach_powsum", _REDUCTION, _powsum)
    one("_foreach_mm", [("", "TensorList self, TensorList mat2")], _mm)
    return functions


FUNCTIONS = _table()
