"""A custom ``autograd.Function``'s ``jvp(ctx, *tangents)`` in trainer's forward-mode AD.

trainer computes tangents by the double-vjp trick (``forward_ad``, ``trainer.func.jvp``): a first, recorded
reverse pass from a zero cotangent ``u`` builds ``u -> J^T u``, and differentiating that against the tangents
``v`` gives ``J v``. Every gradient of the first pass is linear in ``u``, so its value is zero; and the second pass,
running back through what the first recorded, carries the forward tangents: what reaches a node's recorded
input-gradients is its inputs' tangents, and what that recording sends back to its output-gradients is its
outputs' tangents.

So a custom Function node supplies its output tangents itself. During a first pass (inside ``linearizing``), its
backward is replaced by a ``LinearizedFunction``: zeros forward (the exact value at ``u = 0``) and, backwards,
the Function's ``jvp`` of the input tangents it is handed. The Function's own ``backward`` is never needed.

Under ``forward_ad.dual_level`` the tangents are fixed for the level, so ``jvp`` runs once, in ``apply`` right
after forward, as in PyTorch (it may free what forward kept on ctx), and the node keeps the output tangents for
every pass of that level. Under ``trainer.func.jvp`` and ``jacfwd`` it runs in the pass, with that pass's tangents.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from trainer.autograd import engine, function_transforms
from trainer.autograd.op import Function as OpFunction
from trainer.backend import device_of, xp_of

JVP_MISSING = "You must implement the jvp function for custom autograd.Function to use it with forward mode AD."


@dataclass(frozen=True)
class _Linearization:
    """One first pass: the forward-AD level whose tangents it uses (None for a ``trainer.func`` transform), the
    transform asking (``jacfwd`` also needs the Function to be batchable, as PyTorch's runs it under vmap), and
    how many backward passes were already running, so that only the pass itself is linearized."""

    level: object
    api: str
    depth: int


_linearizations: list[_Linearization] = []


@contextlib.contextmanager
def linearizing(level=None, api: str = "jvp"):
    """The backward pass run inside this block is the first pass of a Jacobian-vector product from a zero
    cotangent: custom Function nodes on it contribute through their ``jvp``."""
    _linearizations.append(_Linearization(level, api, len(engine.running)))
    try:
        yield
    finally:
        _linearizations.pop()


def active_linearization() -> _Linearization | None:
    """The linearization of the backward pass now running, if it is a first pass (not a pass nested in one)."""
    if _linearizations and len(engine.running) == _linearizations[-1].depth + 1:
        return _linearizations[-1]
    return None


def has_jvp(cls) -> bool:
    from trainer.autograd.function import Function

    return cls.jvp is not Function.jvp


def linearized_backward(node, grads, linearization: _Linearization) -> tuple:
    """What custom Function ``node`` records in a first pass in place of its backward (see the module's
    docstring): one zero gradient per tensor input, whose derivative is the node's ``jvp``."""
    cls = node._forward_cls
    if not has_jvp(cls):
        raise NotImplementedError(JVP_MISSING)
    if linearization.api == "jacfwd":
        function_transforms.check_vmap_support(cls)
    return LinearizedFunction.apply(*grads, node=node, level=linearization.level)


class LinearizedFunction(OpFunction):
    """A custom Function's backward at a zero cotangent, recorded: zeros forward; backwards, the output tangents
    from the input tangents, by the Function's ``jvp`` (or those it gave at ``apply`` for the forward-AD level)."""

    @staticmethod
    def forward(ctx, *grads, node, level):
        ctx.node, ctx.level = node, level
        ctx.output_meta = [_meta(g) for g in grads]
        xp = xp_of(grads[0])
        return tuple(xp.zeros(shape, dtype) for shape, dtype, _ in node._inputs_meta)

    @staticmethod
    def backward(ctx, *input_tangents):
        from trainer.autograd import grad_mode
        from trainer.tensor import Tensor

        with grad_mode.no_grad():
            tangents = _output_tangents(ctx, [Tensor._wrap(t) for t in input_tangents])
        return tuple(t._data for t in tangents)

    @staticmethod
    def backward_graph(ctx, *input_tangents):
        return tuple(_output_tangents(ctx, list(input_tangents)))


def _output_tangents(ctx, input_tangents: list) -> list:
    stored = ctx.node.__dict__.get("_forward_tangents")
    if stored is not None and ctx.level is not None and stored[0] is ctx.level:
        return stored[1]
    return call_jvp(ctx.node, input_tangents, ctx.output_meta)


def call_jvp(node, input_tangents: list, output_meta: list) -> list:
    """The Function's ``jvp(ctx, *tangents)`` (None for each argument that is not a tensor), checked as PyTorch
    checks it; one tangent per tensor output (``output_meta``: their shapes, dtypes and devices), zeros where it
    gave None.
    Inside ``jvp``, ``ctx.saved_tensors`` are the tensors given to ``ctx.save_for_forward``."""
    import trainer
    from trainer import dtypes
    from trainer.tensor import Tensor

    given = iter(input_tangents)
    tangents = [next(given) if is_tensor else None for is_tensor in node._arg_is_tensor]
    node._in_jvp = True
    try:
        returned = node._forward_cls.jvp(node, *tangents)
    finally:
        node._in_jvp = False
    returned = returned if type(returned) is tuple else (returned,)
    if len(returned) != node._n_outputs:
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients (expected "
                           f"{node._n_outputs} but got {len(returned)})")
    results = []
    for position, (shape, dtype, device) in zip(node._output_positions, output_meta):
        tangent = returned[position]
        if tangent is None:
            tangent = trainer.zeros(tuple(shape), dtype=dtypes.from_numpy(dtype), device=device)
        elif not isinstance(tangent, Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(tangent).__name__}) for grad output "
                               f"{position}.")
        if tuple(tangent.shape) != tuple(shape):
            raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                               f"Tensor, this is not supported. Tensor is of size {list(shape)} while the given "
                               f"forward gradient is of size {list(tangent.shape)}.")
        results.append(tangent if tangent._data.dtype == dtype else tangent.to(dtypes.from_numpy(dtype)))
    return results


def jvp_at_apply(cls, ctx, inputs: list, results: list) -> None:
    """Under an open forward-AD level with a tangent on some input: the Function's ``jvp``, run now, its output
    tangents kept on ``ctx`` for the level's passes. PyTorch's error for a Function without ``jvp``."""
    from trainer.autograd import forward_ad
    from trainer.tensor import Tensor

    found = forward_ad.tangents_of(inputs)
    if found is None:
        return
    if not has_jvp(cls):
        raise NotImplementedError(JVP_MISSING)
    level, tangents = found
    outputs = [r for r in results if isinstance(r, Tensor)]
    ctx._forward_tangents = (level, call_jvp(ctx, tangents, [_meta(o._data) for o in outputs]))


def _meta(array) -> tuple:
    return array.shape, array.dtype, device_of(array)
