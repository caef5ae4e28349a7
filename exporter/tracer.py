"""``Tracer``: runs a model once under trainer's op and size hooks and lowers each op as it is applied.

Every tensor the tracer has seen maps to an ONNX value: a graph input, an op's output, or a
parameter/buffer (an initializer named by its ``state_dict`` key). A tensor it has not seen was
made inside ``forward`` (``zeros``, a Python number promoted to a tensor): a constant. Ops whose
inputs are all constants are not lowered at all; their outputs stay constants, so a zero initial
state or a mask built from ``arange`` arrives at the next lowering as a value it can inspect.
"""

from __future__ import annotations

import contextlib

import numpy as np

from exporter.complex_values import as_real_pairs, involves_complex, refuse_complex_input
from exporter.emitter import Emitter
from exporter.errors import ExportError, UnsupportedOpError
from exporter.graph import GraphBuilder
from exporter.lowerings import LOWERINGS
from exporter.lowerings.complex_pairs import COMPLEX_LOWERINGS
from exporter.no_onnx_operator import WHY_NOT
from exporter.symbolic import SymInt, contains_symbolic
from trainer.autograd import no_grad, observe_ops, observe_sizes


class Tracer:
    def __init__(self, model, opset: int):
        self.model = model
        self.opset = opset
        self.builder = GraphBuilder()
        self.meta: dict[str, tuple[tuple, np.dtype]] = {}  # value name -> (traced shape, dtype)
        self._values: dict[int, tuple] = {}  # id(tensor) -> (tensor, name, version counter, its value then)
        self._arrays: dict[int, tuple] = {}  # id(array) -> (array, name)
        self._params: dict[int, tuple] = {}  # id(tensor) and id(array) -> (object, state_dict key)
        self._dims_cache: dict[tuple, str] = {}
        self._scopes: list[str] = [""]
        for key, tensor in _named_state(model):
            self._params.setdefault(id(tensor), (tensor, key))
            self._params.setdefault(id(tensor._data), (tensor._data, key))

    # ----------------------------------------------------------------- values
    def add_input(self, tensor, name: str) -> None:
        refuse_complex_input(tensor, name)
        self.builder.reserve(name)
        self._register(tensor, name)

    def _register(self, tensor, name: str) -> None:
        counter = tensor._version_counter
        self._values[id(tensor)] = (tensor, name, counter, counter.value)
        self._arrays[id(tensor._data)] = (tensor._data, name)
        self.meta[name] = (tuple(tensor._data.shape), np.dtype(tensor._data.dtype))

    def traced_name(self, tensor) -> str | None:
        """The value of a tensor computed from the inputs (not a parameter or constant), if it is one."""
        entry = self._values.get(id(tensor))
        if entry is None:
            return None
        _, name, counter, version = entry
        if tensor._version_counter is not counter:
            # a view's op hands it its base's counter after the op ran: count from there
            self._values[id(tensor)] = (tensor, name, tensor._version_counter, tensor._version_counter.value)
        elif counter.value != version:
            raise ExportError(f"a tensor of shape {list(tensor._data.shape)} was modified in place while tracing "
                              f"(in module '{self.scope or '<root>'}'); export records ops, not writes into "
                              "storage: use the out-of-place form (x = x + y instead of x += y)")
        return name

    def name_of(self, tensor) -> str:
        name = self.traced_name(tensor)
        if name is not None:
            return name
        param = self._params.get(id(tensor)) or self._params.get(id(tensor._data))
        if param is not None:
            return self._initializer(param[1], tensor._data)
        entry = self._arrays.get(id(tensor._data))
        if entry is not None:  # .detach() / .data of a traced tensor: the same storage
            return entry[1]
        return self._constant(tensor._data)

    def name_of_array(self, array) -> str:
        entry = self._arrays.get(id(array))
        if entry is not None and entry[0] is array:
            return entry[1]
        param = self._params.get(id(array))
        if param is not None:
            return self._initializer(param[1], array)
        return self._constant(array)

    def _initializer(self, key: str, array) -> str:
        if key not in self.builder.initializers:
            self.builder.add_initializer(key, np.array(as_real_pairs(_to_host(array))))
            self.meta[key] = (tuple(array.shape), np.dtype(array.dtype))
        return key

    def _constant(self, array) -> str:
        host = _to_host(array)
        # complex values as real pairs; one that shares a name with an equal real array is still read right, since
        # each use records the meaning (shape, dtype) its op sees
        name = self.builder.constant(as_real_pairs(host))
        self.meta[name] = (tuple(host.shape), np.dtype(host.dtype))
        return name

    def is_constant(self, tensor) -> bool:
        if id(tensor) in self._values or id(tensor) in self._params or id(tensor._data) in self._params:
            return False
        return id(tensor._data) not in self._arrays

    # ----------------------------------------------------------------- sizes
    def on_sizes(self, tensor, sizes: tuple) -> tuple:
        entry = self._values.get(id(tensor))
        if entry is None or entry[0] is not tensor:
            return sizes
        name = entry[1]
        return tuple(SymInt(s, ("dim", name, axis)) for axis, s in enumerate(sizes))

    def runtime_dims(self, g: Emitter, name: str, axes: tuple) -> str:
        key = (name, axes)
        if key not in self._dims_cache:
            shape_key = (name, None)
            if shape_key not in self._dims_cache:
                self._dims_cache[shape_key] = g.op("Shape", name)
            self._dims_cache[key] = g.op("Gather", self._dims_cache[shape_key], g.ints(axes), axis=0)
        return self._dims_cache[key]

    # ----------------------------------------------------------------- ops
    @property
    def scope(self) -> str:
        return self._scopes[-1]

    def on_op(self, event) -> None:
        if all(self.is_constant(t) for t in event.inputs) and not contains_symbolic(event.attrs):
            return
        lowering = LOWERINGS.get(event.op)
        where = f"in module '{self.scope}'" if self.scope else "in the top-level module's forward"
        if involves_complex(event):  # complex values travel as (real, imag) pairs: they have their own lowerings
            lowering = COMPLEX_LOWERINGS.get(event.op)
            if lowering is None:
                raise UnsupportedOpError(f"trainer op {event.op} ({where}) on a complex tensor has no ONNX lowering: "
                                         "ONNX has no complex tensors, and the exporter carries complex values as "
                                         f"(real, imag) pairs through {len(COMPLEX_LOWERINGS)} ops (see "
                                         "exporter.lowerings.complex_pairs). Take .real, .imag, .abs() or "
                                         "torch.view_as_real of the value before that step.")
        if lowering is None and event.op in WHY_NOT:
            raise UnsupportedOpError(f"trainer op {event.op} ({where}) has no ONNX lowering: {WHY_NOT[event.op]}")
        if lowering is None:
            raise UnsupportedOpError(f"trainer op {event.op} ({where}) has no ONNX lowering; the exporter lowers "
                                     f"{len(LOWERINGS)} ops (see exporter.lowerings). Rewrite that step with "
                                     "supported ops or add a lowering for it.")
        inputs = [self.name_of(t) for t in event.inputs]
        g = Emitter(self, event.op, self.scope)
        outputs = lowering(g, *inputs, **event.attrs)
        outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
        if len(outputs) != len(event.outputs):
            raise ExportError(f"the lowering of {event.op} ({where}) gave {len(outputs)} outputs for the op's "
                              f"{len(event.outputs)}")
        for tensor, name in zip(event.outputs, outputs):
            self._register(tensor, name)

    @contextlib.contextmanager
    def tracing(self):
        """Observe ops and sizes, and follow which module is running, inside the block."""
        def leave(module, args, output):
            self._scopes.pop()  # returns None: a forward hook's non-None result would replace the output

        handles = []
        for path, module in self.model.named_modules():
            if module is not self.model:
                handles.append(module.register_forward_pre_hook(lambda m, args, path=path: self._scopes.append(path)))
                handles.append(module.register_forward_hook(leave))
        try:
            with no_grad(), observe_ops(self.on_op), observe_sizes(self.on_sizes):
                yield
        finally:
            for handle in handles:
                handle.remove()
            del self._scopes[1:]


def _named_state(model):
    """Parameters then buffers, each under its first ``state_dict`` key (a shared tensor is stored once)."""
    yield from model.named_parameters()
    yield from model.named_buffers()


def _to_host(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else array.get()
