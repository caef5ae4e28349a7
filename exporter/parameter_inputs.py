"""Parameters and buffers as graph inputs: ``export_params=False`` (their values are not written, a caller feeds
them) and ``keep_initializers_as_inputs=True`` (written, and listed as inputs a caller may override). Both name them
by their ``state_dict`` keys. Constants the trace made stay initializers, not inputs, as PyTorch's stay nodes."""

from __future__ import annotations

from onnx import helper


def parameters_as_inputs(state) -> list[str]:
    """Turn each parameter/buffer initializer into a graph input (before the passes, so that nothing is folded
    into their traced values); returns their names."""
    moved = [name for name in state.initializers if name not in state.builder.constant_names]
    for name in moved:
        state.inputs.append(_value_info(name, state.initializers.pop(name)))
    return moved


def remove_unread_inputs(state, moved: list[str]) -> None:
    """Drop the inputs ``parameters_as_inputs`` made that the passes left unread (a dead branch's weight)."""
    read = {name for node in state.nodes for name in node.input} | set(state.outputs)
    state.inputs[:] = [info for info in state.inputs if info.name not in moved or info.name in read]


def initializer_inputs(state) -> list:
    """A graph input declaring each parameter/buffer initializer."""
    return [_value_info(name, array) for name, array in state.initializers.items()
            if name not in state.builder.constant_names]


def _value_info(name: str, array):
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape))
