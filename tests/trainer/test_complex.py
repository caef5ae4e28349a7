"""Complex tensors against PyTorch: values and gradients (PyTorch's conjugate Wirtinger convention) of the core ops
on complex128 inputs, the complex-only functions, the errors of ops that cannot order complex numbers, creation,
conversion, saving, and optimizers on complex parameters."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(7)


def _complex(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _numpy(t):
    return t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _assert_same(ours, theirs, what):
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), f"{what}: dtype {ours.dtype} vs {theirs.dtype}"
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=1e-10, atol=1e-12, err_msg=what)


def assert_complex_parity(fn, arrays):
    """``fn(lib, *inputs)`` in both libraries: the same output, and the same gradient of every input for a random
    (complex where the output is complex) upstream gradient."""
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_in = [trainer.tensor(a, requires_grad=True) for a in arrays]
    theirs, ours = fn(torch, *theirs_in), fn(trainer, *ours_in)
    _assert_same(ours, theirs, "output")
    upstream = RNG.standard_normal(tuple(theirs.shape))
    if theirs.is_complex():
        upstream = upstream + 1j * RNG.standard_normal(tuple(theirs.shape))
    theirs_grads = torch.autograd.grad(theirs, theirs_in, torch.tensor(upstream), allow_unused=True)
    ours_grads = trainer.autograd.grad(ours, ours_in, trainer.tensor(upstream), allow_unused=True)
    for i, (o, t) in enumerate(zip(ours_grads, theirs_grads)):
        assert (o is None) == (t is None), f"grad of input {i}"
        if t is not None:
            _assert_same(o, t, f"grad of input {i}")


A, B, R = _complex(3, 4), _complex(3, 4), RNG.standard_normal((3, 4))
MASK = RNG.standard_normal((3, 4)) > 0

CASES = {
    "add": (lambda lib, a, b: a + b, [A, B]),
    "add_real_operand": (lambda lib, a, r: a + r * 2, [A, R]),
    "sub": (lambda lib, a, b: a - b, [A, B]),
    "mul": (lambda lib, a, b: a * b, [A, B]),
    "mul_real_operand": (lambda lib, a, r: a * r, [A, R]),
    "mul_complex_scalar": (lambda lib, a: a * (2 - 3j), [A]),
    "div": (lambda lib, a, b: a / b, [A, B]),
    "div_real_numerator": (lambda lib, r, b: r / b, [R, B]),
    "neg": (lambda lib, a: -a, [A]),
    "reciprocal": (lambda lib, a: a.reciprocal(), [A]),
    "pow_int": (lambda lib, a: a**3, [A]),
    "pow_real": (lambda lib, a: a**2.5, [A]),
    "exp": (lambda lib, a: lib.exp(a), [A]),
    "log": (lambda lib, a: lib.log(a), [A]),
    "sqrt": (lambda lib, a: lib.sqrt(a), [A]),
    "sin": (lambda lib, a: lib.sin(a), [A]),
    "cos": (lambda lib, a: lib.cos(a), [A]),
    "tanh": (lambda lib, a: lib.tanh(a), [A]),
    "sigmoid": (lambda lib, a: lib.sigmoid(a), [A]),
    "sinh": (lambda lib, a: lib.sinh(a), [A]),
    "sum": (lambda lib, a: a.sum(0), [A]),
    "mean": (lambda lib, a: a.mean(1), [A]),
    "prod_dim": (lambda lib, a: a.prod(1), [A]),
    "prod_all": (lambda lib, a: a.prod(), [A]),
    "matmul": (lambda lib, a, b: a @ b, [_complex(3, 4), _complex(4, 2)]),
    "matmul_vector": (lambda lib, a, b: a @ b, [_complex(3, 4), _complex(4)]),
    "mm": (lambda lib, a, b: lib.mm(a, b), [_complex(2, 3), _complex(3, 2)]),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), [_complex(2, 3, 4), _complex(2, 4, 2)]),
    "einsum": (lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), [_complex(3, 4), _complex(4, 2)]),
    "linear": (lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), [_complex(3, 4), _complex(2, 4), _complex(2)]),
    "reshape_permute": (lambda lib, a: a.reshape(4, 3).permute(1, 0).transpose(0, 1), [A]),
    "indexing": (lambda lib, a: a[1:, ::2], [A]),
    "cat": (lambda lib, a, b: lib.cat([a, b], 0), [A, B]),
    "stack": (lambda lib, a, b: lib.stack([a, b], 1), [A, B]),
    "squeeze_unsqueeze": (lambda lib, a: a.unsqueeze(0).squeeze(0), [A]),
    "where": (lambda lib, a, b: lib.where(lib.tensor(MASK), a, b), [A, B]),
    "masked_fill": (lambda lib, a: a.masked_fill(lib.tensor(MASK), 2 + 1j), [A]),
    "abs": (lambda lib, a: a.abs(), [A]),
    "real": (lambda lib, a: a.real * 3, [A]),
    "imag": (lambda lib, a: lib.imag(a) * 3, [A]),
    "conj": (lambda lib, a, b: a.conj() * b, [A, B]),
    "conj_physical": (lambda lib, a: lib.conj_physical(a), [A]),
    "angle": (lambda lib, a: a.angle(), [A]),
    "angle_real": (lambda lib, r: lib.angle(r), [np.array([-2.0, 0.5, -0.0, 3.0])]),
    "sgn": (lambda lib, a: a.sgn(), [A]),
    "polar": (lambda lib, m, t: lib.polar(m, t), [np.abs(R), R]),
    "complex": (lambda lib, re, im: lib.complex(re, im), [R, R[::-1].copy()]),
    "view_as_real": (lambda lib, a: lib.view_as_real(a) * 2, [A]),
    "view_as_complex": (lambda lib, r: lib.view_as_complex(r) * (1 + 1j), [RNG.standard_normal((3, 2))]),
    "real_cast": (lambda lib, r: r.to(lib.complex128) * (1 + 2j), [R]),
    "loss_real": (lambda lib, a, b: ((a @ b.mT).abs() ** 2).sum(), [A, B]),
}


@pytest.mark.parametrize("name", CASES)
def test_forward_and_gradient_match_torch(name):
    fn, arrays = CASES[name]
    assert_complex_parity(fn, arrays)


def test_second_order_gradient_of_holomorphic_ops():
    def grads(lib, z, w):
        loss = (lib.exp(z) * z * w).abs().sum()
        (g,) = lib.autograd.grad(loss, z, create_graph=True)
        return (g * w.conj()).real.sum()

    z, w = _complex(4), _complex(4)
    theirs = [torch.tensor(z, requires_grad=True), torch.tensor(w)]
    ours = [trainer.tensor(z, requires_grad=True), trainer.tensor(w)]
    grads(torch, *theirs).backward()
    grads(trainer, *ours).backward()
    _assert_same(ours[0].grad, theirs[0].grad, "second-order grad")


def test_real_tensor_parts_and_flags():
    r = trainer.tensor([1.0, -2.0])
    assert r.real is r
    assert not r.is_conj() and not r.is_neg()
    z = trainer.tensor([1 + 2j])
    assert z.conj().is_conj() is False
    assert z.resolve_conj() is z and z.resolve_neg() is z
    assert trainer.isreal(trainer.tensor([1 + 0j, 1j])).tolist() == [True, False]
    assert trainer.isreal(r).tolist() == [True, True]


def test_backward_on_a_complex_scalar_needs_a_gradient():
    assert_raises_like_torch(lambda lib: lib.tensor([1j], requires_grad=True).sum().backward(), RuntimeError,
                             "only for real scalar outputs")
    z = trainer.tensor([1 + 1j], requires_grad=True)
    (z * z).sum().backward(trainer.tensor(1 - 1j))
    assert z.grad.tolist() == [-4j]  # g * conj(2z)


@pytest.mark.parametrize("call, error, message", [
    (lambda lib, z: z.clamp(0, 1), NotImplementedError, "clamp is not supported for complex"),
    (lambda lib, z: lib.relu(z), NotImplementedError, "clamp is not supported for complex"),
    (lambda lib, z: z < z, NotImplementedError, "lt_cpu.*ComplexDouble"),
    (lambda lib, z: z >= 0, NotImplementedError, "ge_cpu.*ComplexDouble"),
    (lambda lib, z: z.max(), RuntimeError, "max"),
    (lambda lib, z: z.min(0), RuntimeError, "min\\(\\): does not support complex"),
    (lambda lib, z: z.amax(), NotImplementedError, "max_values"),
    (lambda lib, z: z.argmax(), RuntimeError, "argmax\\(\\): does not support complex"),
    (lambda lib, z: lib.maximum(z, z), RuntimeError, "maximum not implemented for complex"),
    (lambda lib, z: z.sort(), RuntimeError, "Sort does not support complex"),
    (lambda lib, z: z.topk(1), RuntimeError, "topk does not support complex"),
    (lambda lib, z: z.floor(), NotImplementedError, "floor is not supported for complex"),
    (lambda lib, z: z.ceil(), NotImplementedError, "ceil is not supported for complex"),
    (lambda lib, z: z.trunc(), NotImplementedError, "trunc is not supported for complex"),
    (lambda lib, z: z.round(), NotImplementedError, "round"),
    (lambda lib, z: z.sign(), NotImplementedError, "Please use torch.sgn"),
    (lambda lib, z: z.real.imag, RuntimeError, "imag is not implemented for tensors with non-complex dtypes"),
    (lambda lib, z: lib.view_as_real(z.real), RuntimeError, "only supported for complex tensors"),
    (lambda lib, z: lib.view_as_complex(z.real), RuntimeError, "last dimension of size 2"),
    (lambda lib, z: lib.complex(z.real.float(), z.real), RuntimeError, "Expected object of scalar type Float"),
    (lambda lib, z: lib.polar(z.real.long(), z.real.long()), RuntimeError, "Half, Float or Double"),
])
def test_ops_without_complex_meaning_raise_like_torch(call, error, message):
    z = _complex(3)
    assert_raises_like_torch(lambda lib: call(lib, lib.tensor(z)), error, message)


def test_creation_and_conversion():
    z = trainer.tensor([1 + 2j, 3.5])
    assert z.dtype is trainer.complex64 and z.is_complex()
    assert z[0].item() == 1 + 2j and isinstance(z[0].item(), complex)
    assert z.tolist() == [1 + 2j, 3.5 + 0j]
    assert trainer.from_numpy(np.array([1j])).dtype is trainer.complex128
    assert trainer.zeros(2, dtype=trainer.cfloat).dtype is trainer.complex64
    assert trainer.full((2,), 1 + 1j).tolist() == [1 + 1j, 1 + 1j]
    assert (z == trainer.tensor([1 + 2j, 3.5 - 1j])).tolist() == [True, False]
    assert trainer.allclose(z, z + 1e-9j) and not trainer.allclose(z, z + 1e-3j)
    trainer.testing.assert_close(z, z + 1e-7j)
    with pytest.raises(AssertionError):
        trainer.testing.assert_close(z, z + 1e-3j)
    assert z.abs().dtype is trainer.float32


def test_randn_complex_parts_have_variance_one_half():
    trainer.manual_seed(0)
    z = trainer.randn(20000, dtype=trainer.complex128)
    assert z.dtype is trainer.complex128
    for part in (z.real, z.imag):
        assert abs(float(part.var()) - 0.5) < 0.03 and abs(float(part.mean())) < 0.03


@pytest.mark.parametrize("dtype", [trainer.complex64, trainer.complex128])
def test_save_and_load_keep_complex_values(dtype):
    z = trainer.tensor(_complex(2, 3), dtype=dtype)
    buffer = io.BytesIO()
    trainer.save({"z": z, "rest": [z[0]]}, buffer)
    buffer.seek(0)
    loaded = trainer.load(buffer)
    assert loaded["z"].dtype is dtype and np.array_equal(loaded["z"].numpy(), z.numpy())
    assert np.array_equal(loaded["rest"][0].numpy(), z[0].numpy())


@pytest.mark.parametrize("make", [
    lambda lib, p: lib.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda lib, p: lib.optim.Adam(p, lr=0.05),
    lambda lib, p: lib.optim.Adam(p, lr=0.05, amsgrad=True, weight_decay=0.1),
    lambda lib, p: lib.optim.AdamW(p, lr=0.05),
], ids=["sgd_momentum", "adam", "adam_amsgrad", "adamw"])
def test_optimizers_on_a_complex_model_match_torch(make):
    x, y, w0 = _complex(8, 3), _complex(8, 2), _complex(2, 3)

    def train(lib):
        w = lib.tensor(w0, requires_grad=True)
        bias = lib.tensor(np.zeros(2), requires_grad=True)
        optimizer = make(lib, [w, bias])
        for _ in range(4):
            optimizer.zero_grad()
            out = lib.nn.functional.linear(lib.tensor(x), w) + bias
            loss = ((out - lib.tensor(y)).abs() ** 2).mean()
            loss.backward()
            optimizer.step()
        return w, bias

    (ours_w, ours_b), (theirs_w, theirs_b) = train(trainer), train(torch)
    _assert_same(ours_w, theirs_w, "complex weight")
    _assert_same(ours_b, theirs_b, "real bias")


def test_real_imag_and_view_as_real_share_memory_like_torch():
    results = []
    for lib in (torch, trainer):
        z = lib.tensor([1 + 2j, 3 - 1j])
        z.real.add_(10)
        z.imag.mul_(2)
        lib.view_as_real(z)[0, 0] = -5
        pairs = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        lib.view_as_complex(pairs).mul_(1j)
        results.append((z.tolist(), pairs.tolist()))
    assert results[1] == results[0]


@pytest.mark.parametrize("make", [lambda lib: lib.tensor([[1.0, 2.0, 3.0, 4.0]])[:, 1:3],
                                  lambda lib: lib.tensor([[1.0, 2.0, 3.0, 4.0]])[:, ::2],
                                  lambda lib: lib.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])[:, :2]])
def test_view_as_complex_refuses_layouts_like_torch(make):
    with pytest.raises(RuntimeError) as expected:
        torch.view_as_complex(make(torch))
    with pytest.raises(RuntimeError, match=str(expected.value).split(" (")[0]):
        trainer.view_as_complex(make(trainer))


def test_recorded_in_place_change_through_real_is_refused_not_lost():
    z = trainer.tensor([1 + 2j, 3j], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="in-place change of a float32 view"):
        z.real.add_(1)
