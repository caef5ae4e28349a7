"""``Function``: one differentiable op, its forward and backward side by side.

Forward and backward work on raw ``xp`` arrays (NumPy or CuPy), not on tensors: the op's maths
stays readable and no autograd bookkeeping runs inside it. ``apply`` wraps the arrays into
tensors and, when recording, makes the ``Function`` instance itself the graph node.
"""

from __future__ import annotations

from trainer.autograd import anomaly_mode, grad_mode, node_hooks, observe, saved_tensors_hooks, span_observers
from trainer.backend import xp_of
from trainer.dtypes import is_inexact


class _Unchanging:
    """The version counter of an array no one writes to any more."""

    value = 0


_UNCHANGING = _Unchanging()


class Function:
    """Subclass with ``forward(ctx, *arrays, **attrs)`` and ``backward(ctx, *grads)``.

    ``backward`` returns one gradient (or ``None``) per array input of ``forward``. Only
    floating-point outputs are differentiable; integer and boolean outputs never require grad.
    """

    __slots__ = ("_edges", "needs_input_grad", "_saved_versions", "_saved_sources", "_output_meta",
                 "_retained", "_tensor_hooks", "_node_hooks", "_metadata", "_packed", "_released", "__dict__")
    _packs_on_link = True  # a custom Function's ctx packs once its own link has settled what it saves

    @staticmethod
    def forward(ctx, *arrays, **attrs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("this op is not differentiable")

    def save_for_backward(self, *arrays) -> None:
        self.saved_tensors = arrays

    def name(self) -> str:
        """PyTorch's name for the node of a built-in op: ``SumBackward0`` (the 0 numbers the op's overload)."""
        return type(self).__name__ + "Backward0"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` runs before this node's backward, after the output tensors' own hooks; a tuple
        it returns replaces ``grad_outputs``. Returns a handle whose ``remove()`` unregisters it."""
        return node_hooks.add(self, "pre", hook)

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` runs after this node's backward; a tuple it returns (one entry per
        input) replaces ``grad_inputs``. Returns a handle whose ``remove()`` unregisters it."""
        return node_hooks.add(self, "post", hook)

    @property
    def metadata(self) -> dict:
        """A dict of the user's own, kept with this node."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    @property
    def next_functions(self) -> tuple:
        """PyTorch's view of where gradients flow: one ``(node, output_nr)`` per input, an ``AccumulateGrad`` node
        for a leaf that requires grad and ``(None, 0)`` for an input that gets no gradient. (``_edges`` holds the
        engine's own form: the node's pair, the leaf tensor itself, or None.)"""
        return tuple(edge if type(edge) is tuple else (None, 0) if edge is None else (AccumulateGrad(edge), 0)
                     for edge in self._edges)

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Run the op on tensors; returns a tensor, or a tuple for ops with several outputs."""
        from trainer.tensor import Tensor

        if span_observers.op_start_observers:
            span_observers.notify_op_start(cls.__name__)
        ctx = cls.__new__(cls)
        record = grad_mode._state.enabled and any(t._requires_grad for t in inputs)
        if record:
            ctx.needs_input_grad = tuple(t._requires_grad for t in inputs)
        result = cls.forward(ctx, *[t._data for t in inputs], **attrs)
        multi = type(result) is tuple
        arrays = result if multi else (result,)
        outputs = tuple(Tensor._wrap(a) for a in arrays)
        if record:
            ctx._link(inputs, outputs, arrays)
        if observe.observers:
            observe.notify(observe.OpEvent(cls.__name__, inputs, outputs, attrs))
        return outputs if multi else outputs[0]

    def _link(self, inputs, outputs, results=()) -> None:
        """Make this instance the graph node of ``outputs`` and remember where grads flow. ``results`` are what
        forward returned, before NumPy scalars became the outputs' 0-d arrays."""
        self._edges = tuple(
            (t._grad_fn, t._output_nr) if t._grad_fn is not None else (t if t._requires_grad else None)
            for t in inputs
        )
        self._released = False
        self._retained = None
        self._tensor_hooks = None
        self._node_hooks = None
        self._metadata = None
        if anomaly_mode.enabled:  # where this op was called, for the warning if its backward fails
            self._forward_stack = anomaly_mode.forward_stack()
        for nr, out in enumerate(outputs):
            if is_inexact(out._data.dtype):
                out._grad_fn, out._output_nr, out._requires_grad = self, nr, True
        # multi-output nodes need each output's shape to stand in zeros for outputs that got no grad
        self._output_meta = (
            [(o._data.shape, o._data.dtype, xp_of(o._data)) for o in outputs] if len(outputs) > 1 else None
        )
        saved = self.__dict__.get("saved_tensors")
        provenance = _saved_provenance(saved, inputs, outputs, results) if saved else ((), ())
        self._saved_versions, self._saved_sources = provenance
        self._packed = None
        if saved_tensors_hooks.stack and self._packs_on_link:
            saved_tensors_hooks.pack(self)

    def _saved_entries(self) -> list:
        """The attributes holding what backward needs: ``saved_tensors`` and every array kept on the node."""
        return [key for key, value in self.__dict__.items()
                if key == "saved_tensors" or saved_tensors_hooks.is_array(value)]

    def _hooks_of(self, output_nr: int) -> dict:
        """The gradient hooks (handle id -> hook) registered on output ``output_nr`` of this node."""
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        return self._tensor_hooks.setdefault(output_nr, {})

    def _check_saved_versions(self) -> None:
        for counter, expected, shape, dtype in self._saved_versions:
            if counter.value != expected:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [tensor of shape {list(shape)}, dtype {dtype}] saved by {self.name()} "
                    f"is at version {counter.value}; expected version {expected} instead. "
                    "Use out-of-place ops (e.g. x = x * 2 instead of x.mul_(2)) or .clone() the tensor "
                    "before changing it."
                )

    def _accept_version(self, counter) -> None:
        """Stop checking what was saved under ``counter``: an in-place op rebinds its tensor to this node's
        output, leaving the arrays this node saved (the tensor's previous value) as they are, whatever later
        in-place ops do to the tensor (PyTorch saves a copy of the original for the same reason)."""
        self._saved_versions = tuple((_UNCHANGING, 0, shape, dtype) if c is counter else (c, expected, shape, dtype)
                                     for c, expected, shape, dtype in self._saved_versions)

    def _release(self) -> None:
        """Drop what forward saved, so a finished graph holds no memory."""
        self.__dict__.clear()
        self._released = True


class AccumulateGrad:
    """The node ``next_functions`` shows for a leaf that requires grad, as PyTorch's: its ``variable`` is the leaf,
    into whose ``.grad`` the engine accumulates."""

    __slots__ = ("variable",)
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "trainer::autograd::AccumulateGrad"

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)


def _saved_provenance(saved, inputs, outputs, results):
    """The version each saved tensor had at save time, so backward can detect in-place edits; and where each
    saved array came from, ``("input", i)``, ``("output", nr)`` or None (made inside forward), so that a
    ``create_graph`` backward can differentiate through it."""
    checks, sources = [], []
    for array in saved:
        source = None
        for kind, tensors in (("input", inputs), ("output", outputs)):
            for i, t in enumerate(tensors):
                if t._data is array:
                    checks.append((t._version_counter, t._version_counter.value, array.shape, array.dtype))
                    source = (kind, i)
                    break
            if source is not None:
                break
        if source is None:  # a full reduction's NumPy scalar, saved as forward returned it
            source = next((("output", i) for i, r in enumerate(results) if r is array), None)
        sources.append(source)
    return tuple(checks), tuple(sources)
