"""Dynamically quantized recurrent layers against PyTorch (x86 engine, fbgemm): models built in both libraries from
the same float weights and quantized with ``quantize_dynamic`` (or a layer's ``from_float``) print the same, hold the
same int8 (or float16-rounded) weights under PyTorch's state_dict keys and give the same outputs up to float32
rounding of the gate nonlinearities, far below the int8 error itself (PyTorch's own quantized-vs-float difference)."""

import re
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch
from tests.trainer.test_qat_workflow import _same_weights

VARIANTS = ["qint8", "per_channel", "float16"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warnings
        yield


def _qconfig(lib, variant):
    q = lib.ao.quantization
    return {"qint8": q.default_dynamic_qconfig, "per_channel": q.per_channel_dynamic_qconfig,
            "float16": q.float16_dynamic_qconfig}[variant]


def _quantize_both(make, variant, types):
    """``make(lib)`` in both libraries with the same weights: (torch float, torch quantized, trainer quantized)."""
    torch.manual_seed(0)
    torch_model, trainer_model = make(torch), make(trainer)
    _same_weights(torch_model, trainer_model)
    torch_model.eval()

    def spec(lib):
        if variant == "qint8":  # the tutorial's call: a set of types, quantized with qint8's default qconfig
            return {getattr(lib.nn, name) for name in types}
        return {getattr(lib.nn, name): _qconfig(lib, variant) for name in types}

    return (torch_model, torch.ao.quantization.quantize_dynamic(torch_model, spec(torch)),
            trainer.ao.quantization.quantize_dynamic(trainer_model, spec(trainer)))


def _assert_close_to_torch(mine, want, float_want):
    """Our difference to PyTorch's quantized output is float32 rounding, and tiny next to PyTorch's own int8 (or
    float16) error."""
    mine, want, float_want = (np.asarray(a) for a in (mine, want, float_want))
    assert mine.dtype == np.float32 and mine.shape == want.shape
    ours, theirs = np.abs(mine - want).max(), np.abs(want - float_want).max()
    assert ours <= 1e-5
    assert ours < 0.01 * theirs, (ours, theirs)
    return ours, theirs


def _same_packed_weights(expected, got):
    """The quantized weights and the biases of two dynamic layers (``get_weight``/``get_bias``) are identical."""
    for key, w in expected.get_weight().items():
        mine = got.get_weight()[key]
        if w.is_quantized:
            np.testing.assert_array_equal(mine.int_repr().numpy(), w.int_repr().numpy())
            if w.qscheme() == torch.per_tensor_affine:
                assert (mine.q_scale(), mine.q_zero_point()) == (w.q_scale(), w.q_zero_point())
            else:
                np.testing.assert_array_equal(mine.q_per_channel_scales().numpy(), w.q_per_channel_scales().numpy())
        else:
            np.testing.assert_array_equal(mine.numpy(), w.float().numpy())
    for key, b in expected.get_bias().items():
        np.testing.assert_array_equal(got.get_bias()[key].numpy(), b.detach().numpy())


def _word_language_model(lib):
    """The tutorial's model: Embedding -> 2-layer LSTM -> Linear decoder."""
    nn = lib.nn

    class RNNModel(nn.Module):
        def __init__(self, tokens=50, embedding=12, hidden=16):
            super().__init__()
            self.encoder = nn.Embedding(tokens, embedding)
            self.rnn = nn.LSTM(embedding, hidden, 2, dropout=0.5)
            self.decoder = nn.Linear(hidden, tokens)

        def forward(self, tokens, hidden):
            output, hidden = self.rnn(self.encoder(tokens), hidden)
            return self.decoder(output), hidden

    return RNNModel()


def _gru_classifier(lib):
    """Embedding -> bidirectional batch-first GRU -> Linear on both directions' last hidden states."""
    nn = lib.nn

    class Classifier(nn.Module):
        def __init__(self, tokens=40, embedding=10, hidden=12, classes=4):
            super().__init__()
            self.embed = nn.Embedding(tokens, embedding)
            self.gru = nn.GRU(embedding, hidden, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * hidden, classes)

        def forward(self, tokens):
            _, h_n = self.gru(self.embed(tokens))
            return self.head(lib.cat([h_n[0], h_n[1]], dim=1))

    return Classifier()


@pytest.mark.parametrize("variant", VARIANTS)
def test_word_language_model_matches_torch(variant):
    float_model, expected, got = _quantize_both(_word_language_model, variant, ["LSTM", "Linear"])
    assert str(got).replace("trainer.", "torch.") == str(expected)
    assert "DynamicQuantizedLSTM(12, 16, num_layers=2, dropout=0.5)" in str(got)
    assert list(got.state_dict()) == list(expected.state_dict())
    _same_packed_weights(expected.rnn, got.rnn)
    tokens = np.random.default_rng(1).integers(0, 50, size=(9, 3))
    rng = np.random.default_rng(2)
    h0, c0 = (rng.standard_normal((2, 3, 16)).astype(np.float32) * 0.5 for _ in range(2))
    t_hidden, m_hidden = (torch.tensor(h0), torch.tensor(c0)), (trainer.tensor(h0), trainer.tensor(c0))
    with torch.no_grad():
        want, (want_h, want_c) = expected(torch.tensor(tokens), t_hidden)
        float_want, (float_h, _) = float_model(torch.tensor(tokens), t_hidden)
    mine, (mine_h, mine_c) = got(trainer.tensor(tokens), m_hidden)
    ours, theirs = _assert_close_to_torch(mine.numpy(), want.numpy(), float_want.numpy())
    print(f"word LM {variant}: max |trainer - torch| = {ours:.3g}, max |torch quantized - float| = {theirs:.3g}")
    _assert_close_to_torch(mine_h.numpy(), want_h.numpy(), float_h.numpy())
    np.testing.assert_allclose(mine_c.numpy(), want_c.numpy(), atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gru_classifier_matches_torch(variant):
    float_model, expected, got = _quantize_both(_gru_classifier, variant, ["GRU", "Linear"])
    assert str(got).replace("trainer.", "torch.") == str(expected)
    assert "DynamicQuantizedGRU(10, 12, batch_first=True, bidirectional=True)" in str(got)
    assert list(got.state_dict()) == list(expected.state_dict())
    _same_packed_weights(expected.gru, got.gru)
    tokens = np.random.default_rng(3).integers(0, 40, size=(5, 11))
    with torch.no_grad():
        want, float_want = expected(torch.tensor(tokens)), float_model(torch.tensor(tokens))
    mine = got(trainer.tensor(tokens))
    ours, theirs = _assert_close_to_torch(mine.numpy(), want.numpy(), float_want.numpy())
    print(f"GRU classifier {variant}: max |trainer - torch| = {ours:.3g}, max |torch quantized - float| = {theirs:.3g}")


def _from_float(lib, float_layer, variant):
    float_layer.qconfig = _qconfig(lib, variant)
    return getattr(lib.ao.nn.quantized.dynamic, type(float_layer).__name__).from_float(float_layer)


def _layer_pair(name, variant, *args, **kwargs):
    torch.manual_seed(4)
    torch_float, trainer_float = getattr(torch.nn, name)(*args, **kwargs), getattr(trainer.nn, name)(*args, **kwargs)
    _same_weights(torch_float, trainer_float)
    return torch_float, _from_float(torch, torch_float, variant), _from_float(trainer, trainer_float, variant)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_stacked_bidirectional_layers_with_and_without_hx(name, variant, batch_first):
    float_layer, expected, got = _layer_pair(name, variant, 5, 6, num_layers=2, bidirectional=True,
                                             batch_first=batch_first)
    assert repr(got) == repr(expected)
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((3, 7, 5) if batch_first else (7, 3, 5)) * 2).astype(np.float32)
    states = [rng.standard_normal((4, 3, 6)).astype(np.float32) for _ in range(2 if name == "LSTM" else 1)]
    for given in (False, True):
        t_hx = m_hx = None
        if given:
            t_hx = tuple(torch.tensor(s) for s in states) if name == "LSTM" else torch.tensor(states[0])
            m_hx = tuple(trainer.tensor(s) for s in states) if name == "LSTM" else trainer.tensor(states[0])
        with torch.no_grad():
            (want, want_h), (float_want, _) = expected(torch.tensor(x), t_hx), float_layer(torch.tensor(x), t_hx)
        mine, mine_h = got(trainer.tensor(x), m_hx)
        _assert_close_to_torch(mine.numpy(), want.numpy(), float_want.numpy())
        want_h, mine_h = (h if name == "GRU" else h[1] for h in (want_h, mine_h))
        np.testing.assert_allclose(mine_h.numpy(), want_h.numpy(), atol=1e-5)


@pytest.mark.parametrize("variant", ["qint8", "float16"])
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_packed_sequences_match_torch(name, variant):
    float_layer, expected, got = _layer_pair(name, variant, 4, 5, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(6)
    lengths = [3, 6, 1, 4]  # unsorted: the layers sort and unsort the batch
    padded = (rng.standard_normal((6, 4, 4)) * 1.5).astype(np.float32)
    states = [rng.standard_normal((4, 4, 5)).astype(np.float32) for _ in range(2 if name == "LSTM" else 1)]
    for given in (False, True):
        results = []
        for lib, layer in ((torch, expected), (torch, float_layer), (trainer, got)):
            pack = lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(padded), lib.tensor(lengths),
                                                         enforce_sorted=False)
            hx = None
            if given:
                hx = tuple(lib.tensor(s) for s in states) if name == "LSTM" else lib.tensor(states[0])
            with torch.no_grad():
                out, h = layer(pack, hx)
            assert isinstance(out, lib.nn.utils.rnn.PackedSequence)
            output, _ = lib.nn.utils.rnn.pad_packed_sequence(out)
            results.append((output.numpy(), (h if name == "GRU" else h[0]).numpy()))
        (want, want_h), (float_want, float_h), (mine, mine_h) = results
        _assert_close_to_torch(mine, want, float_want)
        _assert_close_to_torch(mine_h, want_h, float_h)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name, kwargs", [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", {}),
                                          ("RNNCell", {"nonlinearity": "relu"})])
