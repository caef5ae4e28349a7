"""Packed sequences at export: a model that packs is refused with an UnsupportedOpError naming the packed sequence
(its batch sizes would otherwise be baked into the graph as constants, wrong for other lengths), while
pad_sequence, which holds nothing data-dependent, exports and runs in ONNX Runtime and serving."""

import pytest

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from tests.exporter.function_module import Fn
from trainer import nn
from trainer.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence, unpad_sequence

REFUSAL = r"works on a packed sequence \(trainer.nn.utils.rnn.PackedSequence\), which does not export: .* baked into"


class PackedEncoder(nn.Module):
    """The usual training pattern: pack by lengths, run the recurrent layer, pad back."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.layer(packed)
        return pad_packed_sequence(out, batch_first=True)[0]


class OnPackedData(nn.Module):
    """Runs the layer on its input taken as the data of a packed sequence of fixed batch sizes."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, data):
        out, _ = self.layer(PackedSequence(data, trainer.tensor([3, 2, 2, 1])))
        return out.data


LAYERS = {
    "PackedRnnTanh": lambda: nn.RNN(4, 5),
    "PackedRnnRelu": lambda: nn.RNN(4, 5, nonlinearity="relu", num_layers=2),
    "PackedLstm": lambda: nn.LSTM(4, 5, bidirectional=True),
    "PackedGru": lambda: nn.GRU(4, 5),
}


@pytest.mark.parametrize("op", LAYERS)
def test_packing_inside_the_model_is_refused(op, tmp_path):
    model = PackedEncoder(LAYERS[op]()).eval()
    lengths = trainer.tensor([2, 5, 3])
    with pytest.raises(UnsupportedOpError, match="trainer op PackPaddedSequence " + REFUSAL):
        export(model, (trainer.randn(3, 5, 4), lengths), tmp_path / "m.onnx")


def test_packing_constant_data_by_lengths_given_to_the_model_is_refused(tmp_path):
    # the data alone would let the exporter fold the op into a constant: the lengths are an input of it too
    model = Fn(lambda lengths: pack_padded_sequence(trainer.ones(5, 3, 2), lengths).data).eval()
    with pytest.raises(UnsupportedOpError, match="trainer op PackPaddedSequence " + REFUSAL):
        export(model, trainer.tensor([5, 3, 2]), tmp_path / "m.onnx")


@pytest.mark.parametrize("op", LAYERS)
def test_a_recurrent_layer_on_packed_data_is_refused(op, tmp_path):
    model = OnPackedData(LAYERS[op]()).eval()
    with pytest.raises(UnsupportedOpError, match=f"trainer op {op} in module 'layer' " + REFUSAL):
        export(model, trainer.randn(8, 4), tmp_path / "m.onnx")


def test_padding_packed_data_is_refused(tmp_path):
    model = Fn(lambda data: pad_packed_sequence(PackedSequence(data, trainer.tensor([2, 1])), total_length=3)[0]).eval()
    with pytest.raises(UnsupportedOpError, match="trainer op PadPackedSequence " + REFUSAL):
        export(model, trainer.randn(3, 4), tmp_path / "m.onnx")


def test_unpadding_by_lengths_is_refused_too(tmp_path):
    # each output's length is a value of ``lengths``: it cannot be a constant of the graph either
    model = Fn(lambda x: tuple(unpad_sequence(x, trainer.tensor([3, 1]), batch_first=True))).eval()
    with pytest.raises(UnsupportedOpError, match="boolean masks"):
        export(model, trainer.randn(2, 3, 4), tmp_path / "m.onnx")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_exports_and_matches(batch_first, padding_side, runtime, roundtrip):
    def pad_pieces(x):
        return pad_sequence([x[:4], x[4:6], x[6:]], batch_first, -1.0, padding_side)

    trainer.manual_seed(0)
    roundtrip(Fn(pad_pieces), trainer.randn(7, 3), runtime)
