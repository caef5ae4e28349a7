"""``trainer.linalg`` and the matrix functions of the ``trainer`` namespace against PyTorch: values and the
gradients of every input on identical float64 data, batched, plus PyTorch's errors for bad input.

Decompositions whose factors are unique only up to signs are compared through sign-invariant results:
reconstructions, and losses that do not depend on the signs (so their gradients are comparable too).
"""

import math
import zlib

import numpy as np
import pytest
import torch

import trainer

TOL = 1e-8


def _spd(lib, a):
    """A well-conditioned symmetric positive-definite batch built from ``a``."""
    n = a.shape[-1]
    return a @ a.mT + n * lib.eye(n, dtype=a.dtype)


def _sym(lib, a):
    return a + a.mT


CASES = {
    "inv": (lambda lib, a: lib.linalg.inv(a + 4 * lib.eye(4, dtype=a.dtype)), [(2, 4, 4)]),
    "inverse_method": (lambda lib, a: (a + 3 * lib.eye(3, dtype=a.dtype)).inverse(), [(3, 3)]),
    "det": (lambda lib, a: lib.linalg.det(a), [(3, 4, 4)]),
    "det_singular": (lambda lib, a: lib.det(a * lib.tensor([1.0, 1.0, 0.0], dtype=a.dtype)), [(3, 3)]),
    "slogdet": (lambda lib, a: lib.linalg.slogdet(a), [(2, 3, 3)]),
    "logdet_spd": (lambda lib, a: lib.logdet(_spd(lib, a)), [(2, 3, 3)]),
    "solve_matrix": (lambda lib, a, b: lib.linalg.solve(a + 4 * lib.eye(4, dtype=a.dtype), b), [(2, 4, 4), (2, 4, 3)]),
    "solve_vector_broadcast": (lambda lib, a, b: lib.linalg.solve(a + 4 * lib.eye(4, dtype=a.dtype), b),
                               [(2, 4, 4), (4,)]),
    "solve_batch_of_vectors": (lambda lib, a, b: lib.linalg.solve(a + 4 * lib.eye(4, dtype=a.dtype), b),
                               [(2, 4, 4), (2, 4)]),
    "solve_right": (lambda lib, a, b: lib.linalg.solve(a + 4 * lib.eye(3, dtype=a.dtype), b, left=False),
                    [(3, 3), (2, 3)]),
    "cholesky": (lambda lib, a: lib.linalg.cholesky(_spd(lib, a)), [(2, 4, 4)]),
    "cholesky_upper": (lambda lib, a: lib.linalg.cholesky(_spd(lib, a), upper=True), [(3, 3)]),
    "qr_reconstruction": (lambda lib, a: _product(lib.linalg.qr(a)), [(2, 5, 3)]),
    "qr_sign_free": (lambda lib, a: [f.abs() for f in lib.linalg.qr(a)], [(5, 3)]),
    "eigvalsh": (lambda lib, a: lib.linalg.eigvalsh(_sym(lib, a)), [(2, 4, 4)]),
    "eigh_projectors": (lambda lib, a: _projectors(lib.linalg.eigh(_sym(lib, a), UPLO="U")), [(4, 4)]),
    "svdvals_tall": (lambda lib, a: lib.linalg.svdvals(a), [(2, 5, 3)]),
    "svdvals_wide": (lambda lib, a: lib.linalg.svdvals(a), [(3, 5)]),
    "svd_thin_sign_free": (lambda lib, a: _svd_sign_free(lib.linalg.svd(a, full_matrices=False)), [(5, 3)]),
    "svd_thin_wide_sign_free": (lambda lib, a: _svd_sign_free(lib.linalg.svd(a, full_matrices=False)), [(2, 3, 5)]),
    "torch_svd_reconstruction": (lambda lib, a: _usv(lib.svd(a)), [(4, 3)]),
    "pinv_tall": (lambda lib, a: lib.linalg.pinv(a), [(5, 3)]),
    "pinverse_wide": (lambda lib, a: lib.pinverse(a), [(2, 3, 4)]),
    "matrix_power": (lambda lib, a: [lib.linalg.matrix_power(a, k) for k in (0, 1, 3, 6)], [(2, 3, 3)]),
    "matrix_power_negative": (lambda lib, a: (a + 3 * lib.eye(3, dtype=a.dtype)).matrix_power(-2), [(3, 3)]),
    "vector_norm": (lambda lib, a: [lib.linalg.vector_norm(a, o, dim=-1) for o in (2, 1, 3.5, math.inf, -math.inf)]
                    + [lib.linalg.vector_norm(a), lib.linalg.vector_norm(a, 0, keepdim=True)], [(3, 4)]),
    "matrix_norm": (lambda lib, a: [lib.linalg.matrix_norm(a, o) for o in ("fro", "nuc", 1, -1, 2, -2, math.inf,
                                                                            -math.inf)], [(2, 3, 4)]),
    "matrix_norm_dims_keepdim": (lambda lib, a: lib.linalg.matrix_norm(a, 1, dim=(0, 2), keepdim=True), [(3, 2, 4)]),
    "norm": (lambda lib, a: [lib.linalg.norm(a), lib.linalg.norm(a, 1), lib.linalg.norm(a[0], 3),
                             lib.linalg.norm(a, "nuc"), lib.linalg.norm(a, 2, dim=1)], [(3, 4)]),
    "multi_dot": (lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]), [(4,), (4, 3), (3, 2)]),
    "cross": (lambda lib, a, b: lib.linalg.cross(a, b), [(4, 3), (4, 3)]),
    "trace": (lambda lib, a: lib.trace(a) + a.trace(), [(3, 5)]),
    "kron": (lambda lib, a, b: lib.kron(a, b), [(2, 3), (3, 2)]),
    "kron_mixed_rank": (lambda lib, a, b: lib.kron(a, b), [(2, 2, 3), (4,)]),
    "tensordot_int": (lambda lib, a, b: lib.tensordot(a, b, 2), [(2, 3, 4), (3, 4, 5)]),
    "tensordot_pairs": (lambda lib, a, b: lib.tensordot(a, b, dims=([0, 2], [1, 0])), [(2, 3, 4), (4, 2, 5)]),
    "cdist_euclidean": (lambda lib, a, b: lib.cdist(a, b), [(2, 4, 3), (2, 5, 3)]),
    "cdist_p": (lambda lib, a, b: [lib.cdist(a, b, p) for p in (1.0, 3.0, math.inf)], [(4, 3), (5, 3)]),
}


