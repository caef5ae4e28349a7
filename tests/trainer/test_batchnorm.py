"""BatchNorm1d/2d and the fused batch_norm op, plus Dropout2d, against PyTorch with the same weights."""

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
import trainer.nn.functional as F

TOL = {np.float64: 1e-8, np.float32: 1e-4}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def assert_close(ours, theirs, tol):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=tol, rtol=0)


def copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def make_pair(cls_name, dtype, **kwargs):
    theirs = getattr(torch.nn, cls_name)(3, **kwargs).to(TORCH_DTYPE[dtype])
    ours = getattr(nn, cls_name)(3, **kwargs).to(trainer.float64 if dtype is np.float64 else trainer.float32)
    if theirs.affine:
        with torch.no_grad():  # non-trivial affine parameters, so that their grads are exercised
            theirs.weight.uniform_(0.5, 1.5)
            if theirs.bias is not None:
                theirs.bias.uniform_(-0.5, 0.5)
    copy_weights(ours, theirs)
    return ours, theirs


def assert_same_state(ours, theirs, tol):
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        np.testing.assert_allclose(np.asarray(ours_state[key]), value.numpy(), atol=tol, rtol=0, err_msg=key)
        assert np.asarray(ours_state[key]).dtype == value.numpy().dtype, key


def assert_param_grads(ours, theirs, tol):
    names = [name for name, _ in theirs.named_parameters()]
    assert [name for name, _ in ours.named_parameters()] == names
    for name in names:
        assert_close(getattr(ours, name).grad, getattr(theirs, name).grad, tol)


CASES = [
    ("BatchNorm1d", (8, 3)),
    ("BatchNorm1d", (4, 3, 5)),
    ("BatchNorm2d", (4, 3, 5, 6)),
]
SETTINGS = [
    {},
    {"momentum": None},
    {"affine": False},
    {"bias": False},
    {"track_running_stats": False},
    {"momentum": 0.3, "eps": 1e-3},
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default")
@pytest.mark.parametrize("cls_name,shape", CASES, ids=lambda c: str(c))
def test_training_steps_then_eval_match_torch(cls_name, shape, settings, dtype):
    rng = np.random.default_rng(0)
    tol = TOL[dtype]
    ours, theirs = make_pair(cls_name, dtype, **settings)
    for step in range(3):
        data = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        x = trainer.tensor(data, requires_grad=True)
        tx = torch.tensor(data, requires_grad=True)
        out, tout = ours(x), theirs(tx)
        assert_close(out, tout, tol)
        g = rng.standard_normal(shape).astype(dtype)
        out.backward(trainer.tensor(g))
        tout.backward(torch.tensor(g))
        assert_close(x.grad, tx.grad, tol)
        assert_param_grads(ours, theirs, tol)
        assert_same_state(ours, theirs, tol)
    ours.eval()
    theirs.eval()
    data = rng.standard_normal(shape).astype(dtype)
    x = trainer.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    out, tout = ours(x), theirs(tx)
    assert_close(out, tout, tol)
    g = rng.standard_normal(shape).astype(dtype)
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(x.grad, tx.grad, tol)
    assert_param_grads(ours, theirs, tol)
    assert_same_state(ours, theirs, tol)  # evaluation leaves the running statistics alone


def test_num_batches_tracked_is_int64_and_counts_training_steps():
    layer = nn.BatchNorm2d(2)
    assert layer.num_batches_tracked.dtype == trainer.int64
    for _ in range(3):
        layer(trainer.randn(2, 2, 3, 3))
    assert layer.num_batches_tracked.item() == 3
    layer.eval()
    layer(trainer.randn(2, 2, 3, 3))
    assert layer.num_batches_tracked.item() == 3
    layer.double()
    assert layer.num_batches_tracked.dtype == trainer.int64 and layer.running_mean.dtype == trainer.float64


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"bias": False}, {"track_running_stats": False},
                                    {"momentum": None}])
