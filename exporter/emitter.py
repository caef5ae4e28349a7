"""``Emitter``: what a lowering writes through — nodes, constants, runtime sizes — for one traced op.

A lowering is ``fn(g, *inputs, **attrs)``: ``inputs`` are the ONNX value names of the op's tensor
inputs, ``attrs`` the op's attributes as trainer recorded them, and ``g`` an ``Emitter`` that knows
the opset, the module the op ran in, and each input's traced shape and dtype.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from exporter.errors import OpsetError
from exporter.symbolic import SymInt


def onnx_dtype(dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class Emitter:
    def __init__(self, tracer, op: str, scope: str):
        self._tracer = tracer
        self.op_name = op
        self.scope = scope
        self.opset: int = tracer.opset

    # ----------------------------------------------------------------- facts about values
    def shape(self, name: str) -> tuple:
        return self._tracer.meta[name][0]

    def dtype(self, name: str) -> np.dtype:
        return self._tracer.meta[name][1]

    def rank(self, name: str) -> int:
        return len(self.shape(name))

    def record(self, name: str, shape: tuple, dtype) -> str:
        """Note the traced shape and dtype of a value a lowering made, so that helpers that read them work on it."""
        self._tracer.meta[name] = (tuple(shape), np.dtype(dtype))
        return name

    def array(self, name: str):
        """The value of ``name`` if it is a constant made while tracing (not a parameter or input), else None."""
        if name in self._tracer.builder.constant_names:
            return self._tracer.builder.initializers[name]
        return None

    def packed_layout(self, name: str):
        """The ``PackedLayout`` of ``name`` if it stands for a packed sequence's data (see
        ``exporter.lowerings.packed_sequence``), else None."""
        return self._tracer.packed.get(name)

    def mark_packed(self, name: str, layout) -> str:
        """Note that ``name`` stands for a packed sequence's data, laid out as ``layout`` says."""
        self._tracer.packed[name] = layout
        return name

    def value_of_array(self, array) -> str:
        """The value holding ``array`` (an index array trainer unwrapped from a tensor), or a new constant."""
        return self._tracer.name_of_array(array)

    def require(self, opset: int, what: str) -> None:
        if self.opset < opset:
            where = f" in module '{self.scope}'" if self.scope else ""
            raise OpsetError(f"trainer op {self.op_name}{where} needs ONNX {what}, which needs opset >= {opset}; "
                             f"the export uses opset {self.opset}. Pass opset_version={opset} or higher.")

    # ----------------------------------------------------------------- writing
    def op(self, op_type: str, *inputs, outputs: int = 1, **attrs):
        """Emit one node; returns its output name, or a tuple of names when ``outputs > 1``."""
        names = self._tracer.builder.node(op_type, inputs, outputs, self.scope, attrs)
        return names[0] if outputs == 1 else tuple(names)

    def initializer(self, key: str, array) -> str:
        """An initializer named ``key`` (a ``state_dict`` key) holding ``array``: a weight a layer keeps outside its
        parameters (a quantized layer's int8 weight)."""
        return self._tracer._initializer(key, array)

    def fresh(self, base: str) -> str:
        """A name unused anywhere in the graph, for a value inside a subgraph (a Scan or Loop body)."""
        return self._tracer.builder.fresh(base)

    def const(self, value, dtype=None) -> str:
        return self._tracer.builder.constant(np.asarray(value, dtype=dtype))

    def ints(self, values) -> str:
        """A 1-D int64 constant (axes, pads, a static shape)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def like(self, value, name: str) -> str:
        """A scalar constant of ``name``'s dtype (a clip bound, a scale)."""
        return self.const(np.asarray(value, dtype=self.dtype(name)))

    def sizes(self, items) -> str:
        """A 1-D int64 tensor from ints and ``SymInt``s; read sizes become Shape/Gather nodes."""
        items = list(items)
        if not any(isinstance(s, SymInt) for s in items):
            return self.ints(items)
        parts, static = [], []
        for s in items:
            if isinstance(s, SymInt):
                if static:
                    parts.append(self.ints(static))
                    static = []
                parts.append(self.size(s))
            else:
                static.append(int(s))
        if static:
            parts.append(self.ints(static))
        return parts[0] if len(parts) == 1 else self.op("Concat", *parts, axis=0)

    def size(self, s) -> str:
        """One size as a 1-element int64 tensor, computed at run time when it was read from a tensor."""
        if not isinstance(s, SymInt):
            return self.ints([int(s)])
        kind, first, second = s.source
        if kind == "dim":
            return self.dims(first, [second])
        return self.op(kind, self.size(first), self.size(second))

    def scalar_size(self, s) -> str:
        """One size as a 0-d int64 tensor (a Gather index)."""
        if not isinstance(s, SymInt):
            return self.const(np.int64(int(s)))
        return self.op("Squeeze", self.size(s), self.ints([0]))

    def dims(self, name: str, axes) -> str:
        """The run-time sizes of ``name``'s ``axes`` as a 1-D int64 tensor (folded to a constant where static)."""
        return self._tracer.runtime_dims(self, name, tuple(axes))

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, since: int = 18) -> str:
        """A Reduce* node; ``axes`` (None: all) became an input instead of an attribute at opset ``since``."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.op(op_type, x, keepdims=keep)
        if self.opset >= since:
            return self.op(op_type, x, self.ints(axes), keepdims=keep)
        return self.op(op_type, x, axes=list(axes), keepdims=keep)