def test_cells_match_torch_over_steps(name, kwargs, variant):
    float_cell, expected, got = _layer_pair(name, variant, 5, 7, **kwargs)
    assert repr(got) == repr(expected)
    assert list(got.state_dict()) == list(expected.state_dict()) == ["_packed_weight_ih", "_packed_weight_hh"]
    _same_packed_weights(expected, got)
    xs = (np.random.default_rng(7).standard_normal((4, 3, 5)) * 2).astype(np.float32)
    t_state = m_state = f_state = None
    for x in xs:  # the first step starts from zeros (hx=None), the others from the previous step
        with torch.no_grad():
            t_state, f_state = expected(torch.tensor(x), t_state), float_cell(torch.tensor(x), f_state)
        m_state = got(trainer.tensor(x), m_state)
        pairs = zip(t_state, m_state, f_state) if name == "LSTMCell" else [(t_state, m_state, f_state)]
        for want, mine, float_want in pairs:
            _assert_close_to_torch(mine.numpy(), want.numpy(), float_want.numpy())


def test_state_dict_round_trip_and_constructor():
    _, expected, got = _layer_pair("LSTM", "qint8", 4, 3, num_layers=2)
    fresh = trainer.ao.nn.quantized.dynamic.LSTM(4, 3, num_layers=2)
    assert repr(fresh) == "DynamicQuantizedLSTM(4, 3, num_layers=2)"
    fresh.load_state_dict(got.state_dict())
    x = trainer.tensor(np.random.default_rng(8).standard_normal((5, 2, 4)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x)[0].numpy(), got(x)[0].numpy())
    assert set(got.get_weight()) == set(expected.get_weight())
    _, _, cell = _layer_pair("GRUCell", "per_channel", 4, 3)
    by_weights, by_state = (trainer.ao.nn.quantized.dynamic.GRUCell(4, 3) for _ in range(2))
    by_weights.set_weight_bias({"weight": cell.get_weight(), "bias": cell.get_bias()})
    by_state.load_state_dict(cell.state_dict())
    for copy in (by_weights, by_state):
        np.testing.assert_array_equal(copy(x[0]).numpy(), cell(x[0]).numpy())
    for lib in (torch, trainer):  # the constructors' placeholder weights run at the right shapes
        dynamic = lib.ao.nn.quantized.dynamic
        output, (h, c) = dynamic.LSTM(3, 4, 2, batch_first=True, dtype=lib.float16)(lib.zeros(2, 5, 3))
        assert tuple(output.shape) == (2, 5, 4) and tuple(h.shape) == tuple(c.shape) == (2, 2, 4)
        for name, text in (("RNNCell", "DynamicQuantizedRNNCell(3, 4, bias=False, nonlinearity=relu)"),
                           ("GRU", "DynamicQuantizedGRU(3, 4, bias=False)")):
            kwargs = {"nonlinearity": "relu"} if name == "RNNCell" else {}
            assert repr(getattr(dynamic, name)(3, 4, bias=False, **kwargs)) == text.replace("trainer.", "torch.")


