"""``nn.DataParallel`` and ``nn.SyncBatchNorm`` against PyTorch without an accelerator: the wrapped module runs
as it is, state_dict keys, conversion of batch norms, and SyncBatchNorm's input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(3)


def _model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Sequential(nn.Linear(16, 6, bias=False), nn.BatchNorm1d(6, affine=False)),
                         nn.Unflatten(1, (2, 3)), nn.InstanceNorm1d(2, affine=True)).double()


def _twin_models():
    torch.manual_seed(0)
    theirs = _model(torch)
    ours = _model(trainer)
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return theirs, ours


def _state(model):
    return {k: np.asarray(v.detach().numpy()) for k, v in model.state_dict().items()}


def test_data_parallel_runs_the_module_and_prefixes_its_state_dict():
    theirs, ours = _twin_models()
    wrapped = {lib: lib.nn.DataParallel(m, device_ids=[0, 1], output_device=1, dim=1)
               for lib, m in ((torch, theirs), (trainer, ours))}
    assert wrapped[trainer].module is ours
    assert wrapped[trainer].device_ids == wrapped[torch].device_ids == []
    assert isinstance(wrapped[trainer], trainer.nn.parallel.DataParallel)
    assert list(wrapped[trainer].state_dict()) == list(wrapped[torch].state_dict())
    assert str(wrapped[trainer]).splitlines()[:2] == str(wrapped[torch]).splitlines()[:2]
    x = RNG.standard_normal((5, 3, 4, 4))
    outs = {}
    for lib, dp in wrapped.items():
        inp = lib.tensor(x, requires_grad=True)
        out = dp(inp)
        (out * lib.tensor(np.arange(out.numel()).reshape(out.shape) / 10)).sum().backward()
        outs[lib] = (out.detach().numpy(), inp.grad.numpy())
    np.testing.assert_allclose(outs[trainer][0], outs[torch][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outs[trainer][1], outs[torch][1], rtol=1e-10, atol=1e-12)
    theirs_state, ours_state = _state(wrapped[torch]), _state(wrapped[trainer])  # running stats moved alike
    for key, value in theirs_state.items():
        np.testing.assert_allclose(ours_state[key], value, rtol=1e-10, atol=1e-12)
    wrapped[trainer].eval()
    assert not ours.training and not ours[1].training


def test_data_parallel_passes_keyword_arguments_and_loads_prefixed_checkpoints():
    ours = trainer.nn.DataParallel(trainer.nn.Bilinear(2, 3, 1))
    x1, x2 = trainer.ones(4, 2), trainer.ones(4, 3)
    assert np.allclose(ours(x1, input2=x2).detach().numpy(), ours.module(x1, x2).detach().numpy())
    other = trainer.nn.DataParallel(trainer.nn.Bilinear(2, 3, 1))
    other.load_state_dict(ours.state_dict())
    assert np.array_equal(other.module.weight.detach().numpy(), ours.module.weight.detach().numpy())


def test_convert_sync_batchnorm_matches_torch():
    theirs, ours = _twin_models()
    theirs[4][1].eval()
    ours[4][1].eval()
    converted = {torch: torch.nn.SyncBatchNorm.convert_sync_batchnorm(theirs),
                 trainer: trainer.nn.SyncBatchNorm.convert_sync_batchnorm(ours, process_group="group")}
    assert converted[trainer] is ours
    assert str(converted[trainer]) == str(converted[torch]).replace("torch", "trainer")
    names = [(name, type(m).__name__, m.training) for name, m in converted[trainer].named_modules()]
    assert names == [(name, type(m).__name__, m.training) for name, m in converted[torch].named_modules()]
    sync = ours[1]
    assert isinstance(sync, trainer.nn.SyncBatchNorm) and sync.process_group == "group"
    assert list(converted[trainer].state_dict()) == list(converted[torch].state_dict())
    x = RNG.standard_normal((6, 3, 4, 4))
    outs = {lib: m(lib.tensor(x)).detach().numpy() for lib, m in converted.items()}
    np.testing.assert_allclose(outs[trainer], outs[torch], rtol=1e-10, atol=1e-12)
    for key, value in _state(converted[torch]).items():
        np.testing.assert_allclose(_state(converted[trainer])[key], value, rtol=1e-10, atol=1e-12)


def test_convert_sync_batchnorm_shares_parameters_and_buffers():
    bn = trainer.nn.BatchNorm3d(2, momentum=None, bias=False)
    bn.eval()
    sync = trainer.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert type(sync) is trainer.nn.SyncBatchNorm and sync is not bn
    assert sync.weight is bn.weight and sync.bias is None
    assert sync.running_mean is bn.running_mean and sync.running_var is bn.running_var
    assert sync.num_batches_tracked is bn.num_batches_tracked
    assert (sync.momentum, sync.training) == (None, False)
    untracked = trainer.nn.SyncBatchNorm.convert_sync_batchnorm(trainer.nn.BatchNorm1d(3, track_running_stats=False))
    assert untracked.running_mean is None and untracked.num_batches_tracked is None


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 2, 2, 2, 2)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_sync_batchnorm_is_batch_norm_over_any_rank(shape, momentum):
    x = RNG.standard_normal(shape)
    results = {}
    for lib in (torch, trainer):
        layer = lib.nn.SyncBatchNorm(3, momentum=momentum).double()
        with lib.no_grad():
            layer.weight.copy_(lib.tensor([0.5, 2.0, -1.0]))
        inp = lib.tensor(x, requires_grad=True)
        out = layer(inp)
        layer(inp * 2)
        (out * out).sum().backward()
        layer.eval()
        evaluated = layer(inp)
        results[lib] = [out.detach().numpy(), inp.grad.numpy(), evaluated.detach().numpy(),
                        layer.running_var.numpy(), layer.num_batches_tracked.numpy()]
    for ours, theirs in zip(results[trainer], results[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.nn.SyncBatchNorm(3)(lib.ones(3)), ValueError, r"expected at least 2D input \(got 1D input\)"),
    (lambda lib: lib.nn.SyncBatchNorm(3)(lib.ones(2, 0)), ValueError,
     "SyncBatchNorm number of input channels should be non-zero"),
    (lambda lib: lib.nn.SyncBatchNorm(3)(lib.ones(2, 4)), RuntimeError, "running_mean should contain 4 elements not 3"),
])
def test_sync_batchnorm_errors_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
