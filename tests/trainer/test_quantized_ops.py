"""Quantized ops and modules against PyTorch (x86 engine) on the same quantized inputs: ``relu``, ``max_pool2d``,
``adaptive_avg_pool2d``, reshaping, ``QFunctional``'s ops, the quantized ``ReLU6``/``Hardswish``/``ELU``/``LeakyReLU``,
a ResNet-style block with a ``FloatFunctional`` add prepared, calibrated and converted, the quantized batch norms
(``BatchNorm2d/3d``, ``BNReLU2d/3d``; exact), ``flatten`` and in-place ``relu``, and a conv-bn-relu model whose first
batch norm stays unfused. Integer representations
and grids are PyTorch's exactly, except ``hardswish``, ``add`` and ``leaky_relu``, within 1 (PyTorch's vector and
scalar loops round differently)."""

import functools
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch
from tests.trainer.test_qat_workflow import _same_weights, _structure


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warnings
        yield


def _quantized(shape, scale, zero_point, seed=0, dtype="quint8"):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    return (torch.quantize_per_tensor(torch.tensor(x), scale, zero_point, getattr(torch, dtype)),
            trainer.quantize_per_tensor(trainer.tensor(x), scale, zero_point, getattr(trainer, dtype)))


def _assert_same(got, expected, tolerance=0):
    assert got.is_quantized and repr(got.dtype).replace("trainer.", "torch.") == repr(expected.dtype)
    assert got.q_scale() == pytest.approx(expected.q_scale(), rel=1e-12)
    assert got.q_zero_point() == expected.q_zero_point()
    assert tuple(got.shape) == tuple(expected.shape)
    difference = np.abs(got.int_repr().numpy().astype(np.int64) - expected.int_repr().numpy().astype(np.int64))
    assert difference.max(initial=0) <= tolerance


_SAME_GRID_OPS = {
    "torch.relu": lambda lib, x: lib.relu(x),
    "F.relu": lambda lib, x: lib.nn.functional.relu(x),
    "nn.ReLU": lambda lib, x: lib.nn.ReLU()(x),
    "method relu": lambda lib, x: x.relu(),
    "F.max_pool2d": lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1),
    "nn.MaxPool2d ceil": lambda lib, x: lib.nn.MaxPool2d(2, ceil_mode=True)(x),
    "F.adaptive_avg_pool2d": lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (3, 4)),
    "nn.AdaptiveAvgPool2d": lambda lib, x: lib.nn.AdaptiveAvgPool2d(1)(x),
    "adaptive_avg_pool2d odd": lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (4, 5)),
    "flatten": lambda lib, x: x.flatten(1),
    "view": lambda lib, x: x.view(2, -1),
    "reshape": lambda lib, x: x.reshape(-1, 9),
    "nnq.ReLU6": lambda lib, x: lib.ao.nn.quantized.ReLU6()(x),
}


@pytest.mark.parametrize("name", list(_SAME_GRID_OPS))
@pytest.mark.parametrize("dtype, zero_point", [("quint8", 70), ("qint8", -5)])
def test_ops_on_the_input_grid(name, dtype, zero_point):
    expected_x, x = _quantized((2, 3, 7, 9), 0.04, zero_point, dtype=dtype)
    op = _SAME_GRID_OPS[name]
    _assert_same(op(trainer, x), op(torch, expected_x))


_REQUANTIZING_MODULES = {
    "Hardswish": (lambda lib: lib.ao.nn.quantized.Hardswish(0.03, 20), 1),
    "ELU": (lambda lib: lib.ao.nn.quantized.ELU(0.05, 90, 0.7), 0),
    "LeakyReLU": (lambda lib: lib.ao.nn.quantized.LeakyReLU(0.06, 40, 0.2), 1),
}


@pytest.mark.parametrize("name", list(_REQUANTIZING_MODULES))
def test_activation_modules(name):
    make, tolerance = _REQUANTIZING_MODULES[name]
    for seed in range(3):
        expected_x, x = _quantized((4, 5, 6, 7), 0.05, 60, seed)
        _assert_same(make(trainer)(x), make(torch)(expected_x), tolerance)
    assert repr(make(trainer)) == repr(make(torch))
    assert list(make(trainer).state_dict()) == list(make(torch).state_dict())


@pytest.mark.parametrize("op, tolerance", [("add", 1), ("add_relu", 1), ("mul", 0), ("cat", 0)])
def test_qfunctional_binary_ops(op, tolerance):
    a_torch, a = _quantized((3, 4, 5), 0.05, 60, 1)
    b_torch, b = _quantized((3, 4, 5), 0.07, 100, 2)
    for scale, zero_point in ((0.1, 128), (0.04, 30)):
        results = []
        for lib, x, y in ((torch, a_torch, b_torch), (trainer, a, b)):
            f = lib.ao.nn.quantized.QFunctional()
            f.scale, f.zero_point = scale, zero_point
            results.append(f.cat([x, y], 1) if op == "cat" else getattr(f, op)(x, y))
        _assert_same(results[1], results[0], tolerance)


