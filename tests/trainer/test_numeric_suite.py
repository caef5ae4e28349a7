"""The eager-mode Numeric Suite (``trainer.ao.ns._numeric_suite``, alias ``trainer.quantization._numeric_suite``)
against PyTorch's on the same float weights: the same dict keys, shapes and values (float entries exactly, quantized
ones within a quantum), for dynamically (int8, float16) and statically quantized models."""

import copy
import warnings

import numpy as np
import pytest
import torch
import torch.ao.ns._numeric_suite as torch_ns
import torch.quantization._numeric_suite as torch_legacy_ns

import trainer
import trainer.ao.ns._numeric_suite as ns
import trainer.quantization._numeric_suite as legacy_ns
from tests.trainer.examples.program_port import as_numpy, copy_weights
from tests.trainer.test_ops_parity import assert_raises_like_torch

NS = {torch: torch_ns, trainer: ns}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def make_lstm_model(lib):
    """The numeric-suite tutorial's dynamic-quantization model, small: embedding, 2-layer LSTM, linear decoder."""

    class LSTMModel(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = lib.nn.Embedding(10, 8)
            self.rnn = lib.nn.LSTM(8, 6, 2)
            self.decoder = lib.nn.Linear(6, 10)

        def forward(self, input, hidden):
            output, hidden = self.rnn(self.encoder(input), hidden)
            return self.decoder(output), hidden

    return LSTMModel().eval()


def make_conv_model(lib):
    """A statically quantizable model: stubs, a fused-free conv, a linear layer and FloatFunctional add and cat."""

    class ConvModel(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.quant = lib.ao.quantization.QuantStub()
            self.conv = lib.nn.Conv2d(2, 3, 3)
            self.relu = lib.nn.ReLU()
            self.fc = lib.nn.Linear(12, 4)
            self.add = lib.ao.nn.quantized.FloatFunctional()
            self.cat = lib.ao.nn.quantized.FloatFunctional()
            self.dequant = lib.ao.quantization.DeQuantStub()

        def forward(self, x):
            y = self.relu(self.conv(self.quant(x)))
            z = self.fc(y.reshape(y.shape[0], -1))
            return self.dequant(self.cat.cat([self.add.add(z, z), z], 1))

    return ConvModel().eval()


def float_pair(make):
    """The model built with torch and trainer, trainer's holding torch's weights."""
    torch.manual_seed(0)
    model_pt, model_tr = make(torch), make(trainer)
    copy_weights(model_pt, model_tr)
    return {torch: model_pt, trainer: model_tr}


def lstm_inputs(lib):
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 10, size=(5, 3))
    hidden = [rng.standard_normal((2, 3, 6)).astype(np.float32) for _ in range(2)]
    return lib.tensor(tokens), tuple(lib.tensor(h) for h in hidden)


def conv_input(lib):
    return lib.tensor(np.random.default_rng(2).standard_normal((4, 2, 4, 4)).astype(np.float32))


def quantize_dynamically(models, dtype_name="qint8"):
    return {lib: lib.quantization.quantize_dynamic(model, {lib.nn.LSTM, lib.nn.Linear}, dtype=getattr(lib, dtype_name))
            for lib, model in models.items()}


def quantize_statically(models):
    quantized = {}
    for lib, model in models.items():
        model.qconfig = lib.ao.quantization.default_qconfig
        prepared = lib.ao.quantization.prepare(model)
        prepared(conv_input(lib))
        quantized[lib] = lib.ao.quantization.convert(prepared)
    return quantized


def as_float_array(value) -> np.ndarray:
    value = value.dequantize() if value.is_quantized else value
    return as_numpy(value).astype(np.float64)


def assert_values_match(ours, theirs):
    """Tensors, or tuples and lists of them (an LSTM's ``(output, (h, c))``), equal in structure; float values
    within float32 rounding, quantized ones on the same per-tensor grid and at most one quantum apart (a float32 tie
    rounded the other way)."""
    if isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_values_match(a, b)
        return
    assert ours.is_quantized == theirs.is_quantized
    assert tuple(ours.shape) == tuple(theirs.shape)
    atol = 1e-6
    if theirs.is_quantized and theirs.qscheme() == torch.per_tensor_affine:
        np.testing.assert_allclose(ours.q_scale(), theirs.q_scale(), rtol=1e-6)
        assert ours.q_zero_point() == theirs.q_zero_point()
        atol = theirs.q_scale() * 1.001
    np.testing.assert_allclose(as_float_array(ours), as_float_array(theirs), rtol=0, atol=atol)


def assert_result_dicts_match(ours: dict, theirs: dict) -> None:
    """``{key: {"float": ..., "quantized": ...}}`` results: the same keys in the same order, values close."""
    assert list(ours) == list(theirs)
    for key in theirs:
        assert list(ours[key]) == list(theirs[key]), key
        for kind in theirs[key]:
            assert_values_match(ours[key][kind], theirs[key][kind])


@pytest.mark.parametrize("dtype_name", ["qint8", "float16"])
def test_compare_weights_of_a_dynamically_quantized_lstm_model_match_torch(dtype_name):
    floats = float_pair(make_lstm_model)
    quantized = quantize_dynamically(floats, dtype_name)
    results = {lib: NS[lib].compare_weights(floats[lib].state_dict(), quantized[lib].state_dict()) for lib in NS}
    assert list(results[trainer]) == ["encoder.weight", "rnn._all_weight_values.0.param",
                                      "rnn._all_weight_values.1.param", "decoder._packed_params._packed_params"]
    # the LSTM entries hold the hidden-to-hidden weights, as PyTorch's do
    assert tuple(results[trainer]["rnn._all_weight_values.1.param"]["float"].shape) == (24, 6)
    assert_result_dicts_match(results[trainer], results[torch])


def test_compare_weights_of_a_statically_quantized_model_match_torch():
    floats = float_pair(make_conv_model)
    quantized = quantize_statically(floats)
    results = {lib: NS[lib].compare_weights(floats[lib].state_dict(), quantized[lib].state_dict()) for lib in NS}
    assert list(results[trainer]) == ["conv.weight", "fc._packed_params._packed_params"]
    assert_result_dicts_match(results[trainer], results[torch])


def test_compare_model_outputs_of_a_dynamically_quantized_lstm_model_match_torch():
    floats = float_pair(make_lstm_model)
    quantized = quantize_dynamically(floats)
    results = {lib: NS[lib].compare_model_outputs(floats[lib], quantized[lib], *lstm_inputs(lib)) for lib in NS}
    assert list(results[trainer]) == ["encoder.stats", "rnn.stats", "decoder.stats"]
    # the LSTM's outputs are logged whole: (output, (h_n, c_n)) per call
    output, (h_n, c_n) = results[trainer]["rnn.stats"]["quantized"][0]
    assert tuple(output.shape) == (5, 3, 6) and tuple(c_n.shape) == (2, 3, 6)
    assert_result_dicts_match(results[trainer], results[torch])


def test_compare_model_stub_of_a_dynamically_quantized_lstm_model_match_torch():
    floats = float_pair(make_lstm_model)
    quantized = quantize_dynamically(floats)
    results = {lib: NS[lib].compare_model_stub(floats[lib], quantized[lib], [lib.nn.Linear, lib.nn.LSTM],
                                               *lstm_inputs(lib)) for lib in NS}
    assert list(results[trainer]) == ["rnn.stats", "decoder.stats"]
    assert isinstance(quantized[trainer].rnn, ns.Shadow)
    # the ShadowLogger keeps the first element: the LSTM's output, and the decoder's first time step
    assert tuple(results[trainer]["rnn.stats"]["quantized"][0].shape) == (5, 3, 6)
    assert tuple(results[trainer]["decoder.stats"]["float"][0].shape) == (3, 10)
    assert_result_dicts_match(results[trainer], results[torch])


def test_compare_model_outputs_of_a_statically_quantized_model_match_torch():
    floats = float_pair(make_conv_model)
    quantized = quantize_statically(floats)
    results = {lib: NS[lib].compare_model_outputs(floats[lib], quantized[lib], conv_input(lib)) for lib in NS}
    # (the float DeQuantStub gets no logger, so the quantized DeQuantize's output has no match)
    assert list(results[trainer]) == ["quant.stats", "conv.stats", "fc.stats", "add.stats", "cat.stats"]
    assert results[trainer]["conv.stats"]["quantized"][0].is_quantized
    assert_result_dicts_match(results[trainer], results[torch])


def test_compare_model_stub_shadows_float_functional_ops_like_torch():
    floats = float_pair(make_conv_model)
    quantized = quantize_statically(floats)
    results = {}
    for lib in NS:
        swap = [lib.nn.Conv2d, lib.nn.Linear, lib.ao.nn.quantized.FloatFunctional]
        results[lib] = NS[lib].compare_model_stub(floats[lib], quantized[lib], swap, conv_input(lib))
    assert list(results[trainer]) == ["conv.stats", "fc.stats", "add.stats", "cat.stats"]
    assert isinstance(quantized[trainer].add, ns.Shadow)
    assert_result_dicts_match(results[trainer], results[torch])


@pytest.mark.parametrize("op", ["add", "add_scalar", "mul", "mul_scalar", "add_relu"])
def test_shadow_runs_each_functional_op_on_both_modules(op):
    arrays = [np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32) for _ in range(2)]
    stats = {}
    for lib in NS:
        x, y = (lib.quantize_per_tensor(lib.tensor(a), 0.05, 128, lib.quint8) for a in arrays)
        shadow = NS[lib].Shadow(lib.ao.nn.quantized.QFunctional(), lib.ao.nn.quantized.FloatFunctional(),
                                NS[lib].ShadowLogger)
        output = getattr(shadow, op)(x, 0.5 if op.endswith("scalar") else y)
        assert output.is_quantized
        stats[lib] = shadow.logger.stats
    assert_result_dicts_match({"op": stats[trainer]}, {"op": stats[torch]})


