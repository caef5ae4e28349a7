"""The deprecated and removed linear algebra of the ``torch`` namespace (``torch.qr``, ``torch.cholesky``,
``torch.lu``, ``frobenius_norm``, ``nuclear_norm``; ``torch.solve`` and the other removed functions) against
PyTorch: values, gradients, warnings and errors."""

import re
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch
from trainer import legacy_linalg

# the deprecation warnings themselves are checked below; elsewhere they are expected noise from both libraries
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated.*:UserWarning")


def _matrices(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _spd(lib, a):
    """A symmetric positive-definite batch made differentiably from ``a``."""
    n = a.shape[-1]
    return a @ a.transpose(-2, -1) + n * lib.eye(n, dtype=lib.float64)


@pytest.mark.parametrize("shape,some", [((4, 3), True), ((3, 3), False), ((2, 3, 3), True)])
def test_qr_matches_torch(shape, some):
    assert_forward_and_gradients_match_torch(lambda lib, a: tuple(lib.qr(a, some)), [_matrices(*shape)])


@pytest.mark.parametrize("shape,some", [((4, 2), False), ((2, 4), False), ((2, 4), True)])
def test_qr_values_of_rectangular_matrices_match_torch(shape, some):
    """Values only: trainer.linalg.qr differentiates tall matrices in the reduced mode, as these are not."""
    a = _matrices(*shape, seed=7)
    (q, r), (tq, tr) = trainer.qr(trainer.tensor(a), some), torch.qr(torch.tensor(a), some)
    assert tuple(q.shape) == tuple(tq.shape) and tuple(r.shape) == tuple(tr.shape)
    np.testing.assert_allclose(q.numpy(), tq.numpy(), atol=1e-12)
    np.testing.assert_allclose(r.numpy(), tr.numpy(), atol=1e-12)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_matches_torch(upper):
    assert_forward_and_gradients_match_torch(lambda lib, a: lib.cholesky(_spd(lib, a), upper),
                                             [_matrices(2, 3, 3, seed=1)])


def test_tensor_cholesky_and_qr_methods_match_torch():
    assert_forward_and_gradients_match_torch(lambda lib, a: _spd(lib, a).cholesky(upper=True), [_matrices(3, 3)])
    assert_forward_and_gradients_match_torch(lambda lib, a: tuple(a.qr(some=False)), [_matrices(3, 3, seed=2)])


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (3, 5), (5, 3)])
def test_lu_matches_torch(shape):
    a = _matrices(*shape, seed=3)
    assert_forward_and_gradients_match_torch(lambda lib, x: lib.lu(x)[0], [a])
    ours, theirs = trainer.lu(trainer.tensor(a)), torch.lu(torch.tensor(a))
    assert isinstance(ours, tuple) and len(ours) == 2
    assert ours[1].dtype == trainer.int32 and ours[1].tolist() == theirs[1].tolist()


def test_lu_get_infos_reports_a_singular_matrix_without_raising():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    lu_data, pivots, info = trainer.lu(trainer.tensor(singular), get_infos=True)
    t_lu, t_pivots, t_info = torch.lu(torch.tensor(singular), get_infos=True)
    np.testing.assert_allclose(lu_data.numpy(), t_lu.numpy())
    assert pivots.tolist() == t_pivots.tolist() and info.tolist() == t_info.tolist() == 2
    assert trainer.lu(trainer.zeros(3, 3))[1].tolist() == [1, 2, 3]  # no error without get_infos either
    x = trainer.tensor(_matrices(2, 3, 3))
    assert x.lu(get_infos=True).info.tolist() == [0, 0]


@pytest.mark.parametrize("dim,keepdim", [((0, 1), False), ((-1, -2), True), (1, False), ((), True), ([0], True)])
def test_frobenius_norm_matches_torch(dim, keepdim):
    assert_forward_and_gradients_match_torch(lambda lib, a: lib.frobenius_norm(a, dim, keepdim),
                                             [_matrices(3, 4, seed=4)])


@pytest.mark.parametrize("call", [
    lambda lib, a: lib.nuclear_norm(a),
    lambda lib, a: lib.nuclear_norm(a, True),
    lambda lib, a: lib.nuclear_norm(a, keepdim=True),
    lambda lib, a: lib.nuclear_norm(a, (0, 2)),
    lambda lib, a: lib.nuclear_norm(a, [2, 1], keepdim=True),
])
def test_nuclear_norm_matches_torch(call):
    assert_forward_and_gradients_match_torch(call, [_matrices(2, 4, 3, seed=5)])


