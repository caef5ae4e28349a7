"""``IOBinding``: inputs and outputs bound to values on a device before a run (ONNX Runtime's ``IOBinding``).

Bound inputs reach the kernels as they are: a CuPy array bound to a CUDA session is never copied to the host.
An output bound to a value (``bind_ortvalue_output``, or ``bind_output`` with a ``buffer_ptr``) receives the result
in that value's memory; one bound by name and device gets a new value on that device, read with ``get_outputs``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import numpy as np
from onnx import helper

from serving.errors import InvalidArgumentError
from serving.ort_value import OrtValue, device_for
from serving.runtime.device import Device, to_host


def _dtype(element_type) -> np.dtype:
    return np.dtype(helper.tensor_dtype_to_np_dtype(element_type) if isinstance(element_type, int) else element_type)


def _array_at(device: Device, buffer_ptr: int, element_type, shape: Sequence[int]):
    """The memory at ``buffer_ptr`` as an array of ``shape``: the caller keeps it alive while it is bound."""
    dtype, shape = _dtype(element_type), tuple(int(d) for d in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if device.type == "cpu":
        raw = (ctypes.c_char * nbytes).from_address(buffer_ptr)
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    xp = device.xp
    memory = xp.cuda.UnownedMemory(buffer_ptr, nbytes, owner=None, device_id=device.index)
    return xp.ndarray(shape, dtype, xp.cuda.MemoryPointer(memory, 0))


class IOBinding:
    """Made by ``InferenceSession.io_binding()`` and run with ``InferenceSession.run_with_iobinding``."""

    def __init__(self, session):
        self._session = session
        self._inputs: dict[str, OrtValue] = {}
        # Bound outputs: name -> an OrtValue to write into, or the Device a new value goes to.
        self._outputs: dict[str, OrtValue | Device] = {}
        self._results: list[OrtValue] | None = None

    def _input_name(self, name: str) -> str:
        if name not in self._session._feed_checks:
            raise InvalidArgumentError(f"Failed to find NodeArg with name: {name} in the def list: the model's inputs "
                                       f"are {[a.name for a in self._session.get_inputs()]}")
        return name

    def _output_name(self, name: str) -> str:
        if name not in self._session._output_index:
            raise InvalidArgumentError(f"Failed to find NodeArg with name: {name} in the def list: the model's outputs "
                                       f"are {[a.name for a in self._session.get_outputs()]}")
        return name

    def bind_cpu_input(self, name: str, arr_on_cpu) -> None:
        """Bind a host array; a CUDA session copies it to its device when it runs."""
        self._inputs[self._input_name(name)] = OrtValue.ortvalue_from_numpy(arr_on_cpu)

    def bind_input(self, name: str, device_type: str, device_id: int, element_type, shape: Sequence[int],
                   buffer_ptr: int) -> None:
        """Bind memory the caller owns at ``buffer_ptr`` (host or device) as an ``element_type`` tensor of ``shape``."""
        device = device_for(device_type, device_id)
        self._inputs[self._input_name(name)] = OrtValue(_array_at(device, buffer_ptr, element_type, shape), device)

    def bind_ortvalue_input(self, name: str, ortvalue: OrtValue) -> None:
        if not isinstance(ortvalue, OrtValue):
            raise InvalidArgumentError(f"bind_ortvalue_input takes an OrtValue, got {type(ortvalue).__name__}")
        self._inputs[self._input_name(name)] = ortvalue

    def bind_output(self, name: str, device_type: str = "cpu", device_id: int = 0, element_type=None,
                    shape: Sequence[int] | None = None, buffer_ptr: int | None = None) -> None:
        """Bind an output to a device (a new value each run), or to the caller's memory at ``buffer_ptr``."""
        device = device_for(device_type, device_id)
        if buffer_ptr is None:
            self._outputs[self._output_name(name)] = device
            return
        if element_type is None or shape is None:
            raise InvalidArgumentError("bind_output with a buffer_ptr also needs its element_type and shape")
        self._outputs[self._output_name(name)] = OrtValue(_array_at(device, buffer_ptr, element_type, shape), device)

    def bind_ortvalue_output(self, name: str, ortvalue: OrtValue) -> None:
        if not isinstance(ortvalue, OrtValue):
            raise InvalidArgumentError(f"bind_ortvalue_output takes an OrtValue, got {type(ortvalue).__name__}")
        self._outputs[self._output_name(name)] = ortvalue

    def clear_binding_inputs(self) -> None:
        self._inputs.clear()

    def clear_binding_outputs(self) -> None:
        self._outputs.clear()
        self._results = None

    def synchronize_inputs(self) -> None:
        """Wait until the bound inputs' device work is done (CUDA); nothing to wait for on the CPU."""
        self._synchronize(v.device() for v in self._inputs.values())

    def synchronize_outputs(self) -> None:
        self._synchronize(v.device() if isinstance(v, OrtValue) else v for v in self._outputs.values())

    @staticmethod
    def _synchronize(devices) -> None:
        for device in {repr(d): d for d in devices if d.type == "cuda"}.values():
            with device.scope():
                device.xp.cuda.get_current_stream().synchronize()

    def get_outputs(self) -> list[OrtValue]:
        """The last run's outputs in the order they were bound."""
        if self._results is None:
            raise InvalidArgumentError("no outputs yet: run the session with run_with_iobinding(binding) first")
        return list(self._results)

    def copy_outputs_to_cpu(self) -> list:
        """The last run's outputs as host copies (NumPy arrays, lists of them for sequences)."""
        return [_host_copy(value.value()) for value in self.get_outputs()]

    def _run(self, run_options) -> None:
        """Run the session on the bound inputs and deliver each output where it is bound."""
        if not self._outputs:
            raise InvalidArgumentError("At least one output should be requested: bind one with bind_output")
        names = list(self._outputs)
        feeds = {name: value.value() for name, value in self._inputs.items()}
        results = self._session._run_on_device(names, feeds, run_options)
        delivered = []
        for name, result in zip(names, results):
            target = self._outputs[name]
            if isinstance(target, Device):
                with target.scope():
                    placed = ([_placed(target, v) for v in result] if isinstance(result, list)
                              else _placed(target, result))
                delivered.append(OrtValue(placed, target))
            else:
                _write_into(name, target, result)
                delivered.append(target)
        self._results = delivered


def _host_copy(value):
    if isinstance(value, list):
        return [_host_copy(v) for v in value]
    return value.copy() if isinstance(value, np.ndarray) else to_host(value)


def _placed(device: Device, value):
    """``value`` on ``device``: CuPy arrays come to the host for the CPU, host arrays go to a CUDA device."""
    if value is None:
        return None
    if device.type == "cpu":
        return value if isinstance(value, np.ndarray) else value.get()
    return device.xp.asarray(value)


def _write_into(name: str, target: OrtValue, result) -> None:
    buffer = target.value()
    if not hasattr(result, "shape") or tuple(result.shape) != tuple(buffer.shape) or result.dtype != buffer.dtype:
        got = f"{list(result.shape)} {result.dtype}" if hasattr(result, "shape") else type(result).__name__
        raise InvalidArgumentError(
            f"output {name!r} is {got}, but the value bound to it holds {list(buffer.shape)} {buffer.dtype}")
    device = target.device()
    with device.scope():
        buffer[...] = _placed(device, result)
