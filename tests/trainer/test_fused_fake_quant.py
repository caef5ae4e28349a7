"""``fused_moving_avg_obs_fake_quant``, ``FusedMovingAvgObsFakeQuantize`` and the default (``version=1``) QAT
configurations against PyTorch: the same outputs, gradients, running ranges, scales and zero points bit for bit
through several steps (the op observes float32 only, as ATen's kernel), the same modules, state_dicts and reprs, the
tutorial's workflow with ``get_default_qat_qconfig("x86")`` and PyTorch's errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.ao.quantization as tq

import trainer
import trainer.ao.quantization as ours_q
from tests.trainer.test_ops_parity import assert_raises_like_torch
from tests.trainer.test_qat_workflow import (
    _assert_same_training,
    _freeze_midway,
    _same_weights,
    _tutorial_model,
)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the observers' reduce_range warning
        yield


def _buffers(lib, per_channel):
    """Fresh running min/max, scale and zero point as the fused module starts them."""
    empty = lib.tensor([]) if per_channel else None
    running = (empty, lib.tensor([])) if per_channel else (lib.tensor(float("inf")), lib.tensor(float("-inf")))
    return [*running, lib.tensor([1.0]), lib.tensor([0], dtype=lib.int32)]


def _assert_same_arrays(ours, theirs, what):
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_array_equal(o.detach().numpy(), t.detach().clone().numpy(), err_msg=f"{what} {i}")
        assert o.dtype.name == str(t.dtype).removeprefix("torch."), f"{what} {i}"


# (quant_min, quant_max, ch_axis, per_channel, symmetric, input shape, averaging constant)
OP_CASES = [
    (0, 255, -1, False, False, (4, 6), 0.01),
    (0, 127, -1, False, False, (2, 3, 4), 0.3),
    (-128, 127, -1, False, True, (5, 4), 1.0),
    (0, 255, -1, False, True, (3, 5), 0.5),
    (-128, 127, 0, True, True, (4, 3, 2, 2), 1.0),
    (-127, 127, 0, True, True, (3, 5), 0.2),
    (0, 255, 0, True, False, (3, 2, 4), 0.5),
]


@pytest.mark.parametrize("case", OP_CASES, ids=lambda c: str(c))
def test_fused_op_matches_torch_step_by_step(case):
    quant_min, quant_max, ch_axis, per_channel, symmetric, shape, constant = case
    rng = np.random.default_rng(3)
    state = {lib: _buffers(lib, per_channel) for lib in (torch, trainer)}
    # (observer on, fake quant on) per step: the grid keeps moving, then freezes, then fake quantization goes off
    for step, (observe, fake_quant) in enumerate([(1, 1), (1, 1), (1, 1), (0, 1), (1, 0), (0, 1)]):
        x = (rng.standard_normal(shape) * (step + 1) + rng.uniform(-1, 1)).astype(np.float32)
        upstream = rng.standard_normal(shape).astype(np.float32)
        results = {}
        for lib in (torch, trainer):
            inputs = lib.tensor(x, requires_grad=True)
            out = lib.fused_moving_avg_obs_fake_quant(inputs, lib.tensor([observe]), lib.tensor([fake_quant]),
                                                      *state[lib], constant, quant_min, quant_max, ch_axis,
                                                      per_channel, symmetric)
            out.backward(lib.tensor(upstream))
            results[lib] = [out, inputs.grad, *state[lib]]
        _assert_same_arrays(results[trainer], results[torch], f"step {step}: output, gradient, buffers")


def test_fused_op_without_observation_takes_float64_and_the_empty_input_passes_through():
    x = np.linspace(-3, 3, 7)
    outs = []
    for lib in (torch, trainer):
        running_min, running_max = lib.tensor([-1.0]), lib.tensor([2.0])
        scale, zero_point = lib.tensor([1.0]), lib.tensor([0], dtype=lib.int32)
        out = lib.fused_moving_avg_obs_fake_quant(lib.tensor(x), lib.tensor([0]), lib.tensor([1]), running_min,
                                                  running_max, scale, zero_point, 0.01, 0, 255, -1)
        empty = lib.tensor(np.zeros((0, 3), np.float32))
        untouched = lib.fused_moving_avg_obs_fake_quant(empty, lib.tensor([1]), lib.tensor([1]), running_min,
                                                        running_max, scale, zero_point, 0.01, 0, 255, -1)
        assert tuple(untouched.shape) == (0, 3) and untouched is not empty
        outs.append([out, running_min, running_max, scale, zero_point])
    _assert_same_arrays(outs[1], outs[0], "float64 output and buffers")


# running (min, max) pairs at the corners of FBGEMM's choice: tiny scales, one-sided and empty ranges, never observed
RANGES = [(0.0, 1e-4), (-1e-3, 2e-3), (1e-6, 2e-6), (0.5, 0.9), (-0.9, -0.5), (0.0, 0.0), (-3e-7, 0.0),
          (float("inf"), float("-inf")), (-2.5, 1.0), (-0.1, 7.3), (1.0, -1.0)]


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize(("quant_min", "quant_max"), [(0, 255), (-128, 127), (0, 127), (-127, 127), (0, 15)])
def test_chosen_grid_matches_torch_at_the_edges(quant_min, quant_max, symmetric):
    lows, highs = zip(*RANGES, strict=True)
    chosen = []
    for lib in (torch, trainer):
        running_min, running_max = lib.tensor(lows), lib.tensor(highs)
        scale, zero_point = lib.tensor([1.0] * len(RANGES)), lib.tensor([0] * len(RANGES), dtype=lib.int32)
        x = lib.tensor(np.zeros((len(RANGES), 2), np.float32))
        out = lib.fused_moving_avg_obs_fake_quant(x, lib.tensor([0]), lib.tensor([1]), running_min, running_max,
                                                  scale, zero_point, 0.01, quant_min, quant_max, 0, True, symmetric)
        chosen.append([out, scale, zero_point])
    _assert_same_arrays(chosen[1], chosen[0], "output, scale, zero point")


CONSTRUCTORS = ["default_fused_act_fake_quant", "default_fused_wt_fake_quant",
                "default_fused_per_channel_wt_fake_quant", "fused_wt_fake_quant_range_neg_127_to_127",
                "fused_per_channel_wt_fake_quant_range_neg_127_to_127"]


def _assert_same_module_state(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    keys = list(theirs.state_dict())
    _assert_same_arrays([ours.state_dict()[k] for k in keys], [theirs.state_dict()[k] for k in keys], str(keys))
    _assert_same_arrays(ours.calculate_qparams(), theirs.calculate_qparams(), "calculate_qparams")


def _same_repr(ours, theirs):
    return repr(ours) == repr(theirs).replace("torch.", "trainer.")


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_default_fused_modules_match_torch_through_training_steps(name):
    theirs, ours = getattr(tq, name)(), getattr(ours_q, name)()
    assert type(ours).__name__ == "FusedMovingAvgObsFakeQuantize" and _same_repr(ours, theirs)
    assert ours.is_symmetric_quant == theirs.is_symmetric_quant and ours.is_per_channel == theirs.is_per_channel
    _assert_same_module_state(ours, theirs)
    rng = np.random.default_rng(7)
    for step in range(5):
        if step == 3:  # freeze the grid
            theirs.apply(tq.disable_observer)
            ours.apply(ours_q.disable_observer)
        x = (rng.standard_normal((4, 3, 2)) * rng.uniform(0.5, 3) + rng.uniform(-1, 1)).astype(np.float32)
        t, o = torch.tensor(x, requires_grad=True), trainer.tensor(x, requires_grad=True)
        their_out, our_out = theirs(t), ours(o)
        upstream = rng.standard_normal(x.shape).astype(np.float32)
        their_out.backward(torch.tensor(upstream))
        our_out.backward(trainer.tensor(upstream))
        _assert_same_arrays([our_out, o.grad], [their_out, t.grad], f"step {step}: output, gradient")
        _assert_same_module_state(ours, theirs)
    assert _same_repr(ours, theirs) and int(ours.observer_enabled[0]) == 0
    ours.disable_fake_quant()
    x = trainer.tensor(rng.standard_normal((4, 3, 2)).astype(np.float32))
    out = ours(x)
    assert out is not x  # a copy, as PyTorch's kernel returns
    np.testing.assert_array_equal(out.numpy(), x.numpy())


def test_fused_module_state_dict_loads_into_a_fresh_module():
    trained = ours_q.default_fused_per_channel_wt_fake_quant()
    trained(trainer.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)))
    fresh = ours_q.default_fused_per_channel_wt_fake_quant()
    fresh.load_state_dict(trained.state_dict())
    for module in (trained, fresh):
        module.disable_observer()
    x = trainer.tensor(np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).numpy(), trained(x).numpy())
    assert fresh.zero_point.shape == (5,) and fresh.observer_enabled.dtype == trainer.int64


QCONFIGS = [
    lambda q, backend: q.get_default_qat_qconfig(backend),
    lambda q, backend: q.get_default_qat_qconfig(backend, 0),
    lambda q, backend: q.default_qat_qconfig_v2,
    lambda q, backend: q.default_symmetric_qnnpack_qat_qconfig,
    lambda q, backend: q.default_per_channel_symmetric_qnnpack_qat_qconfig,
]


@pytest.mark.parametrize("backend", ["x86", "fbgemm", "qnnpack", "onednn"])
@pytest.mark.parametrize("qconfig", QCONFIGS, ids=["default", "version0", "v2", "symmetric", "per_channel_symmetric"])
def test_default_qconfigs_build_the_modules_torch_builds(backend, qconfig):
    theirs, ours = qconfig(tq, backend), qconfig(ours_q, backend)
    for role in ("activation", "weight"):
        t, o = getattr(theirs, role)(), getattr(ours, role)()
        assert type(o).__name__ == type(t).__name__
        assert type(o.activation_post_process).__name__ == type(t.activation_post_process).__name__
        assert _same_repr(o, t)
        _assert_same_module_state(o, t)


def test_default_qat_qconfig_is_fused_and_refuses_unknown_versions():
    assert type(ours_q.get_default_qat_qconfig().activation()) is ours_q.FusedMovingAvgObsFakeQuantize
    assert_raises_like_torch(lambda lib: lib.ao.quantization.get_default_qat_qconfig("x86", 2), AssertionError,
                             "Version number: 2 in get_default_qat_qconfig is not supported")


def _fused_call(x, observe=1, per_channel=False, ch_axis=-1, quant_range=(0, 255), running_dtype="float32"):
    def call(lib):
        empty = per_channel and running_dtype == "float32"
        running = [lib.tensor([] if empty else [0.0], dtype=getattr(lib, running_dtype)) for _ in range(2)]
        return lib.fused_moving_avg_obs_fake_quant(lib.tensor(x), lib.tensor(observe), lib.tensor([1]), *running,
                                                   lib.tensor([1.0]), lib.tensor([0], dtype=lib.int32), 0.01,
                                                   *quant_range, ch_axis, per_channel, False)
    return call


FLOAT32 = np.ones((2, 3), np.float32)


@pytest.mark.parametrize(("call", "error", "message"), [
    (_fused_call(FLOAT32.astype(np.float64)), RuntimeError, "expected scalar type Float but found Double"),
    (_fused_call(FLOAT32, running_dtype="float64"), RuntimeError, "expected scalar type Float but found Double"),
    (_fused_call(FLOAT32, per_channel=True, ch_axis=1), RuntimeError, "only supported on axis == 0"),
    (_fused_call(FLOAT32, ch_axis=2), RuntimeError, "ch_axis must be < self.dim()"),
    (_fused_call(FLOAT32[0], per_channel=True, ch_axis=0), IndexError, "Dimension out of range"),
    (_fused_call(FLOAT32, observe=[1, 1]), RuntimeError, "a Tensor with 2 elements cannot be converted to Scalar"),
    (_fused_call(FLOAT32, quant_range=(255, 0)), RuntimeError, "`quant_min` should be less than or equal"),
    (lambda lib: lib.ao.quantization.FusedMovingAvgObsFakeQuantize(observer=lib.ao.quantization.MinMaxObserver),
     AssertionError, "Fused observer\\+fake_quant module only works with MovingAverageMinMaxObserver"),
])
def test_bad_arguments_raise_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


def test_tutorial_workflow_with_the_default_qconfig_matches_torch():
    torch.manual_seed(0)
    models = {torch: _tutorial_model(torch), trainer: _tutorial_model(trainer)}
    _same_weights(models[torch], models[trainer])
    results = []
    for lib, model in models.items():
        q = lib.ao.quantization
        model.train()
        model.qconfig = q.get_default_qat_qconfig("x86")  # no version: the fused modules, as PyTorch's tutorial
        prepared = q.prepare_qat(q.fuse_modules_qat(model, [["conv", "bn", "relu"]]).train())
        optimizer = lib.optim.SGD(prepared.parameters(), lr=0.1)
        rng = np.random.default_rng(1)
        losses, outputs = [], []
        for step in range(6):
            out = prepared(lib.tensor(rng.standard_normal((6, 2, 5, 5)).astype(np.float32)))
            loss = (out - lib.tensor(rng.standard_normal(tuple(out.shape)).astype(np.float32))).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
            outputs.append(out.detach().numpy())
            if step == 2:
                _freeze_midway(lib, prepared)
        results.append((prepared, losses, outputs))
    _assert_same_training(*results)
    prepared = results[1][0]
    assert type(prepared.fc.activation_post_process) is ours_q.FusedMovingAvgObsFakeQuantize
    assert type(prepared.conv.weight_fake_quant) is ours_q.FusedMovingAvgObsFakeQuantize
    assert prepared.fc.weight_fake_quant.is_per_channel and prepared.quant.activation_post_process.quant_max == 127
