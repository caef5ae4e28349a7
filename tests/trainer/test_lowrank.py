"""``trainer.svd_lowrank`` and ``trainer.pca_lowrank``: reconstruction of low-rank matrices, agreement with
PyTorch where the result is unique (singular values, and vectors up to sign), gradients, and argument errors."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(11)
RANK3 = RNG.standard_normal((9, 3)) @ np.diag([5.0, 2.0, 0.5]) @ RNG.standard_normal((3, 7))


def _same_up_to_sign(ours, theirs, k):
    signs = np.sign(np.sum(ours[..., :k] * theirs[..., :k], axis=-2, keepdims=True))
    np.testing.assert_allclose(ours[..., :k] * signs, theirs[..., :k], atol=1e-10)


@pytest.mark.parametrize("matrix", [RANK3, RANK3.T, np.stack([RANK3, 2 * RANK3])], ids=["tall", "wide", "batched"])
def test_svd_lowrank_reconstructs_and_matches_torch(matrix):
    trainer.manual_seed(0)
    U, S, V = trainer.svd_lowrank(trainer.tensor(matrix), q=4)  # noqa: N806
    m, n = matrix.shape[-2:]
    assert tuple(U.shape[-2:]) == (m, 4) and tuple(S.shape[-1:]) == (4,) and tuple(V.shape[-2:]) == (n, 4)
    rebuilt = (U * S.unsqueeze(-2)) @ V.mT
    np.testing.assert_allclose(rebuilt.numpy(), matrix, atol=1e-10)
    tU, tS, tV = torch.svd_lowrank(torch.tensor(matrix), q=4)  # noqa: N806
    np.testing.assert_allclose(S.numpy()[..., :3], tS.numpy()[..., :3], rtol=1e-10)
    _same_up_to_sign(U.numpy(), tU.numpy(), 3)
    _same_up_to_sign(V.numpy(), tV.numpy(), 3)


def test_svd_lowrank_subtracts_m():
    offset = RNG.standard_normal((1, 7))
    U, S, V = trainer.svd_lowrank(trainer.tensor(RANK3 + offset), q=3, M=trainer.tensor(offset))  # noqa: N806
    np.testing.assert_allclose(S.numpy(), torch.linalg.svdvals(torch.tensor(RANK3)).numpy()[:3], rtol=1e-10)


def test_pca_lowrank_matches_torch():
    data = RANK3 + 3.0
    U, S, V = trainer.pca_lowrank(trainer.tensor(data), q=3)  # noqa: N806
    tU, tS, tV = torch.pca_lowrank(torch.tensor(data), q=3)  # noqa: N806
    np.testing.assert_allclose(S.numpy()[:2], tS.numpy()[:2], rtol=1e-10)
    _same_up_to_sign(V.numpy(), tV.numpy(), 2)
    uncentred = trainer.pca_lowrank(trainer.tensor(data), q=4, center=False)[1]
    np.testing.assert_allclose(uncentred.numpy()[:4], torch.linalg.svdvals(torch.tensor(data)).numpy()[:4],
                               rtol=1e-10)
    assert trainer.pca_lowrank(trainer.tensor(data))[1].shape == (6,)


def test_gradients_of_singular_values_match_torch():
    ours = trainer.tensor(RANK3, requires_grad=True)
    theirs = torch.tensor(RANK3, requires_grad=True)
    trainer.svd_lowrank(ours, q=3)[1].sum().backward()
    torch.svd_lowrank(theirs, q=3)[1].sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-9)


@pytest.mark.parametrize(("call", "message"), [
    (lambda lib: lib.pca_lowrank(lib.ones(4, 3), q=4), r"q\(=4\) must be non-negative integer and not greater than "
                                                       r"min\(m, n\)=3"),
    (lambda lib: lib.pca_lowrank(lib.ones(4, 3), q=-1), r"q\(=-1\) must be non-negative"),
    (lambda lib: lib.pca_lowrank(lib.ones(4, 3), niter=-1), r"niter\(=-1\) must be non-negative integer"),
])
def test_pca_lowrank_errors_like_torch(call, message):
    assert_raises_like_torch(call, ValueError, message)
