"""The rest of ``torch.linalg`` (triangular and LU solves, the ``*_ex`` variants, ``lstsq``, ``matrix_exp``,
``cond``, tensor solves, Householder products, ...) and the legacy top-level solvers against PyTorch: values and
the gradients of every input on identical float64 batches, PyTorch's ``info`` tensors, and its errors."""

import math

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import (
    _assert_same,
    assert_forward_and_gradients_match_torch,
    assert_raises_like_torch,
)


def _well(lib, a):
    """A well-conditioned batch of square matrices built from ``a``."""
    return a + 3 * lib.eye(a.shape[-1], dtype=a.dtype)


def _spd(lib, a):
    return a @ a.mT + a.shape[-1] * lib.eye(a.shape[-1], dtype=a.dtype)


def _lu_solve(lib, a, b, **kw):
    lu, piv = lib.linalg.lu_factor(_well(lib, a))
    return lib.linalg.lu_solve(lu, piv, b, **kw)


def _cond(lib, a, p):
    """PyTorch 2.13's own ``cond`` fails in backward for these norms (an in-place fill of ``inv_ex``'s saved output),
    so torch's side is the definition it computes, ``norm(A) norm(A^-1)``."""
    if lib is torch:
        return lib.linalg.matrix_norm(a, p) * lib.linalg.matrix_norm(lib.linalg.inv(a), p)
    return lib.linalg.cond(a, p)


CASES = {
    "solve_triangular_lower": (lambda lib, a, b: lib.linalg.solve_triangular(_well(lib, a), b, upper=False),
                               [(2, 4, 4), (2, 4, 3)]),
    "solve_triangular_upper_broadcast": (lambda lib, a, b: lib.linalg.solve_triangular(_well(lib, a), b, upper=True),
                                         [(4, 4), (2, 4, 2)]),
    "solve_triangular_right_unit": (lambda lib, a, b: lib.linalg.solve_triangular(
        a, b, upper=True, left=False, unitriangular=True), [(2, 3, 3), (2, 4, 3)]),
    "triangular_solve_legacy": (lambda lib, b, a: lib.triangular_solve(b, _well(lib, a), upper=False,
                                                                        transpose=True), [(2, 3, 2), (2, 3, 3)]),
    "triangular_solve_method": (lambda lib, b, a: b.triangular_solve(_well(lib, a)), [(3, 2), (3, 3)]),
    "cholesky_solve": (lambda lib, b, a: lib.cholesky_solve(b, lib.linalg.cholesky(_spd(lib, a))),
                       [(2, 3, 2), (2, 3, 3)]),
    "cholesky_solve_upper_method": (lambda lib, b, a: b.cholesky_solve(lib.linalg.cholesky(_spd(lib, a), upper=True),
                                                                       upper=True), [(3, 2), (3, 3)]),
    "cholesky_inverse": (lambda lib, a: lib.cholesky_inverse(lib.linalg.cholesky(_spd(lib, a))), [(2, 3, 3)]),
    "cholesky_inverse_upper": (lambda lib, a: lib.linalg.cholesky(_spd(lib, a), upper=True).cholesky_inverse(True),
                               [(3, 3)]),
    "lu_factor": (lambda lib, a: lib.linalg.lu_factor(a).LU, [(2, 4, 4)]),
    "lu_factor_tall": (lambda lib, a: lib.linalg.lu_factor(a).LU, [(2, 5, 3)]),
    "lu_factor_wide": (lambda lib, a: lib.linalg.lu_factor(a).LU, [(3, 5)]),
    "lu_square": (lambda lib, a: lib.linalg.lu(a), [(2, 4, 4)]),
    "lu_tall": (lambda lib, a: lib.linalg.lu(a), [(5, 3)]),
    "lu_wide": (lambda lib, a: lib.linalg.lu(a), [(2, 3, 5)]),
    "lu_factor_ex": (lambda lib, a: lib.linalg.lu_factor_ex(a)[:1], [(3, 3)]),
    "lu_unpack": (lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)), [(2, 4, 3)]),
    "lu_solve": (lambda lib, a, b: _lu_solve(lib, a, b), [(2, 3, 3), (2, 3, 2)]),
    "lu_solve_adjoint": (lambda lib, a, b: _lu_solve(lib, a, b, adjoint=True), [(3, 3), (2, 3, 2)]),
    "lu_solve_right": (lambda lib, a, b: _lu_solve(lib, a, b, left=False), [(2, 3, 3), (2, 4, 3)]),
    "lu_solve_right_adjoint": (lambda lib, a, b: _lu_solve(lib, a, b, left=False, adjoint=True),
                               [(3, 3), (4, 3)]),
    "lu_solve_legacy": (lambda lib, a, b: lib.lu_solve(b, *lib.linalg.lu_factor(_well(lib, a))),
                        [(3, 3), (3, 2)]),
    "cholesky_ex": (lambda lib, a: lib.linalg.cholesky_ex(_spd(lib, a)), [(2, 3, 3)]),
    "inv_ex": (lambda lib, a: lib.linalg.inv_ex(_well(lib, a)), [(2, 3, 3)]),
    "solve_ex": (lambda lib, a, b: lib.linalg.solve_ex(_well(lib, a), b), [(2, 3, 3), (3,)]),
    "solve_ex_right": (lambda lib, a, b: lib.linalg.solve_ex(_well(lib, a), b, left=False), [(3, 3), (2, 3)]),
    "matrix_exp": (lambda lib, a: lib.linalg.matrix_exp(a), [(2, 4, 4)]),
    "matrix_exp_large_norm": (lambda lib, a: lib.matrix_exp(3 * a), [(3, 3)]),
    "matrix_exp_method_1x1": (lambda lib, a: a.matrix_exp(), [(2, 1, 1)]),
    "lstsq_tall": (lambda lib, a, b: lib.linalg.lstsq(a, b).solution, [(2, 5, 3), (2, 5, 2)]),
    "lstsq_wide_gelsd": (lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd")[:2], [(3, 5), (3, 2)]),
    "lstsq_gelss_residuals": (lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelss"), [(2, 5, 3), (2, 5, 2)]),
    "lstsq_gels_vector": (lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gels")[:2], [(2, 5, 3), (2, 5)]),
    "cond_2": (lambda lib, a: lib.linalg.cond(a), [(2, 4, 3)]),
    "cond_minus_2": (lambda lib, a: lib.linalg.cond(a, -2), [(3, 3)]),
    "cond_fro": (lambda lib, a: _cond(lib, a, "fro"), [(2, 3, 3)]),
    "cond_inf": (lambda lib, a: _cond(lib, a, math.inf), [(3, 3)]),
    "vecdot": (lambda lib, x, y: lib.linalg.vecdot(x, y, dim=0), [(3, 4), (3, 1)]),
    "tensorinv": (lambda lib, a: lib.linalg.tensorinv(_well(lib, a.reshape(6, 6)).reshape(2, 3, 6), ind=2),
                  [(6, 6)]),
    "tensorsolve": (lambda lib, a, b: lib.linalg.tensorsolve(_well(lib, a.reshape(6, 6)).reshape(2, 3, 3, 2), b),
                    [(6, 6), (2, 3)]),
    "tensorsolve_dims": (lambda lib, a, b: lib.linalg.tensorsolve(
        _well(lib, a.reshape(6, 6)).reshape(6, 2, 3), b, dims=(0,)), [(6, 6), (2, 3)]),
    "householder_product": (lambda lib, a, tau: lib.linalg.householder_product(a, tau), [(2, 5, 3), (2, 2)]),
    "diagonal": (lambda lib, a: lib.linalg.diagonal(a, offset=1), [(2, 3, 4)]),
    "vander": (lambda lib, x: lib.linalg.vander(x, N=4), [(2, 3)]),
    "adjoint_views": (lambda lib, a, b: (a.mH, a.adjoint(), b.H, lib.adjoint(a)), [(2, 3, 4), (3, 2)]),
    "ger_kron_methods": (lambda lib, x, y: (x.ger(y), x.kron(y)), [(3,), (2,)]),
}


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_torch(name):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal(s) for s in shapes])


