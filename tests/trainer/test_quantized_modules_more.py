"""The remaining static int8 modules of ``torch.ao.nn.quantized`` (normalisations, Sigmoid, Softmax, PReLU, Dropout,
transposed convolutions, MaxPool2d) and the weight-only quantized embeddings, against PyTorch: the same float module
prepared (QuantStub -> module -> DeQuantStub, explicit MinMax/PerChannelMinMax observers) and converted in both
libraries gives the same printing, state_dict keys and quantized weights, and the same integers on the same
quantized input and output grid (fbgemm's arithmetic, mirrored; these matched exactly)."""

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
        warnings.simplefilter("ignore")  # PyTorch's deprecation warnings for quantized tensors
        yield


def _rounded(text: str) -> str:
    """A repr with its long floats cut to 5 significant digits and trainer's names as torch's."""
    return re.sub(r"\d+\.\d{5,}", lambda m: f"{float(m.group()):.5g}", text.replace("trainer.", "torch."))


def _qconfig(lib, weight: str = "qint8"):
    q = lib.ao.quantization
    weights = {"qint8": q.MinMaxObserver.with_args(dtype=lib.qint8, qscheme=lib.per_tensor_symmetric),
               "quint8": q.MinMaxObserver.with_args(dtype=lib.quint8)}
    return q.QConfig(activation=q.MinMaxObserver.with_args(dtype=lib.quint8), weight=weights[weight])


def _converted(lib, layer, x, weight="qint8", extra_mapping=None):
    q = lib.ao.quantization
    model = lib.nn.Sequential(q.QuantStub(), layer, q.DeQuantStub())
    model.qconfig = _qconfig(lib, weight)
    mapping, allow_list = None, None
    if extra_mapping is not None:  # modules PyTorch's default lists leave out: observed and converted on request
        mapping = {**q.get_default_static_quant_module_mappings(), **extra_mapping(lib)}
        allow_list = q.get_default_qconfig_propagation_list() | set(extra_mapping(lib))
    prepared = q.prepare(model.eval(), allow_list=allow_list)
    with lib.no_grad():
        prepared(lib.tensor(x))
    return q.convert(prepared, mapping=mapping)


def _randomized(make):
    """The float module made in both libraries, with the same random parameters."""
    torch.manual_seed(0)
    torch_layer, trainer_layer = make(torch.nn), make(trainer.nn)
    with torch.no_grad():
        for p in torch_layer.parameters():
            p.uniform_(-1.0, 1.0)
    _same_weights(torch_layer, trainer_layer)
    return torch_layer, trainer_layer


def _compare(make, shape, weight="qint8", extra_mapping=None, scale=2.0):
    torch_layer, trainer_layer = _randomized(make)
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * scale + 0.3).astype(np.float32)
    expected = _converted(torch, torch_layer, x, weight, extra_mapping)
    got = _converted(trainer, trainer_layer, x, weight, extra_mapping)
    assert _rounded(str(got)) == _rounded(str(expected))
    assert list(got.state_dict()) == list(expected.state_dict())
    y = (rng.standard_normal(shape) * scale).astype(np.float32)
    tq, q = expected[0](torch.tensor(y)), got[0](trainer.tensor(y))
    np.testing.assert_array_equal(q.int_repr().numpy(), tq.int_repr().numpy())
    theirs = expected[1](tq)
    # the output grid comes from the float layer's output, whose last float32 bits may differ between the
    # libraries: compare the integers on PyTorch's grid, which the kernel must reproduce exactly
    grid = _output_grid_of(got[1])
    if grid is not None:
        assert np.isclose(float(getattr(got[1], grid[0])), theirs.q_scale(), rtol=1e-5)
        assert abs(int(getattr(got[1], grid[1])) - theirs.q_zero_point()) <= 1
        _set_output_grid(got[1], grid, theirs.q_scale(), theirs.q_zero_point())
    mine = got[1](q)
    assert (mine.q_scale(), mine.q_zero_point()) == (theirs.q_scale(), theirs.q_zero_point())
    np.testing.assert_array_equal(mine.int_repr().numpy(), theirs.int_repr().numpy())
    return expected, got


