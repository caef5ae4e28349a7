"""Lowerings of losses, order statistics, searchsorted/unique, index_put and cumprod, exported in small modules
and run in ONNX Runtime and serving against trainer's outputs (and so PyTorch's); ops with no ONNX operator are
refused with a message that says why and what to do."""

import pytest

import trainer
from exporter import MIN_OPSET, export, newest_opset
from exporter.errors import OpsetError, UnsupportedOpError
from tests.exporter.function_module import Fn
from trainer.nn import functional as F

BATCHES = ({0: 1}, {0: 5})
CLASSES = 4


def _classes(x):
    """Class indices computed from the input, so that they change with it (and with the batch size)."""
    return (x[:, 0] * 7).abs().long() % CLASSES


def _some_ignored(x):
    return trainer.where(x[:, 1] > 0.5, trainer.tensor(-100), _classes(x))


def _probabilities(x):
    return (x * 2).softmax(1)


def _weight():
    return trainer.tensor([0.5, 2.0, 1.0, 3.0])


def _in_unit(x):
    return x.sigmoid() * 0.98 + 0.01


LOSSES = {
    "cross_entropy_mean": lambda x: F.cross_entropy(x, _classes(x)),
    "cross_entropy_none_weight_ignore": lambda x: F.cross_entropy(x, _some_ignored(x), weight=_weight(),
                                                                  reduction="none"),
    "cross_entropy_sum_ignore_index": lambda x: F.cross_entropy(x, _classes(x), ignore_index=2, reduction="sum"),
    "cross_entropy_weighted_mean": lambda x: F.cross_entropy(x, _some_ignored(x), weight=_weight()),
    "cross_entropy_spatial": lambda x: F.cross_entropy(x.reshape(x.shape[0], CLASSES, 2, 3),
                                                       (x[:, :6] * 7).abs().long().reshape(x.shape[0], 2, 3) % CLASSES,
                                                       reduction="none"),
    "cross_entropy_smoothing": lambda x: F.cross_entropy(x, _some_ignored(x), label_smoothing=0.2),
    "cross_entropy_smoothing_weight": lambda x: (
        F.cross_entropy(x, _some_ignored(x), weight=_weight(), label_smoothing=0.1),
        F.cross_entropy(x, _classes(x), weight=_weight(), label_smoothing=0.3, reduction="none"),
        F.cross_entropy(x, _classes(x), label_smoothing=0.3, reduction="sum")),
    "cross_entropy_probabilities": lambda x: (
        F.cross_entropy(x, _probabilities(x)), F.cross_entropy(x, _probabilities(x), reduction="none"),
        F.cross_entropy(x, _probabilities(x), weight=_weight(), label_smoothing=0.25, reduction="sum")),
    "cross_entropy_one_sample": lambda x: (F.cross_entropy(x[0], _classes(x)[0]),
                                           F.cross_entropy(x[0], _classes(x)[0], reduction="none"),
                                           F.cross_entropy(x[0], _classes(x)[0], label_smoothing=0.1)),
    "nll_loss": lambda x: (F.nll_loss(x.log_softmax(1), _classes(x)),
                           F.nll_loss(x.log_softmax(1), _some_ignored(x), weight=_weight(), reduction="none"),
                           F.nll_loss(x.log_softmax(1), _some_ignored(x), weight=_weight()),
                           F.nll_loss(x.log_softmax(1), _classes(x), ignore_index=1, reduction="sum")),
    "binary_cross_entropy": lambda x: (F.binary_cross_entropy(_in_unit(x), _in_unit(-x)),
                                       F.binary_cross_entropy(_in_unit(x), (x > 0).float(), reduction="none"),
                                       F.binary_cross_entropy(_in_unit(x), _in_unit(x * 3), weight=_weight(),
                                                              reduction="sum")),
    "binary_cross_entropy_saturated": lambda x: F.binary_cross_entropy((x > 0).float(), (x < 0.3).float(),
                                                                       reduction="none"),
    "bce_with_logits": lambda x: (F.binary_cross_entropy_with_logits(x * 30, _in_unit(-x)),
                                  F.binary_cross_entropy_with_logits(x, (x > 0).float(), weight=_weight(),
                                                                     reduction="none"),
                                  F.binary_cross_entropy_with_logits(x * 5, _in_unit(x), pos_weight=_weight(),
                                                                     reduction="sum"),
                                  F.binary_cross_entropy_with_logits(x, _in_unit(x), weight=_weight()[:1],
                                                                     pos_weight=_weight())),
    "huber_and_smooth_l1": lambda x: (F.huber_loss(x, x.flip(1) * 2), F.huber_loss(x, -x, delta=0.5, reduction="none"),
                                      F.smooth_l1_loss(x, x * 3, beta=0.7, reduction="sum"),
                                      F.smooth_l1_loss(x, x.flip(0) * 0.5)),
    "kl_div": lambda x: (F.kl_div(x.log_softmax(1), _probabilities(x), reduction="batchmean"),
                         F.kl_div(x.log_softmax(1), (x - 0.5).relu(), reduction="none"),
                         F.kl_div(x.log_softmax(1), (x * 3).log_softmax(1), log_target=True, reduction="sum"),
                         F.kl_div(x.log_softmax(1), x.flip(1), reduction="sum")),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_export_and_match(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(LOSSES[name]), trainer.randn(3, CLASSES * 6 if name == "cross_entropy_spatial" else CLASSES),
              runtime, dynamic=[0], variants=BATCHES)


@pytest.mark.parametrize("name", ["cross_entropy_mean", "cross_entropy_smoothing", "nll_loss", "bce_with_logits",
                                  "kl_div"])
def test_losses_in_float64(name, runtime, roundtrip):
    trainer.manual_seed(1)
    _, diffs = roundtrip(Fn(LOSSES[name]), trainer.randn(5, CLASSES, dtype=trainer.float64), runtime,
                         dynamic=[0], variants=BATCHES)
    assert max(diffs) < 1e-12


def test_class_index_losses_use_the_onnx_loss_operators(roundtrip):
    proto, _ = roundtrip(Fn(lambda x: (F.cross_entropy(x, _classes(x)), F.nll_loss(x, _classes(x)))),
                         trainer.randn(3, CLASSES), "onnxruntime", dynamic=[0])
    ops = {n.op_type for n in proto.graph.node}
    assert {"SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"} <= ops


def _with_nans(x):
    return x.masked_fill(x > 1.0, float("nan"))


ORDER_STATISTICS = {
    "median_dim": lambda x: (*x.median(1), *x.median(-1, keepdim=True), *x.median(0)),
    "median_ties": lambda x: (*(x * 2).round().median(1), *(x * 2).round().median(2, keepdim=True)),
    "median_nan": lambda x: (*_with_nans(x).median(1), _with_nans(x).median()),
    "median_all": lambda x: (x.median(), (x * 2).round().median(), x[:, :2].median()),
    "median_integer": lambda x: (*(x * 3).long().median(1), (x * 3).long().median()),
    "mode": lambda x: (*(x * 2).round().mode(1), *(x * 2).round().mode(-1, keepdim=True), *x.mode(0)),
    "mode_integer_and_bool": lambda x: (*(x * 2).long().mode(1), *(x > 0).mode(2)),
    "mode_nan": lambda x: (*_with_nans((x * 2).round()).mode(1), *_with_nans(x).mode(2)),
}

COUNTING = {
    "searchsorted_1d": lambda x: (trainer.searchsorted(trainer.tensor([-1.0, 0.0, 0.0, 0.5, 1.0]), (x * 2).round() / 2),
                                  trainer.searchsorted(trainer.tensor([-1.0, 0.0, 0.0, 0.5, 1.0]), (x * 2).round() / 2,
                                                       right=True, out_int32=True)),
    "searchsorted_rows": lambda x: (trainer.searchsorted(x.sort(-1).values, x.flip(-1) * 1.5),
                                    trainer.searchsorted(x.sort(-1).values, x.round(), side="right")),
    "searchsorted_sorter": lambda x: trainer.searchsorted(x, x.flip(-1), sorter=x.argsort(-1)),
    "searchsorted_nan": lambda x: (trainer.searchsorted(_with_nans(x).sort(-1).values, _with_nans(x.flip(0))),
                                   trainer.searchsorted(_with_nans(x).sort(-1).values, _with_nans(x.flip(0)),
                                                        right=True)),
    "bucketize": lambda x: (trainer.bucketize(x, trainer.tensor([-0.5, 0.0, 0.5])),
                            trainer.bucketize((x * 2).round() / 4, trainer.tensor([-0.5, 0.0, 0.5]), right=True)),
    "searchsorted_integers": lambda x: trainer.searchsorted(trainer.tensor([-2, 0, 1, 3]), (x * 3).long()),
    "unique": lambda x: trainer.unique((x * 2).round(), return_inverse=True, return_counts=True),
    "unique_values_only": lambda x: trainer.unique((x * 2).long()),
    "unique_dim": lambda x: trainer.unique((x > 0).float(), dim=1, return_inverse=True, return_counts=True),
    "unique_int32": lambda x: trainer.unique((x * 2).int(), return_counts=True),
}


@pytest.mark.parametrize("name", sorted(ORDER_STATISTICS) + sorted(COUNTING))
def test_order_statistics_and_counting_export_and_match(name, runtime, roundtrip):
    trainer.manual_seed(0)
    fn = ORDER_STATISTICS.get(name) or COUNTING[name]
    roundtrip(Fn(fn), trainer.randn(3, 6, 5), runtime, dynamic=[0], variants=BATCHES)


def test_median_uses_top_k_and_mode_no_sort(roundtrip):
    proto, _ = roundtrip(Fn(lambda x: (x.median(1)[0], x.mode(1)[0])), trainer.randn(3, 6), "onnxruntime")
    assert sum(n.op_type == "TopK" for n in proto.graph.node) == 1


def _index_put(a, key, value):
    """``a[key] = value`` as trainer records it when autograd is on (out of place: the IndexPut op)."""
    from trainer.ops.indexing import IndexPut, _array_key

    return IndexPut.apply(a, value, key=_array_key(key, a))


INDEX_PUTS = {
    "slice": lambda x: _index_put(x, (slice(None), slice(1, 3)), x[:, 2:4] * 10),
    "scalar_value": lambda x: _index_put(x, (Ellipsis, 0), trainer.tensor(-1.0)),
    "int_and_step": lambda x: _index_put(x, (slice(None), 1, slice(None, None, 2)), x[:, 0, :3].exp()),
    "index_tensor": lambda x: _index_put(x, (slice(None), trainer.tensor([4, 0, 2])), x[:, :3] + 1),
    "negative_and_broadcast": lambda x: _index_put(x, (slice(None), slice(-2, None)), x[:1, :1, :1] * 0.5),
    "new_axis": lambda x: _index_put(x, (None, slice(None), 0), x[:, 1] * 3),
    "mask": lambda x: _index_put(x, x > 0.5, trainer.tensor(0.0)),
    "mask_over_leading_dims": lambda x: _index_put(x, x.sum(-1) > 0, x.mean() * 2),
}


@pytest.mark.parametrize("name", sorted(INDEX_PUTS))
def test_index_put_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(INDEX_PUTS[name]), trainer.randn(3, 6, 5), runtime, dynamic=[0], variants=BATCHES)