def _product(factors):
    q, r = factors
    return q @ r, (q.mT @ q)


def _column_projectors(m):
    """``c c^T`` for each column ``c`` of ``m``: the same whichever sign a decomposition gave ``c``."""
    return m.mT.unsqueeze(-1) * m.mT.unsqueeze(-2)


def _projectors(result):
    w, v = result
    return w, _column_projectors(v)


def _svd_sign_free(result):
    u, s, vh = result
    return s, (u * s.unsqueeze(-2)) @ vh, _column_projectors(u), _column_projectors(vh.mT)


def _usv(result):
    u, s, v = result
    return (u * s.unsqueeze(-2)) @ v.mT


def _outputs(result):
    if isinstance(result, (list, tuple)):
        return [o for r in result for o in _outputs(r)]
    return [result]


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [trainer.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = _outputs(fn(trainer, *ours)), _outputs(fn(torch, *theirs))
    assert len(out) == len(tout)
    weights = [rng.standard_normal(tuple(t.shape)) for t in tout]
    for o, t in zip(out, tout):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=TOL, atol=TOL)
    loss = sum((o * trainer.tensor(w)).sum() for o, w in zip(out, weights) if o.dtype.is_floating_point)
    tloss = sum((t * torch.tensor(w)).sum() for t, w in zip(tout, weights) if t.dtype.is_floating_point)
    loss.backward()
    tloss.backward()
    for ours_input, theirs_input in zip(ours, theirs):
        np.testing.assert_allclose(ours_input.grad.numpy(), theirs_input.grad.numpy(), rtol=1e-7, atol=1e-7)


