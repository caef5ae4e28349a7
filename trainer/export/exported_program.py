"""``ExportedProgram``: a traced graph whose state is lifted to inputs, with its signature, state and the sizes it
accepts (``torch.export.ExportedProgram``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import trainer
from trainer.export.decompositions import decompose
from trainer.export.dynamic_shapes import DynamicDim, ValueRange
from trainer.export.graph_signature import ExportGraphSignature, InputKind, user_output_specs
from trainer.export.guards import check_equal_sizes, check_input_shape, check_related_sizes
from trainer.fx import Graph, GraphModule
from trainer.fx.node import Node, map_arg


def _guard_dims(dims: tuple[int | DynamicDim, ...]) -> tuple:
    return tuple(d if isinstance(d, int) else (d.min, None if d.max == float("inf") else int(d.max)) for d in dims)


def _declared(dim: DynamicDim) -> tuple[int, int, str]:
    return dim.coefficient, dim.offset, dim.name


class ExportedProgram:
    """What ``export`` returns: ``graph_module`` takes the lifted state first (``p_*``, ``b_*``, ``c_*``), then the
    user inputs; ``module()`` is the runnable model with the state installed again and its input sizes checked."""

    def __init__(self, graph_module: GraphModule, graph_signature: ExportGraphSignature,
                 state_dict: dict[str, trainer.Tensor], range_constraints: dict[str, ValueRange],
                 constants: dict[str, trainer.Tensor], example_inputs: tuple[tuple, dict],
                 input_dims: dict[str, tuple[int | DynamicDim, ...]], training: bool) -> None:
        self.graph_module = graph_module
        self.graph_signature = graph_signature
        self.state_dict = state_dict
        self.range_constraints = range_constraints
        self.constants = constants
        self.example_inputs = example_inputs
        self._input_dims = input_dims
        self._training = training

    @property
    def graph(self) -> Graph:
        return self.graph_module.graph

    def __call__(self, *args, **kwargs) -> Any:
        raise RuntimeError("Unable to call ExportedProgram directly. You should use `exported_program.module()` "
                           "instead.")

    # ----------------------------------------------------------------- state
    def _lifted_values(self) -> list[trainer.Tensor]:
        """The tensors the state placeholders stand for, in placeholder order."""
        tables = {InputKind.PARAMETER: self.state_dict, InputKind.BUFFER: {**self.state_dict, **self.constants},
                  InputKind.CONSTANT_TENSOR: self.constants}
        return [tables[s.kind][s.target] for s in self.graph_signature.input_specs if s.kind in tables]

    def named_parameters(self) -> Iterator[tuple[str, trainer.Tensor]]:
        for name in self.graph_signature.parameters:
            yield name, self.state_dict[name]

    def parameters(self) -> Iterator[trainer.Tensor]:
        for _, value in self.named_parameters():
            yield value

    def named_buffers(self) -> Iterator[tuple[str, trainer.Tensor]]:
        for name in self.graph_signature.buffers:
            yield name, self.state_dict[name] if name in self.state_dict else self.constants[name]

    def buffers(self) -> Iterator[trainer.Tensor]:
        for _, value in self.named_buffers():
            yield value

    def dynamic_input_axes(self) -> dict[str, dict[int, str]]:
        """For each user input with dynamic sizes: axis -> dimension name (what ONNX calls dynamic axes)."""
        return {name: {axis: d.name for axis, d in enumerate(dims) if isinstance(d, DynamicDim)}
                for name, dims in self._input_dims.items() if any(isinstance(d, DynamicDim) for d in dims)}

    def run_lifted(self, inputs: dict[str, Any]) -> Exception | None:
        """Run ``graph_module`` without grad on copies of the state and ``inputs`` (by name); the exception it
        raised, or None. ``export`` uses it to check that dynamic sizes stay dynamic."""
        state = [t.clone() for t in self._lifted_values()]
        user = [inputs[name] for name in self._user_input_names()]
        try:
            with trainer.no_grad():
                self.graph_module(*state, *user)
        except Exception as exc:  # noqa: BLE001 - any failure means the program does not run at that size
            return exc
        return None

    def _user_input_names(self) -> list[str]:
        return [s.arg.name for s in self.graph_signature.input_specs if s.kind is InputKind.USER_INPUT]

    # ----------------------------------------------------------------- derived programs
    def module(self) -> GraphModule:
        """A ``GraphModule`` that runs like the exported model: the state is read from attributes at its original
        paths again (``fc1.weight``), and every tensor input is checked against the sizes the program accepts."""
        graph = Graph()
        env: dict[Node, Node] = {}
        lifted = {s.arg.name: s.target for s in self.graph_signature.input_specs
                  if s.kind is not InputKind.USER_INPUT}
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        for node in placeholders:
            if node.name not in lifted:
                env[node] = graph.node_copy(node)
        for node in placeholders:
            if node in env and node.name in self._input_dims:
                graph.call_function(check_input_shape,
                                    (env[node], node.name, _guard_dims(self._input_dims[node.name])))
        first_use: dict[str, tuple] = {}  # per root Dim: the first size declared with it or from it
        for node in placeholders:
            for axis, dim in enumerate(self._input_dims.get(node.name, ()) if node in env else ()):
                if not isinstance(dim, DynamicDim):
                    continue
                first = first_use.setdefault(dim.root, (env[node], node.name, axis, dim))
                if first[1:3] == (node.name, axis):
                    continue
                if first[3].name == dim.name:
                    graph.call_function(check_equal_sizes, (env[node], node.name, axis, *first[:3]))
                else:  # sizes derived from one root Dim (dx and dx + 1)
                    graph.call_function(check_related_sizes, (env[node], node.name, axis, _declared(dim),
                                                              *first[:3], _declared(first[3])))
        for node in placeholders:
            if node.name in lifted:
                env[node] = graph.get_attr(lifted[node.name])
        for node in self.graph.nodes:
            if node.op == "output":
                graph.output(map_arg(node.args[0], lambda n: env[n]))
            elif node.op != "placeholder":
                env[node] = graph.node_copy(node, lambda n: env[n])
        values = dict(zip(lifted.values(), self._lifted_values(), strict=True))
        # the submodules the graph reads (cond's branches, true_graph_0)
        values.update((n.target, getattr(self.graph_module, n.target)) for n in self.graph.nodes
                      if n.op == "get_attr")
        module = GraphModule(values, graph)
        module.train(self._training)
        return module

    def run_decompositions(self, decomp_table: dict[Callable, Callable] | None = None) -> ExportedProgram:
        """An equivalent program whose calls found in ``decomp_table`` (default:
        ``trainer.export.default_decompositions()``: ``linear`` into ``t``/``matmul``/``add``, ``silu``,
        ``hardswish``, ``hardsigmoid``, ``relu6`` and ``hardtanh`` into elementwise ops) are replaced by the calls
        their decomposition makes; the signature's inputs are unchanged, its outputs renamed as the graph is."""
        graph_module = decompose(self.graph_module, decomp_table)
        signature = ExportGraphSignature(list(self.graph_signature.input_specs), user_output_specs(graph_module.graph))
        return ExportedProgram(graph_module, signature, self.state_dict, dict(self.range_constraints),
                               self.constants, self.example_inputs, copy.copy(self._input_dims), self._training)

    # ----------------------------------------------------------------- printing
    def __str__(self) -> str:
        def indent(text: str) -> str:
            return "\n".join("    " + line if line else line for line in text.splitlines())

        program = self.graph_module.print_readable(print_output=False)
        return "\n".join(["ExportedProgram:", indent(program), "Graph signature: ",
                          indent(str(self.graph_signature).lstrip("\n")),
                          f"Range constraints: {self.range_constraints}", ""])

    __repr__ = __str__
