"""``convert`` against PyTorch: the tutorial model (QuantStub, conv + bn + relu, linear, DeQuantStub) prepared for
quantization-aware training (and, separately, for post-training calibration), trained or calibrated identically in
both libraries and converted gives the same module structure and reprs, the same int8 weights and qparams, the same
state_dict keys and outputs whose int_repr is within 1 of PyTorch's (fbgemm's float32 requantization, mirrored step
by step here; oneDNN, which PyTorch's x86 engine picks for convolutions on VNNI CPUs, may round the last step
differently)."""

import re
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch
from tests.trainer.test_qat_workflow import _same_weights, _structure, _tutorial_model


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation and reduce_range warnings
        yield


def _ptq_qconfig(lib):
    q = lib.ao.quantization
    return q.QConfig(activation=q.MinMaxObserver.with_args(reduce_range=True),
                     weight=q.default_per_channel_weight_observer)


def _prepare_and_run(lib, model, qat: bool, steps: int):
    q = lib.ao.quantization
    rng = np.random.default_rng(1)
    if qat:
        model.train()
        model.qconfig = q.get_default_qat_qconfig("x86")
        prepared = q.prepare_qat(q.fuse_modules_qat(model, [["conv", "bn", "relu"]]).train())
        optimizer = lib.optim.SGD(prepared.parameters(), lr=0.05)
        for step in range(steps):
            x = lib.tensor(rng.standard_normal((6, 2, 5, 5)).astype(np.float32))
            loss = (prepared(x) - 1.0).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step == steps // 2:
                prepared.apply(q.disable_observer)
                prepared.apply(lib.ao.nn.intrinsic.qat.freeze_bn_stats)
    else:
        model.eval()
        model.qconfig = _ptq_qconfig(lib)
        prepared = q.prepare(q.fuse_modules(model, [["conv", "bn", "relu"]]))
        with lib.no_grad():
            for _ in range(steps):
                prepared(lib.tensor(rng.standard_normal((6, 2, 5, 5)).astype(np.float32)))
    prepared.eval()
    return prepared


def _convert_both(qat: bool, steps: int = 4):
    torch.manual_seed(0)
    torch_model, trainer_model = _tutorial_model(torch), _tutorial_model(trainer)
    if not qat:  # running statistics for the eval-mode fusion
        torch_model.bn.running_mean.uniform_(-0.5, 0.5)
        torch_model.bn.running_var.uniform_(0.5, 2)
    _same_weights(torch_model, trainer_model)
    converted = {}
    for lib, model in ((torch, torch_model), (trainer, trainer_model)):
        prepared = _prepare_and_run(lib, model, qat, steps)
        converted[lib.__name__] = lib.ao.quantization.convert(prepared)
    return converted["torch"], converted["trainer"]


def _rounded(text: str) -> str:
    """A repr with its long floats cut to 6 significant digits."""
    return re.sub(r"\d+\.\d{6,}", lambda m: f"{float(m.group()):.6g}", text.replace("trainer.", "torch."))


