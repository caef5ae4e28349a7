"""Exporting ``EmbeddingBag`` (fixed-size bags and bags given by offsets, which become a graph input), lazy modules
after their first forward, the random layers in evaluation mode, ``AdaptiveLogSoftmaxWithLoss.log_prob`` and the
margin losses; each model runs in ONNX Runtime and serving at other sizes. Ops with randomness in evaluation
(``gumbel_softmax``) or no ONNX form (CTC) are refused."""

import numpy as np
import onnx
import pytest

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from exporter.verify import expected_outputs, max_abs_diff, run_exported
from tests.exporter.conftest import ATOL, assert_clean
from tests.exporter.function_module import Fn
from trainer import nn

BATCHES = ({0: 1}, {0: 5})


class _FixedBags(nn.Module):
    def __init__(self, weighted=False, **kwargs):
        super().__init__()
        self.bag = nn.EmbeddingBag(10, 4, **kwargs)
        self.weighted = weighted

    def forward(self, x):
        per_sample = 1.0 / (x.to(trainer.float32) + 1) if self.weighted else None  # computed in the graph
        return self.bag(x, per_sample_weights=per_sample)


FIXED_BAGS = {
    "sum": lambda: _FixedBags(mode="sum"),
    "mean": lambda: _FixedBags(),
    "max": lambda: _FixedBags(mode="max"),
    "sum_weighted_padding": lambda: _FixedBags(weighted=True, mode="sum", padding_idx=3),
    "mean_padding": lambda: _FixedBags(padding_idx=0),
    "max_padding": lambda: _FixedBags(mode="max", padding_idx=5),
}


@pytest.mark.parametrize("name", sorted(FIXED_BAGS))
def test_embedding_bag_of_fixed_size_bags_exports(name, runtime, roundtrip):
    trainer.manual_seed(0)
    example = trainer.tensor([[1, 3, 0, 5], [9, 5, 5, 2], [0, 0, 0, 0]])  # the last bag is all padding for some
    roundtrip(FIXED_BAGS[name](), example, runtime, dynamic=[0, 1], variants=({0: 1, 1: 2}, {0: 6, 1: 7}))


class _OffsetBags(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.bag = nn.EmbeddingBag(10, 4, **kwargs)
        self.head = nn.Linear(4, 2)

    def forward(self, text, offsets, per_sample=None):
        return self.head(self.bag(text, offsets, per_sample))


OFFSET_BAGS = [{"mode": "sum"}, {"mode": "mean"}, {"mode": "max"}, {"mode": "mean", "padding_idx": 3},
               {"mode": "max", "padding_idx": 3, "include_last_offset": True},
               {"mode": "sum", "padding_idx": 2, "include_last_offset": True, "weighted": True}]


@pytest.mark.parametrize("options", OFFSET_BAGS, ids=lambda o: "_".join(f"{k}={v}" for k, v in o.items()))
def test_embedding_bag_with_offsets_exports_them_as_an_input(options, runtime, tmp_path):
    options = dict(options)
    weighted, last = options.pop("weighted", False), options.get("include_last_offset", False)
    trainer.manual_seed(0)
    model = _OffsetBags(**options).eval()

    def feeds(text, offsets):
        args = [trainer.tensor(text), trainer.tensor(offsets + ([len(text)] if last else []))]
        if weighted:
            args.append(trainer.tensor(np.linspace(0.5, 2.0, len(text)), dtype=trainer.float32))
        return args

    names = ["text", "offsets", "per_sample"][:3 if weighted else 2]
    example = feeds([1, 3, 4, 3, 9, 2, 2, 7], [0, 2, 2, 5])  # an empty bag among them
    path = tmp_path / "bags.onnx"
    proto = export(model, tuple(example), path, input_names=names, dynamic_axes={n: [0] for n in names})
    onnx.checker.check_model(proto, full_check=True)
    assert_clean(proto)
    for args in (example, feeds([3, 3, 1, 5, 6], [0, 3]), feeds([8] * 12, [0, 1, 4, 4, 4, 9, 10])):
        expected = expected_outputs(model, tuple(args))[0]
        got = run_exported(runtime, path, {n: a.numpy() for n, a in zip(names, args)})[0]
        assert got.shape == expected.shape and max_abs_diff(expected, got) <= ATOL


def _lazy_model():
    model = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(),
                          nn.LazyConvTranspose2d(2, 2, stride=2), nn.LazyInstanceNorm2d(), nn.Flatten(),
                          nn.LazyLinear(5))
    model(trainer.randn(2, 3, 4, 4))  # the dry run that gives the lazy layers their shapes
    return model


