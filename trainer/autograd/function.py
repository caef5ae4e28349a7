"""``torch.autograd.Function`` for users: a differentiable op written with tensors.

A subclass defines ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` on tensors and is called through
``apply``, as in PyTorch. ``forward`` runs without recording, so the ops inside it are not differentiated
(they are still observed, so the exporter traces through them); ``backward`` gets one gradient per output
and returns one per input of ``forward``. ``ctx`` is the call's graph node: an instance of a ``Backward``
class made once per subclass (``type(y.grad_fn).__name__`` is ``"MyOpBackward"``), built on the internal
op node, so the engine runs it like any other op.
"""

from __future__ import annotations

import functools

import numpy as np

from trainer import dtypes
from trainer.autograd import (
    custom_function_jvp,
    engine,
    function_transforms,
    grad_mode,
    higher_order,
    op,
    saved_tensors_hooks,
)
from trainer.backend import device_of


class FunctionCtx(op.Function):
    """What ``forward`` and ``backward`` share: saved tensors, attributes set by the user, and
    ``needs_input_grad`` (one bool per input of ``forward``)."""

    _forward_cls = None  # the user's Function subclass, set on each generated Backward class
    _packs_on_link = False  # ``_link`` below packs, once the saved outputs are detached

    def save_for_backward(self, *tensors) -> None:
        from trainer.tensor import Tensor

        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors or None, but got {type(t).__name__}")
        self._to_save = tensors
        # the version each tensor had when saved: backward refuses tensors changed in place since
        self._saved_versions = tuple((t._version_counter, t._version_counter.value, t._data.shape, t._data.dtype)
                                     for t in tensors if t is not None)

    def save_for_forward(self, *tensors) -> None:
        """Tensors for ``jvp``, where ``ctx.saved_tensors`` returns them (forward-mode AD)."""
        from trainer.tensor import Tensor

        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_forward expects all arguments to be tensors; you should save non-tensors "
                                f"as attributes on ctx. Got {type(t).__name__}")
        self._saved_for_forward = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self.__dict__.get("_in_jvp"):
            return self.__dict__.get("_saved_for_forward", ())
        if self._released:
            raise RuntimeError(engine.GRAPH_FREED)
        self._check_saved_versions()
        return self.__dict__.get("_to_save", ())

    def _saved_entries(self) -> list:
        """What saved-tensor hooks pack: the tensors given to ``save_for_backward``, not the user's attributes."""
        return ["_to_save"] if "_to_save" in self.__dict__ else []

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that never require grad (indices, masks); their gradients arrive as zeros."""
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        raise NotImplementedError(
            "ctx.mark_dirty (a custom Function that changes its inputs in place) is not supported: return a "
            "new tensor from forward instead"
        )

    def name(self) -> str:
        return type(self).__name__

    def _release(self) -> None:
        """Drop the saved tensors; attributes the user set on ctx stay readable, as in PyTorch."""
        self.__dict__.pop("_to_save", None)
        self._released = True

    @staticmethod
    def backward(ctx, *grads):
        """The engine's entry: raw gradient arrays in, one raw array (or None) per tensor input out."""
        from trainer.tensor import Tensor

        returned = ctx._forward_cls.backward(ctx, *_by_position(ctx, [Tensor._wrap(g) for g in grads]))
        return _input_grads(ctx, returned if type(returned) is tuple else (returned,))

    @staticmethod
    def backward_graph(ctx, *grads):
        """The engine's entry under ``create_graph``: the user's backward runs recorded, on tensor gradients, with
        each saved output re-attached to this node so that its derivative flows back through it, as in PyTorch.
        In the first pass of a Jacobian-vector product the node contributes through its ``jvp`` instead."""
        linearization = custom_function_jvp.active_linearization()
        if linearization is not None:
            return custom_function_jvp.linearized_backward(ctx, grads, linearization)
        saved = ctx.__dict__.get("_to_save")
        if saved is not None:
            ctx._to_save = tuple(t if nr is None else higher_order.attached(t._data, (ctx, nr))
                                 for t, nr in zip(saved, ctx._saved_output_nrs))
        try:
            returned = ctx._forward_cls.backward(ctx, *_by_position(ctx, grads))
        finally:
            if saved is not None:
                ctx._to_save = saved
        return _input_grads(ctx, returned if type(returned) is tuple else (returned,), as_tensors=True)


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``, then call
    ``MyOp.apply(*args)``. PyTorch 2's form also works: ``forward(*args)`` plus
    ``setup_context(ctx, inputs, output)``; that form is required under ``trainer.func`` transforms.
    ``jvp(ctx, *tangents)`` gives forward-mode AD its output tangents; under ``trainer.func.vmap`` a Function
    needs ``generate_vmap_rule = True`` or a ``vmap(info, in_dims, *args)`` staticmethod (see
    ``trainer.autograd.function_transforms``)."""

    generate_vmap_rule = False

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a custom Function must define a static forward(ctx, *args)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is only called where a subclass defines it")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a custom Function must define a static backward(ctx, *grad_outputs) to be "
                                  "differentiated")

    @staticmethod
    def jvp(ctx, *tangents):
        raise NotImplementedError(custom_function_jvp.JVP_MISSING)

    @classmethod
    def apply(cls, *args):
        from trainer.tensor import Tensor

        inputs = [a for a in args if isinstance(a, Tensor)]
        node_cls = _backward_cls(cls)
        ctx = node_cls.__new__(node_cls)
        ctx._released = False
        ctx._arg_is_tensor = tuple(isinstance(a, Tensor) for a in args)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        record = grad_mode.is_grad_enabled() and any(t._requires_grad for t in inputs)
        uses_setup_context = cls.setup_context is not Function.setup_context
        function_transforms.check_supported(cls, uses_setup_context)
        with grad_mode.no_grad():
            if not uses_setup_context:
                result = cls.forward(ctx, *args)
            else:
                if function_transforms.uses_vmap_staticmethod(cls):
                    result = function_transforms.run_vmap_staticmethod(cls, args)
                else:
                    result = cls.forward(*args)
                cls.setup_context(ctx, args, result)
            multi = type(result) is tuple
            results = list(result if multi else (result,))
            if record:
                for i, r in enumerate(results):
                    if isinstance(r, Tensor) and (r._requires_grad or any(r is t for t in inputs)):
                        results[i] = _alias(r)
        if record:
            _link(ctx, inputs, results)
            custom_function_jvp.jvp_at_apply(cls, ctx, inputs, results)
        return tuple(results) if multi else results[0]


def _alias(tensor):
    """A view of ``tensor`` to carry the new graph node, where forward returned an input (or another tensor
    made outside it) as is: linking that tensor itself would rewrite the caller's. PyTorch returns a view too.
    It is made by an op, so that the exporter traces it."""
    from trainer.ops.shape import Reshape

    alias = Reshape.apply(tensor, shape=tuple(tensor._data.shape))
    alias._version_counter = tensor._version_counter
    return alias


def _backward_cls(cls):
    made = cls.__dict__.get("_backward_cls")
    if made is None:
        made = type(cls.__name__ + "Backward", (FunctionCtx,), {"_forward_cls": cls})
        cls._backward_cls = made
    return made


def _link(ctx, inputs, results) -> None:
    """Make ``ctx`` the graph node of the tensor outputs, minus those marked non-differentiable."""
    from trainer.tensor import Tensor

    positions = [i for i, r in enumerate(results) if isinstance(r, Tensor)]
    outputs = [results[i] for i in positions]
    saved_versions = ctx._saved_versions if hasattr(ctx, "_saved_versions") else ()
    ctx._inputs_meta = tuple((t._data.shape, t._data.dtype, device_of(t._data)) for t in inputs)
    ctx._output_positions, ctx._n_outputs = tuple(positions), len(results)
    ctx._link(inputs, outputs)
    if "_to_save" in ctx.__dict__:  # a saved output is kept detached: the output holds ctx, not ctx the output
        ctx._saved_output_nrs = tuple(next((nr for nr, o in enumerate(outputs) if t is o), None)
                                      for t in ctx._to_save)
        ctx._to_save = tuple(t if nr is None else t.detach() for t, nr in zip(ctx._to_save, ctx._saved_output_nrs))
    ctx._saved_versions = saved_versions  # the internal link reads saved arrays; ours are saved tensors
    if saved_tensors_hooks.stack:
        saved_tensors_hooks.pack(ctx)
    marked = ctx.__dict__.get("_non_differentiable", ())
    for t in outputs:
        if id(t) in marked:
            t._grad_fn, t._requires_grad = None, False


def _by_position(ctx, grads) -> list:
    """The gradient of each output of forward, None for outputs that are not tensors."""
    by_position = [None] * ctx._n_outputs
    for position, g in zip(ctx._output_positions, grads):
        by_position[position] = g
    return by_position


def _input_grads(ctx, returned, as_tensors: bool = False) -> tuple:
    """Check what the user's backward returned against the inputs of forward, as PyTorch does, and
    return raw arrays for the tensor inputs (tensors, recorded, with ``as_tensors``): summed back to the input's
    shape where broadcast, in its dtype."""
    from trainer.ops._operands import unbroadcast
    from trainer.tensor import Tensor

    name = type(ctx).__name__
    n_args = len(ctx._arg_is_tensor)
    if len(returned) < n_args or any(g is not None for g in returned[n_args:]):
        raise RuntimeError(
            f"function {name} returned an incorrect number of gradients (expected {n_args}, got {len(returned)})"
        )
    grads, tensor_index = [], 0
    for position, (g, is_tensor) in enumerate(zip(returned, ctx._arg_is_tensor)):
        if not is_tensor:
            if g is not None:
                raise RuntimeError(
                    f"function {name} returned a gradient different than None at position {position + 1}, but "
                    "the corresponding forward input was not a Variable"
                )
            continue
        shape, dtype, device = ctx._inputs_meta[tensor_index]
        tensor_index += 1
        if g is None:
            grads.append(None)
            continue
        if not isinstance(g, Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
        array = g._data
        if array.shape != shape:
            try:
                fits = np.broadcast_shapes(shape, array.shape) == array.shape
            except ValueError:
                fits = False
            if not fits:
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {position} - got {list(array.shape)} "
                    f"but expected shape compatible with {list(shape)}"
                )
            if as_tensors:
                g = g.sum_to_size(shape)
                array = g._data
            else:
                array = unbroadcast(array, shape)
        if device_of(array) != device:
            raise RuntimeError(f"Function {name} returned an invalid gradient at index {position} - expected "
                               f"device {device} but got {device_of(array)}")
        if as_tensors:
            grads.append(g if array.dtype == dtype else g.to(dtypes.from_numpy(dtype)))
        else:
            grads.append(array if array.dtype == dtype else array.astype(dtype))
    return tuple(grads)


def once_differentiable(backward):
    """PyTorch's marker for a backward that is not itself differentiable: it runs without recording, and under
    ``create_graph`` the gradients it returns raise if they are differentiated again, as in PyTorch."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        recording = grad_mode.is_grad_enabled()
        with grad_mode.no_grad():
            results = backward(ctx, *grads)
        if not recording:
            return results
        # as in PyTorch, only the gradients flowing in decide whether the results can be differentiated
        return higher_order.with_delayed_error(
            results, grads, "trying to differentiate twice a function that was marked with @once_differentiable")

    return wrapper