@pytest.mark.parametrize("op", ["add_scalar", "mul_scalar"])
@pytest.mark.parametrize("value", [0.3, -0.3, 2.0, -5.0])
def test_qfunctional_scalar_ops(op, value):
    expected_x, x = _quantized((3, 4, 5), 0.05, 60)
    expected = getattr(torch.ao.nn.quantized.QFunctional(), op)(expected_x, value)
    _assert_same(getattr(trainer.ao.nn.quantized.QFunctional(), op)(x, value), expected)


def test_add_scalar_out_of_range_moves_the_grid():
    expected_x, x = _quantized((3, 4, 5), 0.05, 60)
    _assert_same(trainer.ao.nn.quantized.QFunctional().add_scalar(x, 100.0),
                 torch.ao.nn.quantized.QFunctional().add_scalar(expected_x, 100.0), 1)


def test_qfunctional_repr_and_state_dict():
    for lib in (torch, trainer):
        f = lib.ao.nn.quantized.QFunctional()
        f.scale, f.zero_point = 0.25, 3
        assert list(f.state_dict()) == ["scale", "zero_point"]
    assert repr(f) == repr(torch.ao.nn.quantized.QFunctional()).replace("scale=1.0, zero_point=0",
                                                                        "scale=0.25, zero_point=3")
    g = trainer.ao.nn.quantized.QFunctional()
    g.load_state_dict(f.state_dict())
    assert (g.scale, g.zero_point) == (0.25, 3)


def _resnet_block(lib):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = lib.ao.quantization.QuantStub(), lib.ao.quantization.DeQuantStub()
            self.conv1, self.relu1 = nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()
            self.conv2 = nn.Conv2d(4, 3, 3, padding=1)
            self.skip = lib.ao.nn.quantized.FloatFunctional()
            self.pool = nn.AdaptiveAvgPool2d((2, 2))
            self.act = nn.Hardswish()

        def forward(self, x):
            x = self.quant(x)
            y = self.conv2(self.relu1(self.conv1(x)))
            y = self.skip.add_relu(x, y)
            return self.dequant(self.act(self.pool(lib.nn.functional.max_pool2d(y, 2))).flatten(1))

    return Block()


def test_resnet_block_prepared_calibrated_converted():
    torch.manual_seed(0)
    models = {"torch": _resnet_block(torch), "trainer": _resnet_block(trainer)}
    _same_weights(models["torch"], models["trainer"])
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((2, 3, 8, 8)).astype(np.float32) for _ in range(3)]
    converted = {}
    for lib in (torch, trainer):
        model = models[lib.__name__].eval()
        q = lib.ao.quantization
        model.qconfig = q.QConfig(activation=q.MinMaxObserver.with_args(reduce_range=True),
                                  weight=q.default_weight_observer)
        prepared = q.prepare(model)
        assert type(prepared.skip.activation_post_process).__name__ == "MinMaxObserver"
        with lib.no_grad():
            # the float model runs unchanged while observing
            float_out = prepared(lib.tensor(batches[0]))
            for batch in batches[1:]:
                prepared(lib.tensor(batch))
        converted[lib.__name__] = (q.convert(prepared), float_out)
    (expected, float_expected), (got, float_got) = converted["torch"], converted["trainer"]
    np.testing.assert_allclose(float_got.numpy(), float_expected.numpy(), rtol=1e-5, atol=1e-6)
    assert type(got.skip).__name__ == "QFunctional" and type(got.act).__name__ == "Hardswish"
    assert (got.skip.scale, got.skip.zero_point) == (pytest.approx(expected.skip.scale), expected.skip.zero_point)
    assert _structure(got) == _structure(expected)
    for batch in batches:
        want, mine = expected(torch.tensor(batch)).numpy(), got(trainer.tensor(batch)).numpy()
        # within one step of the output grid (the add's and hardswish's last rounding may differ)
        np.testing.assert_allclose(mine, want, atol=1.01 * expected.act.scale.item())


def test_bad_arguments_raise_like_torch():
    def per_channel(lib):
        return lib.quantize_per_channel(lib.randn(2, 3), lib.tensor([0.1, 0.2]), lib.tensor([0, 0]), 0, lib.quint8)

    assert_raises_like_torch(lambda lib: lib.ao.nn.quantized.QFunctional().add(lib.randn(2), lib.randn(2)),
                             NotImplementedError, "quantized::add")
    assert_raises_like_torch(lambda lib: lib.ao.nn.quantized.FloatFunctional()(lib.randn(2)), RuntimeError,
                             "not intended to use the 'forward'")
    assert_raises_like_torch(lambda lib: lib.nn.functional.max_pool2d(per_channel(lib).reshape(1, 1, 2, 3), 1),
                             RuntimeError, "per-channel")