def test_lazy_modules_export_after_their_first_forward(runtime, roundtrip):
    trainer.manual_seed(0)
    model = _lazy_model()
    assert [type(m).__name__ for m in model][:2] == ["Conv2d", "BatchNorm2d"]
    proto, _ = roundtrip(model, trainer.randn(2, 3, 4, 4), runtime, dynamic=[0], variants=BATCHES)
    assert {i.name for i in proto.graph.initializer} >= {"0.weight", "6.weight", "1.running_mean"}


def test_a_lazy_module_before_its_first_forward_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter.*Call `forward` with a dummy"):
        export(nn.Sequential(nn.LazyLinear(3)).eval(), trainer.randn(2, 4), tmp_path / "lazy.onnx")


def test_random_layers_export_as_their_evaluation_forms(runtime, roundtrip):
    trainer.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.RReLU(0.1, 0.3), nn.AlphaDropout(0.3), nn.Linear(8, 8),
                          nn.Unflatten(1, (2, 4)), nn.FeatureAlphaDropout(0.5), nn.Flatten())
    proto, _ = roundtrip(model, trainer.randn(3, 6) * 3, runtime, dynamic=[0], variants=BATCHES)
    kinds = [node.op_type for node in proto.graph.node]
    assert "LeakyRelu" in kinds and not any("Dropout" in kind or "Random" in kind for kind in kinds)
    slope = next(a.f for n in proto.graph.node if n.op_type == "LeakyRelu" for a in n.attribute)
    assert slope == pytest.approx(0.2)


class _AdaptiveLogProb(nn.Module):
    def __init__(self):
        super().__init__()
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(16, 12, [3, 7], div_value=2.0, head_bias=True)

    def forward(self, x):
        return self.softmax.log_prob(x)


def test_adaptive_log_softmax_log_prob_exports(runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(_AdaptiveLogProb(), trainer.randn(4, 16), runtime, dynamic=[0], variants=BATCHES)


MARGIN_LOSSES = {
    "multi_margin": lambda x: nn.functional.multi_margin_loss(x, trainer.tensor([0, 3, 1, 2]), p=2,
                                                              reduction="none"),
    "multilabel_margin": lambda x: nn.functional.multilabel_margin_loss(
        x, trainer.tensor([[3, 0, -1, 1], [0, 1, 2, 3], [1, 1, -1, 2], [-1, 0, 1, 2]]), reduction="none"),
    "triplet_with_distance": lambda x: nn.TripletMarginWithDistanceLoss(swap=True, reduction="none")(
        x, x.flip(0), x * 0.5),
}


@pytest.mark.parametrize("name", sorted(MARGIN_LOSSES))
def test_margin_losses_export(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(MARGIN_LOSSES[name]), trainer.randn(4, 4), runtime)


@pytest.mark.parametrize("fn,op", [
    (lambda x: nn.functional.gumbel_softmax(x, tau=0.5), "AddGumbelNoise"),
    (lambda x: nn.functional.ctc_loss(x.log_softmax(-1), trainer.tensor([[1, 2]]), [4], [2]), "CtcLoss"),
])
def test_ops_without_an_evaluation_graph_are_refused(fn, op, tmp_path):
    with pytest.raises(UnsupportedOpError, match=f"trainer op {op} .* has no ONNX lowering"):
        export(Fn(fn).eval(), trainer.randn(4, 1, 3), tmp_path / "model.onnx")
