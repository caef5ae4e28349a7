"""``trainer.autograd.forward_ad`` against ``torch.autograd.forward_ad``: tangents of composite functions, what
``unpack_dual`` returns, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(7)


def _normal(*shape):
    return RNG.standard_normal(shape)


def _dual_outputs(lib, fn, primals, tangents, consts=()):
    """``fn(lib, *duals, *consts)`` inside a level: each output's primal and tangent as arrays (None for none)."""
    fwad = lib.autograd.forward_ad
    with fwad.dual_level():
        duals = [fwad.make_dual(lib.tensor(p), lib.tensor(t)) for p, t in zip(primals, tangents)]
        outs = fn(lib, *duals, *[lib.tensor(c) for c in consts])
        unpacked = [fwad.unpack_dual(out) for out in (outs if isinstance(outs, tuple) else (outs,))]
        return [(p.detach().numpy(), None if t is None else t.detach().numpy()) for p, t in unpacked]


def _assert_tangents_match_torch(fn, primals, tangents, consts=()):
    ours = _dual_outputs(trainer, fn, primals, tangents, consts)
    theirs = _dual_outputs(torch, fn, primals, tangents, consts)
    assert len(ours) == len(theirs)
    for (op, ot), (tp, tt) in zip(ours, theirs):
        np.testing.assert_allclose(op, tp, rtol=1e-10, atol=1e-12)
        assert (ot is None) == (tt is None)
        if tt is not None:
            np.testing.assert_allclose(ot, tt, rtol=1e-9, atol=1e-12)


def _mlp(lib, x, w1, b1, w2, b2):
    hidden = lib.nn.functional.gelu(lib.nn.functional.linear(x, w1, b1))
    return lib.nn.functional.linear(hidden, w2, b2).tanh()


