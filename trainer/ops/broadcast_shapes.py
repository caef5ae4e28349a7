"""``trainer.broadcast_shapes``: the shape that tensors of the given shapes broadcast to, without tensors."""

from __future__ import annotations

import numpy as np


def broadcast_shapes(*shapes):
    """Each shape is an int or a sequence of ints; returns a ``Size``."""
    from trainer.tensor import Size

    as_tuples = []
    for shape in shapes:
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not all(isinstance(s, (int, np.integer)) for s in shape):
            raise RuntimeError(f"Input shapes should be of type ints, a tuple of ints, or a list of ints, got "
                               f"{shape!r}")
        if any(s < 0 for s in shape):
            raise ValueError(f"Attempting to broadcast a dimension with negative length! (shape {tuple(shape)})")
        as_tuples.append(tuple(int(s) for s in shape))
    result = [1] * max((len(s) for s in as_tuples), default=0)
    for index, shape in enumerate(as_tuples):
        for axis in range(-1, -len(shape) - 1, -1):
            if shape[axis] == 1 or shape[axis] == result[axis]:
                continue
            if result[axis] != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {shape[axis]} at {axis}! "
                                   f"Mismatching argument at index {index} had {shape}; but expected shape should "
                                   f"be broadcastable to {result}")
            result[axis] = shape[axis]
    return Size(result)


