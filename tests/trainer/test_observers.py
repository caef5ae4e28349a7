"""Observers, ``FakeQuantize`` and ``QConfig`` against ``torch.ao.quantization``: the same statistics, buffers and
state_dicts after the same inputs, the same scale and zero point, and PyTorch's errors for bad arguments."""

import warnings

import numpy as np
import pytest
import torch
import torch.ao.quantization as tq

import trainer
import trainer.ao.quantization as ours_q


def _kwargs(lib, **kwargs):
    """Constructor arguments with dtype/qscheme given by name, resolved in ``lib``."""
    return {k: getattr(lib, v) if k in ("dtype", "qscheme") else v for k, v in kwargs.items()}


def _inputs(shape, count=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * rng.uniform(0.5, 4) + rng.uniform(-1, 1) for _ in range(count)]


def _assert_same_state(ours, theirs):
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key in theirs_state:
        # a clone: a NumPy view of a PyTorch buffer would stop the observer resizing it
        np.testing.assert_array_equal(ours_state[key].numpy(), theirs_state[key].clone().numpy(), err_msg=key)
        assert ours_state[key].dtype.name == str(theirs_state[key].dtype).removeprefix("torch."), key


def _assert_same_qparams(ours, theirs):
    (scale, zero_point), (their_scale, their_zero_point) = ours.calculate_qparams(), theirs.calculate_qparams()
    np.testing.assert_array_equal(scale.numpy(), their_scale.numpy())
    np.testing.assert_array_equal(zero_point.numpy(), their_zero_point.numpy())
    assert scale.dtype.name == str(their_scale.dtype).removeprefix("torch.")
    assert zero_point.dtype.name == str(their_zero_point.dtype).removeprefix("torch.")


OBSERVERS = [
    ("MinMaxObserver", {}),
    ("MinMaxObserver", {"dtype": "qint8", "qscheme": "per_tensor_symmetric"}),
    ("MinMaxObserver", {"dtype": "quint8", "qscheme": "per_tensor_symmetric"}),
    ("MinMaxObserver", {"dtype": "quint8", "qscheme": "per_tensor_symmetric", "quant_min": 0, "quant_max": 100}),
    ("MinMaxObserver", {"dtype": "qint8", "reduce_range": True}),
    ("MinMaxObserver", {"quant_min": 0, "quant_max": 15, "eps": 1e-3}),
    ("MinMaxObserver", {"dtype": "qint32"}),
    ("MovingAverageMinMaxObserver", {}),
    ("MovingAverageMinMaxObserver", {"averaging_constant": 0.3, "dtype": "qint8", "qscheme": "per_tensor_symmetric"}),
    ("PerChannelMinMaxObserver", {}),
    ("PerChannelMinMaxObserver", {"ch_axis": 1, "dtype": "qint8", "qscheme": "per_channel_symmetric"}),
    ("PerChannelMinMaxObserver", {"ch_axis": 2, "qscheme": "per_channel_affine_float_qparams"}),
    ("MovingAveragePerChannelMinMaxObserver", {"averaging_constant": 0.25, "ch_axis": 1}),
    ("MovingAveragePerChannelMinMaxObserver", {"dtype": "qint8", "qscheme": "per_channel_symmetric"}),
]


