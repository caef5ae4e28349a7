"""Complex linear algebra against PyTorch on the same complex128 inputs: values and gradients (PyTorch's conjugate
Wirtinger convention) of ``trainer.linalg`` and the matrix functions, ``linalg.eig``/``eigvals`` for general
matrices, the decompositions through losses that do not depend on the phases of their vectors, and PyTorch's
errors where a loss does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_complex import assert_complex_parity
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(11)


def _complex(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _hermitian_positive(n):
    a = _complex(n, n)
    return a @ a.conj().T + n * np.eye(n)


SQUARE, BATCH, TALL, WIDE = _complex(4, 4), _complex(2, 3, 3), _complex(5, 3), _complex(3, 5)
HERMITIAN = _hermitian_positive(4)


def _svd_product(lib, a):  # U diag(S) Vh: independent of the singular vectors' phases
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    return (u * s.unsqueeze(-2)) @ vh


def _svd_projector(lib, a):  # U U^H: phase-invariant, and it exercises the thin factor's extra term
    u = lib.linalg.svd(a, full_matrices=False).U
    return u @ u.mH


def _eigh_product(lib, a):
    w, v = lib.linalg.eigh(a)
    return (v * w.unsqueeze(-2)) @ v.mH


CASES = {
    "inv": (lambda lib, a: lib.linalg.inv(a), [SQUARE]),
    "inv_batch": (lambda lib, a: lib.linalg.inv(a), [BATCH]),
    "det": (lambda lib, a: lib.linalg.det(a), [BATCH]),
    "slogdet_sign": (lambda lib, a: lib.linalg.slogdet(a).sign, [SQUARE]),
    "slogdet_logabsdet": (lambda lib, a: lib.linalg.slogdet(a).logabsdet, [BATCH]),
    "logdet": (lambda lib, a: lib.logdet(a), [SQUARE]),
    "solve": (lambda lib, a, b: lib.linalg.solve(a, b), [SQUARE, _complex(4, 2)]),
    "solve_vector": (lambda lib, a, b: lib.linalg.solve(a, b), [SQUARE, _complex(4)]),
    "solve_right": (lambda lib, a, b: lib.linalg.solve(a, b, left=False), [SQUARE, _complex(2, 4)]),
    "solve_triangular": (lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True), [SQUARE, _complex(4, 2)]),
    "cholesky": (lambda lib, a: lib.linalg.cholesky(a), [HERMITIAN]),
    "cholesky_upper": (lambda lib, a: lib.linalg.cholesky(a, upper=True), [HERMITIAN]),
    "cholesky_solve": (lambda lib, b, a: lib.cholesky_solve(b, lib.linalg.cholesky(a)), [_complex(4, 2), HERMITIAN]),
    "qr_q": (lambda lib, a: lib.linalg.qr(a).Q, [TALL]),
    "qr_r": (lambda lib, a: lib.linalg.qr(a).R, [TALL]),
    "qr_both": (lambda lib, a: lib.linalg.qr(a).Q @ lib.linalg.qr(a).R.mH, [SQUARE]),
    "eigvalsh": (lambda lib, a: lib.linalg.eigvalsh(a), [HERMITIAN]),
    "eigh_product": (_eigh_product, [HERMITIAN]),
    "svdvals": (lambda lib, a: lib.linalg.svdvals(a), [TALL]),
    "svd_product_tall": (_svd_product, [TALL]),
    "svd_product_wide": (_svd_product, [WIDE]),
    "svd_projector_tall": (_svd_projector, [TALL]),
    "pinv": (lambda lib, a: lib.linalg.pinv(a), [TALL]),
    "pinv_hermitian": (lambda lib, a: lib.linalg.pinv(a, hermitian=True), [HERMITIAN]),
    "matrix_power": (lambda lib, a: lib.linalg.matrix_power(a, 3), [SQUARE]),
    "matrix_power_negative": (lambda lib, a: lib.linalg.matrix_power(a, -2), [SQUARE]),
    "matrix_exp": (lambda lib, a: lib.linalg.matrix_exp(a), [0.4 * BATCH]),
    "lstsq_tall": (lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd").solution, [TALL, _complex(5, 2)]),
    "lstsq_residuals": (lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd").residuals, [TALL, _complex(5, 2)]),
    "lstsq_wide": (lambda lib, a, b: lib.linalg.lstsq(a, b).solution, [WIDE, _complex(3, 2)]),
    "vector_norm": (lambda lib, a: lib.linalg.vector_norm(a), [SQUARE]),
    "vector_norm_3": (lambda lib, a: lib.linalg.vector_norm(a, 3, -1), [SQUARE]),
    "vector_norm_inf": (lambda lib, a: lib.linalg.vector_norm(a, float("inf"), 0), [SQUARE]),
    "matrix_norm_fro": (lambda lib, a: lib.linalg.matrix_norm(a), [BATCH]),
    "matrix_norm_nuc": (lambda lib, a: lib.linalg.matrix_norm(a, "nuc"), [TALL]),
    "matrix_norm_2": (lambda lib, a: lib.linalg.matrix_norm(a, 2), [TALL]),
    "matrix_norm_1": (lambda lib, a: lib.linalg.matrix_norm(a, 1), [SQUARE]),
    "norm": (lambda lib, a: lib.linalg.norm(a), [SQUARE]),
    "norm_dim": (lambda lib, a: lib.linalg.norm(a, dim=1), [SQUARE]),
    "cross": (lambda lib, a, b: lib.linalg.cross(a, b), [_complex(2, 3), _complex(2, 3)]),
    "vecdot_conjugates_x": (lambda lib, a, b: lib.linalg.vecdot(a, b), [SQUARE, _complex(4, 4)]),
    "multi_dot": (lambda lib, a, b: lib.linalg.multi_dot([a, b, a]), [SQUARE, _complex(4, 4)]),
    "trace": (lambda lib, a: lib.trace(a), [SQUARE]),
    "diag": (lambda lib, a: lib.diag(a, 1), [SQUARE]),
    "diagonal": (lambda lib, a: lib.linalg.diagonal(a, offset=-1), [BATCH]),
    "triu": (lambda lib, a: lib.triu(a, 1), [SQUARE]),
    "tril": (lambda lib, a: lib.tril(a), [BATCH]),
    "mH": (lambda lib, a: a.mH, [BATCH]),
    "H": (lambda lib, a: a.H, [TALL]),
    "adjoint": (lambda lib, a: lib.adjoint(a), [TALL]),
    "eigvals": (lambda lib, a: lib.linalg.eigvals(a), [SQUARE]),
    "eigvals_batch": (lambda lib, a: lib.linalg.eigvals(a), [BATCH]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_complex_linalg_matches_torch(case):
    fn, arrays = CASES[case]
    assert_complex_parity(fn, arrays)


# ------------------------------------------------------------------------------------------ linalg.eig
def _eig_parity(loss, a):
    """``loss(lib, eigenvalues, eigenvectors)`` (phase-invariant) and its gradient in both libraries."""
    theirs_in, ours_in = torch.tensor(a, requires_grad=True), trainer.tensor(a, requires_grad=True)
    theirs, ours = loss(torch, *torch.linalg.eig(theirs_in)), loss(trainer, *trainer.linalg.eig(ours_in))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)
    theirs.backward()
    ours.backward()
    assert ours_in.grad.dtype.name == str(theirs_in.grad.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(), rtol=1e-8, atol=1e-10)


def _eigenvalue_energy(lib, w, v):
    return (w.abs() ** 2).sum()


def _eigenvector_magnitudes(lib, w, v):  # |V_ij| does not change with the phase of a column
    return (v.abs() ** 3 * lib.arange(1.0, 1.0 + v.shape[-1], dtype=lib.float64)).sum() + w.real.sum()


def _reconstruction(lib, w, v):  # V diag(w) V^-1 = A: a loss of both outputs, phase-invariant
    product = (v * w.unsqueeze(-2)) @ lib.linalg.inv(v)
    return (product.real * 0.7 + product.imag * 1.3).sum()


@pytest.mark.parametrize("loss", [_eigenvalue_energy, _eigenvector_magnitudes, _reconstruction])
@pytest.mark.parametrize("real_input", [False, True], ids=["complex", "real"])
def test_eig_gradients_of_phase_invariant_losses_match_torch(loss, real_input):
    a = RNG.standard_normal((4, 4)) if real_input else _complex(2, 4, 4)
    _eig_parity(loss, a)


def test_eig_values_and_vectors_match_torch_and_decompose_the_input():
    a = _complex(3, 4, 4)
    w, v = trainer.linalg.eig(trainer.tensor(a))
    tw, tv = torch.linalg.eig(torch.tensor(a))
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(tv.numpy()), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a @ v.numpy(), v.numpy() * w.numpy()[..., None, :], atol=1e-10)


def test_eig_of_a_real_matrix_is_complex_even_when_its_eigenvalues_are_real():
    symmetric = np.array([[2.0, 1.0], [1.0, 3.0]])
    w, v = trainer.linalg.eig(trainer.tensor(symmetric))
    assert w.dtype is trainer.complex128 and v.dtype is trainer.complex128
    assert trainer.linalg.eigvals(trainer.tensor(symmetric, dtype=trainer.float32)).dtype is trainer.complex64
    np.testing.assert_allclose(np.sort(w.numpy().real), np.linalg.eigvalsh(symmetric))


def test_eig_rejects_a_loss_that_depends_on_the_eigenvector_phases():
    def call(lib):
        a = lib.tensor(_complex(3, 3), requires_grad=True)
        lib.linalg.eig(a).eigenvectors[0].imag.sum().backward()

    assert_raises_like_torch(call, RuntimeError, "specified up to multiplication by e\\^{i phi}")


def test_eigh_and_svd_reject_losses_that_depend_on_vector_phases():
    def eigh(lib):
        lib.linalg.eigh(lib.tensor(HERMITIAN, requires_grad=True)).eigenvectors[0].imag.sum().backward()

    def svd(lib):
        lib.linalg.svd(lib.tensor(TALL, requires_grad=True), full_matrices=False).U[0].imag.sum().backward()

    assert_raises_like_torch(eigh, RuntimeError, "linalg_eigh_backward: The eigenvectors in the complex case")
    assert_raises_like_torch(svd, RuntimeError, "svd_backward: The singular vectors in the complex case")


def test_eig_checks_its_input_as_torch_does():
    assert_raises_like_torch(lambda lib: lib.linalg.eig(lib.ones(2, 3)), RuntimeError, "square matrices")
    assert_raises_like_torch(lambda lib: lib.linalg.eigvals(lib.ones(2, 2, dtype=lib.int64)), RuntimeError,
                             "floating point or complex")


# ------------------------------------------------------------------------------------------ the real paths
REAL_SQUARE, REAL_TALL = RNG.standard_normal((4, 4)), RNG.standard_normal((5, 3))
REAL_SPD = REAL_SQUARE @ REAL_SQUARE.T + 4 * np.eye(4)

REAL_CASES = {  # the formulas now written with conjugate transposes must give the same real gradients as before
    "eigh_vectors": (lambda lib, a: lib.linalg.eigh(a).eigenvectors.abs(), [REAL_SPD]),
    "svd_u": (lambda lib, a: lib.linalg.svd(a, full_matrices=False).U.abs(), [REAL_TALL]),
    "qr": (lambda lib, a: lib.linalg.qr(a).Q * 2 + lib.linalg.qr(a).R.sum(0), [REAL_TALL]),
    "cholesky_upper": (lambda lib, a: lib.linalg.cholesky(a, upper=True), [REAL_SPD]),
    "det": (lambda lib, a: lib.linalg.det(a), [REAL_SQUARE]),
    "slogdet": (lambda lib, a: lib.linalg.slogdet(a).logabsdet, [REAL_SQUARE]),
}


@pytest.mark.parametrize("case", sorted(REAL_CASES))
def test_real_decompositions_still_match_torch(case):
    fn, arrays = REAL_CASES[case]
    assert_complex_parity(fn, arrays)


def test_complex_second_derivative_of_inverse_matches_torch():
    a = SQUARE

    def grad_norm(lib):
        x = lib.tensor(a, requires_grad=True)
        (g,) = lib.autograd.grad((lib.linalg.inv(x).abs() ** 2).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g.abs() ** 2).sum(), x)
        return gg

    np.testing.assert_allclose(grad_norm(trainer).numpy(), grad_norm(torch).numpy(), rtol=1e-8, atol=1e-10)


def test_complex_errors_match_torch():
    assert_raises_like_torch(lambda lib: lib.cdist(lib.tensor(_complex(2, 2)), lib.tensor(_complex(2, 2))),
                             RuntimeError, "cdist only supports floating-point dtypes")
    assert_raises_like_torch(lambda lib: lib.linalg.inv(lib.ones(2, 2, dtype=lib.int64)), RuntimeError,
                             "Expected a floating point or complex tensor as input")
