"""``trainer.fft`` against ``torch.fft``: values, dtypes and vector-Jacobian products on the same float64 and
complex128 inputs across n/s/dim/norm, second derivatives, the frequency helpers and the errors."""

import numpy as np
import pytest
import torch

import trainer
import trainer.fft
from tests.trainer.test_ops_parity import assert_raises_like_torch

TOL = 1e-9


def _draw(rng, shape, kind):
    real = rng.standard_normal(shape)
    return real + 1j * rng.standard_normal(shape) if kind == "complex" else real


# (function, input shape, input kind, keyword arguments)
CASES = [
    ("fft", (5, 6), "complex", {}),
    ("fft", (5, 6), "complex", {"n": 4}),
    ("fft", (5, 6), "complex", {"n": 9, "dim": 0, "norm": "ortho"}),
    ("fft", (5, 6), "real", {"norm": "forward"}),
    ("ifft", (5, 6), "complex", {"n": 7, "norm": "backward"}),
    ("ifft", (5, 6), "complex", {"norm": "forward"}),
    ("ifft", (5, 6), "real", {"dim": 0}),
    ("fft2", (3, 4, 5), "complex", {}),
    ("fft2", (3, 4, 5), "complex", {"s": (3, 7), "norm": "ortho"}),
    ("fft2", (3, 4, 5), "real", {"dim": (0, 2)}),
    ("ifft2", (3, 4, 5), "complex", {"s": (2, 6), "dim": (2, 0), "norm": "forward"}),
    ("fftn", (3, 4, 5), "complex", {}),
    ("fftn", (3, 4, 5), "complex", {"s": (6, -1)}),
    ("fftn", (3, 4, 5), "complex", {"dim": ()}),
    ("ifftn", (3, 4, 5), "complex", {"s": (2, 3, 8), "norm": "ortho"}),
    ("ifftn", (3, 4, 5), "real", {}),
    ("rfft", (5, 6), "real", {}),
    ("rfft", (5, 6), "real", {"n": 5}),
    ("rfft", (5, 6), "real", {"n": 10, "dim": 0, "norm": "ortho"}),
    ("rfft", (5, 7), "real", {"norm": "forward"}),
    ("irfft", (5, 6), "complex", {}),
    ("irfft", (5, 6), "complex", {"n": 7}),
    ("irfft", (5, 6), "complex", {"n": 4, "norm": "forward"}),
    ("irfft", (5, 6), "complex", {"n": 12, "dim": 0, "norm": "ortho"}),
    ("irfft", (5, 6), "real", {}),
    ("rfft2", (3, 4, 5), "real", {}),
    ("rfft2", (3, 4, 5), "real", {"s": (5, 3), "norm": "forward"}),
    ("rfft2", (3, 4, 5), "real", {"dim": (2, 0)}),
    ("irfft2", (3, 4, 5), "complex", {}),
    ("irfft2", (3, 4, 5), "complex", {"s": (3, 7)}),
    ("irfft2", (3, 4, 5), "complex", {"s": (6, 4), "dim": (0, 1), "norm": "ortho"}),
    ("rfftn", (3, 4, 5), "real", {}),
    ("rfftn", (3, 4, 5), "real", {"s": (2, 6, 3)}),
    ("rfftn", (3, 4, 5), "real", {"dim": (1, 0), "norm": "ortho"}),
    ("irfftn", (3, 4, 5), "complex", {}),
    ("irfftn", (3, 4, 5), "complex", {"s": (5, 3, 9), "norm": "forward"}),
    ("irfftn", (3, 4, 5), "complex", {"dim": (2, 0)}),
    ("hfft", (5, 6), "complex", {}),
    ("hfft", (5, 6), "complex", {"n": 7, "norm": "ortho"}),
    ("hfft", (5, 6), "complex", {"n": 3, "dim": 0, "norm": "forward"}),
    ("hfft", (5, 6), "real", {}),
    ("ihfft", (5, 6), "real", {}),
    ("ihfft", (5, 6), "real", {"n": 8, "norm": "forward"}),
    ("ihfft", (5, 6), "real", {"dim": 0, "norm": "ortho"}),
    ("hfft2", (3, 4, 5), "complex", {}),
    ("hfft2", (3, 4, 5), "complex", {"s": (5, 7), "norm": "ortho"}),
    ("ihfft2", (3, 4, 5), "real", {}),
    ("ihfft2", (3, 4, 5), "real", {"s": (3, 6), "norm": "forward"}),
    ("hfftn", (3, 4, 5), "complex", {}),
    ("hfftn", (3, 4, 5), "complex", {"s": (4, -1, 5)}),
    ("hfftn", (3, 4, 5), "complex", {"dim": (2, 0), "norm": "ortho"}),
    ("ihfftn", (3, 4, 5), "real", {}),
    ("ihfftn", (3, 4, 5), "real", {"s": (2, 4, 7)}),
    ("ihfftn", (3, 4, 5), "real", {"dim": (0, 2), "norm": "ortho"}),
    ("fftshift", (3, 4, 5), "complex", {}),
    ("fftshift", (3, 4, 5), "real", {"dim": (0, -1)}),
    ("ifftshift", (3, 4, 5), "real", {"dim": 1}),
    ("ifftshift", (3, 4, 5), "complex", {}),
]