def test_pivots_and_info_match_torch():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((3, 4, 4))
    data[1] = np.diag([1.0, 0.0, 1.0, 2.0])
    data[2, :, 1] = data[2, :, 0]
    ours, theirs = trainer.linalg.lu_factor_ex(trainer.tensor(data)), torch.linalg.lu_factor_ex(torch.tensor(data))
    for o, t in zip(ours, theirs):
        _assert_same(o, t, "lu_factor_ex")
    assert ours.pivots.dtype == trainer.int32 and ours.info.tolist() == [0, 2, 2]
    spd = data @ data.transpose(0, 2, 1) + 0.1 * np.eye(4)
    spd[1, 2, 2] = -1.0
    for ex in ("cholesky_ex", "inv_ex"):
        o, t = getattr(trainer.linalg, ex)(trainer.tensor(spd)), getattr(torch.linalg, ex)(torch.tensor(spd))
        assert o.info.tolist() == t.info.tolist(), ex
        np.testing.assert_allclose(o[0].numpy()[0], t[0].numpy()[0], rtol=1e-8, err_msg=ex)
    o = trainer.linalg.cholesky_ex(trainer.tensor(spd))
    t = torch.linalg.cholesky_ex(torch.tensor(spd))
    np.testing.assert_allclose(o.L.numpy(), t.L.numpy(), rtol=1e-10, atol=1e-12)


