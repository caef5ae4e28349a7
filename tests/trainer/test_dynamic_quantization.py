"""``quantize_dynamic`` against PyTorch (x86 engine, fbgemm): models whose Linear layers are quantized dynamically in
both libraries from the same float weights give the same module structure and reprs, the same state_dict (keys, int8
weights and scales, float16-rounded weights) and the same outputs: exactly for int8 layers (fbgemm's input grid,
integer accumulation and fused multiply-add back to float32, mirrored step by step), to float32 rounding for float16
layers (fbgemm sums the products in float32, trainer rounds the exact sum once)."""

import re
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch
from tests.trainer.test_qat_workflow import _same_weights


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warnings
        yield


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5))


def _block(lib):
    """A Transformer-style block: self-attention from Linear projections, layer norms, a GELU feed-forward."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, d=16, hidden=32):
            super().__init__()
            self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
            self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))

        def forward(self, x):
            h = self.norm1(x)
            scores = self.q(h) @ self.k(h).transpose(-2, -1) / 4.0
            x = x + self.out(lib.softmax(scores, -1) @ self.v(h))
            return x + self.ff(self.norm2(x))

    return Block()


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 1.7 + 0.3).astype(np.float32)
    return torch.tensor(x), trainer.tensor(x)


def _kwargs(lib, variant):
    q = lib.ao.quantization
    return {"qint8": {}, "per_channel": {"qconfig_spec": {lib.nn.Linear: q.per_channel_dynamic_qconfig}},
            "float16": {"dtype": lib.float16}}[variant]


def _convert(make, variant):
    torch.manual_seed(0)
    torch_model, trainer_model = make(torch), make(trainer)
    _same_weights(torch_model, trainer_model)
    return (torch.ao.quantization.quantize_dynamic(torch_model, **_kwargs(torch, variant)),
            trainer.ao.quantization.quantize_dynamic(trainer_model, **_kwargs(trainer, variant)))


def _assert_same_state(expected, got):
    expected_state, got_state = expected.state_dict(), got.state_dict()
    assert list(got_state) == list(expected_state)
    for key, value in expected_state.items():
        mine = got_state[key]
        if key.endswith("_packed_params.dtype"):
            assert repr(mine).replace("trainer.", "torch.") == repr(value)
        elif key.endswith("_packed_params._packed_params"):
            (w, b), (my_w, my_b) = value, mine
            if w.is_quantized:
                np.testing.assert_array_equal(my_w.int_repr().numpy(), w.int_repr().numpy())
                assert repr(my_w.qscheme()).replace("trainer.", "torch.") == repr(w.qscheme())
                if w.qscheme() == torch.per_tensor_affine:
                    assert my_w.q_scale() == w.q_scale() and my_w.q_zero_point() == w.q_zero_point()
                else:
                    np.testing.assert_array_equal(my_w.q_per_channel_scales().numpy(),
                                                  w.q_per_channel_scales().numpy())
            else:
                np.testing.assert_array_equal(my_w.numpy(), w.numpy())
            np.testing.assert_array_equal(my_b.numpy(), b.detach().numpy())
        else:
            np.testing.assert_array_equal(mine.numpy(), value.numpy())


@pytest.mark.parametrize("variant", ["qint8", "per_channel", "float16"])
@pytest.mark.parametrize("make, shape", [(_mlp, (7, 12)), (_block, (3, 6, 16))], ids=["mlp", "block"])
def test_quantized_model_matches_torch(make, shape, variant):
    expected, got = _convert(make, variant)
    assert str(got).replace("trainer.", "torch.") == str(expected)
    _assert_same_state(expected, got)
    for seed in range(3):
        x_torch, x_trainer = _inputs(shape, seed)
        want, mine = expected(x_torch).detach().numpy(), got(x_trainer).numpy()
        assert mine.dtype == np.float32
        if variant == "float16" or make is _block:
            np.testing.assert_allclose(mine, want, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(mine, want)


def test_single_layer_is_exact_over_many_shapes_and_ranges():
    rng = np.random.default_rng(3)
    for _ in range(20):
        k, n, m = (int(v) for v in rng.integers(1, 40, size=3))
        torch.manual_seed(int(rng.integers(1000)))
        layer = torch.nn.Linear(k, n)
        mine = trainer.nn.Linear(k, n)
        _same_weights(layer, mine)
        scale, shift = rng.uniform(1e-3, 20), rng.uniform(-3, 3)
        x = (rng.standard_normal((m, k)) * scale + shift).astype(np.float32)
        want = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(layer))(torch.tensor(x))
        got = trainer.ao.quantization.quantize_dynamic(trainer.nn.Sequential(mine))(trainer.tensor(x))
        np.testing.assert_array_equal(got.numpy(), want.detach().numpy())


def test_version_3_layer_quantizes_inputs_over_8_bits():
    expected, got = _convert(_mlp, "qint8")
    for layer in (expected[0], got[0]):
        layer.version = 3
    x_torch, x_trainer = _inputs((5, 12))
    np.testing.assert_array_equal(got[0](x_trainer).numpy(), expected[0](x_torch).numpy())
    got[0].version = 4
    assert not np.array_equal(got[0](x_trainer).numpy(), expected[0](x_torch).numpy())


@pytest.mark.parametrize("x", [np.zeros((2, 4)), np.full((3, 4), 2.5), np.full((1, 4), -1e-9)])
def test_constant_inputs(x):
    x = x.astype(np.float32)
    expected, got = _convert(lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 3)), "qint8")
    np.testing.assert_array_equal(got(trainer.tensor(x)).numpy(), expected(torch.tensor(x)).numpy())


def test_qconfigs_and_observers_match_torch():
    for name in ("default_dynamic_qconfig", "per_channel_dynamic_qconfig", "float16_dynamic_qconfig"):
        expected, got = getattr(torch.ao.quantization, name), getattr(trainer.ao.quantization, name)
        for e, g in ((expected.activation(), got.activation()), (expected.weight(), got.weight())):
            assert type(g).__name__ == type(e).__name__
            assert repr(g.dtype).replace("trainer.", "torch.") == repr(e.dtype)
            assert g.is_dynamic == e.is_dynamic
    observer = trainer.ao.quantization.default_dynamic_quant_observer()
    assert (observer.dtype, observer.quant_min, observer.quant_max, observer.is_dynamic) == (trainer.quint8, 0, 255,
                                                                                               True)
    x = trainer.randn(3)
    assert observer(x) is x
    assert repr(observer).replace("trainer.", "torch.") == repr(torch.ao.quantization.default_dynamic_quant_observer())
    assert_raises_like_torch(lambda lib: lib.ao.quantization.PlaceholderObserver().calculate_qparams(), Exception,
                             "should not be called for PlaceholderObserver")


def test_spec_by_name_and_set_and_nested_modules():
    for spec in ({"0"}, {"0": torch.ao.quantization.default_dynamic_qconfig}):
        torch_spec = spec
        trainer_spec = spec if isinstance(spec, set) else {"0": trainer.ao.quantization.default_dynamic_qconfig}
        torch.manual_seed(0)
        expected = torch.ao.quantization.quantize_dynamic(_mlp(torch), torch_spec)
        got = trainer.ao.quantization.quantize_dynamic(_mlp(trainer), trainer_spec)
        assert re.findall(r"\((\d)\): (\w+)", str(got)) == re.findall(r"\((\d)\): (\w+)", str(expected))


def test_copy_unless_inplace_and_eval_mode():
    model = _mlp(trainer)
    quantized = trainer.ao.quantization.quantize_dynamic(model)
    assert type(model[0]) is trainer.nn.Linear and not quantized.training
    same = trainer.ao.quantization.quantize_dynamic(model, inplace=True)
    assert same is model and type(model[0]) is trainer.nn.quantized.dynamic.Linear


def test_recurrent_layers_are_quantized_too():
    model = trainer.nn.Sequential(trainer.nn.LSTM(4, 3), trainer.nn.Linear(3, 2))
    quantized = trainer.ao.quantization.quantize_dynamic(model, {trainer.nn.LSTM, trainer.nn.Linear})
    assert type(quantized[0]) is trainer.ao.nn.quantized.dynamic.LSTM
    assert type(quantized[1]) is trainer.ao.nn.quantized.dynamic.Linear


def test_module_constructor_repr_and_state_dict_round_trip():
    for dtype in ("qint8", "float16"):
        expected = torch.ao.nn.quantized.dynamic.Linear(3, 2, dtype=getattr(torch, dtype))
        got = trainer.nn.quantized.dynamic.Linear(3, 2, dtype=getattr(trainer, dtype))
        assert repr(got).replace("trainer.", "torch.") == repr(expected)
        assert list(got.state_dict()) == list(expected.state_dict())
    _, source = _convert(_mlp, "qint8")
    target = trainer.ao.quantization.quantize_dynamic(_mlp(trainer))
    target.load_state_dict(source.state_dict())
    x = trainer.randn(4, 12)
    np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())


def test_bad_arguments_raise_like_torch():
    def layer(lib):
        return lib.ao.quantization.quantize_dynamic(lib.nn.Sequential(lib.nn.Linear(4, 3)))[0]

    assert_raises_like_torch(lambda lib: layer(lib)(lib.randn(2, 4, dtype=lib.float64)), RuntimeError,
                             "expected scalar type Float but found Double")
    assert_raises_like_torch(lambda lib: layer(lib)(lib.randn(4)), RuntimeError, "larger than or equal to 2")
    assert_raises_like_torch(lambda lib: layer(lib)(lib.randn(2, 5)), RuntimeError, "equal to K: 5")
    assert_raises_like_torch(lambda lib: lib.ao.quantization.quantize_dynamic(lib.nn.Linear(2, 2), dtype=lib.int8),
                             ValueError, "Don't know how to quantize with default settings")
    assert_raises_like_torch(
        lambda lib: lib.ao.nn.quantized.dynamic.Linear.from_float(lib.nn.Conv1d(1, 1, 1)), AssertionError,
        "only works for one of")