# ----------------------------------------------------------------- batch norm, flatten, in-place relu
def _bn_stats(channels, seed):
    rng = np.random.default_rng(seed)
    weight, bias, mean = (rng.standard_normal(channels).astype(np.float32) for _ in range(3))
    return weight, bias, mean, rng.uniform(0.2, 3.0, channels).astype(np.float32)


def _static_qconfig(lib):
    q = lib.ao.quantization  # PyTorch's default_qconfig, built from parts trainer has
    return q.QConfig(activation=q.MinMaxObserver.with_args(reduce_range=True), weight=q.default_weight_observer)


def _quantized_bn(lib, module_path, channels, scale, zero_point, seed):
    module = functools.reduce(getattr, module_path.split("."), lib.ao.nn)(channels, eps=1e-3)
    weight, bias, mean, var = _bn_stats(channels, seed)
    module.load_state_dict({**module.state_dict(), "weight": lib.tensor(weight), "bias": lib.tensor(bias),
                            "running_mean": lib.tensor(mean), "running_var": lib.tensor(var),
                            "scale": lib.tensor(scale), "zero_point": lib.tensor(zero_point)})
    return module


@pytest.mark.parametrize("module_path, spatial", [("quantized.BatchNorm2d", (5, 6)),
                                                  ("quantized.BatchNorm3d", (3, 4, 5)),
                                                  ("intrinsic.quantized.BNReLU2d", (5, 6)),
                                                  ("intrinsic.quantized.BNReLU3d", (3, 4, 5))])
@pytest.mark.parametrize("channels", [3, 40])  # PyTorch's scalar loop, and its vector loop with a scalar tail
@pytest.mark.parametrize("dtype, zero_point, out_zero_point", [("quint8", 70, 128), ("qint8", -5, 3)])
def test_quantized_batch_norm_modules(module_path, spatial, channels, dtype, zero_point, out_zero_point):
    for seed in range(2):
        expected_x, x = _quantized((2, channels) + spatial, 0.04, zero_point, seed, dtype)
        modules = [_quantized_bn(lib, module_path, channels, 0.03, out_zero_point, seed) for lib in (torch, trainer)]
        _assert_same(modules[1](x), modules[0](expected_x))
    assert repr(modules[1]) == repr(modules[0])
    assert list(modules[1].state_dict()) == list(modules[0].state_dict())


def test_quantized_batch_norm_from_float():
    torch.manual_seed(0)
    for fused in (False, True):
        results = []
        for lib in (torch, trainer):
            bn = lib.nn.BatchNorm2d(4)
            weight, bias, mean, var = _bn_stats(4, 1)
            bn.load_state_dict({"weight": lib.tensor(weight), "bias": lib.tensor(bias), "running_mean":
                                lib.tensor(mean), "running_var": lib.tensor(var), "num_batches_tracked":
                                lib.tensor(3)})
            mod = lib.ao.nn.intrinsic.BNReLU2d(bn, lib.nn.ReLU()) if fused else bn
            mod.qconfig = _static_qconfig(lib)
            mod.activation_post_process = mod.qconfig.activation()
            mod.activation_post_process(lib.tensor(np.linspace(-3, 4, 50, dtype=np.float32)))
            cls = lib.ao.nn.intrinsic.quantized.BNReLU2d if fused else lib.ao.nn.quantized.BatchNorm2d
            results.append((cls.from_float(mod.eval()), lib))
        (expected, _), (got, _) = results
        assert float(got.scale) == pytest.approx(float(expected.scale)) and int(got.zero_point) == int(
            expected.zero_point)
        np.testing.assert_array_equal(got.running_var.numpy(), expected.running_var.numpy())
        expected_x, x = _quantized((2, 4, 3, 3), 0.05, 60, 2)
        _assert_same(got(x), expected(expected_x))


def test_quantized_batch_norm_bad_arguments_raise_like_torch():
    def bn2d(lib, x):
        return lib.ao.nn.quantized.BatchNorm2d(3)(x)

    assert_raises_like_torch(lambda lib: bn2d(lib, lib.randn(2, 3, 4, 4)), NotImplementedError,
                             "quantized::batch_norm2d")
    assert_raises_like_torch(lambda lib: bn2d(lib, lib.quantize_per_tensor(lib.randn(2, 3, 4), 0.1, 3, lib.quint8)),
                             RuntimeError, "Expecting the input tensor of rank 4.")
    assert_raises_like_torch(lambda lib: bn2d(lib, lib.quantize_per_tensor(lib.randn(2, 2, 4, 4), 0.1, 3,
                                                                           lib.quint8)),
                             RuntimeError, "Expect weight size to match C")
    assert_raises_like_torch(lambda lib: lib.ao.nn.intrinsic.quantized.BNReLU3d(3)(
        lib.quantize_per_tensor(lib.randn(2, 3, 4, 4), 0.1, 3, lib.quint8)), ValueError, "(N, C, D, H, W)")