CUMPROD = lambda x: (x.cumprod(1), (x * 2).long().cumprod(0), (x > 0).cumprod(-1), x[:, 0, 0].cumprod(0))  # noqa: E731


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 25, 26, newest_opset()}))
def test_cumprod_exports_exactly_at_every_opset(opset, runtime, roundtrip):
    trainer.manual_seed(0)
    example = trainer.randn(3, 6, 5, dtype=trainer.float64)
    proto, diffs = roundtrip(Fn(CUMPROD), example, runtime, dynamic=[0], variants=BATCHES, opset=opset)
    ops = {n.op_type for n in proto.graph.node}
    assert ("CumProd" in ops) == (opset >= 26) and ("Scan" in ops) == (opset < 26)
    assert max(diffs) == 0.0


REFUSED = {
    "Inverse": (lambda x: trainer.linalg.inv(x[0, :3, :3] + 3 * trainer.eye(3)), "matrix inverses"),
    "ErfInv": (lambda x: (x.tanh() * 0.9).erfinv(), "special function"),
    "LGamma": (lambda x: (x.abs() + 1).lgamma(), "special function"),
    "Digamma": (lambda x: (x.abs() + 1).digamma(), "special function"),
    "Gcd": (lambda x: trainer.gcd((x * 5).long(), (x * 3).long()), "Euclid's algorithm"),
    "Histc": (lambda x: trainer.histc(x, bins=4), "histogram"),
    "BinCount": (lambda x: trainer.bincount((x.abs() * 3).long().reshape(-1)), "bincount"),
    "NormalSample": (lambda x: trainer.normal(x, 1.0), "draws random numbers"),
    "RRelu": (lambda x: F.rrelu(x, training=True), "training=False"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_ops_without_an_onnx_operator_are_refused_with_the_reason(name, tmp_path):
    fn, reason = REFUSED[name]
    with pytest.raises(UnsupportedOpError, match=f"trainer op {name} \\(in the top-level module's forward\\) has no "
                                                 f"ONNX lowering: .*{reason}"):
        export(Fn(fn).eval(), trainer.randn(3, 4, 4), tmp_path / "model.onnx")


def _across_opsets(x):
    return (F.cross_entropy(x, _classes(x)), F.cross_entropy(x, _some_ignored(x), label_smoothing=0.1),
            F.kl_div(x.log_softmax(1), _probabilities(x), reduction="batchmean"), *x.median(1),
            *(x * 2).round().mode(1), trainer.searchsorted(x.sort(-1).values, x.flip(-1)), x.median())


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 17, 18, newest_opset()}))
def test_lowerings_across_the_opset_range(opset, runtime, roundtrip):
    trainer.manual_seed(0)
    proto, _ = roundtrip(Fn(_across_opsets), trainer.randn(3, CLASSES), runtime, dynamic=[0], variants=BATCHES,
                         opset=opset)
    assert proto.opset_import[0].version == opset


def _accumulate(x):
    return x.index_put((trainer.tensor([0, 2, 0]),), x[1:] * 2, accumulate=True)


def test_index_put_with_accumulate_needs_opset_16(tmp_path, roundtrip):
    with pytest.raises(OpsetError, match="ScatterND with reduction='add', which needs opset >= 16"):
        export(Fn(_accumulate).eval(), trainer.randn(4, 5), tmp_path / "model.onnx", opset_version=15)
    trainer.manual_seed(0)
    roundtrip(Fn(_accumulate), trainer.randn(4, 5), "onnxruntime", opset=16)