CASES = {
    "composite": (lambda lib, x: (x.sin() * x.exp()).logsumexp(dim=1) / (1 + x.square().sum()), [(3, 4)]),
    "matmul": (lambda lib, a, b: a @ b, [(3, 4), (4, 5)]),
    "softmax": (lambda lib, x: lib.softmax(x * 2, dim=-1), [(2, 6)]),
    "conv": (lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1, stride=2).relu(),
             [(2, 3, 6, 6), (4, 3, 3, 3)]),
    "views": (lambda lib, x: (x[1:, ::2].t().reshape(-1) * x[0, :2].repeat(2)).cumsum(0), [(3, 4)]),
    "two_outputs": (lambda lib, x, y: (x * y, (x / y.exp()).mean()), [(5,), (5,)]),
    "mlp_all_dual": (_mlp, [(4, 3), (8, 3), (8,), (2, 8), (2,)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tangents_match_torch(name):
    fn, shapes = CASES[name]
    _assert_tangents_match_torch(fn, [_normal(*s) for s in shapes], [_normal(*s) for s in shapes])


def test_mlp_tangent_with_respect_to_the_input_only():
    weights = [_normal(8, 3), _normal(8), _normal(2, 8), _normal(2)]
    _assert_tangents_match_torch(_mlp, [_normal(4, 3)], [_normal(4, 3)], consts=weights)


def test_module_on_a_dual_input_matches_torch_and_keeps_its_parameters_differentiable():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    ours = trainer.nn.Sequential(trainer.nn.Linear(3, 5), trainer.nn.Tanh(), trainer.nn.Linear(5, 2)).double()
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x, v = _normal(4, 3), _normal(4, 3)
    results = []
    for lib, model in ((torch, theirs), (trainer, ours)):
        fwad = lib.autograd.forward_ad
        with fwad.dual_level():
            primal, tangent = fwad.unpack_dual(model(fwad.make_dual(lib.tensor(x), lib.tensor(v))))
            assert primal.requires_grad and tangent.requires_grad
            results.append((primal.detach().numpy(), tangent.detach().numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10)


def test_unpack_of_a_dual_returns_its_tangent_and_a_primal_that_needs_no_grad():
    fwad = trainer.autograd.forward_ad
    x, tangent = trainer.tensor(_normal(3)), trainer.tensor(_normal(3), dtype=trainer.float32)
    with fwad.dual_level() as level:
        assert level == 0
        dual = fwad.make_dual(x, tangent)  # a tangent of another floating dtype is accepted, as in PyTorch
        unpacked = fwad.unpack_dual(dual)
        assert isinstance(unpacked, fwad.UnpackedDualTensor)
        assert unpacked.tangent is tangent
        assert not unpacked.primal.requires_grad
        assert np.array_equal(unpacked.primal.numpy(), x.numpy())
        doubled = fwad.unpack_dual(dual * 2)
        assert doubled.tangent.dtype == trainer.float64
        np.testing.assert_allclose(doubled.tangent.numpy(), 2 * tangent.numpy().astype(np.float64))
    assert fwad.unpack_dual(dual).tangent is None


def test_tensors_without_tangent():
    def outputs(lib):
        fwad = lib.autograd.forward_ad
        x = lib.tensor(_normal(4), requires_grad=True)
        with fwad.dual_level():
            dual = fwad.make_dual(lib.tensor([0.5, -1.5, 2.5, 3.0], dtype=lib.float64), lib.ones(4, dtype=lib.float64))
            found = [fwad.unpack_dual(t).tangent for t in (x * 2, dual > 0, dual.long(), dual.detach(),
                                                            lib.ones(2) * 3)]
            rounded = fwad.unpack_dual(dual.round() + dual * 0).tangent
        after = fwad.unpack_dual(dual * 2).tangent
        return found + [after], rounded

    for found, rounded in (outputs(torch), outputs(trainer)):
        assert found == [None] * 6
        assert rounded.tolist() == [0.0] * 4


def test_in_place_change_of_a_dual_updates_its_tangent():
    x, v = _normal(3), _normal(3)

    def fn(lib, d):
        d.mul_(3)
        d[1:].add_(2)
        return d.sin()

    _assert_tangents_match_torch(fn, [x], [v])


def test_backward_through_a_dual_reaches_the_primal():
    x, v = _normal(3), _normal(3)
    grads, tangent_grads = [], []
    for lib in (torch, trainer):
        fwad = lib.autograd.forward_ad
        primal = lib.tensor(x, requires_grad=True)
        with fwad.dual_level():
            out = fwad.make_dual(primal, lib.tensor(v)).exp()
            _, tangent = fwad.unpack_dual(out)
            tangent.sum().backward(retain_graph=True)  # d/dx of exp(x) * v
            tangent_grads.append(primal.grad.numpy().copy())
            primal.grad = None
            out.sum().backward()
        grads.append(primal.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
    np.testing.assert_allclose(tangent_grads[1], tangent_grads[0], rtol=1e-12)


@pytest.mark.parametrize("lib", [torch, trainer], ids=["torch", "trainer"])
def test_dual_level_as_a_decorator(lib):
    fwad = lib.autograd.forward_ad

    @fwad.dual_level()
    def tangent_of_square(x, v):
        return fwad.unpack_dual(fwad.make_dual(x, v) ** 2).tangent

    assert tangent_of_square(lib.tensor([3.0]), lib.tensor([1.0])).tolist() == [6.0]
    assert fwad.unpack_dual(lib.ones(1)).tangent is None


def _in_level(body):
    def call(lib):
        with lib.autograd.forward_ad.dual_level():
            body(lib, lib.autograd.forward_ad)

    return call


X = _normal(3)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.autograd.forward_ad.make_dual(lib.tensor(X), lib.tensor(X)), RuntimeError, "no level exists"),
    (_in_level(lambda lib, fwad: fwad.enter_dual_level()), RuntimeError, "Nested forward mode AD is not supported"),
    (lambda lib: lib.autograd.forward_ad.exit_dual_level(), RuntimeError, "Dual level must be a positive number"),
    (_in_level(lambda lib, fwad: fwad.exit_dual_level(level=2)), RuntimeError, "not the last one that was created"),
    (_in_level(lambda lib, fwad: fwad.make_dual(lib.tensor(X), lib.zeros(4, dtype=lib.float64))), RuntimeError,
     r"different size .* Tensor is of size \[3\] while the given forward gradient is of size \[4\]"),
    (_in_level(lambda lib, fwad: fwad.make_dual(lib.arange(3), lib.tensor(X))), ValueError,
     "Expected primal to be floating point or complex, but got: [a-z]+.int64"),
    (_in_level(lambda lib, fwad: fwad.make_dual(lib.tensor(X), lib.arange(3))), ValueError,
     "Expected tangent to be floating point or complex, but got: [a-z]+.int64"),
    (_in_level(lambda lib, fwad: fwad.make_dual(fwad.make_dual(lib.tensor(X), lib.tensor(X)).sin(), lib.tensor(X))),
     RuntimeError, "already has a forward gradient at the same level 0"),
    (_in_level(lambda lib, fwad: fwad.make_dual(lib.tensor(X), lib.tensor(X), level=3)), RuntimeError,
     "Invalid level given to _make_dual"),
    (_in_level(lambda lib, fwad: fwad.unpack_dual(fwad.make_dual(lib.tensor(X), lib.tensor(X)), level=3)),
     RuntimeError,
     "Invalid level given to _fw_primal"),
    (_in_level(lambda lib, fwad: fwad.unpack_dual(3.0)), TypeError, "must be Tensor, not float"),
])
def test_errors_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
    assert trainer.autograd.forward_ad.unpack_dual(trainer.ones(1)).tangent is None  # no level left open


def test_a_tensor_without_tangent_unpacks_at_any_level():
    for lib in (torch, trainer):
        fwad = lib.autograd.forward_ad
        x = lib.tensor(X)
        with fwad.dual_level():
            dual = fwad.make_dual(x, lib.tensor(X))
            assert fwad.unpack_dual(x, level=3).tangent is None
            assert fwad.unpack_dual(dual, level=-1).tangent is None
        assert fwad.unpack_dual(dual, level=0).tangent is None
