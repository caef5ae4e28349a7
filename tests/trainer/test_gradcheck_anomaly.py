"""``gradcheck``/``gradgradcheck``, anomaly detection, ``inference_mode`` and ``autograd.backward``, against
PyTorch's behaviour."""

import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import _assert_same, assert_raises_like_torch
from trainer.autograd.gradcheck import GradcheckError

RNG = np.random.default_rng(3)
X, W = RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4))


def _square_with_half_gradient(lib):
    """A custom Function whose backward is wrong by a factor of two."""

    class HalfSquare(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x

    return HalfSquare


# ----------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("fn", [
    lambda a, b: (a @ b).tanh(),
    lambda a, b: ((a.exp() @ b) ** 2, b.sigmoid().sum()),
    lambda a, b: trainer.nn.functional.softmax(a @ b, dim=1),
])
def test_gradcheck_passes_for_correct_ops(fn):
    inputs = (trainer.tensor(X, requires_grad=True), trainer.tensor(W, requires_grad=True))
    assert trainer.autograd.gradcheck(fn, inputs)


def test_gradcheck_with_a_wrong_backward_fails_with_torchs_message():
    messages = {}
    for lib in (torch, trainer):
        x = lib.tensor(X, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            lib.autograd.gradcheck(_square_with_half_gradient(lib).apply, (x,))
        messages[lib.__name__] = str(info.value)
        assert lib.autograd.gradcheck(_square_with_half_gradient(lib).apply, (x,), raise_exception=False) is False
    ours = messages["trainer"]
    assert ours.startswith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:")
    assert "\nanalytical:" in ours and ours.endswith("\n")
    # the numerical Jacobian is diag(2x), the analytical one diag(x): both printed, as torch prints them
    numerical = np.diag(2 * X.reshape(-1))
    assert f"{numerical[0, 0]:.4f}" in ours.split("analytical:")[0]
    assert f"{X.reshape(-1)[0]:.4f}" in ours.split("analytical:")[1]


def test_gradcheck_error_is_a_runtime_error():
    assert issubclass(GradcheckError, RuntimeError)
    with pytest.raises(GradcheckError):
        trainer.autograd.gradcheck(_square_with_half_gradient(trainer).apply,
                                   (trainer.tensor(X, requires_grad=True),))


def test_gradcheck_catches_a_backward_that_ignores_its_output_gradient():
    class IgnoresGrad(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return trainer.ones(3, dtype=trainer.float64)

    with pytest.raises(GradcheckError, match="backward not multiplied by grad_output"):
        trainer.autograd.gradcheck(IgnoresGrad.apply, (trainer.ones(3, dtype=trainer.float64, requires_grad=True),))


def test_gradcheck_input_checks_match_torch():
    assert_raises_like_torch(lambda lib: lib.autograd.gradcheck(lambda x: x * 2, (lib.ones(2, dtype=lib.float64),)),
                             ValueError, "expects at least one input tensor to require gradient")
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double precision"):
        trainer.autograd.gradcheck(lambda x: x * 2, (trainer.ones(2, requires_grad=True),), eps=1e-2, atol=1e-2)


def test_gradcheck_module_and_function_as_in_torch():
    from trainer.autograd import gradcheck

    assert callable(gradcheck) and gradcheck is trainer.autograd.gradcheck
    assert gradcheck(lambda x: x.sin(), trainer.tensor(X, requires_grad=True))


@pytest.mark.parametrize("fn", [
    lambda a, b: (a @ b).tanh(),
    lambda a, b: (a.exp() @ b.sin()).sum(dim=0),
    lambda a, b: a.pow(3) @ (1 + b ** 2).log(),
])
def test_gradgradcheck_on_ops_with_backward_graph(fn):
    assert trainer.autograd.gradgradcheck(fn, (trainer.tensor(X, requires_grad=True),
                                               trainer.tensor(W, requires_grad=True)))


def test_gradgradcheck_fails_for_a_wrong_double_backward():
    """The first derivative is right, its own derivative wrong by a factor of two."""

    class Cube(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x.detach() ** 2 * 1.5 + 1.5 * x ** 2)  # 3x^2, half of it not differentiated

    x = trainer.tensor(X, requires_grad=True)
    assert trainer.autograd.gradcheck(Cube.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        trainer.autograd.gradgradcheck(Cube.apply, (x,))


# ----------------------------------------------------------------- anomaly detection
def _sqrt_at_zero_backward(lib):
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    (x.sqrt() * 0).sum().backward()


def test_anomaly_mode_raises_on_nan_gradient_after_warning_with_the_forward_traceback():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with trainer.autograd.detect_anomaly():
            assert trainer.is_anomaly_enabled() and trainer.is_anomaly_check_nan_enabled()
            nan_error = r"^Function 'SqrtBackward0' returned nan values in its 0th output\.$"
            with pytest.raises(RuntimeError, match=nan_error):
                _sqrt_at_zero_backward(trainer)
    assert not trainer.is_anomaly_enabled()
    texts = [str(w.message) for w in caught]
    assert any(t.startswith("Anomaly Detection has been enabled") for t in texts)
    detected = [t for t in texts if t.startswith("Error detected in SqrtBackward0.")]
    assert len(detected) == 1
    assert "Traceback of forward call that caused the error:" in detected[0]
    assert "_sqrt_at_zero_backward" in detected[0] and "x.sqrt() * 0" in detected[0]
    assert "trainer/tensor" not in detected[0]  # trainer's own frames are left out


def test_torch_raises_the_same_nan_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="returned nan values in its 0th"):
            _sqrt_at_zero_backward(torch)


def test_anomaly_mode_off_or_check_nan_off_lets_nan_through():
    _sqrt_at_zero_backward(trainer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with trainer.autograd.detect_anomaly(check_nan=False):
            assert not trainer.is_anomaly_check_nan_enabled()
            _sqrt_at_zero_backward(trainer)


def test_anomaly_mode_warns_for_any_backward_error_and_works_as_decorator():
    class Broken(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("broken backward")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decorated = trainer.autograd.detect_anomaly()(lambda: Broken.apply(trainer.ones(2, requires_grad=True)).sum()
                                                      .backward())
    with pytest.warns(UserWarning, match="Error detected in BrokenBackward"), pytest.raises(ValueError):
        decorated()
    assert not trainer.is_anomaly_enabled()


def test_set_detect_anomaly_as_function_and_context_manager():
    y = trainer.tensor([0.0], requires_grad=True).sqrt() * 0  # recorded before anomaly mode was on
    trainer.autograd.set_detect_anomaly(True)
    try:
        assert trainer.is_anomaly_enabled()
        with pytest.warns(UserWarning, match="No forward pass information available"), pytest.raises(RuntimeError):
            y.sum().backward()
    finally:
        trainer.autograd.set_detect_anomaly(False)
    assert not trainer.is_anomaly_enabled()
    with trainer.autograd.set_detect_anomaly(True, check_nan=False):
        assert trainer.is_anomaly_enabled() and not trainer.is_anomaly_check_nan_enabled()
    assert not trainer.is_anomaly_enabled() and trainer.is_anomaly_check_nan_enabled()


# ----------------------------------------------------------------- inference_mode
def test_inference_mode_records_nothing_and_restores():
    x = trainer.ones(2, requires_grad=True)
    with trainer.inference_mode():
        assert trainer.is_inference_mode_enabled() and not trainer.is_grad_enabled()
        assert not (x * 2).requires_grad
        with trainer.inference_mode(False):
            assert not trainer.is_inference_mode_enabled()
    assert not trainer.is_inference_mode_enabled() and (x * 2).requires_grad

    @trainer.inference_mode
    def bare(t):
        return trainer.is_inference_mode_enabled(), (t * 2).requires_grad

    @trainer.autograd.inference_mode()
    def called(t):
        return trainer.is_inference_mode_enabled(), (t * 2).requires_grad

    assert bare(x) == called(x) == (True, False)
    assert trainer.inference_mode(False)(lambda: trainer.is_inference_mode_enabled())() is False


# ----------------------------------------------------------------- autograd.backward
def _two_roots(lib):
    a, b = lib.tensor(X, requires_grad=True), lib.tensor(W, requires_grad=True)
    y = a @ b
    return a, b, [y.sin(), (y ** 2).sum()]


def test_backward_of_several_tensors_matches_torch():
    grads = {}
    for lib in (torch, trainer):
        a, b, roots = _two_roots(lib)
        lib.autograd.backward(roots, [lib.ones(3, 4, dtype=lib.float64), None])
        grads[lib.__name__] = (a.grad, b.grad)
    for ours, theirs in zip(grads["trainer"], grads["torch"]):
        _assert_same(ours, theirs, "grad")


def test_backward_with_inputs_accumulates_only_into_them():
    results = {}
    for lib in (torch, trainer):
        a, b, roots = _two_roots(lib)
        mid = a * 3
        mid.retain_grad() if lib is torch else None
        lib.autograd.backward((mid.exp() @ b).sum(), inputs=[a], retain_graph=True)
        lib.autograd.backward(roots[1], inputs=[a])  # accumulates into a.grad
        results[lib.__name__] = a.grad, b.grad
    _assert_same(results["trainer"][0], results["torch"][0], "a.grad")
    assert results["trainer"][1] is None and results["torch"][1] is None


def test_backward_errors_match_torch():
    def mismatch(lib):
        y = lib.ones(2, requires_grad=True).sum()
        lib.autograd.backward([y, y], [None])

    assert_raises_like_torch(mismatch, RuntimeError, "got 2 tensors and 1 gradients")
    assert_raises_like_torch(lambda lib: lib.autograd.backward(lib.ones(2, requires_grad=True) * 2), RuntimeError,
                             "grad can be implicitly created only for scalar outputs")
    assert_raises_like_torch(lambda lib: lib.autograd.backward((lib.ones(2, requires_grad=True) * 2).sum(),
                                                               inputs=[]), RuntimeError, "cannot be empty")
