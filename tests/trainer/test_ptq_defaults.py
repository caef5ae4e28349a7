"""Post-training static quantization's defaults against PyTorch: ``HistogramObserver`` (the same histogram, range and
qparams after every call), the pass-through observers, the PTQ qconfigs (the same observer classes and arguments),
``qconfig_equals``, ``backends.quantized.engine``, the fuser functions, and the tutorial's eager PTQ flow with
``get_default_qconfig("x86")`` calibrated and converted in both libraries."""

import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch
from tests.trainer.test_qat_workflow import _same_weights, _tutorial_model
from tests.trainer.test_quantized_convert import _assert_same_quantized


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reduce_range deprecation, oneDNN's VNNI advice
        yield


def _lib_value(lib, value):
    """``value`` with torch dtypes and qschemes swapped for ``lib``'s."""
    if isinstance(value, (torch.dtype, torch.qscheme)):
        return getattr(lib, str(value).removeprefix("torch."))
    return value


def _observer_pair(**kwargs):
    make = lambda lib: lib.ao.quantization.HistogramObserver(  # noqa: E731
        **{k: _lib_value(lib, v) for k, v in kwargs.items()})
    return make(torch), make(trainer)


def _skewed_batches(seed: int):
    """Normal, exponential, log-normal and cubed-uniform batches, each a new range, some wider than the last."""
    rng = np.random.default_rng(seed)
    yield rng.standard_normal(800) * 0.5 + 0.3
    yield rng.exponential(2.0, 1500)
    yield np.exp(rng.standard_normal(600) * 2)
    yield rng.uniform(-1, 1, 2000) ** 3 * 12
    yield rng.standard_normal(300) * 0.1  # inside the range: added bin by bin


def _assert_same_state(t_obs, obs):
    np.testing.assert_array_equal(obs.histogram.numpy(), t_obs.histogram.numpy())
    assert obs.min_val.item() == t_obs.min_val.item() and obs.max_val.item() == t_obs.max_val.item()
    t_scale, t_zero_point = t_obs.calculate_qparams()
    scale, zero_point = obs.calculate_qparams()
    assert (str(scale.dtype), str(zero_point.dtype)) == (str(t_scale.dtype).replace("torch", "trainer"),
                                                         str(t_zero_point.dtype).replace("torch", "trainer"))
    np.testing.assert_array_equal(scale.numpy(), t_scale.numpy())
    np.testing.assert_array_equal(zero_point.numpy(), t_zero_point.numpy())


@pytest.mark.parametrize("kwargs", [
    {},
    {"reduce_range": True},
    {"dtype": torch.qint8, "qscheme": torch.per_tensor_symmetric},
    {"quant_min": 0, "quant_max": 127},
    {"bins": 100, "dtype": torch.qint8, "reduce_range": False, "eps": 2**-12},
])
def test_histogram_observer_matches_torch_call_by_call(kwargs):
    t_obs, obs = _observer_pair(**kwargs)
    assert (obs.bins, obs.upsample_rate, obs.dst_nbins) == (t_obs.bins, t_obs.upsample_rate, t_obs.dst_nbins)
    assert (obs.quant_min, obs.quant_max) == (t_obs.quant_min, t_obs.quant_max)
    for batch in _skewed_batches(len(kwargs)):
        x = batch.astype(np.float32)
        assert t_obs(torch.tensor(x)).data_ptr() and obs(trainer.tensor(x)) is not None
        _assert_same_state(t_obs, obs)


def test_binning_follows_torchs_cpu_kernels_bit_for_bit():
    """The observer's own ``histc`` and ``linspace``: NumPy's versions round a few values differently, which moves a
    sample across a bin edge now and then."""
    from trainer.ao.quantization.histogram_observer import _histc, _linspace

    rng = np.random.default_rng(4)
    for steps, (lo, hi) in zip((2049, 32769, 101), (sorted(rng.standard_normal(2) * s) for s in (0.01, 3, 1000)),
                               strict=True):
        lo, hi = np.float32(lo), np.float32(hi)
        np.testing.assert_array_equal(_linspace(np, lo, hi, steps), torch.linspace(float(lo), float(hi), steps).numpy())
        x = rng.standard_normal(5000).astype(np.float32) * hi
        for bins in (2048, 37):
            expected = torch.histc(torch.tensor(x), bins, min=float(lo), max=float(hi)).numpy()
            np.testing.assert_array_equal(_histc(x, bins, lo, hi), expected)