def _output_grid_of(module):
    for names in (("scale", "zero_point"), ("output_scale", "output_zero_point")):
        if hasattr(module, names[0]):
            return names
    return None


def _set_output_grid(module, names, scale, zero_point):
    current = getattr(module, names[0])
    if isinstance(current, trainer.Tensor):
        module.scale.copy_(trainer.tensor(scale))
        module.zero_point.copy_(trainer.tensor(zero_point))
    else:
        setattr(module, names[0], scale)
        setattr(module, names[1], zero_point)


@pytest.mark.parametrize(("make", "shape"), [
    (lambda nn: nn.LayerNorm(10), (4, 6, 10)),
    (lambda nn: nn.LayerNorm((5, 6), elementwise_affine=False), (3, 5, 6)),
    (lambda nn: nn.LayerNorm((4, 40)), (2, 4, 40)),
    (lambda nn: nn.GroupNorm(2, 6), (2, 6, 5, 7)),
    (lambda nn: nn.GroupNorm(3, 6, affine=False), (3, 6, 11)),
    (lambda nn: nn.InstanceNorm1d(4, affine=True), (2, 4, 33)),
    (lambda nn: nn.InstanceNorm2d(3), (2, 3, 6, 5)),
    (lambda nn: nn.InstanceNorm3d(2, affine=True), (2, 2, 3, 4, 5)),
])
def test_normalizations_like_torch(make, shape):
    expected, got = _compare(make, shape)
    if expected[1].weight is not None:
        np.testing.assert_array_equal(got[1].weight.detach().numpy(), expected[1].weight.detach().numpy())


@pytest.mark.parametrize(("make", "shape"), [
    (lambda nn: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    (lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5, 5)),
    (lambda nn: nn.ConvTranspose2d(3, 2, (2, 3), dilation=(2, 1), bias=False), (1, 3, 4, 6)),
    (lambda nn: nn.ConvTranspose3d(2, 3, 2, stride=(1, 2, 1)), (1, 2, 3, 4, 3)),
])
def test_conv_transpose_like_torch(make, shape):
    # PyTorch's x86 engine sends transposed convolutions to oneDNN, whose results here are far from the float
    # reference (and it refuses output_padding); fbgemm's match it, and trainer follows fbgemm
    engine = torch.backends.quantized.engine
    torch.backends.quantized.engine = "fbgemm"
    try:
        expected, got = _compare(make, shape)
    finally:
        torch.backends.quantized.engine = engine
    w, tw = got[1].weight(), expected[1].weight()
    np.testing.assert_array_equal(w.int_repr().numpy(), tw.int_repr().numpy())
    assert (w.q_scale(), w.q_zero_point()) == (tw.q_scale(), tw.q_zero_point())


@pytest.mark.parametrize(("make", "shape"), [
    (lambda nn: nn.PReLU(), (3, 5, 8)),
    (lambda nn: nn.PReLU(4), (2, 4, 3, 5)),
])
def test_prelu_like_torch(make, shape):
    expected, got = _compare(make, shape, weight="quint8")
    np.testing.assert_array_equal(got[1].weight.int_repr().numpy(), expected[1].weight.int_repr().numpy())
    assert got[1].weight.q_scale() == expected[1].weight.q_scale()


@pytest.mark.parametrize(("make", "shape"), [
    (lambda nn: nn.Sigmoid(), (3, 5, 40)),
    (lambda nn: nn.Softmax(dim=1), (3, 5, 7)),
    (lambda nn: nn.Softmax(dim=-1), (4, 33)),
])
def test_sigmoid_and_softmax_like_torch(make, shape):
    def mapping(lib):
        return {lib.nn.Sigmoid: lib.ao.nn.quantized.Sigmoid, lib.nn.Softmax: lib.ao.nn.quantized.Softmax}

    _compare(make, shape, extra_mapping=mapping)


