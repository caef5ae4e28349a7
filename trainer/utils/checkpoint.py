"""Activation checkpointing, as in ``torch.utils.checkpoint``: trade compute for memory by not keeping what a
block saved for backward, and running the block again when backward needs it.

Two variants, as in PyTorch:

- ``use_reentrant=False`` (recommended): the block's graph is recorded as usual, but each op node recorded in it
  drops what it saved (its ``__dict__``: saved arrays, masks, shapes) as soon as it is made, keeping only its
  edges. The first of these nodes that backward reaches re-runs the block (RNG state restored), and each node
  takes back the state its twin in the re-run saved. Since the graph is the real one, ``autograd.grad``,
  ``inputs=``, ``create_graph``, tensor hooks and parameters captured by closure all work, whether or not the
  block's inputs require grad.
- ``use_reentrant=True``: the block is one custom ``Function`` run under ``no_grad``; its backward re-runs the block
  with grad and calls ``backward`` on it, accumulating into the ``.grad`` of the leaves it reaches.

The engine checks each node's saved versions just before running it; a stripped node's own
``_check_saved_versions`` is the hook that restores it.
"""

from __future__ import annotations

import contextlib
import warnings

from trainer.autograd import grad_mode, observe
from trainer.autograd.backward_pass import backward as autograd_backward
from trainer.autograd.function import Function
from trainer.backend import as_device, device_of
from trainer.random import device_generator, fork_rng
from trainer.tensor import Tensor

__all__ = ["CheckpointError", "CheckpointFunction", "check_backward_validity", "checkpoint", "checkpoint_sequential",
           "detach_variable", "noop_context_fn", "set_checkpoint_debug_enabled"]

_allowed_determinism_checks = ("default", "none")
_checkpoint_debug_enabled: bool | None = None
_recomputing = 0  # > 0 while a block is being re-run: checkpoints nested in it then run as plain calls

_DEBUG_TIP = ("\nTip: To see a more detailed error message, either pass `debug=True` to "
              "`trainer.utils.checkpoint.checkpoint(...)` or wrap the code block with "
              "`with trainer.utils.checkpoint.set_checkpoint_debug_enabled(True):` to enable checkpoint-debug mode "
              "globally.")


class CheckpointError(RuntimeError):
    """The re-run of a checkpointed block did not record what its first run did."""


class _StopRecomputation(Exception):  # noqa: N818 - a control-flow signal, not an error the user sees
    """Raised from the re-run once every node of the first run has its twin (``early_stop``)."""


def noop_context_fn():
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled: bool | None):
    """Override ``debug`` of every ``checkpoint`` call inside the block (None defers to each call's own)."""
    global _checkpoint_debug_enabled
    previous, _checkpoint_debug_enabled = _checkpoint_debug_enabled, enabled
    try:
        yield
    finally:
        _checkpoint_debug_enabled = previous


def detach_variable(inputs):
    """Each tensor of the tuple ``inputs`` detached, keeping its ``requires_grad``; other values as they are."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: {type(inputs).__name__}")
    out = []
    for inp in inputs:
        if isinstance(inp, Tensor):
            x = inp.detach()
            x.requires_grad = inp.requires_grad
            inp = x
        out.append(inp)
    return tuple(out)


def check_backward_validity(inputs) -> None:
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


def checkpoint(function, *args, use_reentrant: bool | None = None, context_fn=noop_context_fn,
               determinism_check: str = "default", debug: bool = False, early_stop: bool = True, **kwargs):
    """``function(*args, **kwargs)``, keeping none of its intermediate results for backward: backward runs it
    again. ``preserve_rng_state`` (a keyword, default True) replays the RNG so that random ops repeat."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in PyTorch "
            "2.9, calling checkpoint without use_reentrant will raise an exception. use_reentrant=False is "
            "recommended, but if you need to preserve the current default behavior, you can pass "
            "use_reentrant=True. Refer to docs for more details on the differences between the two variants.",
            stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _checkpoint_without_reentrant(function, preserve, context_fn, determinism_check, debug, early_stop,
                                         args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):  # noqa: A002 - PyTorch's
    """Run ``functions`` (an ``nn.Sequential`` or a list of modules/functions) on ``input`` in ``segments``
    chunks, checkpointing all chunks but the last."""
    from trainer.nn import Sequential

    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
            "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
            "use_reentrant=False is recommended, but if you need to preserve the current default behavior, you can "
            "pass use_reentrant=True. Refer to docs for more details on the differences between the two variants.",
            stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(input):  # noqa: A002
            for j in range(start, end + 1):
                input = functions[j](input)
            return input

        return forward

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)