@pytest.mark.parametrize("args", [(), (1,), (1, 2), (0, -2), (2, 2)])
def test_flatten_function_on_quantized(args):
    expected_x, x = _quantized((2, 3, 4, 5), 0.04, 70)
    _assert_same(trainer.flatten(x, *args), torch.flatten(expected_x, *args))


@pytest.mark.parametrize("name", ["F.relu inplace", "nn.ReLU inplace", "relu_", "torch.relu_"])
@pytest.mark.parametrize("dtype, zero_point", [("quint8", 70), ("qint8", -5)])
def test_in_place_relu_on_quantized(name, dtype, zero_point):
    ops = {"F.relu inplace": lambda lib, x: lib.nn.functional.relu(x, inplace=True),
           "nn.ReLU inplace": lambda lib, x: lib.nn.ReLU(inplace=True)(x),
           "relu_": lambda lib, x: x.relu_(), "torch.relu_": lambda lib, x: lib.relu_(x)}
    expected_x, x = _quantized((2, 3, 4, 5), 0.04, zero_point, dtype=dtype)
    expected, got = ops[name](torch, expected_x), ops[name](trainer, x)
    _assert_same(got, expected)
    if name != "nn.ReLU inplace":  # trainer's activation modules compute out of place (see the report)
        assert got is x
        _assert_same(x, expected_x)


def test_in_place_relu_writes_through_a_view():
    expected_x, x = _quantized((2, 3, 4), 0.04, 70)
    for lib, tensor in ((torch, expected_x), (trainer, x)):
        lib.nn.functional.relu(tensor.view(6, 4), inplace=True)
    _assert_same(x, expected_x)
    assert int(x.int_repr().min()) == 70


def _conv_bn_relu(lib):
    nn = lib.nn

    class ConvBnReLU(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = lib.ao.quantization.QuantStub(), lib.ao.quantization.DeQuantStub()
            self.conv, self.bn, self.relu = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True)
            self.bn2, self.relu2 = nn.BatchNorm2d(4), nn.ReLU()

        def forward(self, x):
            y = self.relu(self.bn(self.conv(self.quant(x))))
            return self.dequant(lib.flatten(self.relu2(self.bn2(y)), 1))

    return ConvBnReLU()


def test_conv_bn_relu_with_unfused_batch_norm_prepared_calibrated_converted():
    torch.manual_seed(0)
    models = {"torch": _conv_bn_relu(torch), "trainer": _conv_bn_relu(trainer)}
    rng = np.random.default_rng(0)
    with torch.no_grad():  # statistics that make the batch norms do something
        for bn in (models["torch"].bn, models["torch"].bn2):
            bn.running_mean.copy_(torch.tensor(0.2 * rng.standard_normal(4).astype(np.float32)))
            bn.running_var.copy_(torch.tensor(rng.uniform(0.05, 0.5, 4).astype(np.float32)))
            bn.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, 4).astype(np.float32)))
            bn.bias.copy_(torch.tensor(0.2 * rng.standard_normal(4).astype(np.float32)))
    _same_weights(models["torch"], models["trainer"])
    batches = [rng.standard_normal((2, 3, 6, 6)).astype(np.float32) for _ in range(3)]
    converted = {}
    for lib in (torch, trainer):
        q = lib.ao.quantization
        model = q.fuse_modules(models[lib.__name__].eval(), [["bn2", "relu2"]])  # bn stays unfused
        model.qconfig = _static_qconfig(lib)
        prepared = q.prepare(model)
        with lib.no_grad():
            for batch in batches:
                prepared(lib.tensor(batch))
        converted[lib.__name__] = q.convert(prepared)
    expected, got = converted["torch"], converted["trainer"]
    assert type(got.bn).__name__ == "BatchNorm2d" and got.bn._get_name() == "QuantizedBatchNorm2d"
    assert type(got.bn2).__name__ == "BNReLU2d"
    assert _structure(got) == _structure(expected)
    assert list(got.state_dict()) == list(expected.state_dict())
    step = float(expected.bn2.scale)
    for batch in batches:
        # the same integers (DeQuantize's float32 rounding may differ in the last bit)
        mine, want = got(trainer.tensor(batch)).numpy(), expected(torch.tensor(batch)).numpy()
        np.testing.assert_array_equal(np.rint(mine / step), np.rint(want / step))
        np.testing.assert_allclose(mine, want, rtol=1e-6)
        assert len(np.unique(want)) > 20  # the batch norms and ReLUs leave a spread of values to compare
