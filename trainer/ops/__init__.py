"""Differentiable ops, one ``Function`` per op, grouped by family."""

from trainer.ops import (  # the families are reached as trainer.ops.<family>
    activation,
    arithmetic,
    attention,
    batch_norm,
    compare,
    conv,
    counting,
    decompositions,
    elementwise,
    embedding,
    indexing,
    join,
    layer_norm,
    linalg,
    loss,
    padding,
    pool,
    reduce,
    rnn,
    scans,
    shape,
    sort,
    statistics,
    tensor_ops,
    transcendental,
    unary,
    upsample,
)


def __getattr__(name: str):  # trainer.ops.<namespace> of operators defined through trainer.library
    from trainer.library import op_namespace

    return op_namespace(name)
