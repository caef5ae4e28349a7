"""Differentiable ops, one ``Function`` per op, grouped by family."""

from trainer.ops import (  # the families are reached as trainer.ops.<family>
    activation,
    arithmetic,
    attention,
    batch_norm,
    compare,
    conv,
    embedding,
    indexing,
    join,
    layer_norm,
    linalg,
    loss,
    pool,
    reduce,
    rnn,
    shape,
    tensor_ops,
    unary,
    upsample,
)