def _errors(lib, call):
    return call(lib, lib.ao.nn.quantized.dynamic, lib.ao.quantization)


@pytest.mark.parametrize("call, error, message", [
    (lambda lib, d, q: d.LSTM(4, 3)(lib.zeros(5, 4)), RuntimeError, "input must have 3 dimensions, got 2"),
    (lambda lib, d, q: d.LSTM(4, 3)(lib.zeros(5, 2, 3)), RuntimeError,
     "input.size(-1) must be equal to input_size. Expected 4, got 3"),
    (lambda lib, d, q: d.LSTM(4, 3)(lib.zeros(5, 2, 4), (lib.zeros(1, 3, 3), lib.zeros(1, 2, 3))), RuntimeError,
     "Expected hidden[0] size (1, 2, 3), got [1, 3, 3]"),
    (lambda lib, d, q: d.GRU(4, 3)(lib.zeros(5, 2, 4), lib.zeros(2, 2, 3)), RuntimeError,
     "Expected hidden size (1, 2, 3), got [2, 2, 3]"),
    (lambda lib, d, q: d.LSTM(4, 3)(lib.zeros(5, 2, 4, dtype=lib.float64)), RuntimeError,
     "expected scalar type Float but found Double"),
    (lambda lib, d, q: d.GRU(4, 3)(lib.zeros(0, 2, 4)), RuntimeError,
     "Expected sequence length to be larger than 0 in RNN"),
    (lambda lib, d, q: d.LSTMCell(4, 3)(lib.zeros(2, 5)), RuntimeError,
     "input has inconsistent input_size: got 5, expected 4"),
    (lambda lib, d, q: d.LSTMCell(4, 3)(lib.zeros(2, 4), (lib.zeros(3, 3), lib.zeros(3, 3))), RuntimeError,
     "Input batch size 2 doesn't match hidden[0] batch size 3"),
    (lambda lib, d, q: d.GRUCell(4, 3)(lib.zeros(2, 4), lib.zeros(2, 2)), RuntimeError,
     "hidden has inconsistent hidden_size: got 2, expected 3"),
    (lambda lib, d, q: d.RNNCell(4, 3, nonlinearity="sigmoid")(lib.zeros(2, 4)), RuntimeError,
     "Unknown nonlinearity: sigmoid"),
    (lambda lib, d, q: d.LSTM(4, 3, dropout=2), ValueError, "dropout should be a number in range [0, 1]"),
    (lambda lib, d, q: d.LSTM.from_float(lib.nn.RNN(4, 3)), AssertionError,
     "from_float only works for nn.LSTM and nn.GRU"),
    (lambda lib, d, q: d.LSTM.from_float(lib.nn.LSTM(4, 3)), AssertionError,
     "Input float module must have qconfig defined"),
    (lambda lib, d, q: d.GRUCell.from_float(lib.nn.Linear(4, 3)), AssertionError,
     "from_float only works for nn.LSTMCell, nn.GRUCell and nn.RNNCell"),
])
def test_errors_like_torch(call, error, message):
    assert_raises_like_torch(lambda lib: _errors(lib, call), error, re.escape(message))


