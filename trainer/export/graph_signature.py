"""``ExportGraphSignature``: which placeholders of an exported graph are parameters, buffers, constants or user
inputs, and which outputs are user outputs (``torch.export.graph_signature``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from trainer.fx import Graph
from trainer.fx.node import Node, map_aggregate


class InputKind(Enum):
    USER_INPUT = auto()
    PARAMETER = auto()
    BUFFER = auto()
    CONSTANT_TENSOR = auto()


class OutputKind(Enum):
    USER_OUTPUT = auto()


@dataclass(frozen=True)
class TensorArgument:
    name: str


@dataclass(frozen=True)
class ConstantArgument:
    name: str
    value: Any


@dataclass
class InputSpec:
    kind: InputKind
    arg: TensorArgument | ConstantArgument
    target: str | None
    persistent: bool | None = None


@dataclass
class OutputSpec:
    kind: OutputKind
    arg: TensorArgument | ConstantArgument
    target: str | None = None


def _describe(spec: InputSpec | OutputSpec) -> str:
    line = f"{spec.arg.name}: {spec.kind.name}"
    if spec.target is not None:
        line += f" target={spec.target!r}"
    if getattr(spec, "persistent", None) is not None:
        line += f" persistent={spec.persistent}"
    return line


@dataclass
class ExportGraphSignature:
    """The specs of the graph's placeholders (parameters, buffers, constants, then user inputs, as torch orders
    them) and of its outputs."""

    input_specs: list[InputSpec]
    output_specs: list[OutputSpec]

    def _targets(self, kind: InputKind) -> tuple[str, ...]:
        return tuple(s.target for s in self.input_specs if s.kind is kind)

    @property
    def parameters(self) -> tuple[str, ...]:
        return self._targets(InputKind.PARAMETER)

    @property
    def buffers(self) -> tuple[str, ...]:
        return self._targets(InputKind.BUFFER)

    @property
    def non_persistent_buffers(self) -> tuple[str, ...]:
        return tuple(s.target for s in self.input_specs if s.kind is InputKind.BUFFER and s.persistent is False)

    @property
    def lifted_tensor_constants(self) -> tuple[str, ...]:
        return self._targets(InputKind.CONSTANT_TENSOR)

    @property
    def user_inputs(self) -> tuple[Any, ...]:
        return tuple(s.arg.name if isinstance(s.arg, TensorArgument) else s.arg.value for s in self.input_specs
                     if s.kind is InputKind.USER_INPUT)

    @property
    def user_outputs(self) -> tuple[Any, ...]:
        return tuple(s.arg.name if isinstance(s.arg, TensorArgument) else s.arg.value for s in self.output_specs
                     if s.kind is OutputKind.USER_OUTPUT)

    @property
    def inputs_to_parameters(self) -> dict[str, str]:
        return {s.arg.name: s.target for s in self.input_specs if s.kind is InputKind.PARAMETER}

    @property
    def inputs_to_buffers(self) -> dict[str, str]:
        return {s.arg.name: s.target for s in self.input_specs if s.kind is InputKind.BUFFER}

    @property
    def inputs_to_lifted_tensor_constants(self) -> dict[str, str]:
        return {s.arg.name: s.target for s in self.input_specs if s.kind is InputKind.CONSTANT_TENSOR}

    def __str__(self) -> str:
        return "\n".join(["", "# inputs", *(_describe(s) for s in self.input_specs), "", "# outputs",
                          *(_describe(s) for s in self.output_specs), ""])


def user_output_specs(graph: Graph) -> list[OutputSpec]:
    """One ``USER_OUTPUT`` spec per value the graph returns, in flattening order."""
    output = next(n for n in reversed(graph.nodes) if n.op == "output")
    specs: list[OutputSpec] = []
    map_aggregate(output.args[0], lambda v: specs.append(OutputSpec(
        OutputKind.USER_OUTPUT, TensorArgument(v.name) if isinstance(v, Node) else ConstantArgument("", v))))
    return specs
