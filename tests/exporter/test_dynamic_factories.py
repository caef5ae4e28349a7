"""Tensors made inside ``forward`` from traced sizes (``zeros(x.size(0), H)``, ``zeros_like(x)``, ``arange(T)``, a
causal mask, ``eye``, the ``new_*`` methods) exported with dynamic axes and run at other sizes against ONNX Runtime
and serving; factories with plain sizes stay constants, and random factories of traced sizes are refused."""

import math

import numpy as np
import onnx
import pytest

import trainer
from exporter import export
from exporter.errors import ExportError, UnsupportedOpError
from exporter.verify import run_exported
from tests.exporter.function_module import Fn
from trainer import nn

# x is (batch, time, features) = (3, 5, 4); the variants change batch and time together and apart
VARIANTS = ({0: 1}, {0: 6}, {1: 2}, {0: 2, 1: 7})


def _causal(x):
    t = x.size(1)
    mask = trainer.ones(t, t).triu(1)
    scores = x @ x.transpose(1, 2)
    return scores.masked_fill(mask.bool(), -1e4).softmax(-1)


def _empty_written(x):
    h = x.new_empty(x.size(0), x.size(1))
    h[:, 0] = x[:, 0, 0]  # an in-place write into the made tensor follows it
    h[:, 1:] = x[:, 1:, 1] * 2
    out = trainer.empty_like(x)
    out.copy_(x.flip(2))
    return h, out


FACTORIES = {
    "zeros_ones": lambda x: (x + trainer.zeros(x.shape[0], x.shape[1], 1) + trainer.zeros_like(x)
                             + x.new_zeros(x.size(0), 1, 1), x * trainer.ones((x.size(0), x.size(1), 4))),
    "sizes_given_as_size": lambda x: (trainer.zeros(x.shape[:2]) + x.sum(2), trainer.ones(x.shape) - x),
    "full": lambda x: (trainer.full((x.size(0), x.size(1)), 2.5) * x[..., 0], x.new_full((x.size(0), 1, 4), -3.0) + x,
                       trainer.full_like(x, 7) - x, trainer.full((x.size(0),), x.size(1))),
    "ones_like_new_ones": lambda x: (trainer.ones_like(x) * x, x.new_ones(x.size(1), x.size(2)) + x),
    "empty_written": _empty_written,
    "arange": lambda x: (trainer.arange(x.size(1)),
                         trainer.arange(1, x.size(1) + 1, dtype=trainer.float32) * x[0, :, 0],
                         trainer.arange(x.size(0) * 3, 0, -2), trainer.arange(0, x.size(1), 0.5),
                         x + trainer.arange(x.size(1), dtype=trainer.float32).unsqueeze(-1)),
    "causal_mask": _causal,
    "eye": lambda x: (trainer.eye(x.size(1)) + x[0, :, :1], trainer.eye(x.size(0), x.size(1), dtype=trainer.int64),
                      trainer.eye(x.size(0), 4, dtype=trainer.bool)),
    "dtypes": lambda x: (trainer.zeros(x.size(0), 2, dtype=trainer.int64), trainer.ones_like(x, dtype=trainer.int32),
                         x.new_ones(x.size(0), 2, dtype=trainer.bool),
                         trainer.full((x.size(0),), 2, dtype=trainer.float64),
                         trainer.zeros_like(x, dtype=trainer.float16)),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_factory_of_traced_sizes_follows_dynamic_axes(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FACTORIES[name]), trainer.randn(3, 5, 4), runtime, dynamic=[0, 1], variants=VARIANTS)


def test_made_tensor_keeps_the_factory_dtype(tmp_path):
    x = trainer.randn(3, 5, 4, dtype=trainer.float64)
    model = Fn(lambda x: (x.new_zeros(x.size(0), 2), trainer.arange(x.size(1)),
                          trainer.full((x.size(0),), 1.5, dtype=trainer.float16),
                          trainer.eye(x.size(1), dtype=trainer.int32)))
    path = tmp_path / "model.onnx"
    proto = export(model.eval(), x, path, dynamic_axes={"input": {0: "batch", 1: "time"}})
    types = [out.type.tensor_type.elem_type for out in proto.graph.output]
    assert types == [onnx.TensorProto.DOUBLE, onnx.TensorProto.INT64, onnx.TensorProto.FLOAT16, onnx.TensorProto.INT32]
    for runtime in ("onnxruntime", "serving"):
        got = run_exported(runtime, path, {"input": np.zeros((6, 2, 4))})
        assert [g.dtype for g in got] == [np.float64, np.int64, np.float16, np.int32]
        assert [g.shape for g in got] == [(6, 2), (2,), (6,), (2, 2)]
        np.testing.assert_array_equal(got[3], np.eye(2, dtype=np.int32))