def test_dropout_and_max_pool2d_like_torch():
    expected, got = _compare(lambda nn: nn.Dropout(0.3), (2, 3, 4))
    assert type(got[1]) is trainer.ao.nn.quantized.Dropout
    assert trainer.ao.nn.quantized.MaxPool2d is trainer.nn.MaxPool2d
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6)).astype(np.float32)
    tq = torch.quantize_per_tensor(torch.tensor(x), 0.05, 120, torch.quint8)
    q = trainer.quantize_per_tensor(trainer.tensor(x), 0.05, 120, trainer.quint8)
    mine = trainer.ao.nn.quantized.MaxPool2d(3, stride=2, padding=1)(q)
    theirs = torch.ao.nn.quantized.MaxPool2d(3, stride=2, padding=1)(tq)
    np.testing.assert_array_equal(mine.int_repr().numpy(), theirs.int_repr().numpy())


def test_module_printing_like_torch():
    for make in (lambda nnq: nnq.Sigmoid(0.1, 2), lambda nnq: nnq.Softmax(1, 0.1, 2), lambda nnq: nnq.PReLU(0.1, 3, 4),
                 lambda nnq: nnq.Dropout(0.3), lambda nnq: nnq.ConvTranspose2d(4, 6, 3, 2, 1, 1, 2, False, 2)):
        assert str(make(trainer.ao.nn.quantized)) == str(make(torch.ao.nn.quantized))
    assert list(trainer.ao.nn.quantized.PReLU(0.1, 3, 4).state_dict()) == []


def _embedding_pair(make, qconfig):
    torch_layer, trainer_layer = _randomized(make)
    converted = []
    for lib, layer in ((torch, torch_layer), (trainer, trainer_layer)):
        q = lib.ao.quantization
        model = lib.nn.Sequential(layer)
        model[0].qconfig = qconfig(lib)
        converted.append(q.convert(q.prepare(model.eval())))
    return converted


def _float_qparams_qconfig(lib):
    q = lib.ao.quantization
    observer = q.PerChannelMinMaxObserver.with_args(dtype=lib.quint8, qscheme=lib.per_channel_affine_float_qparams,
                                                    ch_axis=0)
    return q.QConfig(activation=q.PlaceholderObserver.with_args(dtype=lib.float32), weight=observer)


@pytest.mark.parametrize("qconfig", [_float_qparams_qconfig,
                                     lambda lib: lib.ao.quantization.float_qparams_weight_only_qconfig])
def test_embedding_like_torch(qconfig):
    expected, got = _embedding_pair(lambda nn: nn.Embedding(30, 12), qconfig)
    assert str(got).replace("trainer.", "torch.") == str(expected)
    assert list(got.state_dict()) == list(expected.state_dict())
    w, tw = got[0].weight(), expected[0].weight()
    np.testing.assert_array_equal(w.int_repr().numpy(), tw.int_repr().numpy())
    np.testing.assert_allclose(w.q_per_channel_scales().numpy(), tw.q_per_channel_scales().numpy(), rtol=1e-7)
    np.testing.assert_allclose(w.q_per_channel_zero_points().numpy(), tw.q_per_channel_zero_points().numpy(),
                               rtol=1e-6)
    indices = np.random.default_rng(6).integers(0, 30, (4, 5))
    mine = got(trainer.tensor(indices)).numpy()
    theirs = expected(torch.tensor(indices)).numpy()
    assert mine.dtype == np.float32 and mine.shape == (4, 5, 12)
    np.testing.assert_allclose(mine, theirs, rtol=1.3e-6, atol=1e-5)