@pytest.mark.parametrize("call,error,message", [
    (lambda lib: lib.cholesky(lib.ones(2, 3, dtype=lib.float64)), RuntimeError,
     "cholesky: A must be batches of square matrices, but they are 2 by 3 matrices"),
    (lambda lib: lib.lu(lib.ones(3, dtype=lib.float64)), RuntimeError,
     r"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: \[3\] instead"),
    (lambda lib: lib.lu(lib.eye(3, dtype=lib.float64), pivot=False), RuntimeError,
     "LU without pivoting is not implemented on the CPU"),
    (lambda lib: lib.frobenius_norm(lib.ones(2, 2, 2), (0, 1, 2)), RuntimeError,
     "Expected at most 2 dimensions, but got 3 dimensions instead."),
    (lambda lib: lib.nuclear_norm(lib.ones(3, 3), 0), RuntimeError, r"dims must be different. Got \(0, 0\)"),
    (lambda lib: lib.nuclear_norm(lib.ones(3, 3, 3), (0, 1, 2)), RuntimeError, "dim must be a 2-tuple. Got 0 1 2"),
])
def test_bad_arguments_raise_like_torch(call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(call, error, message)


def test_not_positive_definite_raises_a_linalg_error():
    with pytest.raises(torch.linalg.LinAlgError):
        torch.cholesky(-torch.eye(2, dtype=torch.float64))
    with pytest.raises(trainer.linalg.LinAlgError, match="not positive-definite"):
        trainer.cholesky(-trainer.eye(2, dtype=trainer.float64))


def _messages(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.category, str(w.message)) for w in caught]


def _without_source_location(message: str) -> str:
    return re.sub(r" \(Triggered internally at .*\)$", "", message, flags=re.S)


@pytest.mark.parametrize("name,call", [
    ("qr", lambda lib, a: lib.qr(a)),
    ("cholesky", lambda lib, a: lib.cholesky(_spd(lib, a))),
    ("lu", lambda lib, a: lib.lu(a)),
    ("frobenius_norm", lambda lib, a: lib.frobenius_norm(a, (0, 1))),
    ("nuclear_norm", lambda lib, a: lib.nuclear_norm(a)),
])
def test_deprecation_warnings_match_torch(monkeypatch, name, call):
    monkeypatch.setattr(legacy_linalg, "_warned", set())
    a = _matrices(3, 3, seed=6)
    torch.set_warn_always(True)  # PyTorch warns once per process; this test may not be the first call
    try:
        theirs = _messages(lambda: call(torch, torch.tensor(a)))
    finally:
        torch.set_warn_always(False)
    ours = _messages(lambda: call(trainer, trainer.tensor(a)))
    assert len(theirs) == len(ours) == 1
    assert ours[0][0] is theirs[0][0] is UserWarning
    assert ours[0][1] == _without_source_location(theirs[0][1])
    assert name in ours[0][1]


def test_deprecation_warning_is_given_once_unless_warn_always(monkeypatch):
    monkeypatch.setattr(legacy_linalg, "_warned", set())
    a = trainer.tensor(_matrices(3, 3))
    assert len(_messages(lambda: (trainer.qr(a), a.qr(), trainer.qr(a, some=False)))) == 1
    assert len(_messages(lambda: trainer.lu(a))) == 1  # each function warns once on its own
    trainer.set_warn_always(True)
    try:
        assert len(_messages(lambda: (trainer.qr(a), a.qr()))) == 2
    finally:
        trainer.set_warn_always(False)


REMOVED = [
    ("matrix_rank", lambda lib, a: lib.matrix_rank(a)),
    ("symeig", lambda lib, a: lib.symeig(a, eigenvectors=True)),
    ("eig", lambda lib, a: lib.eig(a)),
    ("lstsq", lambda lib, a: lib.lstsq(a, a)),
    ("solve", lambda lib, a: lib.solve(a, a)),
    ("Tensor.symeig", lambda lib, a: a.symeig()),
    ("Tensor.eig", lambda lib, a: a.eig(True)),
    ("Tensor.lstsq", lambda lib, a: a.lstsq(a)),
    ("Tensor.solve", lambda lib, a: a.solve(a)),
]


@pytest.mark.parametrize("name,call", REMOVED, ids=[name for name, _ in REMOVED])
def test_removed_functions_raise_torchs_message(name, call):
    a = _matrices(3, 3)
    with pytest.raises(RuntimeError) as theirs:
        call(torch, torch.tensor(a))
    with pytest.raises(RuntimeError) as ours:
        call(trainer, trainer.tensor(a))
    assert str(ours.value) == str(theirs.value)
    assert "linalg" in str(ours.value)  # it names the function to call instead