def test_histogram_observer_edge_cases_match_torch():
    rng = np.random.default_rng(11)
    sequences = [
        [np.full(10, 3.0), np.full(4, 3.0), rng.standard_normal(100) + 3],  # one value, then a spread
        [np.zeros(6), np.array([0.0, 1.0])],
        [np.array([1.0, np.inf, -2.0]), np.array([-np.inf]), rng.standard_normal(50)],  # infinities are skipped
        [rng.standard_normal(40000) * 4, rng.standard_normal(40000) * 6],  # counts past float32's exact fractions
    ]
    for sequence in sequences:
        t_obs, obs = _observer_pair()
        for x in sequence:
            t_obs(torch.tensor(x.astype(np.float32)))
            obs(trainer.tensor(x.astype(np.float32)))
            _assert_same_state(t_obs, obs)
    t_obs, obs = _observer_pair()
    for x in (rng.standard_normal(500), rng.standard_normal(700) * 2.5):  # float64 inputs bin in float64
        t_obs(torch.tensor(x))
        obs(trainer.tensor(x))
        _assert_same_state(t_obs, obs)


def test_histogram_observer_defaults_state_and_errors():
    t_obs, obs = _observer_pair()
    with pytest.warns(UserWarning, match="must run observer before calling calculate_qparams"):
        scale, zero_point = obs.calculate_qparams()
    assert scale.tolist() == [1.0] and zero_point.tolist() == [0]
    assert obs(trainer.tensor([])).numel() == 0 and obs.min_val.item() == float("inf")
    assert list(obs.state_dict()) == list(t_obs.state_dict()) == ["eps", "histogram", "min_val", "max_val"]
    assert repr(obs) == repr(t_obs) == "HistogramObserver(min_val=inf, max_val=-inf)"
    data = np.random.default_rng(2).exponential(1.0, 500).astype(np.float32)
    obs(trainer.tensor(data))
    restored = trainer.ao.quantization.HistogramObserver()
    restored.load_state_dict(obs.state_dict())
    np.testing.assert_array_equal(restored.calculate_qparams()[0].numpy(), obs.calculate_qparams()[0].numpy())
    obs.reset_min_max_vals()
    assert obs.min_val.item() == float("inf") and obs.histogram.sum().item() == 0
    default = trainer.ao.quantization.default_histogram_observer()
    assert (default.quant_min, default.quant_max) == (0, 127)
    assert_raises_like_torch(
        lambda lib: lib.ao.quantization.HistogramObserver(qscheme=lib.per_channel_affine),
        NotImplementedError, "only support trainer.per_tensor_symmetric and trainer.per_tensor_affine")
    assert_raises_like_torch(lambda lib: lib.ao.quantization.HistogramObserver(is_dynamic=True),
                             NotImplementedError, "doesn't support dynamic quantization")


def test_pass_through_observers_like_torch():
    q = trainer.ao.quantization
    recorder = q.default_debug_observer()
    x = trainer.arange(4.0)
    assert recorder(x) is x
    x.add_(1)  # the recording is a copy
    assert [t.tolist() for t in recorder.get_tensor_value()] == [[0.0, 1.0, 2.0, 3.0]]
    assert recorder.dtype is trainer.quint8 and not recorder.is_dynamic
    assert q.NoopObserver().dtype is trainer.float16 and q.NoopObserver(custom_op_name="op").custom_op == "op"
    assert q.ReuseInputObserver().dtype is trainer.quint8
    assert q.default_placeholder_observer is q.PlaceholderObserver
    assert q.default_reuse_input_observer is q.ReuseInputObserver
    for name in ("RecordingObserver", "NoopObserver", "ReuseInputObserver"):
        assert_raises_like_torch(lambda lib, name=name: getattr(lib.ao.quantization, name)().calculate_qparams(),
                                 Exception, f"calculate_qparams should not be called for {name}")


_ATTRIBUTES = ("dtype", "qscheme", "quant_min", "quant_max", "reduce_range", "is_dynamic", "bins", "upsample_rate",
               "dst_nbins", "ch_axis", "averaging_constant", "custom_op")