def _case_id(case):
    name, shape, kind, kwargs = case
    return f"{name}-{kind}-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def assert_same(ours, theirs, what):
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {list(ours.shape)} != {list(theirs.shape)}"
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), f"{what}: {ours.dtype} != {theirs.dtype}"
    theirs = theirs.detach().resolve_conj()
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.numpy(), atol=TOL, rtol=0, err_msg=what)


def assert_vjp_matches_torch(fn, array, seed=0):
    """``fn(lib, x)`` on ``array`` in both libraries: the same output, and the same vector-Jacobian product for a
    random upstream gradient (complex for a complex output)."""
    theirs_x = torch.tensor(array, requires_grad=True)
    ours_x = trainer.tensor(array, requires_grad=True)
    theirs, ours = fn(torch, theirs_x), fn(trainer, ours_x)
    assert_same(ours, theirs, "output")
    upstream = _draw(np.random.default_rng(seed), tuple(theirs.shape), "complex" if theirs.is_complex() else "real")
    (theirs_grad,) = torch.autograd.grad(theirs, theirs_x, grad_outputs=torch.tensor(upstream))
    (ours_grad,) = trainer.autograd.grad(ours, ours_x, grad_outputs=trainer.tensor(upstream))
    assert_same(ours_grad, theirs_grad, "gradient")


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_values_and_vector_jacobian_products_match_torch(case):
    name, shape, kind, kwargs = case
    array = _draw(np.random.default_rng(len(shape) * 7 + len(kwargs)), shape, kind)
    assert_vjp_matches_torch(lambda lib, x: getattr(lib.fft, name)(x, **kwargs), array)


@pytest.mark.parametrize("name, kind, kwargs", [("fft", "complex", {"n": 7, "norm": "ortho"}),
                                                ("rfft", "real", {"n": 9}), ("irfft", "complex", {"n": 10}),
                                                ("hfft", "complex", {"n": 7, "norm": "forward"}),
                                                ("ihfft", "real", {"n": 6}), ("rfftn", "real", {"s": (3, 5)}),
                                                ("irfftn", "complex", {"s": (4, 6)})])