@pytest.mark.parametrize("name", ["LSTM", "LSTMCell"])
def test_from_float_needs_bias_and_a_supported_dtype(name):
    for lib in (torch, trainer):
        layer = getattr(lib.nn, name)(4, 3, bias=False)
        layer.qconfig = lib.ao.quantization.default_dynamic_qconfig
        with pytest.raises(AssertionError, match="mod.bias must be True"):
            getattr(lib.ao.nn.quantized.dynamic, name).from_float(layer)
        layer = getattr(lib.nn, name)(4, 3)
        observer = lib.ao.quantization.PlaceholderObserver.with_args(dtype=lib.quint8)
        layer.qconfig = lib.ao.quantization.QConfig(activation=observer, weight=observer)
        with pytest.raises(RuntimeError, match="Unsupported dtype for dynamic RNN quantization"):
            getattr(lib.ao.nn.quantized.dynamic, name).from_float(layer)


def test_default_spec_swaps_every_recurrent_type():
    def make(lib):
        nn = lib.nn
        return nn.Sequential(nn.LSTM(3, 4), nn.GRU(3, 4), nn.LSTMCell(3, 4), nn.GRUCell(3, 4), nn.RNNCell(3, 4),
                             nn.RNN(3, 4))
    for dtype in ("qint8", "float16"):
        expected = torch.ao.quantization.quantize_dynamic(make(torch), dtype=getattr(torch, dtype))
        got = trainer.ao.quantization.quantize_dynamic(make(trainer), dtype=getattr(trainer, dtype))
        assert str(got) == str(expected)
        assert type(got[5]) is trainer.nn.RNN  # PyTorch has no dynamic nn.RNN either
        assert got[0].get_weight()["weight_ih_l0"].dtype == (trainer.qint8 if dtype == "qint8" else trainer.float32)


def test_dropout_between_layers_only_in_training_mode():
    torch.manual_seed(9)
    layer = trainer.ao.nn.quantized.dynamic.GRU(3, 4, num_layers=2, dropout=0.5)
    x = trainer.randn(6, 2, 3)
    assert not layer.training
    np.testing.assert_array_equal(layer(x)[0].numpy(), layer(x)[0].numpy())
    evaluated = layer(x)[0].numpy()
    trainer.manual_seed(0)
    assert not np.array_equal(layer.train()(x)[0].numpy(), evaluated)
