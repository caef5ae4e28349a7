"""Embedding and nearest-neighbour Upsample/interpolate against PyTorch with the same weights."""

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
import trainer.nn.functional as F

TOL = {np.float64: 1e-8, np.float32: 1e-4}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def assert_close(ours, theirs, tol=1e-8):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=tol, rtol=0)


def copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


# ----------------------------------------------------------------- Embedding
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                    {"max_norm": 1.0}, {"max_norm": 1.5, "norm_type": 1.0}])
def test_embedding_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(0)
    theirs = torch.nn.Embedding(7, 4, **kwargs).to(TORCH_DTYPE[dtype])
    ours = nn.Embedding(7, 4, **kwargs).to(trainer.float64 if dtype is np.float64 else trainer.float32)
    copy_weights(ours, theirs)
    indices = np.array([[0, 2, 6, 2], [6, 6, 1, 3], [2, 0, 5, 5]])
    out, tout = ours(trainer.tensor(indices)), theirs(torch.tensor(indices))
    assert_close(out, tout, TOL[dtype])
    assert_close(ours.weight, theirs.weight, TOL[dtype])  # max_norm renormalises the looked-up rows in place
    g = rng.standard_normal(tout.shape).astype(dtype)
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(ours.weight.grad, theirs.weight.grad, TOL[dtype])
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_padding_row_starts_at_zero_and_never_gets_gradient():
    layer = nn.Embedding(5, 3, padding_idx=0)
    assert layer.weight.dtype == trainer.float32
    np.testing.assert_array_equal(layer.weight.detach().numpy()[0], 0)
    assert np.abs(layer.weight.detach().numpy()[1:]).max() > 0
    out = layer(trainer.tensor([0, 0, 1, 4, 0]))
    (out * 3).sum().backward()
    grad = layer.weight.grad.numpy()
    np.testing.assert_array_equal(grad[0], 0)
    np.testing.assert_array_equal(grad[1], 3)
    np.testing.assert_array_equal(grad[2], 0)


def test_embedding_default_init_is_standard_normal():
    weight = nn.Embedding(2000, 50).weight.detach().numpy()
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1) < 0.02


def test_functional_embedding_and_from_pretrained():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 3))
    idx = np.array([5, 0, 3, 3])
    ours_w, theirs_w = trainer.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = F.embedding(trainer.tensor(idx), ours_w, padding_idx=3)
    tout = torch.nn.functional.embedding(torch.tensor(idx), theirs_w, padding_idx=3)
    assert_close(out, tout)
    out.sum().backward()
    tout.sum().backward()
    assert_close(ours_w.grad, theirs_w.grad)
    frozen = nn.Embedding.from_pretrained(trainer.tensor(w))
    assert not frozen.weight.requires_grad
    assert_close(frozen(trainer.tensor(idx)), torch.nn.Embedding.from_pretrained(torch.tensor(w))(torch.tensor(idx)))
    assert nn.Embedding.from_pretrained(trainer.tensor(w), freeze=False).weight.requires_grad


def test_embedding_errors():
    layer = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"index out of range in self: index 10 .*\[0, 10\)"):
        layer(trainer.tensor([1, 10]))
    with pytest.raises(IndexError, match=r"index out of range in self: index -1 "):
        layer(trainer.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        layer(trainer.tensor([1.0, 2.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(10, 3, padding_idx=10)


# ----------------------------------------------------------------- Upsample / interpolate
UPSAMPLE_CASES = [
    ((2, 3, 5), {"scale_factor": 2}),
    ((2, 3, 5), {"scale_factor": 3}),
    ((2, 3, 7), {"size": 4}),
    ((2, 3, 4, 5), {"scale_factor": 2}),
    ((2, 3, 4, 5), {"scale_factor": 1.5}),
    ((2, 3, 4, 5), {"scale_factor": 0.5}),
    ((2, 3, 4, 5), {"scale_factor": 2.3}),
    ((2, 3, 4, 5), {"scale_factor": (2, 3)}),
    ((2, 3, 4, 5), {"scale_factor": (1.7, 0.6)}),
    ((2, 3, 4, 5), {"scale_factor": 1.5, "recompute_scale_factor": True}),
    ((2, 3, 4, 5), {"size": (7, 3)}),
    ((2, 3, 4, 5), {"size": (8, 10)}),
    ((2, 3, 4, 5), {"size": 6}),
    ((2, 3, 9, 7), {"size": (4, 13)}),
    ((1, 2, 3, 4, 5), {"scale_factor": (2, 1.5, 0.8)}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,kwargs", UPSAMPLE_CASES, ids=lambda c: str(c))
def test_upsample_matches_torch(shape, kwargs, dtype):
    rng = np.random.default_rng(0)
    data = rng.standard_normal(shape).astype(dtype)
    ours, theirs = nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    x, tx = trainer.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, tout = ours(x), theirs(tx)
    assert tuple(out.shape) == tuple(tout.shape)
    assert_close(out, tout, TOL[dtype])
    g = rng.standard_normal(tout.shape).astype(dtype)
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(x.grad, tx.grad, TOL[dtype])
    assert repr(ours) == repr(theirs)


def test_interpolate_matches_torch():
    data = np.random.default_rng(3).standard_normal((1, 2, 6, 4))
    for kwargs in ({"size": (5, 9)}, {"scale_factor": 1.25}):
        assert_close(F.interpolate(trainer.tensor(data), **kwargs),
                     torch.nn.functional.interpolate(torch.tensor(data), **kwargs))


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 7), {"scale_factor": 2, "mode": "linear"}),
    ((2, 3, 5, 6), {"scale_factor": 2, "mode": "bilinear"}),
    ((2, 3, 5, 6), {"size": (7, 4), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 6), {"scale_factor": (1.7, 0.6), "mode": "bilinear"}),
    ((2, 3, 5, 6), {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}),
    ((1, 2, 3, 4, 5), {"size": (4, 2, 7), "mode": "trilinear"}),
])
def test_interpolate_in_the_linear_modes_matches_torch_with_gradients(shape, kwargs):
    data = np.random.default_rng(4).standard_normal(shape)
    x, tx = trainer.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, tout = F.interpolate(x, **kwargs), torch.nn.functional.interpolate(tx, **kwargs)
    assert_close(out, tout)
    g = np.random.default_rng(5).standard_normal(tuple(tout.shape))
    out.backward(trainer.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(x.grad, tx.grad)


def test_upsample_bilinear_matches_torch():
    data = np.random.default_rng(6).standard_normal((2, 3, 4, 5))
    ours, theirs = nn.Upsample(scale_factor=2, mode="bilinear"), torch.nn.Upsample(scale_factor=2, mode="bilinear")
    assert repr(ours) == repr(theirs)
    assert_close(ours(trainer.tensor(data)), theirs(torch.tensor(data)))


def test_interpolate_errors():
    x = trainer.randn(1, 2, 4, 4)
    with pytest.raises(NotImplementedError, match="Got 4D input, but trilinear mode needs 5D input"):
        F.interpolate(x, scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match=r"mode 'cubic' is not supported; supported modes: 'nearest'"):
        F.interpolate(x, scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(3, 4, 5))
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="3D, 4D or 5D input"):
        F.interpolate(trainer.randn(2, 3), scale_factor=2)
