"""``Tracer``: runs a model once under trainer's op and size hooks and lowers each op as it is applied.

Every tensor the tracer has seen maps to an ONNX value: a graph input, an op's output, or a
parameter/buffer (an initializer named by its ``state_dict`` key). A tensor it has not seen was
made inside ``forward`` (``zeros``, a Python number promoted to a tensor): a constant, unless a factory made it
from sizes read from traced tensors (``zeros(x.size(0), 4)``, ``arange(T)``, ``zeros_like(x)``): that one is built
in the graph by ``exporter.factories`` and followed as a traced value. Ops whose
inputs are all constants are not lowered at all; their outputs stay constants, so a zero initial
state or a mask built from ``arange`` arrives at the next lowering as a value it can inspect.

Values are found by array: a tensor's value is that of the array it holds, so ``.detach()``, ``.data`` and the
aliases in-place methods make all find it. In-place writes arrive through trainer's write hook and are lowered by
``exporter.in_place``: the tensor written to (or, for a view, the tensor whose storage it lies in) gets a new
value, and views over that storage are re-read from it when next used. A constant written from traced values
becomes a traced value; one written from constants stays a constant, read by value at each use.

Quantized tensors are computed outside trainer's ops: their value is their integers, followed through the events
``trainer.quantized_tensor`` announces and the quantized layers and functions ``exporter.quantized_kernels`` lowers.
One that reaches the trace by another path is refused, never read as a constant (see ``is_explained``).
"""

from __future__ import annotations

import contextlib
import weakref

import numpy as np

from exporter import factories, in_place, quantized_kernels
from exporter.complex_values import as_real_pairs, involves_complex, refuse_complex_input
from exporter.emitter import Emitter
from exporter.errors import ExportError, UnsupportedOpError
from exporter.graph import GraphBuilder
from exporter.lowerings import LOWERINGS
from exporter.lowerings.complex_pairs import COMPLEX_LOWERINGS
from exporter.lowerings.packed_sequence import packed_lowering, refusal
from exporter.no_onnx_operator import WHY_NOT
from exporter.symbolic import SymInt, contains_symbolic
from trainer.autograd import no_grad, observe_ops, observe_sizes
from trainer.autograd.factory_observers import observe_factories
from trainer.autograd.write_observers import observe_writes
from trainer.quantized_array import QuantizedArray
from trainer.tensor import Tensor