def _assert_same_quantized(expected, got, x, exact_float_model: bool = True):
    """``exact_float_model``: the float layers that the observers watched gave bit-identical results in both
    libraries (QAT on the CPU does); post-training calibration sees float32 convolutions whose last bits depend on
    the summation order, so the output qparams may differ in their last float32 bit there."""
    assert _structure(got) == _structure(expected)
    if exact_float_model:
        assert str(got).replace("trainer.", "torch.") == str(expected)
    else:
        assert _rounded(str(got)) == _rounded(str(expected))
    for name in ("conv", "fc"):
        mine, theirs = getattr(got, name), getattr(expected, name)
        assert mine.zero_point == theirs.zero_point
        assert mine.scale == theirs.scale if exact_float_model else mine.scale == pytest.approx(theirs.scale, 1e-6)
        w, tw = mine.weight(), theirs.weight()
        assert w.qscheme() == trainer.per_channel_affine and tw.qscheme() == torch.per_channel_affine
        np.testing.assert_array_equal(w.int_repr().numpy(), tw.int_repr().numpy())
        np.testing.assert_array_equal(w.q_per_channel_scales().numpy(), tw.q_per_channel_scales().numpy())
        np.testing.assert_array_equal(w.q_per_channel_zero_points().numpy(), tw.q_per_channel_zero_points().numpy())
        np.testing.assert_allclose(mine.bias().numpy(), theirs.bias().detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(got.quant.scale.numpy(), expected.quant.scale.numpy())
    np.testing.assert_array_equal(got.quant.zero_point.numpy(), expected.quant.zero_point.numpy())
    assert list(got.state_dict()) == list(expected.state_dict())
    # the int8 pipeline, layer by layer and end to end
    tx, qx = torch.tensor(x), trainer.tensor(x)
    tq, q = expected.quant(tx), got.quant(qx)
    np.testing.assert_array_equal(q.int_repr().numpy(), tq.int_repr().numpy())
    tc, c = expected.conv(tq), got.conv(q)
    assert c.q_scale() == got.conv.scale and c.q_zero_point() == tc.q_zero_point()
    assert np.abs(c.int_repr().numpy().astype(int) - tc.int_repr().numpy().astype(int)).max() <= 1
    tf, f = expected.fc(tc.flatten(1)), got.fc(trainer._make_per_tensor_quantized_tensor(
        trainer.tensor(tc.int_repr().numpy()), tc.q_scale(), tc.q_zero_point()).flatten(1))
    assert np.abs(f.int_repr().numpy().astype(int) - tf.int_repr().numpy().astype(int)).max() <= 1
    out, torch_out = got(qx), expected(tx)
    assert out.dtype is trainer.float32 and not out.is_quantized
    np.testing.assert_allclose(out.numpy(), torch_out.numpy(), rtol=0, atol=expected.fc.scale * 1.0001)


def test_qat_tutorial_converts_like_torch():
    expected, got = _convert_both(qat=True)
    assert type(got.conv) is trainer.ao.nn.intrinsic.quantized.ConvReLU2d
    assert type(got.fc) is trainer.ao.nn.quantized.Linear
    assert type(got.quant) is trainer.ao.nn.quantized.Quantize
    assert type(got.dequant) is trainer.ao.nn.quantized.DeQuantize
    assert not any(hasattr(m, "qconfig") or hasattr(m, "activation_post_process") for m in got.modules())
    assert not got.conv._forward_hooks and not got.fc._forward_hooks
    x = np.random.default_rng(7).standard_normal((5, 2, 5, 5)).astype(np.float32)
    _assert_same_quantized(expected, got, x)


def test_post_training_calibration_converts_like_torch():
    expected, got = _convert_both(qat=False, steps=3)
    x = np.random.default_rng(8).standard_normal((4, 2, 5, 5)).astype(np.float32)
    _assert_same_quantized(expected, got, x, exact_float_model=False)


def _observed_layer(lib, layer, input_shape, per_channel: bool):
    q = lib.ao.quantization
    weight = q.default_per_channel_weight_observer if per_channel else q.default_weight_observer
    layer.qconfig = q.QConfig(activation=q.MinMaxObserver.with_args(reduce_range=True), weight=weight)
    model = lib.nn.Sequential(q.QuantStub(), layer, q.DeQuantStub())
    model.qconfig = layer.qconfig
    prepared = q.prepare(model.eval())
    with lib.no_grad():
        prepared(lib.tensor(np.random.default_rng(3).standard_normal(input_shape).astype(np.float32)))
    return q.convert(prepared)


@pytest.mark.parametrize(("make", "shape", "per_channel"), [
    (lambda nn: nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9), True),
    (lambda nn: nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False), (2, 4, 5, 6), False),
    (lambda nn: nn.Conv3d(2, 3, 2, dilation=(1, 2, 1)), (1, 2, 4, 5, 4), True),
    (lambda nn: nn.Linear(7, 5), (3, 7), False),
])
def test_layers_convert_and_compute_like_torch(make, shape, per_channel):
    torch.manual_seed(0)
    torch_layer = make(torch.nn)
    trainer_layer = make(trainer.nn)
    _same_weights(torch_layer, trainer_layer)
    expected = _observed_layer(torch, torch_layer, shape, per_channel)
    got = _observed_layer(trainer, trainer_layer, shape, per_channel)
    assert str(got).replace("trainer.", "torch.") == str(expected)
    w, tw = got[1].weight(), expected[1].weight()
    np.testing.assert_array_equal(w.int_repr().numpy(), tw.int_repr().numpy())
    assert w.qscheme().name == str(tw.qscheme()).removeprefix("torch.")
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32) * 1.5
    tq = expected[0](torch.tensor(x))
    q = got[0](trainer.tensor(x))
    diff = got[1](q).int_repr().numpy().astype(int) - expected[1](tq).int_repr().numpy().astype(int)
    assert np.abs(diff).max() <= 1


def test_quantized_state_dict_round_trip():
    expected, got = _convert_both(qat=True, steps=2)
    state = got.state_dict()
    assert isinstance(state["fc._packed_params._packed_params"], tuple)
    assert state["conv.weight"].dtype is trainer.qint8 and state["fc.scale"].dtype is trainer.float32
    fresh = trainer.ao.quantization.convert(_prepare_and_run(trainer, _tutorial_model(trainer), True, 1))
    fresh.load_state_dict(state)
    x = trainer.tensor(np.random.default_rng(9).standard_normal((2, 2, 5, 5)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).numpy(), got(x).numpy())


def test_errors_like_torch():
    _, got = _convert_both(qat=True, steps=2)
    torch_layer = torch.ao.nn.quantized.Linear(3, 2)
    layer = trainer.ao.nn.quantized.Linear(3, 2)
    assert_raises_like_torch(lambda lib: (torch_layer if lib is torch else layer)(lib.ones(1, 3)),
                             NotImplementedError, "quantized::linear")
    with pytest.raises(ValueError, match=r"Input shape must be `\(N, C, H, W\)`!"):
        got.conv(trainer.quantize_per_tensor(trainer.ones(2, 5, 5), 0.1, 0, trainer.quint8))
    with pytest.raises(AssertionError, match="only works for Linear"):
        trainer.ao.nn.quantized.Linear.from_float(trainer.nn.Conv2d(1, 1, 1))
    with pytest.raises(NotImplementedError, match="is_reference"):
        trainer.ao.quantization.convert(got, is_reference=True)
