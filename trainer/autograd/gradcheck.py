"""``torch.autograd.gradcheck`` and ``gradgradcheck``: analytical gradients checked against central finite
differences, element by element (PyTorch's default "slow" mode).

Jacobians are laid out as PyTorch lays them out in its failure messages: one row per element of the input, one
column per element of the output. The analytical one is built from one vjp per output element, computed twice so
that a backward that is not deterministic is caught too.
"""

from __future__ import annotations

import warnings

import numpy as np

import trainer
from trainer.autograd.gradients import grad
from trainer.tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """A gradient check failed; the message says which output, which input and both Jacobians."""


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True, fast_mode=False,
              masked=None):
    """True when the gradients of ``func(*inputs)`` with respect to each input that requires grad match finite
    differences within ``atol + rtol * |numerical|``; otherwise raises ``GradcheckError`` (or returns False when
    ``raise_exception`` is off).

    ``check_undefined_grad`` has nothing to check here: trainer's engine hands a backward zeros, never an undefined
    gradient, for an output that got none. ``check_forward_ad`` also checks forward-mode AD's Jacobians
    (``trainer.autograd.gradcheck_forward``). Options that need batched gradients or sparse tensors raise
    ``NotImplementedError``."""
    unsupported = {"check_batched_grad": check_batched_grad, "check_batched_forward_grad": check_batched_forward_grad,
                   "fast_mode": fast_mode, "masked": masked}
    for name, value in unsupported.items():
        if value:
            raise NotImplementedError(f"gradcheck({name}=True) is not supported: trainer has no batched gradients "
                                      "or sparse tensors; only the element-by-element checks run")
    try:
        return _check(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes, check_backward_ad,
                      check_forward_ad)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0, check_undefined_grad=True,
                  check_grad_dtypes=False, check_batched_grad=False, check_fwd_over_rev=False,
                  check_rev_over_rev=True, fast_mode=False, masked=False):
    """``gradcheck`` of the gradient of ``func``: the second derivatives, through a ``create_graph`` backward,
    against finite differences of the first. ``grad_outputs`` default to random values in [-1, 1)."""
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError("Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        # non-contiguous grad_outputs have no meaning on trainer's arrays, so gen_non_contig_grad_outputs changes none
        outputs = _differentiable_outputs(func(*tupled_inputs))
        grad_outputs = tuple(_random_like(out) for out in outputs)
    tupled_grad_outputs = _as_tuple(grad_outputs)
    n_outputs = len(tupled_grad_outputs)
    diff_input_indices = {i for i, t in enumerate(tupled_inputs) if isinstance(t, Tensor) and t.requires_grad}

    def first_derivatives(*args):
        input_args = args[:len(args) - n_outputs]
        outputs = _differentiable_outputs(func(*input_args))
        diff_inputs = [t for i, t in enumerate(input_args) if i in diff_input_indices]
        grads = grad(outputs, diff_inputs, args[len(args) - n_outputs:], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, tupled_inputs + tupled_grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol, check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, check_batched_grad=check_batched_grad, fast_mode=fast_mode,
                     check_forward_ad=check_fwd_over_rev, check_backward_ad=check_rev_over_rev, masked=masked)


def _check(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes, check_backward_ad,
           check_forward_ad=False) -> bool:
    tupled_inputs = _as_tuple(inputs)
    _check_inputs(tupled_inputs)
    func_out = _as_tuple(func(*tupled_inputs))
    outputs = _differentiable_outputs(func_out)
    if not (check_backward_ad or check_forward_ad):
        return True
    diff_inputs = [t for t in tupled_inputs if isinstance(t, Tensor) and t.requires_grad]
    numerical = _numerical_jacobians(func, tupled_inputs, func_out, eps)  # [input][output]
    if check_forward_ad:
        _check_forward_jacobians(func, tupled_inputs, numerical, rtol, atol)
    if not check_backward_ad:
        return True
    if not outputs:  # nothing differentiable came out, so nothing may change with the inputs
        if any(jac is not None and bool((jac != 0).any()) for per_input in numerical for jac in per_input):
            raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    differentiable = [i for i, o in enumerate(func_out) if isinstance(o, Tensor) and o.requires_grad]
    for i, out in enumerate(outputs):
        analytical = _analytical_jacobians(out, diff_inputs, nondet_tol, check_grad_dtypes)
        for j, a in enumerate(analytical):
            n = numerical[j][differentiable[i]]
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(f"Jacobian mismatch for output {i:d} with respect to input {j:d},\n"
                                     f"numerical:{n}\nanalytical:{a}\n")
    _check_backward_multiplies_by_grad_output(outputs, diff_inputs)
    return True


def _check_forward_jacobians(func, inputs, numerical, rtol, atol) -> None:
    from trainer.autograd.gradcheck_forward import forward_jacobians  # it builds on this module

    for j, per_output in enumerate(forward_jacobians(func, inputs)):
        for i, (a, n) in enumerate(zip(per_output, numerical[j])):
            if a is not None and n is not None and not _allclose(a, n, rtol, atol):
                raise GradcheckError(f"Jacobian computed with forward mode mismatch for output {i:d} with respect to "
                                     f"input {j:d},\nnumerical:{n}\nanalytical:{a}\n")


def _as_tuple(value) -> tuple:
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    return (value,)


def _differentiable_outputs(out) -> tuple:
    return tuple(o for o in _as_tuple(out) if isinstance(o, Tensor) and o.requires_grad)


def _check_inputs(inputs) -> None:
    requiring_grad = False
    for idx, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t.dtype != trainer.float64:
                warnings.warn(f"Input #{idx} requires gradient and is not a double precision floating point or "
                              "complex. This check will likely fail if all the inputs are not of double precision "
                              "floating point or complex. ", stacklevel=4)
            requiring_grad = True
    if not requiring_grad:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")


def _numerical_jacobians(func, inputs, func_out, eps) -> list:
    """For each input that requires grad, one Jacobian per output of ``func_out`` (input numel x output numel, in
    the output's dtype; None for an output that is not floating point), by central differences: each element is
    moved by +-eps in place, through any strides, and ``func`` is run again."""
    jacobians = []
    for t in inputs:
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        per_output = [trainer.zeros(t.numel(), o.numel(), dtype=o.dtype, device=o.device)
                      if isinstance(o, Tensor) and o.is_floating_point() else None for o in func_out]
        for k, index in enumerate(np.ndindex(*t._data.shape)):
            original = t._data[index].copy()
            t._data[index] = original - eps
            before = _outputs_at(func, inputs)
            t._data[index] = original + eps
            after = _outputs_at(func, inputs)
            t._data[index] = original
            for jac, a, b in zip(per_output, before, after):
                if jac is not None:
                    jac[k] = ((b - a) / (2 * eps)).reshape(-1)
        jacobians.append(per_output)
    return jacobians


def _outputs_at(func, inputs) -> tuple:
    # recorded, as in PyTorch: ``func`` may itself take gradients (gradgradcheck's first derivatives)
    return tuple(o.detach() if isinstance(o, Tensor) else None for o in _as_tuple(func(*inputs)))


def _analytical_jacobians(out, diff_inputs, nondet_tol, check_grad_dtypes) -> list:
    """For each input, the Jacobian (input numel x output numel) of ``out`` from one vjp per output element,
    computed twice: the two must agree within ``nondet_tol``."""
    first = _jacobian_rows(out, diff_inputs)
    second = _jacobian_rows(out, diff_inputs)
    for _, dtype_ok, size_ok in first:
        if not dtype_ok and check_grad_dtypes:
            raise GradcheckError("Gradient has dtype mismatch")
        if not size_ok:
            raise GradcheckError("Analytical gradient has incorrect size")
    for (a, _, _), (b, _, _) in zip(first, second):
        if not bool(((a - b).abs() <= nondet_tol).all()):
            raise GradcheckError("Backward is not reentrant, i.e., running backward with same input and grad_output "
                                 "multiple times gives different values, although analytical gradient matches "
                                 f"numerical gradient.The tolerance for nondeterminism was {nondet_tol}.")
    return [rows for rows, _, _ in first]


def _jacobian_rows(out, diff_inputs) -> list:
    """``(jacobian, dtype_ok, size_ok)`` per input, the Jacobian filled column by column from one-hot vjps."""
    jacobians = [trainer.zeros(t.numel(), out.numel(), dtype=t.dtype, device=t.device) for t in diff_inputs]
    dtype_ok, size_ok = [True] * len(diff_inputs), [True] * len(diff_inputs)
    for k in range(out.numel()):
        one_hot = trainer.zeros(out.numel(), dtype=out.dtype, device=out.device)
        one_hot[k] = 1
        grads = grad(out, diff_inputs, one_hot.view(out.shape), retain_graph=True, allow_unused=True)
        for j, (g, t) in enumerate(zip(grads, diff_inputs)):
            if g is None:
                continue
            dtype_ok[j] = dtype_ok[j] and g.dtype == t.dtype
            if g.numel() != t.numel():
                size_ok[j] = False
                continue
            jacobians[j][:, k] = g.detach().reshape(-1).to(t.dtype)
    return list(zip(jacobians, dtype_ok, size_ok))


def _allclose(a, b, rtol, atol) -> bool:
    dtype = trainer.promote_types(a.dtype, b.dtype)
    return bool(trainer.allclose(a.to(dtype), b.to(dtype), rtol, atol))


def _check_backward_multiplies_by_grad_output(outputs, diff_inputs) -> None:
    """With zero output gradients every input gradient must be zero, and shaped, typed and placed as its input."""
    grads = grad(outputs, diff_inputs, [trainer.zeros_like(o) for o in outputs], allow_unused=True)
    for g, t in zip(grads, diff_inputs):
        if g is None:
            continue
        if not bool((g == 0).all()):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype != t.dtype:
            raise GradcheckError("grad is incorrect type")
        if g.device != t.device:
            raise GradcheckError("grad is incorrect device")
        if g.shape != t.shape:
            raise GradcheckError("grad is incorrect size")


def _random_like(out) -> Tensor:
    """A gradient for ``out`` drawn uniformly from [-1, 1), requiring grad, as PyTorch's ``make_tensor`` draws it."""
    dtype = out.dtype if out.is_floating_point() else trainer.float64
    values = trainer.rand(*out.shape, dtype=dtype, device=out.device) * 2 - 1
    return values.requires_grad_(True)
