"""``torch.func.jacrev``, ``jacfwd`` and ``hessian``: Jacobians of a function of pytrees of tensors, as functions
of the same arguments. Entry ``[output][input]`` has shape ``output.shape + input.shape``, nested like the
function's outputs, then like the arguments at ``argnums`` (a tuple of them for a tuple ``argnums``)."""

from __future__ import annotations

import functools

import trainer
from trainer.autograd import custom_function_jvp, grad_mode
from trainer.func.argnums import slice_argnums
from trainer.func.pytree import tree_flatten, tree_unflatten
from trainer.func.random_draws import check_no_random_draws
from trainer.func.vector_products import check_differentiable_outputs, record_call


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size: int | None = None,
           _preallocate_and_copy: bool = False):
    """A function returning the Jacobian of ``func`` with respect to the arguments at ``argnums`` (with
    ``has_aux``, ``(jacobian, aux)``), computed by reverse mode, one vector-Jacobian product per output element.

    ``chunk_size`` (how many rows PyTorch computes at once with vmap) is checked as PyTorch does; the rows are
    computed one by one here whatever its value, so it changes nothing but the memory of a single row.
    ``_preallocate_and_copy`` (a PyTorch-internal memory layout switch) likewise gives the same result."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        return _jacobian(func, argnums, has_aux, args, "jacrev")

    return wrapper


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """A function returning the Jacobian of ``func`` with respect to the arguments at ``argnums`` (with
    ``has_aux``, ``(jacobian, aux)``): one Jacobian-vector product per input element, each by the double-vjp
    trick of ``trainer.func.jvp`` (one recorded reverse pass, then one more pass per column), so a custom
    ``autograd.Function`` contributes through its ``jvp``, as in PyTorch's forward-mode ``jacfwd``.

    ``func`` runs once; as in PyTorch, ``randomness="error"`` refuses a function that draws random numbers.
    ``"same"`` and ``"different"`` both allow them, and both give the Jacobian of that one draw (the
    ``"same"`` semantics: PyTorch's ``"different"`` would draw anew for each column)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")

    @functools.wraps(func)
    def wrapper(*args):
        if randomness != "error":
            return _jacobian(func, argnums, has_aux, args, "jacfwd")
        with check_no_random_draws():
            return _jacobian(func, argnums, has_aux, args, "jacfwd")

    return wrapper


def hessian(func, argnums=0):
    """A function returning the Hessian of the scalar function ``func`` with respect to the arguments at
    ``argnums``: ``jacfwd(jacrev(func, argnums), argnums)``, as in PyTorch."""
    return jacfwd(jacrev(func, argnums), argnums)


def _jacobian(func, argnums, has_aux, args, api):
    _error_if_complex(api, tree_flatten(args)[0], "inputs")
    # the messages of the transform PyTorch builds each on: vjp for jacrev, jvp for jacfwd
    inner_api = "vjp(f, *primals)" if api == "jacrev" else "jvp(f, primals, tangents)"
    call = record_call(func, args, argnums=argnums, has_aux=has_aux, api=inner_api, transform=api)
    _error_if_complex(api, call.flat_outputs, "outputs")
    check_differentiable_outputs(call.flat_outputs)
    scope, inputs = call.scope, call.flat_diff_primals
    _, primals_spec = tree_flatten(slice_argnums(args, argnums))
    recording = scope.records(call.flat_outputs)
    if api == "jacfwd":
        blocks = _forward_blocks(scope, call.flat_outputs, inputs, recording)
    else:
        blocks = [[rows.reshape(*out.shape, *inp.shape) for rows, inp in zip(_rows(scope, out, inputs, recording),
                                                                             inputs)] for out in call.flat_outputs]
    per_output = []
    for columns in blocks:
        per_input = tree_unflatten(scope.unwrap(columns), primals_spec)
        per_output.append(per_input[0] if isinstance(argnums, int) else per_input)
    jacobian = tree_unflatten(per_output, call.outputs_spec)
    return (jacobian, call.aux) if has_aux else jacobian


def _rows(scope, out, inputs, recording) -> list:
    """Per input, the Jacobian of ``out`` flattened to ``(out.numel(), *input.shape)``: row ``k`` is the gradient
    of the ``k``-th element of ``out``."""
    if out.numel() == 0 or not out.requires_grad:
        return [trainer.zeros(out.numel(), *inp.shape, dtype=inp.dtype, device=inp.device) for inp in inputs]
    flat = out.reshape(-1)
    rows = [scope.gradients([flat[k]], inputs, retain_graph=True, create_graph=recording) for k in range(out.numel())]
    return [trainer.stack([row[j] for row in rows]) for j in range(len(inputs))]


def _forward_blocks(scope, outputs, inputs, recording) -> list:
    """Per output, per input, the Jacobian block shaped ``output.shape + input.shape``, column by column: column
    ``k`` of an input is ``J e_k``, the vjps of one recorded first pass (from zero cotangents) differentiated
    against the cotangents, weighted by the basis vector ``e_k``."""
    blocks = [[trainer.zeros(*out.shape, *inp.shape, dtype=inp.dtype, device=inp.device) for inp in inputs]
              for out in outputs]
    differentiable = [i for i, out in enumerate(outputs) if out.requires_grad and out.numel() > 0]
    if not differentiable:
        return blocks
    with grad_mode.enable_grad(), custom_function_jvp.linearizing(api="jacfwd"):
        cotangents = [scope.own_leaf(trainer.zeros_like(outputs[i]).requires_grad_()) for i in differentiable]
        vjps = scope.gradients([outputs[i] for i in differentiable], inputs, cotangents, create_graph=True,
                               materialize=False)
    for j, (vjp, inp) in enumerate(zip(vjps, inputs)):
        if vjp is None or inp.numel() == 0:
            continue
        columns = []
        for k in range(inp.numel()):
            basis = trainer.zeros(inp.numel(), dtype=inp.dtype, device=inp.device)
            basis[k] = 1
            columns.append(scope.gradients([vjp], cotangents, [basis.reshape(inp.shape)], retain_graph=True,
                                           create_graph=recording))
        for position, i in enumerate(differentiable):
            out = outputs[i]
            stacked = trainer.stack([column[position] for column in columns], dim=-1)
            blocks[i][j] = stacked.reshape(*out.shape, *inp.shape)
    return blocks


def _error_if_complex(api: str, flat: list, what: str) -> None:
    for index, value in enumerate(flat):
        if isinstance(value, trainer.Tensor) and value.is_complex():
            raise RuntimeError(f"{api}: Expected all {what} to be real but received complex tensor at flattened "
                               f"input idx: {index}")