def test_gradient_of_the_gradient_matches_torch(name, kind, kwargs):
    """The backward of each transform is differentiable: the derivative of the VJP with respect to the upstream
    gradient is the transform itself again."""
    rng = np.random.default_rng(3)
    x = _draw(rng, (4, 5), kind)
    results = []
    for lib in (torch, trainer):
        xt = lib.tensor(x, requires_grad=True)
        out = getattr(lib.fft, name)(xt, **kwargs)
        kind_out = "complex" if out.is_complex() else "real"
        upstream = lib.tensor(_draw(np.random.default_rng(4), tuple(out.shape), kind_out), requires_grad=True)
        (vjp,) = lib.autograd.grad(out, xt, grad_outputs=upstream, create_graph=True)
        probe = lib.tensor(_draw(np.random.default_rng(5), tuple(vjp.shape), kind))
        (second,) = lib.autograd.grad(vjp, upstream, grad_outputs=probe)
        results.append((vjp, second))
    (theirs_vjp, theirs_second), (ours_vjp, ours_second) = results
    assert_same(ours_vjp, theirs_vjp, "vjp")
    assert_same(ours_second, theirs_second, "second derivative")


def test_hessian_vector_product_through_real_and_half_spectra_matches_torch():
    x, v = np.random.default_rng(6).standard_normal((2, 3, 8))
    results = []
    for lib in (torch, trainer):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.fft.irfft(lib.fft.rfft(xt * xt, norm="ortho"), n=8, norm="ortho")
        loss = (lib.fft.hfft(lib.fft.ihfft(y * y), n=8) * xt).sum()
        (g,) = lib.autograd.grad(loss, xt, create_graph=True)
        (hv,) = lib.autograd.grad((g * lib.tensor(v)).sum(), xt)
        results.append((g, hv))
    assert_same(results[1][0], results[0][0], "gradient")
    assert_same(results[1][1], results[0][1], "Hessian-vector product")


@pytest.mark.parametrize("name, dtype, expected", [("fft", trainer.float32, trainer.complex64),
                                                   ("fft", trainer.int64, trainer.complex64),
                                                   ("fft", trainer.bool, trainer.complex64),
                                                   ("rfft", trainer.int32, trainer.complex64),
                                                   ("ihfft", trainer.float64, trainer.complex128),
                                                   ("irfft", trainer.float32, trainer.float32),
                                                   ("irfft", trainer.complex64, trainer.float32),
                                                   ("hfft", trainer.int64, trainer.float32),
                                                   ("ifft", trainer.complex64, trainer.complex64)])
def test_output_dtypes_follow_torch(name, dtype, expected):
    x = trainer.arange(6).to(dtype)
    out = getattr(trainer.fft, name)(x)
    assert out.dtype == expected
    theirs = getattr(torch.fft, name)(torch.arange(6).to(getattr(torch, dtype.name)))
    np.testing.assert_allclose(np.asarray(out), theirs.resolve_conj().numpy(), rtol=1e-5, atol=1e-5)


def test_float32_gradients_stay_float32():
    x = trainer.tensor(np.random.default_rng(7).standard_normal(6), dtype=trainer.float32, requires_grad=True)
    out = trainer.fft.irfft(trainer.fft.fft(x), n=6)
    (grad,) = trainer.autograd.grad(out, x, grad_outputs=trainer.ones(6))
    assert grad.dtype == trainer.float32


def test_module_is_an_attribute_and_lists_every_function():
    assert trainer.fft is not None and "rfft" in trainer.fft.__all__
    assert sorted(trainer.fft.__all__) == sorted(n for n in dir(torch.fft) if not n.startswith("_")
                                                 and callable(getattr(torch.fft, n)) and n != "Tensor")


@pytest.mark.parametrize("kwargs", [{}, {"d": 0.5, "dtype": "float64"}, {"d": -2.0, "dtype": "float32"}])
@pytest.mark.parametrize("n", [0, 1, 5, 8])
@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
def test_sample_frequencies_match_torch(name, n, kwargs):
    def call(lib):
        dtype = kwargs.get("dtype")
        return getattr(lib.fft, name)(n, kwargs.get("d", 1.0), dtype=None if dtype is None else getattr(lib, dtype))

    ours, theirs = call(trainer), call(torch)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