class Tracer:
    def __init__(self, model, opset: int):
        self.model = model
        self.opset = opset
        self.builder = GraphBuilder()
        self.meta: dict[str, tuple[tuple, np.dtype]] = {}  # value name -> (traced shape, dtype)
        self._values: dict[int, tuple] = {}  # id(tensor) -> (tensor, array, version counter, value, writes seen)
        self._arrays: dict[int, tuple] = {}  # id(array) -> (array, name, writes into its storage when named)
        self._links: dict[int, in_place.ViewLink] = {}  # id(view array) -> how an op made it from its parent
        self._writes: dict[int, int] = {}  # id(storage root array) -> traced writes into that storage
        self._followed: set[int] = set()  # id(storage root array) of each storage holding a traced value
        self._announced: dict[int, list] = {}  # id(version counter) -> [counter, traced writes that bumped it]
        self._params: dict[int, tuple] = {}  # id(tensor) and id(array) -> (object, state_dict key)
        self._dims_cache: dict[tuple, str] = {}
        self._scopes: list[str] = [""]
        self.packed: dict[str, tuple] = {}  # value name -> PackedLayout, where it stands for a packed sequence's data
        # id(array) -> the array (a weak reference to a dense one) of each constant the exporter saw being made, by an
        # op on constants or a factory, and each quantized tensor the model holds: a value that is none of these, nor
        # traced, nor a parameter or buffer, came from a path the exporter cannot follow
        self._known: dict[int, object] = {}
        for key, tensor in _named_state(model):
            self._params.setdefault(id(tensor), (tensor, key))
            self._params.setdefault(id(tensor._data), (tensor._data, key))
        self._note_known(_quantized_attributes(model))

    # ----------------------------------------------------------------- values
    def add_input(self, tensor, name: str) -> None:
        refuse_complex_input(tensor, name)
        self.builder.reserve(name)
        self._register(tensor, name)

    def _register(self, tensor, name: str) -> None:
        array, counter = tensor._data, tensor._version_counter
        root = self._root_of(array)[0]
        self._arrays[id(array)] = (array, name, self._writes.get(id(root), 0))
        self._followed.add(id(root))
        self._values[id(tensor)] = (tensor, array, counter, counter.value, self._traced_bumps(counter))
        self.meta[name] = (tuple(array.shape), np.dtype(array.dtype))

    def _root_of(self, array) -> tuple:
        """The array whose storage ``array`` lies in, as far as traced view ops tell, and the links down to it."""
        chain = []
        while (link := self._links.get(id(array))) is not None and link.array is array:
            chain.append(link)
            array = link.parent
        return array, chain[::-1]

    def _traced_name(self, array) -> str | None:
        """The current value of ``array`` if it holds one computed from the inputs (not a parameter or constant):
        a view over storage written since it was named is re-read from the new value of that storage."""
        entry = self._arrays.get(id(array))
        entry = entry if entry is not None and entry[0] is array else None
        link = self._links.get(id(array))
        if link is None or link.array is not array:
            return entry[1] if entry else None
        writes = self._writes.get(id(self._root_of(array)[0]), 0)
        if entry is not None and entry[2] == writes:
            return entry[1]
        parent = self._traced_name(link.parent)
        if parent is None:  # storage never written from a traced value: what the op gave is still right
            return entry[1] if entry else None
        name = in_place.replay(Emitter(self, link.op, self.scope), link, parent)
        self._arrays[id(array)] = (array, name, writes)
        return name

    def _traced_bumps(self, counter) -> int:
        entry = self._announced.get(id(counter))
        return entry[1] if entry is not None else 0

    def _check_version(self, tensor) -> None:
        """Refuse a tensor whose storage changed by a write the exporter did not see (its version counter moved
        further than the traced writes account for)."""
        entry = self._values.get(id(tensor))
        if entry is None or entry[0] is not tensor:
            return
        _, array, counter, version, bumps = entry
        if tensor._version_counter is not counter or (tensor._data is not array
                                                      and self._traced_name(tensor._data) is not None):
            # a view's op hands it its base's counter after the op ran, and an in-place view op (t_, squeeze_)
            # gives it the array of that op's output, whose value is traced: count from here
            counter = tensor._version_counter
            self._values[id(tensor)] = (tensor, tensor._data, counter, counter.value, self._traced_bumps(counter))
        elif counter.value - version != self._traced_bumps(counter) - bumps:
            raise ExportError(f"a tensor of shape {list(tensor._data.shape)} was modified in place while tracing "
                              f"(in module '{self.scope or '<root>'}') by a write the exporter cannot follow: one "
                              "made while autograd records (inside torch.enable_grad()) or straight into its memory "
                              "(through .numpy() or a resize). Use trainer's in-place methods under no_grad, or the "
                              "out-of-place form (x = x + y instead of x += y)")

    def name_of(self, tensor) -> str:
        self._check_version(tensor)
        name = self._traced_name(tensor._data)
        if name is not None:
            return name
        param = self._params.get(id(tensor)) or self._params.get(id(tensor._data))
        if param is not None:
            return self._initializer(param[1], tensor._data)
        if isinstance(tensor._data, QuantizedArray):
            self._require_followed(tensor)
            return self._constant(tensor._data.int_repr)
        return self._constant(tensor._data)

    def name_of_array(self, array) -> str:
        name = self._traced_name(array)
        if name is not None:
            return name
        param = self._params.get(id(array))
        if param is not None and param[0] is array:
            return self._initializer(param[1], array)
        return self._constant(array)

    def _initializer(self, key: str, array) -> str:
        array = array.int_repr if isinstance(array, QuantizedArray) else array  # a quantized value is its integers
        if key not in self.builder.initializers:
            self.builder.add_initializer(key, np.array(as_real_pairs(_to_host(array))))
            self.meta[key] = (tuple(array.shape), np.dtype(array.dtype))
        return key

    def _constant(self, array) -> str:
        host = np.array(_to_host(array))  # a copy: the tensor may be written in place after this use
        # complex values as real pairs; one that shares a name with an equal real array is still read right, since
        # each use records the meaning (shape, dtype) its op sees
        name = self.builder.constant(as_real_pairs(host))
        self.meta[name] = (tuple(host.shape), np.dtype(host.dtype))
        return name

    def output_name_of(self, tensor, output: str) -> str:
        """The value of the model's output ``output``; a packed sequence's data has none."""
        if isinstance(tensor._data, QuantizedArray):
            raise ExportError(f"the model's output {output!r} is a {tensor.dtype!r} tensor; ONNX has no quantized "
                              "tensor type: end the model with DeQuantStub (or .dequantize()) for float32 outputs, or "
                              "return .int_repr() for the integers")
        name = self.name_of(tensor)
        if name in self.packed:
            raise refusal(f"the model's output {output!r}", f"in module '{self.scope or '<root>'}'")
        return name

    def _refuse_packed(self, tensors, what: str) -> None:
        if self.packed and any(self._traced_name(t._data) in self.packed for t in tensors):
            raise refusal(what, f"in module '{self.scope or '<root>'}'")

    def is_constant(self, tensor) -> bool:
        self._check_version(tensor)
        if id(tensor) in self._params or id(tensor._data) in self._params:
            return False
        if self._traced_name(tensor._data) is not None:
            return False
        if isinstance(tensor._data, QuantizedArray):
            self._require_followed(tensor)
        return True

    # ----------------------------------------------------------------- quantized values
    def is_followed(self, tensor) -> bool:
        """Whether the exporter can follow ``tensor``'s value: any dense tensor (one it did not see being made is a
        constant), and a quantized one that is ``is_explained``."""
        return not isinstance(tensor._data, QuantizedArray) or self.is_explained(tensor)

    def is_explained(self, tensor) -> bool:
        """Whether the exporter knows where ``tensor``'s value comes from: traced, a parameter or buffer, a quantized
        tensor the model holds, or a constant made by an op or factory the exporter saw."""
        data = tensor._data
        known = self._known.get(id(data))
        if isinstance(known, weakref.ref):
            known = known()
        return self._traced_name(data) is not None or id(data) in self._params or known is data

    def _require_followed(self, tensor) -> None:
        if not self.is_followed(tensor):
            raise ExportError(f"a {tensor.dtype!r} tensor of shape {list(tensor._data.shape)} reached the trace (in "
                              f"module '{self.scope or '<root>'}') from a computation the exporter did not see: "
                              "trainer's quantized kernels run outside its ops, and the exporter follows only the "
                              f"quantized layers and functions it lowers ({quantized_kernels.SUPPORTED}). Exporting "
                              "it would bake the traced value into the graph as a constant.")

    def _note_known(self, tensors) -> None:
        for tensor in tensors:
            if isinstance(tensor, Tensor):
                data = tensor._data
                try:  # a weak reference: a constant the trace made is not kept alive for it
                    self._known[id(data)] = weakref.ref(data)
                except TypeError:  # storages without weak references (QuantizedArray) are small: kept
                    self._known[id(data)] = data

    def lower_untraced(self, op: str, tensors, results, emit, scope: str | None = None) -> None:
        """Lower a computation trainer runs outside its ops (a quantized layer or function): ``emit(g, *names)``
        gives the value of each of ``results`` from the values of ``tensors``; on constants it is not lowered."""
        if all(self.is_constant(t) for t in tensors):
            self._note_known(results)
            return
        g = Emitter(self, op, self.scope if scope is None else scope)
        names = emit(g, *[self.name_of(t) for t in tensors])
        for tensor, name in zip(results, (names,) if isinstance(names, str) else names):
            self._register(tensor, name)

    def follow(self, tensor, name: str) -> None:
        """Follow ``tensor`` as the value ``name`` (a float copy of a quantized tensor's integers that a lowering
        then runs a float op on)."""
        self._register(tensor, name)

    # ----------------------------------------------------------------- sizes
    def on_sizes(self, tensor, sizes: tuple) -> tuple:
        name = self._traced_name(tensor._data)
        if name is None:
            return sizes
        if name in self.packed:  # held padded (T, B, *): its axis k >= 1 is axis k + 1 there; its total is not held
            return (sizes[0], *(SymInt(s, ("dim", name, axis + 1)) for axis, s in enumerate(sizes[1:], 1)))
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
        self._link_views(event)
        if all(self.is_constant(t) for t in event.inputs) and not contains_symbolic(event.attrs):
            self._note_known(event.outputs)
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
        if self.packed and any(self._traced_name(t._data) in self.packed for t in event.inputs):
            lowering = packed_lowering(event.op, where)  # a packed sequence's data has lowerings of its own
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

    def _link_views(self, event) -> None:
        """Remember each output that is a view into its input's storage (also among constants: a constant may
        later be written from a traced value through such a view)."""
        if len(event.inputs) != 1:
            return
        parent = event.inputs[0]._data
        for index, out in enumerate(event.outputs):
            link = in_place.view_link(event.op, event.attrs, index, parent, out._data)
            if link is not None:
                self._links[id(out._data)] = link

    # ----------------------------------------------------------------- factories
    def on_factory(self, event) -> None:
        """A tensor a factory made (``zeros(x.size(0), H)``, ``zeros_like(x)``, ``arange(T)``): a constant, unless its
        sizes were read from traced tensors or it is made like a traced value; then it is built in the graph (see
        ``exporter.factories``) and followed as a traced value."""
        tensors = {key: value for key, value in event.arguments.items() if isinstance(value, Tensor)}
        traced = any(self._traced_name(t._data) is not None for t in tensors.values())
        if not traced and not contains_symbolic(event.arguments):
            self._note_known([event.result])
            return
        self._refuse_packed(tensors.values(), f"trainer.{event.name}")
        g = Emitter(self, event.name, self.scope)
        values = {key: self.name_of(t) for key, t in tensors.items()}
        self._register(event.result, factories.lowered(g, event, values))

    # ----------------------------------------------------------------- in-place writes
    def on_write(self, tensor, key, value) -> None:
        """``tensor[key] = value`` is about to happen (``key`` None: every element): give the storage it lies in
        its new value."""
        self._refuse_packed([tensor, *([value] if isinstance(value, Tensor) else [])], "an in-place write")
        target = tensor._data
        root, chain = self._root_of(target)
        constant_value = not isinstance(value, Tensor) or self.is_constant(value)
        if constant_value and id(root) not in self._followed and not self._key_is_traced(key):
            self._announce(tensor)  # a constant written from constants stays a constant, read at each use
            return
        if isinstance(value, Tensor) and in_place.writes_itself(target, key, value._data):
            self._announce(tensor)
            return
        if np.dtype(target.dtype).kind == "c":
            raise UnsupportedOpError(f"an in-place write into a complex tensor (in module '{self.scope or '<root>'}') "
                                     "has no ONNX lowering: build the new value out of place (trainer.complex(re, im))")
        g = Emitter(self, "InPlaceWrite", self.scope)
        current = self.name_of(tensor)
        source = self.name_of(value) if isinstance(value, Tensor) else self._constant(np.asarray(value, target.dtype))
        new_target = in_place.written(g, current, key, in_place.cast_to(g, source, target.dtype))
        new_root = new_target
        if chain:
            new_root = in_place.written_through(g, self.name_of_array(root), chain, new_target)
        writes = self._writes[id(root)] = self._writes.get(id(root), 0) + 1
        self._arrays[id(root)] = (root, new_root, writes)
        self._arrays[id(target)] = (target, new_target, writes)
        self._followed.add(id(root))
        self._announce(tensor)

    def _announce(self, tensor) -> None:
        """Count the version bump the write is about to make, so that ``_check_version`` expects it."""
        counter = tensor._version_counter
        self._announced.setdefault(id(counter), [counter, 0])[1] += 1

    def _key_is_traced(self, key) -> bool:
        items = key if isinstance(key, tuple) else (key,)
        return contains_symbolic(items) or any(
            hasattr(k, "shape") and hasattr(k, "dtype") and self._traced_name(k) is not None for k in items)

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
            with (no_grad(), observe_ops(self.on_op), observe_sizes(self.on_sizes), observe_writes(self.on_write),
                  observe_factories(self.on_factory), quantized_kernels.observed(self)):
                yield
        finally:
            for handle in handles:
                handle.remove()
            del self._scopes[1:]


def _named_state(model):
    """Parameters then buffers, each under its first ``state_dict`` key (a shared tensor is stored once)."""
    yield from model.named_parameters()
    yield from model.named_buffers()


def _quantized_attributes(model):
    """The quantized tensors the model's modules hold outside their state (a quantized layer's weight)."""
    for module in model.modules():
        for value in vars(module).values():
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, Tensor) and isinstance(item._data, QuantizedArray):
                    yield item


def _to_host(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else array.get()