def test_lstsq_rank_deficient_matches_torch():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 5, 2)) @ rng.standard_normal((2, 2, 3))
    b = rng.standard_normal((2, 5, 2))
    for driver in ("gelsy", "gelsd"):
        o = trainer.linalg.lstsq(trainer.tensor(a), trainer.tensor(b), driver=driver)
        t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        np.testing.assert_allclose(o.solution.numpy(), t.solution.numpy(), rtol=1e-8, atol=1e-10)
        assert o.rank.tolist() == t.rank.tolist() == [2, 2]
        assert tuple(o.residuals.shape) == tuple(t.residuals.shape) == (0,)


def test_float32_and_empty_and_singular_results():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 3)).astype(np.float32)
    for fn in (lambda lib, x: lib.linalg.matrix_exp(x), lambda lib, x: lib.linalg.lu_factor(x).LU,
               lambda lib, x: lib.linalg.solve_triangular(x + 3 * lib.eye(3), x, upper=True)):
        o, t = fn(trainer, trainer.tensor(a)), fn(torch, torch.tensor(a))
        assert o.dtype == trainer.float32
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-5, atol=1e-5)
    empty = np.zeros((2, 0, 0))
    for fn in (lambda lib, x: lib.linalg.matrix_exp(x), lambda lib, x: lib.linalg.lu_factor(x).LU,
               lambda lib, x: lib.linalg.solve_triangular(x, x, upper=False), lambda lib, x: lib.linalg.inv_ex(x)[1]):
        assert tuple(fn(trainer, trainer.tensor(empty)).shape) == tuple(fn(torch, torch.tensor(empty)).shape)
    singular = np.diag([1.0, 0.0, 1.0])
    o = trainer.linalg.solve_triangular(trainer.tensor(singular), trainer.ones(3, 1, dtype=trainer.float64), upper=True)
    t = torch.linalg.solve_triangular(torch.tensor(singular), torch.ones(3, 1, dtype=torch.float64), upper=True)
    np.testing.assert_array_equal(np.isfinite(o.numpy()), np.isfinite(t.numpy()))


def test_linalg_error_is_a_runtime_error():
    assert issubclass(trainer.linalg.LinAlgError, RuntimeError)
    singular = [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]]
    for call, message in [
        (lambda lib: lib.linalg.inv(lib.tensor(singular)), r"linalg.inv: \(Batch element 1\): The diagonal element 2 is"
                                                             r" zero"),
        (lambda lib: lib.linalg.solve(lib.tensor(singular), lib.ones(2, 2)),
         r"torch.linalg.solve: \(Batch element 1\): The solver failed because the input matrix is singular"),
        (lambda lib: lib.linalg.cholesky(lib.tensor(singular)), "leading minor of order 2 is not positive-definite"),
        (lambda lib: lib.linalg.inv_ex(lib.tensor(singular), check_errors=True), "linalg.inv_ex: "),
        (lambda lib: lib.linalg.cholesky_ex(-lib.eye(2), check_errors=True), "order 1 is not positive-definite"),
    ]:
        with pytest.raises(torch.linalg.LinAlgError):
            call(torch)
        with pytest.raises(trainer.linalg.LinAlgError, match=message):
            call(trainer)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.linalg.lu_factor(lib.zeros(2, 2, dtype=lib.float64)), RuntimeError, r"U\[1,1\] is zero"),
    (lambda lib: lib.linalg.lu_factor(lib.eye(2), pivot=False), RuntimeError, "LU without pivoting"),
    (lambda lib: lib.linalg.solve_triangular(lib.ones(2, 3), lib.ones(2, 1), upper=True), RuntimeError,
     "square matrices"),
    (lambda lib: lib.linalg.solve_triangular(lib.eye(2), lib.ones(3, 1), upper=True), RuntimeError,
     "Incompatible shapes"),
    (lambda lib: lib.linalg.matrix_exp(lib.ones(2, 3)), RuntimeError, "square matrices"),
    (lambda lib: lib.linalg.inv_ex(lib.ones(2, 2, dtype=lib.int64)), RuntimeError, "floating point"),
    (lambda lib: lib.linalg.lstsq(lib.ones(3, 2), lib.ones(3, 1), driver="qr"), RuntimeError, "driver"),
    (lambda lib: lib.linalg.cond(lib.ones(2, 2), 3), RuntimeError, "invalid norm type: 3"),
    (lambda lib: lib.linalg.cond(lib.ones(2, 3), "fro"), RuntimeError, "square matrices"),
    (lambda lib: lib.linalg.vander(lib.ones(3), N=1), RuntimeError, "N must be greater than 1"),
    (lambda lib: lib.ones(2, 2, 2).H, RuntimeError, "consider using tensor.mH"),
    (lambda lib: lib.ones(3).mH, RuntimeError, "matrices or batches of matrices"),
    (lambda lib: lib.linalg.tensorinv(lib.ones(2, 3), ind=1), RuntimeError, "prod"),
])
def test_bad_input_raises_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)


