"""``torch.autograd.functional``: vector-Jacobian and Jacobian-vector products, Jacobians and Hessians of a
function of tensors, built on ``trainer.autograd.grad``.

Inputs and outputs keep PyTorch's structure: a tensor in gives a tensor out, a tuple in a tuple out, and a
Jacobian of tuple outputs with respect to tuple inputs is a tuple (per output) of tuples (per input). With
``strict`` the same errors as PyTorch's are raised where an output does not depend on an input; without it the
mathematically right zeros are returned.
"""

from __future__ import annotations

import trainer
from trainer.autograd import grad_mode
from trainer.autograd.gradients import grad
from trainer.tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``func(*inputs)`` and the product ``v^T J`` of ``v`` (shaped like the outputs) with its Jacobian."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, "vjp", strict)
        if v is not None:
            v = _vector(v, outputs, is_outputs_tuple, create_graph, "vjp")
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single Tensor "
                               "with a single element.")
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        result = _fill_in_zeros(_autograd_grad(outputs, inputs, v, create_graph), inputs, strict, create_graph, "back")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``func(*inputs)`` and the product ``J v`` of its Jacobian with ``v`` (shaped like the inputs), by the double
    backward trick as in PyTorch: the vjp is linear in its vector ``u``, so differentiating ``u -> u^T J`` against
    ``v`` gives ``J v``."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        if v is not None:
            v = _vector(v, inputs, is_inputs_tuple, create_graph, "jvp")
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                               "Tensor with a single element.")
        is_outputs_tuple, outputs = _call(func, inputs, "jvp", strict)
        grad_outputs = tuple(trainer.zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        result = _autograd_grad(grad_inputs, grad_outputs, v, create_graph)
        result = _fill_in_zeros(result, outputs, strict, create_graph, "back_trick")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: entry ``[i][j]`` has shape ``outputs[i].shape + inputs[j].shape``.

    trainer has neither ``vmap`` nor forward-mode AD, so ``vectorize=True`` (and ``strategy="forward-mode"``,
    which PyTorch only offers vectorized) computes the same Jacobian by the row-by-row reverse-mode loop."""
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function '
                             'has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, '
                             'prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` and '
                                      '`strategy="forward-mode"` are not supported together (yet). Please either set '
                                      '`create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are '
                               'not supported together (yet). Please either set `strict=False` or '
                               '`strategy="reverse-mode"`.')
        if not vectorize:
            # PyTorch's message, its missing space included
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                                      "only implemented for `vectorize=True`.")
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _call(func, inputs, "jacobian", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        result = tuple(_jacobian_of_output(i, out, inputs, create_graph, strict) for i, out in enumerate(outputs))
        result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def _jacobian_of_output(i, out, inputs, create_graph, strict) -> tuple:
    """One row of the Jacobian per element of ``out``, each a vjp with a one-hot vector, stacked per input."""
    rows = tuple([] for _ in inputs)
    flat = out.reshape(-1)
    for k in range(out.numel()):
        vj = _autograd_grad((flat[k],), inputs, create_graph=create_graph, retain_graph=True)
        for j, (rows_j, vj_j, inp) in enumerate(zip(rows, vj, inputs)):
            if vj_j is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. This "
                                       "is not allowed in strict mode.")
                vj_j = trainer.zeros_like(inp)
            elif strict and create_graph and not vj_j.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. This is "
                                   "not allowed in strict mode when create_graph=True.")
            rows_j.append(vj_j)
    return tuple(trainer.stack(rows_j, 0).view(*out.shape, *inp.shape) if rows_j else
                 trainer.zeros(*out.shape, *inp.shape, dtype=inp.dtype, device=inp.device)
                 for rows_j, inp in zip(rows, inputs))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar function ``func`` at ``inputs``: entry ``[i][j]`` has shape
    ``inputs[i].shape + inputs[j].shape``. Computed as the Jacobian of the (graph-recording) Jacobian."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def single_output(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if is_out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single element")
        return out.squeeze()

    def jacobian_of(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(single_output, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    result = jacobian(jacobian_of, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _tuple_postprocess(result, (is_inputs_tuple, is_inputs_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``func(*inputs)`` (a scalar) and the product ``v^T H`` of ``v`` with its Hessian."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs, outputs, v = _scalar_function_setup(func, inputs, v, create_graph, strict, "vhp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        result = _autograd_grad(jac, inputs, v, create_graph)
        result = _fill_in_zeros(result, inputs, strict, create_graph, "double_back")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), False),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``func(*inputs)`` (a scalar) and the product ``H v`` of its Hessian with ``v``, by the double backward trick
    on the gradient (equal to ``vhp`` for twice continuously differentiable functions, and slower)."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs, outputs, v = _scalar_function_setup(func, inputs, v, create_graph, strict, "hvp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        grad_jac = tuple(trainer.zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        result = _autograd_grad(double_back, grad_jac, v, create_graph)
        result = _fill_in_zeros(result, inputs, strict, create_graph, "double_back_trick")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), False),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def _scalar_function_setup(func, inputs, v, create_graph, strict, fn_name):
    """What ``vhp`` and ``hvp`` share: inputs prepared, ``v`` checked against them, ``func`` run and checked to
    return one single-element tensor."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
    if v is not None:
        v = _vector(v, inputs, is_inputs_tuple, create_graph, fn_name)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                           "Tensor with a single element.")
    is_outputs_tuple, outputs = _call(func, inputs, fn_name, strict)
    if is_outputs_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")
    return is_inputs_tuple, inputs, outputs, v