@pytest.mark.parametrize(("name", "kwargs"), OBSERVERS, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_observer_statistics_qparams_and_state_dict_match_torch(name, kwargs, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reduce_range's deprecation notice
        theirs = getattr(tq, name)(**_kwargs(torch, **kwargs))
        ours = getattr(ours_q, name)(**_kwargs(trainer, **kwargs))
    assert (ours.quant_min, ours.quant_max) == (theirs.quant_min, theirs.quant_max)
    for x in _inputs((4, 3, 5)):
        theirs(torch.tensor(x).to(getattr(torch, dtype)))
        ours(trainer.tensor(x).to(getattr(trainer, dtype)))
        _assert_same_state(ours, theirs)
        _assert_same_qparams(ours, theirs)


def test_unobserved_observer_warns_and_gives_default_qparams():
    for ours in (ours_q.MinMaxObserver(), ours_q.PerChannelMinMaxObserver()):
        with pytest.warns(UserWarning, match="must run observer before calling calculate_qparams"):
            scale, zero_point = ours.calculate_qparams()
        assert scale.tolist() == [1.0] and zero_point.tolist() == [0]


def test_per_channel_state_dict_loads_into_a_fresh_observer():
    observed = ours_q.PerChannelMinMaxObserver(ch_axis=1)
    observed(trainer.tensor(_inputs((2, 6, 3))[0]))
    fresh = ours_q.PerChannelMinMaxObserver(ch_axis=1)
    fresh.load_state_dict(observed.state_dict())
    np.testing.assert_array_equal(fresh.min_val.numpy(), observed.min_val.numpy())
    assert fresh.calculate_qparams()[0].shape == (6,)


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda lib: lib.ao.quantization.MinMaxObserver(qscheme=lib.per_channel_affine), NotImplementedError,
     "qscheme only support"),
    (lambda lib: lib.ao.quantization.PerChannelMinMaxObserver(qscheme=lib.per_tensor_affine), NotImplementedError,
     "qscheme only support"),
    (lambda lib: lib.ao.quantization.MinMaxObserver(quant_min=1, quant_max=10), AssertionError, "must include 0"),
    (lambda lib: lib.ao.quantization.MinMaxObserver(quant_min=0, quant_max=0), AssertionError,
     "qmin must be strictly less than qmax"),
    (lambda lib: lib.ao.quantization.MinMaxObserver(dtype=lib.float32), AssertionError, "only works for"),
    (lambda lib: lib.ao.quantization.MinMaxObserver(dtype=lib.qint8, quant_min=-200, quant_max=200), AssertionError,
     "should be positive and not exceed the maximum bit range"),
    (lambda lib: lib.ao.quantization.MinMaxObserver(qscheme=lib.per_tensor_symmetric, reduce_range=True),
     NotImplementedError, "Cannot reduce range for symmetric quantization for quint8"),
    (lambda lib: lib.ao.quantization.MovingAverageMinMaxObserver(is_dynamic=True), NotImplementedError,
     "doesn't support dynamic quantization"),
    (lambda lib: lib.ao.quantization.FakeQuantize(quant_min=5, quant_max=1), AssertionError,
     "quant_min must be less than or equal to quant_max"),
    (lambda lib: lib.ao.quantization.FakeQuantize(quant_min=-1, quant_max=255), AssertionError,
     "quant_min out of bound"),
    (lambda lib: lib.ao.quantization.QConfig(activation=lib.ao.quantization.MinMaxObserver(), weight=None),
     ValueError, "QConfig received observer instance"),
    (lambda lib: lib.ao.quantization.get_default_qat_qconfig("tpu", 0), AssertionError, "not supported"),
])
def test_bad_arguments_raise_like_torch(make, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error):
            make(torch)
        with pytest.raises(error, match=message):
            make(trainer)


FAKE_QUANTS = ["default_fake_quant", "default_weight_fake_quant", "default_per_channel_weight_fake_quant"]


@pytest.mark.parametrize("name", FAKE_QUANTS)
def test_fake_quantize_modules_match_torch_through_training_steps(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, ours = getattr(tq, name)(), getattr(ours_q, name)()
    _assert_same_state(ours, theirs)
    for step, x in enumerate(_inputs((4, 3, 2, 2), count=4, seed=5)):
        if step == 2:  # freeze the grid: the scale stays what the first steps gave
            theirs.apply(tq.disable_observer)
            ours.apply(ours_q.disable_observer)
        t, o = torch.tensor(x, requires_grad=True), trainer.tensor(x, requires_grad=True)
        their_out, our_out = theirs(t), ours(o)
        np.testing.assert_array_equal(our_out.detach().numpy(), their_out.detach().numpy())
        upstream = np.random.default_rng(step).standard_normal(x.shape)
        their_out.backward(torch.tensor(upstream))
        our_out.backward(trainer.tensor(upstream))
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())
        _assert_same_state(ours, theirs)
    assert int(ours.observer_enabled[0]) == 0
    ours.disable_fake_quant()
    x = trainer.tensor(_inputs((4, 3, 2, 2), count=1)[0])
    assert ours(x) is x


def test_fake_quantize_state_dict_round_trips_per_channel_qparams():
    trained = ours_q.default_per_channel_weight_fake_quant()
    trained(trainer.tensor(_inputs((5, 3))[0]))
    fresh = ours_q.default_per_channel_weight_fake_quant()
    fresh.load_state_dict(trained.state_dict())
    np.testing.assert_array_equal(fresh.scale.numpy(), trained.scale.numpy())
    assert fresh.zero_point.shape == (5,)


@pytest.mark.parametrize("backend", ["x86", "fbgemm", "qnnpack", "onednn"])
def test_default_qat_qconfig_builds_the_modules_torch_builds(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = tq.get_default_qat_qconfig(backend, 0)
        ours = ours_q.get_default_qat_qconfig(backend, 0)
        for role in ("activation", "weight"):
            t, o = getattr(theirs, role)(), getattr(ours, role)()
            assert type(o).__name__ == type(t).__name__
            assert type(o.activation_post_process).__name__ == type(t.activation_post_process).__name__
            assert (o.quant_min, o.quant_max, o.ch_axis) == (t.quant_min, t.quant_max, t.ch_axis)
            assert (o.dtype.name, o.qscheme.name) == (str(t.dtype).removeprefix("torch."),
                                                      str(t.qscheme).removeprefix("torch."))
            assert o.activation_post_process.reduce_range == t.activation_post_process.reduce_range


def test_quantization_alias_and_markers():
    assert trainer.quantization.FakeQuantize is ours_q.FakeQuantize
    assert repr(trainer.qint8) == "trainer.qint8"
    assert repr(trainer.per_channel_symmetric) == "trainer.per_channel_symmetric"
    qconfig = ours_q.default_qat_qconfig
    assert isinstance(qconfig, ours_q.QConfig) and qconfig.weight().qscheme is trainer.per_tensor_symmetric
