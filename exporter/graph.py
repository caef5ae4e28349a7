"""``GraphBuilder``: the nodes, initializers and names of the graph being traced, built with onnx's helpers.

Names are unique and readable: a node is named after the module it ran in and its op type
(``layer1.0.conv1/Conv``), its outputs after the node (``layer1.0.conv1/Conv_output_0``).
Constants are deduplicated by dtype, shape and bytes, so a shape or a scale used many times is
stored once.
"""

from __future__ import annotations

import hashlib

import numpy as np
from onnx import helper, numpy_helper


class GraphBuilder:
    def __init__(self):
        self.nodes = []
        self.initializers: dict[str, np.ndarray] = {}
        self.constant_names: set[str] = set()  # initializers that are not parameters or buffers
        self._by_content: dict[tuple, str] = {}
        self._taken: set[str] = set()

    def fresh(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``, ... if already taken."""
        name, n = base, 0
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> str:
        if name in self._taken:
            raise ValueError(f"the name {name!r} is used twice in the graph")
        self._taken.add(name)
        return name

    def add_initializer(self, name: str, array: np.ndarray) -> str:
        self.initializers[self.reserve(name)] = array
        return name

    def constant(self, array: np.ndarray) -> str:
        """The name of an initializer holding ``array``, shared with every equal constant."""
        array = np.asarray(array, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        key = (array.dtype.str, array.shape, hashlib.sha1(array.tobytes()).digest())
        name = self._by_content.get(key)
        if name is None:
            name = self.fresh("const")
            self.initializers[name] = array
            self.constant_names.add(name)
            self._by_content[key] = name
        return name

    def node(self, op_type: str, inputs, n_outputs: int, scope: str, attrs: dict, output_names=None) -> list[str]:
        name = self.fresh(f"{scope}/{op_type}" if scope else op_type)
        outputs = list(output_names) if output_names else [self.fresh(f"{name}_output_{i}") for i in range(n_outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        inputs = [i or "" for i in inputs]
        while inputs and not inputs[-1]:  # trailing optional inputs are left out, not named "" (ORT crashes on some)
            inputs.pop()
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name, **attrs))
        return outputs

    def initializer_protos(self):
        return [numpy_helper.from_array(array, name) for name, array in self.initializers.items()]