def _describe(module) -> dict:
    """The class name and constructor-set attributes of an observer, fake-quantize module or ``Identity``."""
    described = {"class": type(module).__name__}
    for name in _ATTRIBUTES:
        if hasattr(module, name):
            described[name] = str(getattr(module, name)).removeprefix("torch.").removeprefix("trainer.")
    if hasattr(module, "eps"):
        eps = module.eps.tolist() if hasattr(module.eps, "tolist") else module.eps  # a buffer, or a float
        described["eps"] = np.asarray(eps, dtype=np.float64).reshape(-1).tolist()
    if hasattr(module, "activation_post_process"):
        described["observer"] = _describe(module.activation_post_process)
    return described


_QCONFIG_NAMES = ["default_qconfig", "default_debug_qconfig", "default_per_channel_qconfig",
                  "default_weight_only_qconfig", "default_activation_only_qconfig", "default_reuse_input_qconfig",
                  "float16_static_qconfig", "default_quint8_weight_qconfig", "default_symmetric_qnnpack_qconfig",
                  "default_per_channel_symmetric_qnnpack_qconfig"]


@pytest.mark.parametrize("name", _QCONFIG_NAMES + [f"get_default_qconfig:{b}" for b in
                                                   ("x86", "fbgemm", "qnnpack", "onednn")])
def test_qconfigs_build_torchs_observers(name):
    def qconfig(lib):
        if name.startswith("get_default_qconfig:"):
            return lib.ao.quantization.get_default_qconfig(name.split(":")[1])
        return getattr(lib.ao.quantization, name)

    expected, got = qconfig(torch), qconfig(trainer)
    assert isinstance(got, trainer.ao.quantization.QConfig)
    assert _describe(got.activation()) == _describe(expected.activation())
    assert _describe(got.weight()) == _describe(expected.weight())


def test_qconfig_helpers_like_torch():
    pairs = [("default_qconfig", "default_qconfig"), ("default_qconfig", "default_per_channel_qconfig"),
             ("default_symmetric_qnnpack_qconfig", "default_per_channel_symmetric_qnnpack_qconfig"),
             ("default_qat_qconfig", "default_qat_qconfig"), ("default_qat_qconfig", "default_qconfig")]
    for lib in (torch, trainer):
        q = lib.ao.quantization
        assert q.qconfig_equals(q.get_default_qconfig("x86"), q.get_default_qconfig("fbgemm"))
        assert not q.qconfig_equals(q.get_default_qconfig("x86"), q.get_default_qconfig("onednn"))
        assert q.qconfig_equals(q.get_default_qat_qconfig("x86"), q.get_default_qat_qconfig("fbgemm"))
        assert q.qconfig_equals(None, None) and not q.qconfig_equals(q.default_qconfig, None)
        mine = [trainer.ao.quantization.qconfig_equals(*(getattr(trainer.ao.quantization, n) for n in pair))
                for pair in pairs]
        assert mine == [torch.ao.quantization.qconfig_equals(*(getattr(torch.ao.quantization, n) for n in pair))
                        for pair in pairs] == [True, False, False, True, False]
    q = trainer.ao.quantization
    assert q.QConfigAny == (q.QConfig | None)
    with pytest.warns(FutureWarning, match="QConfigDynamic"):
        dynamic = q.QConfigDynamic(weight=q.default_weight_observer)
    assert dynamic.activation is trainer.nn.Identity
    with pytest.raises(ValueError, match="observer instance"):
        q.QConfigDynamic(weight=q.MinMaxObserver())
    assert_raises_like_torch(lambda lib: lib.ao.quantization.get_default_qconfig("arm"), AssertionError,
                             r"backend: arm not supported. backend must be one of \['fbgemm', 'x86'")
    assert_raises_like_torch(lambda lib: lib.ao.quantization.get_default_qconfig("x86", version=1), AssertionError,
                             "Version number must be 0")


@pytest.fixture()
def _restore_engines():
    before = torch.backends.quantized.engine, trainer.backends.quantized.engine
    yield
    torch.backends.quantized.engine, trainer.backends.quantized.engine = before


