"""``torch.func.vjp`` and ``jvp``: vector-Jacobian and Jacobian-vector products of a function of pytrees of
tensors.

trainer has reverse-mode AD only, so ``jvp`` uses the double-vjp trick: ``u -> J^T u`` is linear in the
cotangent ``u``, and differentiating it against the tangent ``v`` gives ``J v``. That costs two reverse passes
instead of one forward pass, and needs the function to be twice differentiable by trainer's autograd; a custom
``autograd.Function`` on the way contributes through its ``jvp`` (see ``trainer.autograd.custom_function_jvp``).
"""

from __future__ import annotations

from dataclasses import dataclass

import trainer
from trainer.autograd import custom_function_jvp, function_transforms, grad_mode
from trainer.func.argnums import replace_argnums, slice_argnums
from trainer.func.grad_scope import GradScope
from trainer.func.pytree import TreeSpec, tree_flatten, tree_map, tree_unflatten
from trainer.tensor import Tensor

_JVP = "jvp(f, primals, tangents)"


@dataclass
class RecordedCall:
    """One call of the function, recorded for reverse-mode products: its outputs as computed (still on the
    graph), their structure, the fresh inputs differentiated against and theirs, and the scope they belong to."""

    scope: GradScope
    flat_outputs: list
    outputs_spec: TreeSpec
    flat_diff_primals: list
    primals_spec: TreeSpec
    aux: object


def record_call(func, primals: tuple, argnums=None, has_aux: bool = False, api: str = "vjp(f, *primals)",
                transform: str = "vjp"):
    """Run ``func(*primals)`` against fresh copies of the primals (of those at ``argnums`` when given), as
    ``transform`` (what custom Functions inside are checked against)."""
    scope = GradScope()
    with grad_mode.enable_grad():
        if argnums is None:
            diff_primals = tree_map(scope.differentiable, primals)
            primals = diff_primals
        else:
            diff_primals = tree_map(scope.differentiable, slice_argnums(primals, argnums, as_tuple=False))
            primals = replace_argnums(primals, argnums, diff_primals)
        with function_transforms.transform(transform):
            output = func(*primals)
        aux = None
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
            output, aux = output
            aux = scope.unwrap_tensors(aux)
    flat_outputs, outputs_spec = tree_flatten(output)
    _check_tensor_outputs(flat_outputs, api)
    flat_diff_primals, primals_spec = tree_flatten(diff_primals)
    return RecordedCall(scope, flat_outputs, outputs_spec, flat_diff_primals, primals_spec, aux)


def vjp(func, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``, with ``has_aux`` ``(output, vjp_fn, aux)``: ``vjp_fn(cotangents)`` (shaped
    like the output) returns the vector-Jacobian product with respect to each primal, as a tuple. ``vjp_fn`` may
    be called several times."""
    call = record_call(func, primals, has_aux=has_aux)
    check_differentiable_outputs(call.flat_outputs)
    output = call.scope.unwrap(tree_unflatten(call.flat_outputs, call.outputs_spec))

    def vjp_fn(cotangents, retain_graph: bool = True, create_graph: bool | None = None):
        flat_cotangents, cotangents_spec = tree_flatten(cotangents)
        if cotangents_spec != call.outputs_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of outputs "
                               f"to the function. cotangents: {cotangents_spec}, primal output: {call.outputs_spec}")
        recording = grad_mode.is_grad_enabled() if create_graph is None else create_graph
        scope = call.scope
        result = scope.gradients(call.flat_outputs, call.flat_diff_primals, flat_cotangents, retain_graph=retain_graph,
                                 create_graph=recording and scope.reaches_outside(call.flat_outputs + flat_cotangents))
        return scope.unwrap(tree_unflatten(result, call.primals_spec))

    return (output, vjp_fn, call.aux) if has_aux else (output, vjp_fn)


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J v)`` for the tangents ``v`` (shaped like ``primals``, a tuple); with ``has_aux``,
    ``(output, jvp_out, aux)``. Computed by the double-vjp trick on reverse mode (see the module's docstring)."""
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_primals, primals_spec = tree_flatten(primals)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(f"{_JVP}: Expected primals and tangents to have the same python structure. For example, "
                           "if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{primals_spec} and tangents with structure {tangents_spec}")
    _check_tensors(flat_primals, "primals")
    _check_tensors(flat_tangents, "tangents")
    for p, t in zip(flat_primals, flat_tangents):
        if p.shape != t.shape:
            raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                               f"Tensor, this is not supported. Tensor is of size {list(p.shape)} while the given "
                               f"forward gradient is of size {list(t.shape)}.")
    call = record_call(func, primals, has_aux=has_aux, api=_JVP, transform="jvp")
    scope, outputs = call.scope, call.flat_outputs
    tangents_out = [None] * len(outputs)
    differentiable = [i for i, out in enumerate(outputs) if out.requires_grad]
    if differentiable:
        with grad_mode.enable_grad(), custom_function_jvp.linearizing():
            cotangents = [scope.own_leaf(trainer.zeros_like(outputs[i]).requires_grad_()) for i in differentiable]
            vjps = scope.gradients([outputs[i] for i in differentiable], call.flat_diff_primals, cotangents,
                                   create_graph=True)
        # J v: the vjp differentiated against its cotangents, weighted by the tangents; None for an output that
        # does not depend on the primals
        weights = [t.to(p.dtype) for t, p in zip(flat_tangents, flat_primals)]
        products = scope.gradients(vjps, cotangents, weights, materialize=False)
        for i, product in zip(differentiable, products):
            tangents_out[i] = product
    flat_result = []
    for out, tangent in zip(outputs, tangents_out):
        if tangent is None:
            if strict:
                raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is independent of the "
                                   "inputs. This is not allowed with strict=True.")
            tangent = trainer.zeros_like(out)
        flat_result.append(tangent)
    output = scope.unwrap(tree_unflatten(outputs, call.outputs_spec))
    tangent_out = scope.unwrap(tree_unflatten(flat_result, call.outputs_spec))
    return (output, tangent_out, call.aux) if has_aux else (output, tangent_out)


def check_differentiable_outputs(flat_outputs: list) -> None:
    """PyTorch's error for outputs that reverse mode cannot start from (integer or boolean tensors)."""
    for out in flat_outputs:
        if not (out.is_floating_point() or out.is_complex()):
            raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got Tensor "
                               f"with dtype {out.dtype}")


def _check_tensor_outputs(flat_outputs: list, api: str) -> None:
    if not flat_outputs or (len(flat_outputs) == 1 and flat_outputs[0] is None):
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got output = "
                           f"{flat_outputs})")
    for out in flat_outputs:
        if not isinstance(out, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type "
                               f"{type(out)}")


def _check_tensors(flat: list, argname: str) -> None:
    if not flat:
        raise RuntimeError(f"{_JVP}: Expected {argname} to contain at least one Tensor.")
    for value in flat:
        if not isinstance(value, Tensor):
            raise RuntimeError(f"{_JVP}: Expected {argname} to only contain Tensors, got {type(value)}")