def test_results_are_named_like_torchs():
    a = trainer.randn(3, 3, dtype=trainer.float64)
    assert trainer.linalg.slogdet(a)._fields == ("sign", "logabsdet")
    assert trainer.linalg.qr(a)._fields == ("Q", "R")
    assert trainer.linalg.eigh(a + a.mT)._fields == ("eigenvalues", "eigenvectors")
    assert trainer.linalg.svd(a)._fields == ("U", "S", "Vh")
    assert trainer.linalg.qr(a, mode="r").Q.numel() == 0


def test_full_svd_of_a_non_square_matrix_and_the_complete_qr_match_torch():
    data = np.random.default_rng(5).standard_normal((5, 3))
    u, s, vh = trainer.linalg.svd(trainer.tensor(data))
    tu, ts, tvh = torch.linalg.svd(torch.tensor(data))
    assert u.shape == (5, 5) and vh.shape == (3, 3)
    np.testing.assert_allclose(s.numpy(), ts.numpy(), atol=TOL)
    np.testing.assert_allclose(np.abs(u.numpy()), np.abs(tu.numpy()), atol=TOL)
    q, r = trainer.linalg.qr(trainer.tensor(data), mode="complete")
    assert q.shape == (5, 5) and r.shape == (5, 3)
    np.testing.assert_allclose((q @ r).numpy(), data, atol=TOL)


def test_logdet_of_a_negative_determinant_is_nan_and_of_a_singular_matrix_minus_inf():
    assert math.isnan(float(trainer.logdet(trainer.tensor([[0.0, 1.0], [1.0, 0.0]]))))
    assert float(trainer.logdet(trainer.tensor([[1.0, 2.0], [2.0, 4.0]]))) == -math.inf


def test_matrix_rank_matches_torch():
    data = np.random.default_rng(6).standard_normal((2, 5, 2)) @ np.random.default_rng(7).standard_normal((2, 2, 4))
    assert trainer.linalg.matrix_rank(trainer.tensor(data)).tolist() == torch.linalg.matrix_rank(
        torch.tensor(data)).tolist() == [2, 2]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: trainer.linalg.inv(trainer.randn(2, 3)), "must be batches of square matrices"),
    (lambda: trainer.linalg.det(trainer.randn(3)), "must have at least 2 dimensions"),
    (lambda: trainer.linalg.inv(trainer.tensor([[1, 2], [3, 4]])), "Expected a floating point or complex tensor"),
    (lambda: trainer.linalg.inv(trainer.zeros(2, 2)), "linalg.inv: The diagonal element 1 is zero"),
    (lambda: trainer.linalg.cholesky(-trainer.eye(3)), "not positive-definite"),
    (lambda: trainer.linalg.solve(trainer.eye(3), trainer.randn(4, 2)), "Incompatible shapes of A and B"),
    (lambda: trainer.linalg.qr(trainer.randn(3, 3), mode="thin"), "unrecognized mode 'thin'"),
    (lambda: trainer.linalg.eigh(trainer.eye(2), UPLO="X"), "Expected UPLO argument to be 'L' or 'U'"),
    (lambda: trainer.linalg.matrix_norm(trainer.randn(2, 2), 3), "Order 3 not supported"),
    (lambda: trainer.linalg.norm(trainer.randn(2, 2, 2), 1), "the input must be 1D or 2D"),
    (lambda: trainer.cdist(trainer.randn(3, 2), trainer.randn(3, 4)), "must have the same number of columns"),
    (lambda: trainer.trace(trainer.randn(2, 2, 2)), "expected a matrix"),
    (lambda: trainer.tensordot(trainer.randn(2, 3), trainer.randn(3, 2), dims=([0], [0, 1])),
     "both dimension lists should have same length"),
    (lambda: trainer.linalg.svd(trainer.randn(3, 2, requires_grad=True)), "full_matrices=True for non-square"),
])
def test_bad_input_raises_torchs_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()