@pytest.mark.usefixtures("_restore_engines")
def test_quantized_engine_like_torch():
    quantized = trainer.backends.quantized
    assert quantized.engine == "x86"
    assert quantized.supported_engines == ["qnnpack", "onednn", "x86", "fbgemm"]
    assert set(torch.backends.quantized.supported_engines) <= set(quantized.supported_engines)
    for engine in quantized.supported_engines:
        quantized.engine = engine
        assert quantized.engine == engine
    for bad, message in (("foo", "foo is not a valid value for quantized engine"),
                         ("X86", "X86 is not a valid value"), (5, "5 is not a valid value"),
                         ("none", "quantized engine none is not supported"), (None, "none is not supported")):
        def assign(lib, bad=bad):
            lib.backends.quantized.engine = bad
        assert_raises_like_torch(assign, RuntimeError, message)
    assert quantized.engine == "fbgemm"  # a refused value leaves the engine as it was

    def assign_list(lib):
        lib.backends.quantized.supported_engines = ["x86"]
    assert_raises_like_torch(assign_list, RuntimeError, "Assignment not supported")


def test_fuser_functions_fold_like_torch():
    torch.manual_seed(3)
    cases = [(lambda nn: (nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), "fuse_conv_bn"),
             (lambda nn: (nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), "fuse_conv_bn_relu"),
             (lambda nn: (nn.Linear(5, 4), nn.BatchNorm1d(4)), "fuse_linear_bn"),
             (lambda nn: (nn.ConvTranspose2d(4, 3, 2), nn.BatchNorm2d(3)), "fuse_convtranspose_bn")]
    for make, name in cases:
        t_modules, modules = make(torch.nn), make(trainer.nn)
        t_modules[1].running_mean.uniform_(-1, 1)
        t_modules[1].running_var.uniform_(0.5, 2)
        for t_module, module in zip(t_modules, modules, strict=True):
            _same_weights(t_module.eval(), module.eval())
        expected = getattr(torch.ao.quantization, name)(False, *t_modules)
        got = getattr(trainer.ao.quantization, name)(False, *modules)
        assert type(got).__name__ == type(expected).__name__
        for key, value in expected.state_dict().items():
            np.testing.assert_allclose(got.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)
    assert_raises_like_torch(
        lambda lib: lib.ao.quantization.fuse_convtranspose_bn(True, lib.nn.ConvTranspose2d(2, 2, 1),
                                                              lib.nn.BatchNorm2d(2)),
        Exception, "not yet supported in QAT")


def _calibrated_and_converted(lib, model, batches):
    q = lib.ao.quantization
    model.eval()
    model.qconfig = q.get_default_qconfig("x86")
    prepared = q.prepare(q.fuse_modules(model, [["conv", "bn", "relu"]]))
    observer = prepared.conv.activation_post_process
    assert type(observer).__name__ == "HistogramObserver" and (observer.quant_min, observer.quant_max) == (0, 127)
    with lib.no_grad():
        for batch in batches:
            prepared(lib.tensor(batch))
    return q.convert(prepared)


def test_eager_ptq_flow_with_default_x86_qconfig_like_torch():
    torch.manual_seed(0)
    torch_model, trainer_model = _tutorial_model(torch), _tutorial_model(trainer)
    torch_model.bn.running_mean.uniform_(-0.5, 0.5)
    torch_model.bn.running_var.uniform_(0.5, 2)
    _same_weights(torch_model, trainer_model)
    rng = np.random.default_rng(5)
    batches = [rng.standard_normal((8, 2, 5, 5)).astype(np.float32) * scale for scale in (1.0, 1.5, 0.7)]
    expected = _calibrated_and_converted(torch, torch_model, batches)
    got = _calibrated_and_converted(trainer, trainer_model, batches)
    assert (got.conv.zero_point, got.fc.zero_point) == (expected.conv.zero_point, expected.fc.zero_point)
    x = rng.standard_normal((6, 2, 5, 5)).astype(np.float32)
    _assert_same_quantized(expected, got, x, exact_float_model=False)
    int_out = got.fc(got.conv(got.quant(trainer.tensor(x))).flatten(1)).int_repr().numpy().astype(int)
    t_int_out = expected.fc(expected.conv(expected.quant(torch.tensor(x))).flatten(1)).int_repr().numpy().astype(int)
    assert np.mean(int_out != t_int_out) <= 0.1
