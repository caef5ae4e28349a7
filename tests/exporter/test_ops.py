"""Op-level lowerings through small functions, across the opset range where a lowering changes with it."""

import pytest

import trainer
from exporter import MIN_OPSET, newest_opset
from tests.exporter.function_module import Fn
from trainer import nn
from trainer.nn import functional as F

BATCHES = ({0: 1}, {0: 5})


FUNCTIONS = {
    "arithmetic": lambda x: (x + 1.5) * x - x / 3.0 - (-x) ** 2,
    "floor_div_and_remainder": lambda x: (x * 4) // 1.5 + (x * 4) % 1.5,
    "trunc_div": lambda x: trainer.div(x * 4, 1.5, rounding_mode="trunc"),
    "unary": lambda x: trainer.exp(x.clamp(-2, 2)) + trainer.log(x.abs() + 1) + x.abs().sqrt() + x.sin() * x.cos()
    + (x.abs() + 1).rsqrt() + x.sigmoid() + x.tanh() + x.relu(),
    "clamp_one_side": lambda x: x.clamp(min=0.1) - x.clamp(max=-0.1),
    "compare_where": lambda x: trainer.where((x > 0) & (x < 1) | (x == 0) | ~(x != x), x, x * 0.5),
    "maximum_minimum": lambda x: trainer.maximum(x, -x) + trainer.minimum(x, x * 2),
    "reductions": lambda x: x.sum(1) + x.mean(1) + x.amax(1) + x.amin(1) + x.prod(1) + x.var(1)
    + x.std(1, correction=0),
    "reductions_keepdim": lambda x: x.sum(dim=(1, 2), keepdim=True) * x.var(dim=0, keepdim=True),
    "whole_tensor_reductions": lambda x: x.sum() + x.mean() + x.max() + x.min() + x.std(),
    "max_min_with_indices": lambda x: (x.max(1)[0], x.max(1)[1], x.min(2, keepdim=True)[1]),
    "argmax": lambda x: (x.argmax(1), x.argmin(-1, keepdim=True), x.argmax()),
    "all_any": lambda x: ((x > 0).all(1), (x > 0).any(), (x > 0).all(2, keepdim=True)),
    "softmaxes": lambda x: x.softmax(1) + x.log_softmax(-1),
    "shapes": lambda x: x.permute(0, 2, 1).unsqueeze(1).squeeze(1).transpose(1, 2).flatten(1).t().t(),
    "expand_repeat": lambda x: x[:, :1].expand(-1, 4, -1) + x.repeat(1, 1, 1) + x.sum(1, keepdim=True).expand_as(x),
    "tile_up_a_rank": lambda x: x[0].repeat(2, 1, 3),
    "slicing": lambda x: x[:, 1:3, ::2] * x[:, -2:, 1::2] + x[..., None][:, :2, -1:, 0].squeeze(-1).unsqueeze(-1),
    "reverse_slice_and_int_index": lambda x: (x[:, ::-1, 0], x[:, 2], x[0]),
    "gather_index_select": lambda x: x.gather(2, trainer.tensor([[[0], [1], [2], [0]]]).expand(x.shape[0], 4, 1))
    + x.index_select(2, trainer.tensor([2, 0])).sum(-1, keepdim=True),
    "index_by_tensor": lambda x: x[:, trainer.tensor([3, 0, 1])],
    "masked_fill": lambda x: x.masked_fill(x > 0.5, -1.0),
    "cat_stack_split_chunk": lambda x: trainer.cat(x.split([1, 3], dim=1)[::-1], 1)
    + trainer.stack(x.chunk(3, dim=2), 0).sum(0).sum(-1, keepdim=True),
    "matmul_bmm": lambda x: x @ x.transpose(1, 2) + trainer.bmm(x, x.transpose(1, 2)),
    "casts": lambda x: (x * 10).long().float() + (x > 0).float() + x.double().float(),
    "integer_sum": lambda x: (x * 10).long().sum(1),
    "gelu_leaky": lambda x: F.gelu(x) + F.gelu(x, approximate="tanh") + F.leaky_relu(x, 0.1),
    "layer_group_norm": lambda x: F.layer_norm(x, (3,)) + F.group_norm(x, 2),
    "sdpa_causal": lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True),
    "interpolate_nearest": lambda x: F.interpolate(x.unsqueeze(1), scale_factor=2).squeeze(1),
    "detached_value": lambda x: x.detach() * x.data + x.clone(),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FUNCTIONS[name]), trainer.randn(3, 4, 3), runtime, dynamic=[0], variants=BATCHES)


OPSET_SENSITIVE = {
    "layer_norm": lambda: nn.LayerNorm(6),
    "gelu": nn.GELU,
    "reduce_mean_var": lambda: Fn(lambda x: x.mean(1) + x.var(-1).sum()),
    "split_squeeze": lambda: Fn(lambda x: x.split(2, dim=1)[1].unsqueeze(0).squeeze(0)),
}


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 17, 18, 20, newest_opset()}))
@pytest.mark.parametrize("name", sorted(OPSET_SENSITIVE))
def test_lowerings_across_the_opset_range(name, opset, runtime, roundtrip):
    trainer.manual_seed(0)
    proto, _ = roundtrip(OPSET_SENSITIVE[name](), trainer.randn(2, 4, 6), runtime, dynamic=[0], variants=BATCHES,
                         opset=opset)
    assert proto.opset_import[0].version == opset
    ops = {n.op_type for n in proto.graph.node}
    if name == "layer_norm":
        assert ("LayerNormalization" in ops) == (opset >= 17)
    if name == "gelu":
        assert ("Gelu" in ops) == (opset >= 20)