def test_sample_frequencies_requires_grad_and_rejects_integer_dtypes():
    assert trainer.fft.fftfreq(4, requires_grad=True).requires_grad
    assert trainer.fft.rfftfreq(-1).tolist() == torch.fft.rfftfreq(-1).tolist() == [0.0]  # C++'s -1 / 2 == 0
    assert_raises_like_torch(lambda lib: lib.fft.fftfreq(4, dtype=lib.int64), RuntimeError,
                             "fftfreq requires a floating point or complex dtype")
    assert_raises_like_torch(lambda lib: lib.fft.fftfreq(-1), RuntimeError, "negative dimension -1")
    assert_raises_like_torch(lambda lib: lib.fft.rfftfreq(-5), RuntimeError, "negative dimension -1")
    assert_raises_like_torch(lambda lib: lib.fft.fftfreq(4, dtype=lib.complex128), NotImplementedError,
                             "not implemented for 'ComplexDouble'")


_X = np.random.default_rng(8).standard_normal((4, 6))
_Z = _X + 1j


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: lib.fft.fft(lib.tensor(_X), norm="foo"), RuntimeError, 'Invalid normalization mode: "foo"'),
    (lambda lib: lib.fft.fft(lib.tensor(_X), dim=2), IndexError, r"expected to be in range of \[-2, 1\]"),
    (lambda lib: lib.fft.fft(lib.tensor(_X), n=0), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda lib: lib.fft.ifft(lib.tensor(_X), n=-1), RuntimeError, r"Invalid number of data points \(-1\)"),
    (lambda lib: lib.fft.fft(lib.tensor(_X), dim=(0,)), TypeError, "'dim' must be int, not tuple"),
    (lambda lib: lib.fft.fft(lib.tensor(1.0)), IndexError, "tensor has no dimensions"),
    (lambda lib: lib.fft.fft(lib.ones(0)), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda lib: lib.fft.rfft(lib.tensor(_Z)), RuntimeError, "rfft expects a real input tensor, but got ComplexDouble"),
    (lambda lib: lib.fft.ihfft(lib.tensor(_Z)), RuntimeError, "ihfft expects a real input tensor"),
    (lambda lib: lib.fft.irfft(lib.tensor(_Z[:, :1])), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda lib: lib.fft.hfft(lib.tensor(_Z), n=0), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda lib: lib.fft.fftn(lib.tensor(_X), dim=(1, -1)), RuntimeError, "FFT dims must be unique"),
    (lambda lib: lib.fft.fftn(lib.tensor(_X), s=(2, 3), dim=(0,)), RuntimeError,
     "dim and shape arguments must have the same length"),
    (lambda lib: lib.fft.fftn(lib.tensor(_X), s=(2, 3, 4)), RuntimeError,
     "Got shape with 3 values but input tensor only has 2 dimensions"),
    (lambda lib: lib.fft.fft2(lib.tensor(_X), s=(0, 3)), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda lib: lib.fft.fft2(lib.ones(3)), IndexError, "Dimension out of range"),
    (lambda lib: lib.fft.rfftn(lib.tensor(_X), dim=()), RuntimeError, "rfftn must transform at least one axis"),
    (lambda lib: lib.fft.irfftn(lib.tensor(_Z), dim=()), RuntimeError, "irfftn must transform at least one axis"),
    (lambda lib: lib.fft.hfftn(lib.tensor(_Z), dim=()), RuntimeError, "hfftn must transform at least one axis"),
    (lambda lib: lib.fft.ihfftn(lib.tensor(_X), dim=()), RuntimeError, "ihfftn must transform at least one axis"),
    (lambda lib: lib.fft.fft(lib.ones(4, dtype=lib.float16)), RuntimeError, "Unsupported dtype Half"),
    (lambda lib: lib.fft.fftshift(lib.tensor(_X), dim=3), IndexError, "Dimension out of range"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_arguments_raise_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
