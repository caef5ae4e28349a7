"""The input checks ``ExportedProgram.module()`` runs first: every input must have a size the program was
exported for (``torch.export``'s ``_guards_fn``)."""

from __future__ import annotations

import trainer
from trainer.fx.graph import side_effectful_functions


def check_input_shape(value: trainer.Tensor, name: str, dims: tuple) -> None:
    """``dims`` holds, per axis, the static size (an int) or the inclusive range ``(min, max)`` of a dynamic one
    (``max`` None when unbounded); raises ``AssertionError`` as torch's guards do."""
    if not isinstance(value, trainer.Tensor):
        raise AssertionError(f"Guard failed: {name} must be a Tensor, got {type(value).__name__}")
    if value.dim() != len(dims):
        raise AssertionError(f"Guard failed: {name}.dim() == {len(dims)} (the input has shape {list(value.shape)})")
    for axis, (size, expected) in enumerate(zip(value.shape, dims, strict=True)):
        where = f"{name}.size()[{axis}]"
        if isinstance(expected, int):
            if size != expected:
                raise AssertionError(f"Guard failed: {where} == {expected} (got {size}; that size is static in "
                                     "this exported program)")
            continue
        low, high = expected
        if size < low:
            raise AssertionError(f"Guard failed: {where} >= {low} (got {size})")
        if high is not None and size > high:
            raise AssertionError(f"Guard failed: {where} <= {high} (got {size})")


def check_equal_sizes(value: trainer.Tensor, name: str, axis: int, other: trainer.Tensor, other_name: str,
                      other_axis: int) -> None:
    """Two input sizes declared with one ``Dim`` must be equal; raises ``AssertionError`` as torch's guards do."""
    if value.shape[axis] != other.shape[other_axis]:
        raise AssertionError(f"Guard failed: {name}.size()[{axis}] == {other_name}.size()[{other_axis}] (got "
                             f"{value.shape[axis]} and {other.shape[other_axis]}; both sizes were declared with "
                             "one Dim)")


def check_related_sizes(value: trainer.Tensor, name: str, axis: int, declared: tuple[int, int, str],
                        other: trainer.Tensor, other_name: str, other_axis: int,
                        other_declared: tuple[int, int, str]) -> None:
    """Two input sizes declared from one root Dim (``declared``: coefficient, offset and text, ``dx + 1``) must give
    that root one value; raises ``AssertionError`` as torch's guards do."""
    (coefficient, offset, text), (other_coefficient, other_offset, other_text) = declared, other_declared
    size, other_size = value.shape[axis], other.shape[other_axis]
    # size = coefficient * root + offset and other_size = other_coefficient * root + other_offset, for one root
    if (size - offset) * other_coefficient != (other_size - other_offset) * coefficient:
        raise AssertionError(f"Guard failed: {name}.size()[{axis}] == {text} and {other_name}.size()[{other_axis}] "
                             f"== {other_text} for one value of the root Dim (got {size} and {other_size})")


# dead-code elimination must keep the checks
side_effectful_functions.update((check_input_shape, check_equal_sizes, check_related_sizes))
