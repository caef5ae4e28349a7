"""Sequences and optionals. A sequence is a Python list of arrays, an empty optional is ``None``.

Values may be shared between nodes, so every kernel that changes a sequence returns a new list.
"""

from __future__ import annotations

import itertools

import numpy as np

from serving.kernels.registry import kernel


def _position(ctx, position, length, *, inclusive_end=False):
    """A (possibly negative) position tensor as an index into a sequence of ``length``."""
    if position.size != 1:
        raise ValueError(f"{ctx.node.op_type}: position must be a scalar, got shape {position.shape}")
    index = int(position.reshape(-1)[0])
    upper = length if inclusive_end else length - 1
    if not -length <= index <= upper:
        raise ValueError(f"{ctx.node.op_type}: position {index} is out of range for a sequence of length {length} "
                         f"(expected {-length}..{upper})")
    return index + length if index < 0 else index


@kernel("SequenceConstruct", since=11)
def SequenceConstruct(ctx, *inputs):
    return list(inputs)


@kernel("SequenceEmpty", since=11)
def SequenceEmpty(ctx, *, dtype=1):
    return []


@kernel("SequenceAt", since=11)
def SequenceAt(ctx, input_sequence, position):
    return input_sequence[_position(ctx, position, len(input_sequence))]


@kernel("SequenceInsert", since=11)
def SequenceInsert(ctx, input_sequence, tensor, position=None):
    if position is None:
        return [*input_sequence, tensor]
    index = _position(ctx, position, len(input_sequence), inclusive_end=True)
    return [*input_sequence[:index], tensor, *input_sequence[index:]]


@kernel("SequenceErase", since=11)
def SequenceErase(ctx, input_sequence, position=None):
    if not input_sequence:
        raise ValueError("SequenceErase: cannot erase from an empty sequence")
    index = len(input_sequence) - 1 if position is None else _position(ctx, position, len(input_sequence))
    return [*input_sequence[:index], *input_sequence[index + 1:]]


@kernel("SequenceLength", since=11)
def SequenceLength(ctx, input_sequence):
    return ctx.xp.asarray(len(input_sequence), dtype=np.int64)


@kernel("SplitToSequence", since=11)
def SplitToSequence(ctx, input, split=None, *, axis=0, keepdims=1):
    xp = ctx.xp
    axis = axis % input.ndim
    size = input.shape[axis]
    if split is None:
        parts = xp.split(input, size, axis=axis) if size else []
        return parts if keepdims else [xp.squeeze(part, axis=axis) for part in parts]
    split = split.tolist() if hasattr(split, "tolist") else split
    if isinstance(split, int):
        if split <= 0:
            raise ValueError(f"SplitToSequence: a scalar split must be positive, got {split}")
        bounds = list(range(split, size, split))
    else:
        if sum(split) != size or any(s < 0 for s in split):
            raise ValueError(f"SplitToSequence: split {split} must be non-negative and sum to the axis length {size}")
        bounds = list(itertools.accumulate(split[:-1]))
    return xp.split(input, bounds, axis=axis)


@kernel("ConcatFromSequence", since=11)
def ConcatFromSequence(ctx, input_sequence, *, axis, new_axis=0):
    if not input_sequence:
        raise ValueError("ConcatFromSequence: the input sequence is empty, there is nothing to concatenate")
    if new_axis:
        return ctx.xp.stack(input_sequence, axis=axis % (input_sequence[0].ndim + 1))
    return ctx.xp.concatenate(input_sequence, axis=axis % input_sequence[0].ndim)


@kernel("SequenceMap", since=17)
def SequenceMap(ctx, input_sequence, *additional_inputs, body):
    length = len(input_sequence)
    for extra in additional_inputs:
        if isinstance(extra, list) and len(extra) != length:
            raise ValueError(f"SequenceMap: an additional sequence input has {len(extra)} elements, "
                             f"expected {length} like the first input")
    results = [[] for _ in range(ctx.n_outputs)]
    for i in range(length):
        extras = [extra[i] if isinstance(extra, list) else extra for extra in additional_inputs]
        for collected, value in zip(results, body(input_sequence[i], *extras)):
            collected.append(value)
    return results[0] if len(results) == 1 else tuple(results)


@kernel("Optional", since=15)
def Optional(ctx, input=None, *, type=None):
    return input


@kernel("OptionalHasElement", since=15)
def OptionalHasElement(ctx, input=None):
    return ctx.xp.asarray(input is not None)


@kernel("OptionalGetElement", since=15)
def OptionalGetElement(ctx, input):
    if input is None:
        raise ValueError("OptionalGetElement: the optional input is empty")
    return input