def test_loggers_and_logger_dict_match_torch():
    for lib in NS:
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.ReLU(), NS[lib].OutputLogger()))
        model.add_module("logger", NS[lib].ShadowLogger())
        assert list(NS[lib].get_logger_dict(model)) == ["stats", "1.stats"]
        assert list(NS[lib].get_logger_dict(model, prefix="net")) == ["net.stats", "net.1.stats"]
        assert NS[lib].Logger().dtype is lib.quint8
    value = trainer.ones(3)
    logger = ns.OutputLogger()
    assert logger(value) is value and logger.stats["tensor_val"] == [value]


def test_shadow_logger_keeps_the_first_element_of_anything_longer_than_one_like_torch():
    for lib in NS:
        logger = NS[lib].ShadowLogger()
        logger(lib.arange(6.0).reshape(2, 3), lib.ones(1, 3))
        assert logger.stats["quantized"][0].tolist() == [0.0, 1.0, 2.0]
        assert logger.stats["float"][0].tolist() == [[1.0, 1.0, 1.0]]


def test_prepare_model_with_stubs_skips_modules_of_identical_types_like_torch():
    for lib in NS:
        float_model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.Linear(2, 2)))
        q_model = copy.deepcopy(float_model)
        q_model[1][0] = lib.ao.nn.quantized.dynamic.Linear(2, 2)
        NS[lib].prepare_model_with_stubs(float_model, q_model, {lib.nn.Linear}, NS[lib].ShadowLogger)
        assert isinstance(q_model[0], lib.nn.Linear) and isinstance(q_model[1][0], NS[lib].Shadow)


