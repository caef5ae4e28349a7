"""Packed sequences at export: the NLP pattern embedding -> pack_padded_sequence -> RNN/LSTM/GRU -> pad_packed_sequence
exports as ONNX recurrent nodes with ``sequence_lens`` (lengths a graph input with a dynamic batch axis), and runs in
ONNX Runtime and serving on other batches and lengths (unsorted, with a length-1 sequence) as trainer does; the
file agrees with torch.onnx.export's of the same torch model. Packed data used otherwise stays refused, and
pad_sequence, which holds nothing data-dependent, exports as before."""

import onnx
import pytest
import torch

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from exporter.verify import expected_outputs, max_abs_diff, run_exported
from tests.exporter.conftest import assert_clean
from tests.exporter.function_module import Fn
from trainer import nn
from trainer.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence, unpad_sequence

ATOL = 1e-5
LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
NODES = {"RNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
TRACED_LENGTHS = {True: [5, 4, 2], False: [2, 5, 4]}  # sorted when enforce_sorted, as trainer requires
# (time steps, lengths) of the batches the exported file runs on besides the traced one: other batch sizes, a
# length-1 sequence, the longest shorter than the padded time axis (so the output is cut to it)
OTHER_BATCHES = {True: [(7, [7, 6, 3, 1]), (6, [5, 3, 2, 1, 1])], False: [(7, [3, 7, 1, 6]), (6, [2, 1, 5, 4, 3])]}


def packed_classifier(lib, mode, batch_first, enforce_sorted, **layer_options):
    """Token ids (B, T) or (T, B) and lengths (B,) -> the padded outputs, the final states and the lengths; a
    trainer or a torch model (``lib``)."""
    rnn_utils = lib.nn.utils.rnn

    class PackedClassifier(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = lib.nn.Embedding(11, 4)
            self.layer = getattr(lib.nn, mode)(4, 3, batch_first=batch_first, **layer_options)

        def forward(self, tokens, lengths):
            packed = rnn_utils.pack_padded_sequence(self.embedding(tokens), lengths, batch_first=batch_first,
                                                    enforce_sorted=enforce_sorted)
            out, states = self.layer(packed)
            padded, out_lengths = rnn_utils.pad_packed_sequence(out, batch_first=batch_first)
            return padded, *(states if isinstance(states, tuple) else (states,)), out_lengths

    return PackedClassifier()


def _tokens(steps, lengths, batch_first):
    tokens = trainer.randint(0, 11, (len(lengths), steps))
    return tokens if batch_first else tokens.t().contiguous()


def _export(model, tokens, lengths, path, batch_first):
    batch, time_axis = (0, 1) if batch_first else (1, 0)
    n_states = 2 if isinstance(model.layer, nn.LSTM) else 1
    states = [f"state{i}" for i in range(n_states)]
    dynamic = {"tokens": {batch: "batch", time_axis: "time"}, "lengths": {0: "batch"},
               "output": {batch: "batch", time_axis: "time"}, "out_lengths": {0: "batch"},
               **{name: {1: "batch"} for name in states}}
    return export(model.eval(), (tokens, lengths), path, input_names=["tokens", "lengths"],
                  output_names=["output", *states, "out_lengths"], dynamic_axes=dynamic)


def _assert_runs_as_trainer(model, path, batches, batch_first):
    for steps, lengths in batches:
        tokens, lengths = _tokens(steps, lengths, batch_first), trainer.tensor(lengths)
        expected = expected_outputs(model, (tokens, lengths))
        for runtime in ("onnxruntime", "serving"):
            got = run_exported(runtime, path, {"tokens": tokens.numpy(), "lengths": lengths.numpy()})
            assert [g.shape for g in got] == [e.shape for e in expected], runtime
            diffs = [max_abs_diff(e, g) for e, g in zip(expected, got)]
            assert max(diffs) <= ATOL, f"{runtime} on lengths {lengths.tolist()}: differences {diffs}"


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("mode", LAYERS)
def test_packed_recurrent_classifier_exports_and_runs_on_other_lengths(mode, num_layers, bidirectional, batch_first,
                                                                       enforce_sorted, tmp_path):
    trainer.manual_seed(0)
    model = packed_classifier(trainer, mode, batch_first, enforce_sorted, num_layers=num_layers,
                              bidirectional=bidirectional)
    lengths = TRACED_LENGTHS[enforce_sorted]
    proto = _export(model, _tokens(5, lengths, batch_first), trainer.tensor(lengths), tmp_path / "m.onnx",
                    batch_first)
    onnx.checker.check_model(proto, full_check=True)
    assert_clean(proto)
    recurrent = [n for n in proto.graph.node if n.op_type == NODES[mode]]
    assert len(recurrent) == num_layers * (2 if bidirectional else 1)
    assert all(len(n.input) > 4 and n.input[4] for n in recurrent), "every layer reads sequence_lens"
    _assert_runs_as_trainer(model, tmp_path / "m.onnx", [(5, lengths), *OTHER_BATCHES[enforce_sorted]], batch_first)


def test_matches_torch_onnx_export_of_the_same_torch_model(tmp_path):
    trainer.manual_seed(1)
    model = packed_classifier(trainer, "GRU", True, False, bidirectional=True, num_layers=2).eval()
    reference = packed_classifier(torch, "GRU", True, False, bidirectional=True, num_layers=2).eval()
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    tokens, lengths = _tokens(5, [2, 5, 4], True), trainer.tensor([2, 5, 4])
    _export(model, tokens, lengths, tmp_path / "ours.onnx", True)
    torch.onnx.export(reference, (torch.from_numpy(tokens.numpy()), torch.from_numpy(lengths.numpy())),
                      tmp_path / "torch.onnx", dynamo=False, input_names=["tokens", "lengths"],
                      output_names=["output", "state0", "out_lengths"],
                      dynamic_axes={"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                                    "output": {0: "batch", 1: "time"}, "state0": {1: "batch"},
                                    "out_lengths": {0: "batch"}})
    for name in ("ours", "torch"):  # both files run the recurrence with sequence_lens
        nodes = [n for n in onnx.load(tmp_path / f"{name}.onnx").graph.node if n.op_type == "GRU"]
        assert nodes and all(n.input[4] for n in nodes), name
    tokens, lengths = _tokens(7, [3, 7, 1, 6], True), trainer.tensor([3, 7, 1, 6])
    feeds = {"tokens": tokens.numpy(), "lengths": lengths.numpy()}
    ours, theirs = run_exported("onnxruntime", tmp_path / "ours.onnx", feeds), run_exported(
        "onnxruntime", tmp_path / "torch.onnx", feeds)
    assert len(ours) == len(theirs)
    for mine, torch_file in zip(ours, theirs):
        assert mine.shape == torch_file.shape
        assert max_abs_diff(torch_file, mine) <= ATOL


class FixedLengthEncoder(nn.Module):
    """A given initial state and ``pad_packed_sequence(total_length=..., padding_value=...)``."""

    def __init__(self, total_length):
        super().__init__()
        self.layer = nn.LSTM(4, 3, bidirectional=True)
        self.total_length = total_length

    def forward(self, x, lengths, h0, c0):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, (h_n, c_n) = self.layer(packed, (h0, c0))
        return pad_packed_sequence(out, padding_value=-1.0, total_length=self.total_length)[0], h_n, c_n


def test_given_initial_states_and_a_fixed_total_length(tmp_path):
    trainer.manual_seed(2)
    model = FixedLengthEncoder(total_length=8).eval()

    def inputs(steps, lengths):
        batch = len(lengths)
        return (trainer.randn(steps, batch, 4), trainer.tensor(lengths), trainer.randn(2, batch, 3),
                trainer.randn(2, batch, 3))

    names = ["x", "lengths", "h0", "c0"]
    export(model, inputs(5, [2, 5, 4]), tmp_path / "m.onnx", input_names=names,
           dynamic_axes={"x": {0: "time", 1: "batch"}, "lengths": {0: "batch"}, "h0": {1: "batch"},
                         "c0": {1: "batch"}})
    for steps, lengths in [(5, [2, 5, 4]), (7, [3, 7, 1, 6]), (9, [8, 1, 2])]:  # padded up to 8, and cut to it
        args = inputs(steps, lengths)
        expected = expected_outputs(model, args)
        assert expected[0].shape[0] == 8
        for runtime in ("onnxruntime", "serving"):
            got = run_exported(runtime, tmp_path / "m.onnx", {n: a.numpy() for n, a in zip(names, args)})
            assert max(max_abs_diff(e, g) for e, g in zip(expected, got)) <= ATOL, runtime


class PackThen(nn.Module):
    """Packs its input by the lengths given and hands the ``PackedSequence`` to ``use``."""

    def __init__(self, use):
        super().__init__()
        self.use = use

    def forward(self, x, lengths):
        return self.use(pack_padded_sequence(x, lengths))


def test_packed_data_as_an_output_is_refused(tmp_path):
    model = PackThen(lambda packed: packed.data).eval()
    with pytest.raises(UnsupportedOpError, match=r"the model's output 'output' \(in module '<root>'\) uses the data "
                                                 r"of a packed sequence .* baked into the graph"):
        export(model, (trainer.randn(5, 3, 2), trainer.tensor([5, 3, 2])), tmp_path / "m.onnx",
               output_names=["output"])


def test_an_op_on_packed_data_is_refused(tmp_path):
    model = PackThen(lambda packed: packed.data * 2).eval()
    with pytest.raises(UnsupportedOpError, match=r"trainer op Mul \(in the top-level module's forward\) uses the "
                                                 r"data of a packed sequence"):
        export(model, (trainer.randn(5, 3, 2), trainer.tensor([5, 3, 2])), tmp_path / "m.onnx")


class OnPackedData(nn.Module):
    """Runs the layer on its input taken as the data of a packed sequence of fixed batch sizes."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, data):
        out, _ = self.layer(PackedSequence(data, trainer.tensor([3, 2, 2, 1])))
        return out.data


HAND_PACKED = {
    "PackedRnnTanh": lambda: nn.RNN(4, 5),
    "PackedRnnRelu": lambda: nn.RNN(4, 5, nonlinearity="relu", num_layers=2),
    "PackedLstm": lambda: nn.LSTM(4, 5, bidirectional=True),
    "PackedGru": lambda: nn.GRU(4, 5),
}


@pytest.mark.parametrize("op", HAND_PACKED)
def test_a_recurrent_layer_on_data_not_packed_in_the_graph_is_refused(op, tmp_path):
    model = OnPackedData(HAND_PACKED[op]()).eval()
    with pytest.raises(UnsupportedOpError, match=f"trainer op {op} in module 'layer' works on a packed sequence .* "
                                                  "not packed in the exported graph"):
        export(model, trainer.randn(8, 4), tmp_path / "m.onnx")


def test_padding_data_not_packed_in_the_graph_is_refused(tmp_path):
    model = Fn(lambda data: pad_packed_sequence(PackedSequence(data, trainer.tensor([2, 1])), total_length=3)[0]).eval()
    with pytest.raises(UnsupportedOpError, match="trainer op PadPackedSequence works on a packed sequence .* baked"):
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

