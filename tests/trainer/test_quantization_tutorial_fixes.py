"""What the quantization tutorials (tests/trainer/examples/test_quantization_tutorials.py) needed of trainer, compared
with PyTorch: ``torch.save`` of a quantized model's state_dict (the tutorials print model sizes that way) and the mean
of a quantized tensor (MobileNetV2's ``x.mean([2, 3])`` between the quantized features and classifier)."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


def _quantized_model(lib, per_channel: bool):
    """A converted conv + linear model, calibrated on fixed data (the same in both libraries)."""
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.ao.quantization.QuantStub(), lib.nn.Conv2d(3, 4, 3), lib.nn.ReLU(),
                              lib.nn.Flatten(), lib.nn.Linear(4 * 4 * 4, 5), lib.ao.quantization.DeQuantStub())
    weights = np.random.default_rng(0)
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(weights.standard_normal(tuple(p.shape)).astype(np.float32)))
    model.eval()
    model.qconfig = lib.ao.quantization.get_default_qconfig("x86") if per_channel else \
        lib.ao.quantization.default_qconfig
    lib.ao.quantization.prepare(model, inplace=True)
    model(lib.tensor(np.random.default_rng(1).standard_normal((4, 3, 6, 6)).astype(np.float32)))
    return lib.ao.quantization.convert(model)


def _described(value) -> dict:
    """A state_dict value as plain data: a dtype by name, a tensor by values, a quantized one by integers and grid."""
    if not hasattr(value, "detach"):
        return {"dtype": str(value).split(".")[-1]}
    if not value.is_quantized:
        return {"values": value.detach().numpy()}
    described = {"dtype": str(value.dtype).split(".")[-1], "ints": value.int_repr().numpy()}
    if value.qscheme() in (torch.per_tensor_affine, trainer.per_tensor_affine):
        return {**described, "scale": value.q_scale(), "zero_point": value.q_zero_point()}
    return {**described, "scale": value.q_per_channel_scales().numpy(), "axis": value.q_per_channel_axis(),
            "zero_point": value.q_per_channel_zero_points().numpy()}


def _assert_same_state(ours: dict, theirs: dict, exact: bool) -> None:
    """The same keys and kinds of values; ``exact``: the same values too (else within float32 calibration noise)."""
    assert list(ours) == list(theirs)
    for key in theirs:
        # (a quantized Linear's packed params are a (weight, bias) tuple)
        packed = isinstance(theirs[key], tuple)
        for a, b in zip(ours[key], theirs[key], strict=True) if packed else [(ours[key], theirs[key])]:
            a, b = _described(a), _described(b)
            assert list(a) == list(b), key
            for field in b:
                if isinstance(b[field], str) or exact:
                    np.testing.assert_array_equal(a[field], b[field], err_msg=f"{key}: {field}")
                else:  # the two libraries calibrated on float32 activations of their own kernels
                    np.testing.assert_allclose(a[field], b[field], rtol=1e-5, atol=1, err_msg=f"{key}: {field}")


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantized_state_dict_saves_and_loads_like_torch(tmp_path, per_channel):
    states = {}
    for lib in (torch, trainer):
        model = _quantized_model(lib, per_channel)
        lib.save(model.state_dict(), tmp_path / f"{lib.__name__}.pt")
        loaded = lib.load(tmp_path / f"{lib.__name__}.pt", weights_only=False)
        _assert_same_state(loaded, model.state_dict(), exact=True)
        fresh = _quantized_model(lib, per_channel)
        with lib.no_grad():  # a model quantized otherwise: the file's integers and grids must replace its own
            fresh[1].set_weight_bias(lib.quantize_per_tensor(lib.zeros(4, 3, 3, 3), 0.5, 0, lib.qint8), fresh[1].bias())
        fresh.load_state_dict(loaded)
        x = lib.tensor(np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32))
        np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
        states[lib.__name__] = loaded
    _assert_same_state(states["trainer"], states["torch"], exact=False)


def test_dtype_values_save_and_load(tmp_path):
    trainer.save({"weight_dtype": trainer.qint8, "compute": trainer.float16}, tmp_path / "d.pt")
    assert trainer.load(tmp_path / "d.pt") == {"weight_dtype": trainer.qint8, "compute": trainer.float16}


@pytest.mark.parametrize("dims, keepdim", [([2, 3], False), ([2, 3], True), ([1], False), ((0, 2), False),
                                           (None, False), (-1, True)])
@pytest.mark.parametrize("qdtype", ["quint8", "qint8"])
def test_quantized_mean_matches_torch(dims, keepdim, qdtype):
    rng = np.random.default_rng(0)
    values = (rng.standard_normal((3, 8, 4, 5)) * 3).astype(np.float32)
    # torch's quantized convs hand channels-last tensors on: their mean takes the dequantize-mean-requantize path
    x_pt = torch.quantize_per_tensor(torch.tensor(values), 0.037, 3, getattr(torch, qdtype))
    x_pt = x_pt.contiguous(memory_format=torch.channels_last)
    x_tr = trainer.quantize_per_tensor(trainer.tensor(values), 0.037, 3, getattr(trainer, qdtype))
    args = () if dims is None else (dims, keepdim)
    out_pt, out_tr = x_pt.mean(*args), x_tr.mean(*args)
    assert out_tr.dtype == getattr(trainer, qdtype) and tuple(out_tr.shape) == tuple(out_pt.shape)
    assert (out_tr.q_scale(), out_tr.q_zero_point()) == (out_pt.q_scale(), out_pt.q_zero_point())
    np.testing.assert_array_equal(out_tr.int_repr().numpy(), out_pt.int_repr().numpy())


def test_quantized_mean_per_channel_raises_like_torch():
    def per_channel_mean(lib):
        x = lib.quantize_per_channel(lib.ones(2, 3, 4), lib.tensor([0.1, 0.2, 0.3], dtype=lib.float64),
                                     lib.tensor([0, 1, 2]), 1, lib.quint8)
        return x.mean(2)

    assert_raises_like_torch(per_channel_mean, RuntimeError, "per_channel_affine")
