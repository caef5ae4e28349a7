"""The shape, indexing, scatter, structured-matrix and product functions exported to ONNX and run at other batch
sizes (against ONNX Runtime and serving); histogram, which a model's forward has no use for, reported clearly."""

import pytest

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from tests.exporter.function_module import Fn

BATCHES = ({0: 1}, {0: 5})


def _idx(values):
    return trainer.tensor(values)


def _scatter_reductions(x):
    index = _idx([[[0, 0], [4, 1], [2, 2], [1, 4]]])  # (1, 4, 2): smaller than x everywhere but dim 2
    return tuple(x.scatter_reduce(2, index, x * 2 + 1, reduce, include_self=include_self)
                 for reduce in ("sum", "prod", "mean", "amax", "amin") for include_self in (True, False))


def _index_puts(x):
    y = x.permute(1, 2, 0)  # (4, 5, batch): the indexed dims have fixed sizes
    return (y.index_put((_idx([0, 3, 0]), _idx([1, -1, 1])), y[0, 0] * 2, accumulate=True),
            y.index_put((_idx([2, 1]),), y[0] + 1),
            x.index_put((x > 0,), x.mean()),
            x.index_copy(1, _idx([3, 0]), x[:, :2] * 2),
            x.index_copy(2, _idx([4]), x[:, :, :1] - 1))


FUNCTIONS = {
    "views": lambda x: (x.tile(1, 2, 1), trainer.ravel(x), x.swapaxes(0, 2), trainer.swapdims(x, 1, 2),
                        x.unflatten(2, (5, 1)), trainer.unflatten(x, 1, (2, -1)), x.sum_to_size(4, 1)),
    "unfold": lambda x: (x.unfold(2, 3, 1), x.unfold(1, 2, 2), x.unfold(0, 1, 1), x.unfold(2, 5, 3)),
    "splits": lambda x: (*x.split_with_sizes([1, 3], 1), *trainer.hsplit(x, 2), *trainer.dsplit(x, [2, 3]),
                         *x.transpose(0, 1).vsplit(2), trainer.dstack([x[0], x[0] * 2])),
    "take_put": lambda x: (trainer.take(x, _idx([[0, -1], [7, 3]])), x.put(_idx([1, -2, 1]), x[0, 0, :3]),
                           x.put(_idx([0, 0, 5]), x[0, 1, :3], accumulate=True)),
    "index_put": _index_puts,
    "masked_scatter": lambda x: (x.masked_scatter(x > 0, x.flatten() * 2), x.masked_scatter(x[0] < 0, x * 3)),
    "scatter_reduce": _scatter_reductions,
    "index_reduce": lambda x: tuple(x.index_reduce(2, _idx([0, 4, 0]), x[:, :, :3] * 2, reduce, include_self=s)
                                    for reduce in ("prod", "mean", "amax", "amin") for s in (True, False)),
    "region_scatter": lambda x: (x.slice_scatter(x[:, :, 1::2] * 2, 2, 1, None, 2),
                                 trainer.slice_scatter(x, x[:, -3:-1] + 1, 1, -3, -1),
                                 x.select_scatter(x[:, 0] * 3, 1, -1), trainer.select_scatter(x, x[:, :, 0], 2, 2),
                                 x.diagonal_scatter(x.diagonal(0, 1, 2) * 2, 0, 1, 2),
                                 trainer.diagonal_scatter(x, x.diagonal(1, 2, 1) - 1, 1, 2, 1)),
    "diag_embed": lambda x: (trainer.diag_embed(x[:, 0]), x.diag_embed(1, 0, 2), x[:, 1].diag_embed(-2, -1, 0),
                             trainer.diagflat(x[0, 0], 1)),
    "structured": lambda x: (trainer.block_diag(x[0], x[0, :2, :3], x[0, 0, 0]), trainer.vander(x[0, 0]),
                             trainer.vander(x[0, 1], 3, increasing=True), trainer.cartesian_prod(x[0, 0], x[0, 1]),
                             trainer.combinations(x[0, 0], 2), trainer.combinations(x[0, 1], 3, True)),
    "products": lambda x: (trainer.mv(x[0], x[0, 0]), trainer.inner(x, x[0]), trainer.vdot(x[0, 0], x[0, 1]),
                           trainer.addmv(x[0, :, 0], x[0], x[0, 0], beta=0.5, alpha=2),
                           trainer.addr(x[0], x[0, :, 0], x[0, 0], alpha=3),
                           trainer.addbmm(x[0, :, :4], x[:, :, :2], x[:, :2, :4]),
                           trainer.chain_matmul(x[0], x[0].t(), x[0]), trainer.dist(x, x[0], 3),
                           x.renorm(2, 0, 1.0), trainer.renorm(x, 1, 2, 2.0)),
    "isin_unravel": lambda x: (trainer.isin(x.round(), _idx([0.0, 1.0])), trainer.isin(x.round(), 1.0, invert=True),
                               *trainer.unravel_index((x.abs() * 10).long(), (3, 4))),
    # the runs of a greedy decode: how many there are depends on the data
    "unique_consecutive": lambda x: (*trainer.unique_consecutive(x.argmax(1), return_inverse=True, return_counts=True),
                                     *(x > 0).long().unique_consecutive(True, True, dim=1),
                                     trainer.unique_consecutive(x.round().clamp(-1, 1), dim=0),
                                     x.round().unique_consecutive(return_counts=True)[1]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FUNCTIONS[name]), trainer.randn(3, 4, 5), runtime, dynamic=[0], variants=BATCHES)


def test_histogram_has_no_onnx_lowering_and_is_reported(tmp_path):
    with pytest.raises(UnsupportedOpError, match="trainer op HistogramCounts .* has no ONNX lowering"):
        export(Fn(lambda x: trainer.histogram(x, 4).hist).eval(), trainer.randn(2, 3), tmp_path / "model.onnx")


def test_accumulating_index_put_needs_opset_16(tmp_path):
    from exporter.errors import OpsetError

    with pytest.raises(OpsetError, match="ScatterND with reduction='add'"):
        export(Fn(lambda x: x.index_put((_idx([0, 0]),), x[0], accumulate=True)).eval(), trainer.randn(2, 3),
               tmp_path / "model.onnx", opset_version=15)