class CheckpointFunction(Function):
    """The reentrant variant: ``forward`` under ``no_grad``; ``backward`` re-runs with grad and backpropagates."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.rng_states = _rng_states(args)
        ctx.inputs = [None if isinstance(arg, Tensor) else arg for arg in args]
        ctx.tensor_indices = [i for i, arg in enumerate(args) if isinstance(arg, Tensor)]
        ctx.save_for_backward(*[arg for arg in args if isinstance(arg, Tensor)])
        with grad_mode.no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        inputs = list(ctx.inputs)
        for i, tensor in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = tensor
        with _replayed_rng(ctx.rng_states if ctx.preserve_rng_state else None):
            detached_inputs = detach_variable(tuple(inputs))
            with grad_mode.enable_grad():
                outputs = ctx.run_function(*detached_inputs)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        autograd_backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(inp.grad if isinstance(inp, Tensor) else None for inp in detached_inputs)


def _checkpoint_without_reentrant(function, preserve, context_fn, determinism_check, debug, early_stop, args,
                                  kwargs):
    debug = _checkpoint_debug_enabled if _checkpoint_debug_enabled is not None else debug
    if debug and context_fn is not noop_context_fn:
        raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in _allowed_determinism_checks:
        raise ValueError(f"determinism_check should be one of {list(_allowed_determinism_checks)}, but got "
                         f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    if not grad_mode.is_grad_enabled() or _recomputing:  # nothing is recorded, or an outer re-run handles it
        return function(*args, **kwargs)
    frame = _Frame(function, args, kwargs, _rng_states(args) if preserve else None, recompute_context,
                   determinism_check == "default", debug, early_stop)
    suppressed = True
    with observe.observe_ops(frame.strip), forward_context:
        result = function(*args, **kwargs)
        suppressed = False
    if suppressed:
        raise RuntimeError("torch.utils.checkpoint: the forward context provided by context_fn suppressed an "
                           "exception raised during the checkpointed forward. This is not supported because "
                           "checkpoint cannot return a value for a failed forward.")
    return result


class _Frame:
    """One non-reentrant checkpointed call: how to re-run it, what each stripped node saved (its op and the
    shapes, dtypes and devices of its saved arrays, to check the re-run against), and the re-run's node states
    until each stripped node takes its own back."""

    def __init__(self, function, args, kwargs, rng_states, recompute_context, check_metadata, debug, early_stop):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_states, self.recompute_context = rng_states, recompute_context
        self.check_metadata, self.debug, self.early_stop = check_metadata, debug, early_stop
        self.forward_records: list = []  # (op name, saved-array metadata) per stripped node, in recording order
        self.recomputed: list | None = None  # the re-run's node __dict__ per stripped node

    def strip(self, event) -> None:
        """Observer of the first run: empty the new node's ``__dict__``, leaving the hook that refills it."""
        node = _node_of(event)
        if node is None or "_checkpoint_frame" in node.__dict__:  # no node, or an enclosing checkpoint's
            return
        index = len(self.forward_records)
        self.forward_records.append((event.op, _saved_metadata(node)))
        node.__dict__.clear()
        node.__dict__["_checkpoint_frame"] = self
        node.__dict__["_check_saved_versions"] = lambda: self.restore(node, index)

    def restore(self, node, index: int) -> None:
        """Run by the engine just before ``node``'s backward: give it back what its twin in the re-run saved."""
        if self.recomputed is None:
            self.recomputed = self._recompute()
        state, self.recomputed[index] = self.recomputed[index], None
        node.__dict__.clear()
        node.__dict__.update(state)
        type(node)._check_saved_versions(node)

    def _recompute(self) -> list:
        global _recomputing
        nodes, names = [], []

        def collect(event):
            node = _node_of(event)
            if node is None:
                return
            nodes.append(node)
            names.append(event.op)
            if self.early_stop and len(nodes) == len(self.forward_records):
                raise _StopRecomputation

        _recomputing += 1
        try:
            with _replayed_rng(self.rng_states), grad_mode.enable_grad(), self.recompute_context, \
                    observe.observe_ops(collect):
                try:
                    self.function(*self.args, **self.kwargs)
                except _StopRecomputation:
                    pass
        finally:
            _recomputing -= 1
        self._check(nodes, names)
        return [dict(node.__dict__) for node in nodes]

    def _check(self, nodes, names) -> None:
        trace = self._trace(names) if self.debug else _DEBUG_TIP
        if len(nodes) != len(self.forward_records):
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of ops saved tensors during the original forward and "
                f"recomputation.\nNumber of ops recorded during forward: {len(self.forward_records)}\n"
                f"Number of ops recorded during recomputation: {len(nodes)}.\n{trace}")
        if not self.check_metadata:
            return
        mismatched = ""
        for position, ((name, meta), node, new_name) in enumerate(zip(self.forward_records, nodes, names)):
            new_meta = _saved_metadata(node)
            if (name, meta) != (new_name, new_meta):
                mismatched += (f"op at position {position}:\nsaved metadata: {name} {meta}\n"
                               f"recomputed metadata: {new_name} {new_meta}\n")
        if mismatched:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have "
                                  f"different metadata than during the forward pass.\n{mismatched}.\n{trace}")

    def _trace(self, names) -> str:
        forward = "\n".join(name for name, _ in self.forward_records)
        return (f"\nOperations executed during the original forward:\n{forward}\n\n"
                "Operations executed during recomputation:\n" + "\n".join(names))


def _node_of(event):
    """The graph node an op event recorded, or None where it recorded none (grad off, or no input needs it)."""
    for out in event.outputs:
        if out._grad_fn is not None:
            return out._grad_fn
    return None


def _saved_metadata(node) -> tuple:
    """Shape, dtype and device of each array the node saved for backward."""
    saved = node.__dict__.get("saved_tensors", ())
    return tuple(None if a is None else (tuple(a.shape), str(a.dtype), str(device_of(a))) for a in saved)


def _rng_states(args) -> dict:
    """The default generator state of the CPU and of each device a tensor argument lives on."""
    devices = {as_device("cpu")} | {arg.device for arg in args if isinstance(arg, Tensor)}
    return {dev: device_generator(dev).get_state() for dev in devices}


@contextlib.contextmanager
def _replayed_rng(states):
    """Inside, the default generators are as ``states`` recorded them; after, as they were before (None: no
    replay at all, ``preserve_rng_state=False``)."""
    if states is None:
        yield
        return
    cuda_indices = [dev.index or 0 for dev in states if dev.type == "cuda"]
    with fork_rng(devices=cuda_indices, device_type="cuda"):
        for dev, state in states.items():
            device_generator(dev).set_state(state)
        yield
