"""``linalg.ldl_factor``, ``ldl_factor_ex`` and ``ldl_solve`` against PyTorch (Bunch-Kaufman's ``LD`` and pivots,
the solutions, ``info``, batches, errors, no derivative), and ``torch.geqrf``, ``orgqr`` and ``ormqr`` (values,
gradients where PyTorch has them, and batch shapes that must raise rather than broadcast)."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(0)


def _symmetric(*shape):
    a = RNG.standard_normal(shape)
    return a + np.swapaxes(a, -1, -2)


def _pivoting_cases():
    """Matrices that take each branch of the pivot choice: 1x1 without and with a swap, 2x2 blocks, zero columns."""
    zero_diagonal = _symmetric(6, 6)
    np.fill_diagonal(zero_diagonal, 0.0)
    small_diagonal = _symmetric(7, 7)
    small_diagonal[np.diag_indices(7)] *= 1e-3
    return [
        _symmetric(1, 1), _symmetric(2, 2), _symmetric(5, 5), zero_diagonal, small_diagonal,
        np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]]),
        np.array([[1.0, 2.0], [2.0, 4.0]]),  # singular: D's second entry is zero
        np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]),  # a zero column in the middle
        np.diag([3.0, -1.0, 2.0]),
        np.array([[0.0, 0.0], [0.0, 0.0]]),
    ]


@pytest.mark.parametrize("index", range(10))
def test_factors_and_info_match_torch(index):
    a = _pivoting_cases()[index]
    ours = trainer.linalg.ldl_factor_ex(trainer.tensor(a))
    theirs = torch.linalg.ldl_factor_ex(torch.tensor(a))
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    assert ours.pivots.dtype == trainer.int32
    np.testing.assert_allclose(ours.LD.numpy(), theirs.LD.numpy(), rtol=1e-12, atol=1e-12)
    assert int(ours.info.item()) == int(theirs.info.item())


def test_many_random_matrices_pivot_as_lapack():
    for n in [*range(1, 9)] * 8 + [40]:
        a = _symmetric(n, n)
        a[RNG.integers(0, n, size=n // 2), RNG.integers(0, n, size=n // 2)] = 0.0  # sparser: more 2x2 blocks
        ours, theirs = trainer.linalg.ldl_factor_ex(trainer.tensor(a)), torch.linalg.ldl_factor_ex(torch.tensor(a))
        np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
        np.testing.assert_allclose(ours.LD.numpy(), theirs.LD.numpy(), rtol=1e-9, atol=1e-9)


def test_only_the_lower_triangle_is_read_and_hermitian_changes_nothing_for_real_input():
    a = RNG.standard_normal((4, 4))
    ours = trainer.linalg.ldl_factor(trainer.tensor(a), hermitian=True)
    theirs = torch.linalg.ldl_factor(torch.tensor(a), hermitian=True)
    np.testing.assert_allclose(ours.LD.numpy(), theirs.LD.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    assert np.all(np.triu(ours.LD.numpy(), 1) == 0)


def test_batches_are_factored_matrix_by_matrix():
    a = _symmetric(3, 2, 5, 5)
    a[1, 0] = 0.0  # one singular matrix in the batch
    ours, theirs = trainer.linalg.ldl_factor_ex(trainer.tensor(a)), torch.linalg.ldl_factor_ex(torch.tensor(a))
    assert tuple(ours.LD.shape) == (3, 2, 5, 5) and tuple(ours.pivots.shape) == (3, 2, 5)
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_allclose(ours.LD.numpy(), theirs.LD.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match=r"\(Batch element 2\): .*D\[1,1\] is zero"):
        trainer.linalg.ldl_factor(trainer.tensor(a))


def test_float32_stays_float32():
    a = _symmetric(6, 6).astype(np.float32)
    ours, theirs = trainer.linalg.ldl_factor(trainer.tensor(a)), torch.linalg.ldl_factor(torch.tensor(a))
    assert ours.LD.dtype == trainer.float32
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_allclose(ours.LD.numpy(), theirs.LD.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("a_batch", "b_batch"), [((), ()), ((3,), ()), ((), (2, 3)), ((2, 1), (3,)), ((4,), (4,))])
def test_solve_solves_and_matches_torch(a_batch, b_batch):
    a = _symmetric(*a_batch, 6, 6)
    a[..., :3, :3] *= 0.0  # indefinite, with 2x2 blocks
    a += np.eye(6) * 1e-3
    b = RNG.standard_normal((*b_batch, 6, 3))
    ld, pivots = trainer.linalg.ldl_factor(trainer.tensor(a))
    x = trainer.linalg.ldl_solve(ld, pivots, trainer.tensor(b))
    # torch 2.13 crashes when both batches need broadcasting, so its reference gets them already broadcast
    batch = np.broadcast_shapes(a_batch, b_batch)
    ld_t, pivots_t = torch.linalg.ldl_factor(torch.tensor(np.broadcast_to(a, (*batch, 6, 6)).copy()))
    x_t = torch.linalg.ldl_solve(ld_t, pivots_t, torch.tensor(np.broadcast_to(b, (*batch, 6, 3)).copy()))
    assert tuple(x.shape) == tuple(x_t.shape)
    np.testing.assert_allclose(x.numpy(), x_t.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a @ x.numpy(), np.broadcast_to(b, x.shape), atol=1e-9)


@pytest.mark.parametrize(("a_shape", "b_shape"), [((0, 0), (0, 2)), ((2, 0, 0), (2, 0, 1)), ((0, 3, 3), (0, 3, 2)),
                                                  ((3, 3), (3, 0))])
def test_empty_shapes_are_torchs(a_shape, b_shape):
    def run(lib):
        ld, pivots, info = lib.linalg.ldl_factor_ex(lib.zeros(a_shape, dtype=lib.float64) + lib.eye(a_shape[-1]))
        return ld, pivots, info, lib.linalg.ldl_solve(ld, pivots, lib.zeros(b_shape, dtype=lib.float64))

    for ours, theirs in zip(run(trainer), run(torch)):
        assert tuple(ours.shape) == tuple(theirs.shape)


def test_solve_accepts_int64_pivots_as_torch_does():
    a, b = _symmetric(4, 4), RNG.standard_normal((4, 2))
    ld, pivots = trainer.linalg.ldl_factor(trainer.tensor(a))
    x = trainer.linalg.ldl_solve(ld, pivots.long(), trainer.tensor(b))
    np.testing.assert_allclose(a @ x.numpy(), b, atol=1e-10)


def test_not_differentiable_as_in_pytorch():
    a, b = _symmetric(3, 3), RNG.standard_normal((3, 2))

    def factor(lib):
        ld, _ = lib.linalg.ldl_factor(lib.tensor(a, requires_grad=True))
        assert ld.requires_grad
        ld.sum().backward()

    def solve(lib):
        ld, pivots = lib.linalg.ldl_factor(lib.tensor(a))
        x = lib.linalg.ldl_solve(ld, pivots, lib.tensor(b, requires_grad=True))
        assert x.requires_grad
        x.sum().backward()

    assert_raises_like_torch(factor, RuntimeError, "derivative for aten::linalg_ldl_factor_ex is not implemented")
    assert_raises_like_torch(solve, RuntimeError, "derivative for aten::linalg_ldl_solve is not implemented")
    assert not trainer.linalg.ldl_factor(trainer.tensor(a, requires_grad=True)).pivots.requires_grad


def _factors(lib, n=5, batch=()):
    a = lib.tensor(_symmetric(*batch, n, n))
    return lib.linalg.ldl_factor(a)


LDL_ERRORS = {
    "vector": (lambda lib: lib.linalg.ldl_factor(lib.ones(3)), RuntimeError, "at least 2 dimensions"),
    "not square": (lambda lib: lib.linalg.ldl_factor(lib.ones(3, 4)), RuntimeError, "3 by 4"),
    "integers": (lambda lib: lib.linalg.ldl_factor_ex(lib.ones(3, 3, dtype=lib.int64)), RuntimeError,
                 "floating point"),
    "singular": (lambda lib: lib.linalg.ldl_factor(lib.zeros(3, 3)), RuntimeError, r"D\[1,1\] is zero"),
    "singular checked": (lambda lib: lib.linalg.ldl_factor_ex(lib.zeros(2, 3, 3), check_errors=True), RuntimeError,
                         r"\(Batch element 0\)"),
    "rows of b": (lambda lib: lib.linalg.ldl_solve(*_factors(lib), lib.ones(4, 2, dtype=lib.float64)),
                  RuntimeError, "each A matrix is 5 by 5 but each b matrix is 4 by 2"),
    "b a vector": (lambda lib: lib.linalg.ldl_solve(*_factors(lib), lib.ones(5, dtype=lib.float64)), IndexError,
                   "Dimension out of range"),
    "b's dtype": (lambda lib: lib.linalg.ldl_solve(*_factors(lib), lib.ones(5, 2)), RuntimeError, "same dtype"),
    "pivots' shape": (lambda lib: lib.linalg.ldl_solve(_factors(lib)[0], _factors(lib)[1][:3],
                                                       lib.ones(5, 2, dtype=lib.float64)), RuntimeError,
                      r"pivots with shape \[3\]"),
    "LD not square": (lambda lib: lib.linalg.ldl_solve(_factors(lib)[0][:, :4], _factors(lib)[1],
                                                       lib.ones(5, 2, dtype=lib.float64)), RuntimeError, "5 by 4"),
    "batches": (lambda lib: lib.linalg.ldl_solve(*_factors(lib, batch=(3,)), lib.ones(2, 5, 2, dtype=lib.float64)),
                RuntimeError, "must match"),
}


@pytest.mark.parametrize("case", LDL_ERRORS, ids=list(LDL_ERRORS))
def test_ldl_errors_are_pytorchs(case):
    assert_raises_like_torch(*LDL_ERRORS[case])


# ---------------------------------------------------------------- geqrf, orgqr, ormqr


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 3, 6, 4), (0, 3), (2, 0, 3)])
def test_geqrf_matches_torch_on_batches(shape):
    a = RNG.standard_normal(shape)
    ours, theirs = trainer.geqrf(trainer.tensor(a)), torch.geqrf(torch.tensor(a))
    for mine, reference in ((ours.a, theirs.a), (ours.tau, theirs.tau)):
        assert tuple(mine.shape) == tuple(reference.shape)
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trainer.tensor(a).geqrf()[0].numpy(), theirs.a.numpy(), rtol=1e-12, atol=1e-12)


def test_geqrf_has_no_derivative_and_checks_its_input():
    assert_raises_like_torch(lambda lib: lib.geqrf(lib.ones(3, 2, requires_grad=True)).a.sum().backward(),
                             NotImplementedError, "the derivative for 'geqrf' is not implemented")
    assert_raises_like_torch(lambda lib: lib.geqrf(lib.ones(3)), RuntimeError, "at least 2 dimensions")
    assert_raises_like_torch(lambda lib: lib.geqrf(lib.ones(3, 3, dtype=lib.int64)), NotImplementedError,
                             "not implemented for")


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 6, 3)])
def test_orgqr_of_geqrf_is_q_with_its_gradients(shape):
    a = RNG.standard_normal(shape)
    packed, tau = (t.numpy() for t in torch.geqrf(torch.tensor(a)))
    assert_forward_and_gradients_match_torch(lambda lib, p, t: lib.orgqr(p, t), [packed, tau])
    assert_forward_and_gradients_match_torch(lambda lib, p, t: p.orgqr(t), [packed, tau])


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize(("shape", "other"), [((5, 3), (5, 2)), ((3, 5), (3, 4)), ((2, 4, 4), (2, 4, 3))])
def test_ormqr_values_and_gradients_match_torch(left, transpose, shape, other):
    a = RNG.standard_normal(shape)
    tau = RNG.standard_normal((*shape[:-2], min(shape[-2:])))
    c = RNG.standard_normal(other if left else (*other[:-2], other[-1], other[-2]))
    assert_forward_and_gradients_match_torch(lambda lib, a, t, c: lib.ormqr(a, t, c, left, transpose), [a, tau, c])
    assert_forward_and_gradients_match_torch(lambda lib, a, t, c: a.ormqr(t, c, left=left, transpose=transpose),
                                             [a, tau, c])


def _qr_inputs(lib, batch=(2,), tau_batch=(2,), other_batch=(2,), dtype="float64"):
    return (lib.ones(*batch, 5, 3, dtype=lib.float64), lib.ones(*tau_batch, 3, dtype=getattr(lib, dtype)),
            lib.ones(*other_batch, 5, 2, dtype=lib.float64))


QR_ERRORS = {
    # batches that would broadcast must raise: the reflectors of one matrix never apply to another
    "ormqr tau batch 1": (lambda lib: lib.ormqr(*_qr_inputs(lib, tau_batch=(1,))), "batch dimensions of tau"),
    "ormqr tau batch 3": (lambda lib: lib.ormqr(*_qr_inputs(lib, tau_batch=(3,))), "batch dimensions of tau"),
    "ormqr other batch 1": (lambda lib: lib.ormqr(*_qr_inputs(lib, other_batch=(1,))), "batch dimensions of other"),
    "ormqr input batch 1": (lambda lib: lib.ormqr(*_qr_inputs(lib, batch=(1,))), "batch dimensions of tau"),
    "ormqr other ndim": (lambda lib: lib.ormqr(*_qr_inputs(lib, other_batch=(1, 2))), "same number of dimensions"),
    "ormqr tau ndim": (lambda lib: lib.ormqr(*_qr_inputs(lib, tau_batch=(1, 2))), "one dimension less"),
    "ormqr tau dtype": (lambda lib: lib.ormqr(*_qr_inputs(lib, dtype="float32")), "same dtype"),
    "ormqr rows": (lambda lib: lib.ormqr(*_qr_inputs(lib)[:2], lib.ones(2, 4, 2, dtype=lib.float64)),
                   r"other.shape\[-2\] must be equal to input.shape\[-2\]"),
    "ormqr right cols": (lambda lib: lib.ormqr(*_qr_inputs(lib), left=False),
                         r"other.shape\[-1\] must be equal to input.shape\[-2\]"),
    "ormqr short tau": (lambda lib: lib.ormqr(_qr_inputs(lib)[0], lib.ones(2, 2, dtype=lib.float64),
                                              _qr_inputs(lib)[2]), r"tau.shape\[-1\] must be equal to min"),
    "ormqr vector": (lambda lib: lib.ormqr(lib.ones(5), lib.ones(1), lib.ones(5, 2)), "at least 2 dimensions"),
    "orgqr tau batch 1": (lambda lib: lib.orgqr(*_qr_inputs(lib, tau_batch=(1,))[:2]), "tau"),
    "householder_product input batch 1": (
        lambda lib: lib.linalg.householder_product(*_qr_inputs(lib, batch=(1,))[:2]), "tau"),
}


@pytest.mark.parametrize("case", QR_ERRORS, ids=list(QR_ERRORS))
def test_qr_errors_are_pytorchs(case):
    call, message = QR_ERRORS[case]
    assert_raises_like_torch(call, RuntimeError, message)