def test_state_dict_keys_and_repr_match_torch(kwargs):
    for name in ("BatchNorm1d", "BatchNorm2d"):
        ours, theirs = getattr(nn, name)(4, **kwargs), getattr(torch.nn, name)(4, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_load_state_dict_from_trained_torch_layer():
    theirs = torch.nn.BatchNorm2d(3).double()
    for _ in range(4):
        theirs(torch.randn(5, 3, 4, 4, dtype=torch.float64) * 3 + 1)
    ours = nn.BatchNorm2d(3).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert ours.num_batches_tracked.item() == 4 and ours.num_batches_tracked.dtype == trainer.int64
    ours.eval()
    theirs.eval()
    data = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    assert_close(ours(trainer.tensor(data)), theirs(torch.tensor(data)), 1e-8)


def test_load_state_dict_without_num_batches_tracked():
    ours = nn.BatchNorm1d(3)
    state = {k: np.asarray(v) for k, v in nn.BatchNorm1d(3).state_dict().items() if k != "num_batches_tracked"}
    assert repr(ours.load_state_dict(state)) == "<All keys matched successfully>"


def test_functional_batch_norm_matches_torch():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((6, 4, 3))
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    ours_rm, ours_rv = trainer.tensor(rm), trainer.tensor(rv)
    theirs_rm, theirs_rv = torch.tensor(rm), torch.tensor(rv)
    for training in (True, False):
        x, tx = trainer.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        ow, tw = trainer.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        out = F.batch_norm(x, ours_rm, ours_rv, ow, trainer.tensor(b), training=training, momentum=0.2)
        tout = torch.nn.functional.batch_norm(tx, theirs_rm, theirs_rv, tw, torch.tensor(b), training=training,
                                              momentum=0.2)
        assert_close(out, tout, 1e-8)
        out.sum().backward()
        tout.sum().backward()
        assert_close(x.grad, tx.grad, 1e-8)
        assert_close(ow.grad, tw.grad, 1e-8)
        assert_close(ours_rm, theirs_rm, 1e-8)
        assert_close(ours_rv, theirs_rv, 1e-8)
    out = F.batch_norm(trainer.tensor(data), None, None, training=True)
    assert_close(out, torch.nn.functional.batch_norm(torch.tensor(data), None, None, training=True), 1e-8)


def test_input_rank_errors_match_torch():
    with pytest.raises(ValueError, match=r"^expected 2D or 3D input \(got 4D input\)$"):
        nn.BatchNorm1d(3)(trainer.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"^expected 4D input \(got 3D input\)$"):
        nn.BatchNorm2d(3)(trainer.randn(2, 3, 4))


def test_channel_mismatch_names_layer_and_shape():
    with pytest.raises(RuntimeError) as info:
        nn.BatchNorm2d(3)(trainer.randn(2, 4, 5, 5))
    message = str(info.value)
    assert "BatchNorm2d(3" in message and "[2, 4, 5, 5]" in message and "3 channels" in message


def test_batch_of_one_value_per_channel_raises_when_training():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        layer(trainer.randn(1, 3))
    layer(trainer.randn(1, 3, 2))  # one sample but two values per channel is fine
    layer.eval()
    layer(trainer.randn(1, 3))  # evaluation uses the running statistics


def test_dropout2d_zeros_whole_channels_and_scales():
    trainer.manual_seed(0)
    layer = nn.Dropout2d(0.4)
    x = trainer.ones(16, 8, 5, 5)
    out = layer(x).numpy()
    per_channel = out.reshape(16, 8, -1)
    assert np.all((per_channel == 0).all(axis=2) | np.isclose(per_channel, 1 / 0.6).all(axis=2))
    dropped = (per_channel == 0).all(axis=2).mean()
    assert 0.2 < dropped < 0.6
    x = trainer.ones(4, 6, 3, 3, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())
    layer.eval()
    x = trainer.randn(2, 3, 4, 4)
    assert layer(x) is x
    assert repr(layer) == repr(torch.nn.Dropout2d(0.4))
    assert repr(nn.Dropout2d(inplace=True)) == repr(torch.nn.Dropout2d(inplace=True))


def test_dropout2d_reads_3d_input_as_channels_and_checks_p():
    trainer.manual_seed(1)
    out = F.dropout2d(trainer.ones(8, 6, 7), 0.5).numpy()
    assert np.all((out == 0).all(axis=2) | (out == 2).all(axis=2))
    assert np.all(F.dropout2d(trainer.ones(2, 3, 4, 4), 1.0).numpy() == 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout2d(trainer.ones(2, 3, 4, 4), -0.1)
