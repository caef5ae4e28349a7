"""Differentiable ops, one ``Function`` per op, grouped by family."""

from trainer.ops import (  # noqa: F401 - the families are reached as trainer.ops.<family>
    activation,
    arithmetic,
    compare,
    indexing,
    join,
    linalg,
    loss,
    reduce,
    shape,
    tensor_ops,
    unary,
)