def _complex_fills(x):
    z = trainer.view_as_complex(x)  # complex values travel through the graph as (real, imaginary) pairs
    return (trainer.view_as_real(trainer.zeros_like(z) + z * 2),
            trainer.view_as_real(trainer.full((x.size(0), x.size(1)), 1 + 2j, dtype=trainer.complex64) * z),
            trainer.ones_like(z, dtype=trainer.float32) + x[..., 0])


def test_complex_filled_tensor_follows_dynamic_axes(runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(_complex_fills), trainer.randn(3, 5, 2), runtime, dynamic=[0, 1], variants=VARIANTS)


def test_complex_eye_of_traced_size_is_refused(tmp_path):
    model = Fn(lambda x: trainer.view_as_real(trainer.eye(x.size(0), dtype=trainer.complex64)))
    with pytest.raises(UnsupportedOpError, match=r"trainer.eye of a complex dtype .* make it real"):
        export(model.eval(), trainer.randn(3, 4), tmp_path / "model.onnx", dynamic_axes={"input": {0: "b"}})


class TutorialRecurrent(nn.Module):
    """The RNN tutorials' classifier: an explicit initial state sized by the batch (zeros, as the tutorials have
    it, or made by ``factory``), the last step's output."""

    def __init__(self, kind, factory=trainer.zeros, num_layers=2, hidden_size=6):
        super().__init__()
        self.num_layers, self.hidden_size, self.kind, self.factory = num_layers, hidden_size, kind, factory
        self.rnn = getattr(nn, kind)(4, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, 3)

    def forward(self, x):
        h0 = self.factory(self.num_layers, x.size(0), self.hidden_size)
        if self.kind == "LSTM":
            c0 = self.factory(self.num_layers, x.size(0), self.hidden_size)
            out, _ = self.rnn(x, (h0, c0))
        else:
            out, _ = self.rnn(x, h0)
        return self.fc(out[:, -1, :])


@pytest.mark.parametrize("factory", [trainer.zeros, trainer.ones], ids=["zeros", "ones"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_rnn_tutorial_initial_state_follows_the_batch(kind, factory, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(TutorialRecurrent(kind, factory), trainer.randn(3, 5, 4), runtime, dynamic=[0, 1], variants=VARIANTS)


class CausalTransformer(nn.Module):
    """A decoder-only language model: learnt positions looked up by arange(T), a triu causal mask."""

    def __init__(self, vocab=11, d_model=8, max_len=16):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, ids):
        t = ids.size(1)
        positions = trainer.arange(t, device=ids.device).unsqueeze(0).expand(ids.size(0), t)
        mask = trainer.ones(t, t).triu(1).bool()
        h = self.tokens(ids) * math.sqrt(8) + self.positions(positions)
        return self.head(self.encoder(h, mask=mask))


def test_transformer_positions_and_causal_mask_follow_batch_and_sequence(runtime, roundtrip):
    trainer.manual_seed(0)
    ids = trainer.randint(0, 11, (2, 6))
    roundtrip(CausalTransformer(), ids, runtime, dynamic=[0, 1], variants=({0: 1}, {1: 3}, {0: 4, 1: 9}))


def test_factories_of_plain_sizes_stay_one_constant(tmp_path):
    model = Fn(lambda x: x + trainer.zeros(3, 4) + trainer.ones(4) + trainer.full((3, 1), 2.0) + trainer.eye(4)[0]
               + trainer.arange(4, dtype=trainer.float32))
    proto = export(model.eval(), trainer.randn(3, 4), tmp_path / "model.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Add"] * 5
    assert len(proto.graph.initializer) == 5  # one per factory, none built in the graph


def test_factory_of_static_traced_sizes_folds_to_a_constant(tmp_path):
    model = Fn(lambda x: x + trainer.zeros(x.shape[1:]) + trainer.arange(x.size(1), dtype=trainer.float32))
    proto = export(model.eval(), trainer.randn(3, 4), tmp_path / "model.onnx", dynamic_axes={"input": {0: "b"}})
    assert [n.op_type for n in proto.graph.node] == ["Add", "Add"]


@pytest.mark.parametrize("draw", [lambda x: x + trainer.randn(x.size(0), 4), lambda x: x + trainer.rand_like(x),
                                  lambda x: x[trainer.randperm(x.size(0))], lambda x: x * trainer.randn_like(x),
                                  lambda x: x + trainer.randint(0, 5, (x.size(0), 4))])
def test_random_factory_of_traced_sizes_is_refused(draw, tmp_path):
    refusal = r"draws random numbers with a size \(or bound\) read from the traced inputs.*as an input"
    with pytest.raises(ExportError, match=refusal):
        export(Fn(draw).eval(), trainer.randn(3, 4), tmp_path / "model.onnx", dynamic_axes={"input": {0: "b"}})


def test_random_factory_of_plain_sizes_stays_a_constant(tmp_path):
    trainer.manual_seed(0)
    model = Fn(lambda x: x + trainer.randn(3, 4))
    proto = export(model.eval(), trainer.randn(3, 4), tmp_path / "model.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Add"]
