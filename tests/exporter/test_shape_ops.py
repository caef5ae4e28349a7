"""Exports of the shape, indexing, joining and linear-algebra functions, checked in ONNX Runtime and serving at
the traced batch size and others (the batch axis is dynamic)."""

import pytest

import trainer
from exporter import OpsetError, export
from tests.exporter.function_module import Fn

BATCHES = ({0: 1}, {0: 5})


def _per_row(x, rows):
    """A constant index of shape (1, 4, 1) stretched over the batch."""
    return trainer.tensor([[[r] for r in rows]]).expand(x.shape[0], 4, 1)


FUNCTIONS = {
    "tril_triu": lambda x: x.tril() + x.triu(1) + trainer.tril(x, -1),
    "flip": lambda x: x.flip(0, 2) + x.flip(-2),
    "roll": lambda x: x.roll(1, 1) + x.roll(-1, 0) + x.roll((2, 4), (0, 2)) + x.roll(5),
    "diagonal": lambda x: (x.diagonal(0, 1, 2), x.diagonal(1, 2, 1), x.diagonal(-1, 0, 1), x[0].diag(1)),
    "diag_of_vector": lambda x: trainer.diag(x[0, :, 0], 1) + trainer.diag(x[0, :, 1], -1),
    "repeat_interleave": lambda x: (x.repeat_interleave(2, dim=1), x.repeat_interleave(trainer.tensor([1, 0, 2]), 2)),
    "broadcast_narrow_select": lambda x: (x[:, :1].broadcast_to(x.shape) + x.narrow(1, 1, 3).sum(1, keepdim=True),
                                          x.select(2, 0), x.select(0, -1)),
    "unbind_tensor_split": lambda x: (sum(x.unbind(1)), *x.tensor_split(3, dim=1), *x.tensor_split([1], 2)),
    "movedim": lambda x: x.movedim(0, -1) * 2,
    "meshgrid": lambda x: trainer.meshgrid(x[0, :, 0], x[0, 0, :], indexing="xy"),
    "hstack_vstack_column_stack": lambda x: (trainer.hstack([x, x[:, :1]]), trainer.vstack([x, x]),
                                             trainer.column_stack([x[:, 0, 0], x[:, 1]])),
    "take_along_dim": lambda x: x.take_along_dim(trainer.tensor([[[0], [2], [1], [0]]]), dim=2)
    + trainer.take_along_dim(x, x.argmax(2, keepdim=True), 2),
    "scatter": lambda x: (x.scatter(2, _per_row(x, [2, 0, 1, 2]), x[..., :1] * 2),
                          x.scatter(2, _per_row(x, [1, 1, 0, 2]), value=-3.0)),
    "scatter_add": lambda x: x.scatter_add(2, _per_row(x, [2, 0, 2, 2]), x[..., :1]),
    "index_add_fill": lambda x: x.index_add(1, trainer.tensor([0, 2, 0]), x[:, :3] * 2, alpha=0.5)
    + x.index_fill(2, trainer.tensor([1, 1]), -1.0),
    "masked_select": lambda x: x.masked_select(x > 0) + 1,
    "nonzero": lambda x: ((x > 0).nonzero(), trainer.argwhere(x < 0), *(x > 0.5).nonzero(as_tuple=True)),
    "einsum": lambda x: (trainer.einsum("bij,bkj->bik", x, x), trainer.einsum("...ij->...j", x),
                         trainer.einsum("bij,jk,k->bi", x, trainer.ones(3, 2), trainer.ones(2)),
                         trainer.einsum("bii->b", x[:, :3])),
    "outer_dot_addmm": lambda x: (x[:, 0].flatten().outer(x[0, 1]), trainer.dot(x[0, 0], x[0, 1]),
                                  trainer.addmm(x[0, 0], x[0], x[0].t()[:, :3], beta=0.5, alpha=2),
                                  trainer.baddbmm(x[:, :, :1], x, x.transpose(1, 2)[..., :1])),
    "cross": lambda x: trainer.cross(x, x.flip(2), dim=2),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FUNCTIONS[name]), trainer.randn(3, 4, 3), runtime, dynamic=[0], variants=BATCHES)


def test_trilu_needs_opset_14(tmp_path):
    with pytest.raises(OpsetError, match="Trilu.*opset >= 14"):
        export(Fn(lambda x: x.tril()).eval(), trainer.randn(2, 3), tmp_path / "m.onnx", opset_version=13)


def test_scatter_add_needs_opset_16(tmp_path):
    with pytest.raises(OpsetError, match="reduction='add'.*opset >= 16"):
        export(Fn(lambda x: x.scatter_add(1, trainer.tensor([[0], [1]]), x[:, :1])).eval(), trainer.randn(2, 3),
               tmp_path / "m.onnx", opset_version=15)