@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_like_torch(include_last_offset):
    def make(nn):
        return nn.EmbeddingBag(25, 8, mode="sum", include_last_offset=include_last_offset)

    expected, got = _embedding_pair(make, _float_qparams_qconfig)
    assert str(got).replace("trainer.", "torch.") == str(expected)
    assert list(got.state_dict()) == list(expected.state_dict())
    rng = np.random.default_rng(7)
    indices = rng.integers(0, 25, 20)
    offsets = np.array([0, 3, 3, 9, 15] + ([20] if include_last_offset else []))
    weights = rng.random(20).astype(np.float32)
    for sample in (None, weights):
        mine = got[0](trainer.tensor(indices), trainer.tensor(offsets),
                   None if sample is None else trainer.tensor(sample)).numpy()
        theirs = expected[0](torch.tensor(indices), torch.tensor(offsets),
                          None if sample is None else torch.tensor(sample)).numpy()
        np.testing.assert_allclose(mine, theirs, rtol=1.3e-6, atol=1e-5)
    two_d = rng.integers(0, 25, (3, 4))
    np.testing.assert_allclose(got(trainer.tensor(two_d)).numpy(), expected(torch.tensor(two_d)).numpy(),
                               rtol=1.3e-6, atol=1e-5)


def test_embedding_state_dict_round_trip():
    _, got = _embedding_pair(lambda nn: nn.Embedding(10, 4), _float_qparams_qconfig)
    fresh = trainer.nn.Sequential(trainer.ao.nn.quantized.Embedding(10, 4))
    fresh.load_state_dict(got.state_dict())
    indices = trainer.tensor(np.arange(10))
    np.testing.assert_array_equal(fresh(indices).numpy(), got(indices).numpy())


def test_float_qparams_observer_and_qconfig():
    q, tq = trainer.ao.quantization, torch.ao.quantization
    observer, theirs = q.default_float_qparams_observer(), tq.default_float_qparams_observer()
    assert (observer.dtype, observer.qscheme, observer.ch_axis) == (trainer.quint8,
                                                                    trainer.per_channel_affine_float_qparams, 0)
    x = np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32)
    observer(trainer.tensor(x))
    theirs(torch.tensor(x))
    for mine, expected in zip(observer.calculate_qparams(), theirs.calculate_qparams()):
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-6)
    assert q.float_qparams_weight_only_qconfig.activation().dtype is trainer.float32


def test_errors_like_torch():
    nnq, tnnq = trainer.ao.nn.quantized, torch.ao.nn.quantized
    assert_raises_like_torch(
        lambda lib: (tnnq if lib is torch else nnq).LayerNorm(4, None, None, 0.1, 0)(lib.ones(2, 4)),
        NotImplementedError, "quantized::layer_norm")
    with pytest.raises(AssertionError, match="Per channel weight observer is not supported yet"):
        layer = trainer.nn.ConvTranspose2d(2, 2, 2)
        layer.qconfig = trainer.ao.quantization.QConfig(
            activation=trainer.ao.quantization.MinMaxObserver,
            weight=trainer.ao.quantization.default_per_channel_weight_observer)
        nnq.ConvTranspose2d.from_float(layer)
    with pytest.raises(AssertionError, match="only supported with float_qparams_weight_only_qconfig"):
        layer = trainer.nn.Embedding(4, 2)
        layer.qconfig = _qconfig(trainer)
        nnq.Embedding.from_float(layer)
    with pytest.raises(ValueError, match=r"Input shape must be `\(N, C, L\)`!"):
        nnq.ConvTranspose1d(2, 2, 2)(trainer.quantize_per_tensor(trainer.ones(2, 2), 0.1, 0, trainer.quint8))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        nnq.GroupNorm(2, 6, None, None, 0.1, 0)(trainer.quantize_per_tensor(trainer.ones(1, 5, 2), 0.1, 0,
                                                                             trainer.quint8))
    with pytest.raises(IndexError, match="index out of range"):
        nnq.Embedding(3, 2)(trainer.tensor([0, 3]))
