"""The lowering table: trainer op name (its ``Function`` class) -> a small function that emits its ONNX nodes.

A lowering is ``fn(g, *inputs, **attrs)`` (see ``exporter.emitter``) and returns the output value
name(s), one per output of the trainer op. Lowerings read ``g.opset`` to pick the nodes each opset has.
"""

from collections.abc import Callable

LOWERINGS: dict[str, Callable] = {}


def lowering(*ops: str):
    """Register the decorated function as the lowering of each trainer op in ``ops``."""

    def register(fn: Callable) -> Callable:
        for op in ops:
            if op in LOWERINGS:
                raise ValueError(f"two lowerings registered for trainer op {op}")
            LOWERINGS[op] = fn
        return fn

    return register


from exporter.lowerings import (  # the families register themselves on import
    activation,
    arithmetic,
    bitwise,
    compare,
    complex_arithmetic,
    complex_pairs,
    conv,
    counting,
    cumulative_product,
    embedding,
    embedding_bag,
    fake_quantize,
    filtered_resize,
    fourier,
    grid_sample,
    index_put,
    indexing,
    join,
    linalg,
    linear_resize,
    local_response_norm,
    losses,
    normalization,
    order_statistics,
    packed_sequence,
    padding,
    pdist,
    pool,
    quantized_tensors,
    reduce,
    rnn,
    scatter,
    sets,
    shape,
    sliding_blocks,
    sort,
    special,
    tensor_ops,
    unary,
    unpool,
    upsample,
    views,
)