@pytest.mark.parametrize(("key", "postfix"), [("fc.weight", "weight"), ("fc._packed_params._packed_params",
                                                                        "_packed_params"),
                                              ("a.b.stats", "stats"), ("ab.stats", "stats"), ("fc.bias", "weight"),
                                              ("_packed_params", "_packed_params"), ("x.y.z", "stats")])
def test_find_match_matches_names_like_torch(key, postfix):
    names = ["fc.weight", "fc.bias", "a.b.stats", "a.bc.stats", "conv.weight"]
    assert ns._find_match(names, key, postfix) == torch_ns._find_match(names, key, postfix)


def test_default_compare_output_module_list_is_torchs_for_the_modules_trainer_has():
    import torch.ao.quantization.quantization_mappings as torch_mappings

    def names(module_types):  # (the kind of module, its class name): the two libraries lay out their files apart
        kinds = ("intrinsic", "qat", "quantized", "dynamic")
        return {(tuple(k for k in kinds if k in t.__module__), t.__name__) for t in module_types}

    ours = names(trainer.ao.quantization.get_default_compare_output_module_list())
    theirs = names(torch_mappings.get_default_compare_output_module_list())
    assert ours <= theirs
    assert {trainer.nn.LSTM, trainer.ao.nn.quantized.dynamic.LSTM, trainer.ao.quantization.QuantStub,
            trainer.nn.Sequential} <= trainer.ao.quantization.get_default_compare_output_module_list()


def test_the_legacy_module_is_an_alias_and_the_quantization_alias_still_exports_its_names():
    for name in torch_ns.__dict__:
        if not name.startswith("__") and hasattr(torch_legacy_ns, name) and callable(
                getattr(torch_ns, name)) and name not in ("Any", "Callable", "prepare"):
            assert getattr(legacy_ns, name) is getattr(ns, name), name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from trainer.quantization import QConfig, quantize_dynamic
    assert QConfig is trainer.ao.quantization.QConfig and quantize_dynamic is trainer.ao.quantization.quantize_dynamic
    assert trainer.ao.ns._numeric_suite is ns


def test_shadow_logger_refuses_a_zero_dimensional_output_like_torch():
    assert_raises_like_torch(lambda lib: NS[lib].ShadowLogger()(lib.tensor(1.0), lib.ones(2)), TypeError,
                             "len\\(\\) of a 0-d tensor")
