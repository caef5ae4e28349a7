"""The ``nn.functional`` ops that accept nested tensors: for one they run the nested version, for a dense input
the dense op they wrap (``trainer.nn.functional`` exports these in place of the dense ones)."""

from __future__ import annotations

import functools

from trainer.nested.nested_tensor import NestedTensor
from trainer.nn.functional_relu import relu as dense_relu
from trainer.ops.activation import dropout as dense_dropout
from trainer.ops.activation import gelu as dense_gelu
from trainer.ops.activation import softmax as dense_softmax
from trainer.ops.attention import scaled_dot_product_attention as dense_attention
from trainer.ops.layer_norm import layer_norm as dense_layer_norm
from trainer.ops.linalg import linear as dense_linear


def _nested_aware(dense, nested):
    @functools.wraps(dense)
    def op(input, *args, **kwargs):
        return (nested if isinstance(input, NestedTensor) else dense)(input, *args, **kwargs)

    return op


def _on_values(dense):
    """The nested version of an elementwise op: it runs once on the packed values (in place: the same tensor)."""

    def nested(input, *args, **kwargs):
        values = dense(input._values, *args, **kwargs)
        return input if values is input._values else input._with_values(values)

    return nested


linear = _nested_aware(dense_linear, NestedTensor._linear)
layer_norm = _nested_aware(dense_layer_norm, NestedTensor._layer_norm)
scaled_dot_product_attention = _nested_aware(dense_attention, NestedTensor._attention)
softmax = _nested_aware(dense_softmax, NestedTensor.softmax)
relu = _nested_aware(dense_relu, _on_values(dense_relu))
gelu = _nested_aware(dense_gelu, _on_values(dense_gelu))
dropout = _nested_aware(dense_dropout, _on_values(dense_dropout))