def _as_tuple(value, arg_name, fn_name):
    """``(was_a_tuple, value as a tuple of tensors)``; anything but tensors raises PyTorch's TypeError."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, element in enumerate(values):
        if not isinstance(element, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but "
                            f"{where} has type {type(element)}.")
    return is_tuple, values


def _call(func, inputs, fn_name, strict):
    is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    return is_outputs_tuple, outputs


def _vector(v, like, is_like_tuple, create_graph, fn_name):
    """``v`` as a tuple of tensors, detached unless recorded, one of the same size per tensor of ``like``."""
    _, v = _as_tuple(v, "v", fn_name)
    v = _grad_preprocess(v, create_graph, need_graph=False)
    if len(v) != len(like):
        if is_like_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el_v, el_like) in enumerate(zip(v, like)):
        if el_v.shape != el_like.shape:
            prefix = f"Entry {i} in " if is_like_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {el_like.shape} but got {el_v.shape}.")
    return v


def _grad_preprocess(inputs, create_graph, need_graph):
    """Fresh tensors to differentiate against: with ``create_graph`` an input that requires grad stays on its
    graph (through a view), so that the result can be differentiated back to the caller's tensors."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(need_graph)
                 for t in inputs)


def _grad_postprocess(values, create_graph):
    """Results detached from the graph built to compute them, unless ``create_graph`` asked to keep it."""
    if isinstance(values[0], Tensor):
        return values if create_graph else tuple(t.detach() for t in values)
    return tuple(_grad_postprocess(inner, create_graph) for inner in values)


def _tuple_postprocess(result, to_unpack):
    """Undo the tupling of a tensor argument: ``to_unpack`` says whether it was a tuple (a pair for Jacobians,
    outputs first)."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            result = tuple(inner[0] for inner in result)
        if not to_unpack[0]:
            result = result[0]
    elif not to_unpack:
        result = result[0]
    return result


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``grad`` over the outputs that require grad (None per input where none does), unused inputs giving None."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(out, g) for out, g in zip(outputs, grad_outputs) if out is not None and out.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return grad([out for out, _ in kept], inputs, [g for _, g in kept], allow_unused=True,
                create_graph=create_graph, retain_graph=retain_graph)


_INDEPENDENT_IN_STRICT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in strict "
            "mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when using "
                  "the double backward trick to compute forward mode gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed in "
                   "strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the grad_jacobian. "
                         "This is not allowed in strict mode as it prevents from using the double backward trick to "
                         "replace forward mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """``grads`` with zeros shaped like ``refs`` for the None entries, or PyTorch's error for them in strict mode."""
    result = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT_IN_STRICT[stage].format(i=i))
            g = trainer.zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This is not "
                               "allowed in strict mode when create_graph=True.")
        result.append(g)
    return tuple(result)


def _check_requires_grad(values, kind, strict):
    """In strict mode, PyTorch's error for the first of ``values`` that is None or does not require grad."""
    if not strict:
        return
    for i, value in enumerate(values):
        if value is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is not "
                               "allowed in strict mode.")
        if value.requires_grad:
            continue
        if kind == "hessian":
            raise RuntimeError(f"The hessian of the user-provided function with respect to input {i} is independent of "
                               "the input. This is not allowed in strict mode. You should ensure that your function is "
                               "thrice differentiable and that the hessian depends on the inputs.")
        if kind == "jacobian":
            raise RuntimeError("While computing the hessian, found that the jacobian of the user-provided function "
                               f"with respect to input {i} is independent of the input. This is not allowed in strict "
                               "mode. You should ensure that your function is twice differentiable and that the "
                               "jacobian depends on the inputs (this would be violated by a linear function for "
                               "example).")
        if kind == "grad_inputs":
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the inputs of the "
                               "user-provided function. This is not allowed in strict mode.")
        raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The outputs must be "
                           "computed in a differentiable manner from the input when running in strict mode.")
