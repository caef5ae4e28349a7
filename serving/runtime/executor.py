"""Walking a plan: each step calls its kernel on values looked up by name, then drops dead values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from serving.errors import KernelError, SessionError
from serving.kernels.registry import KernelContext


class Step:
    """One node, ready to run: its kernel, context, decoded attributes and compiled subgraphs."""

    __slots__ = ("kernel", "ctx", "inputs", "outputs", "attrs", "graphs", "release")

    def __init__(self, kernel, ctx: KernelContext, inputs: list[str], outputs: list[str], attrs: dict,
                 graphs: dict[str, Any]):
        self.kernel, self.ctx, self.inputs, self.outputs = kernel, ctx, inputs, outputs
        self.attrs, self.graphs = attrs, graphs
        self.release: tuple[str, ...] = ()  # values last used here, set by Graph

    def run(self, env: dict) -> None:
        try:
            args = [env[name] if name else None for name in self.inputs]
        except KeyError as exc:
            raise KernelError(
                f"node {self.ctx.node.name!r} ({self.ctx.node.op_type}) reads {exc.args[0]!r}, which no earlier "
                "node produced (an optional output the producing node did not compute?)"
            ) from None
        attrs = self.attrs
        if self.graphs:
            attrs = {**attrs, **{k: _bind(g, env) for k, g in self.graphs.items()}}
        try:
            result = self.kernel(self.ctx, *args, **attrs)
        except SessionError:
            raise
        except Exception as exc:
            node = self.ctx.node
            raise KernelError(
                f"node {node.name!r} ({node.domain + '::' if node.domain else ''}{node.op_type}) failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        xp = self.ctx.xp
        if type(result) is tuple:
            for name, value in zip(self.outputs, result):
                if name:
                    env[name] = _as_value(value, xp)
        elif self.outputs[0]:
            env[self.outputs[0]] = _as_value(result, xp)


def _as_value(value, xp):
    """Kernels may return NumPy scalars or Python numbers; values in the plan are always arrays."""
    if value is None or type(value) is list or isinstance(value, xp.ndarray):
        return value
    if isinstance(value, (np.ndarray, dict)):  # host-only values (strings, maps) on a CUDA session
        return value
    return xp.asarray(value)


class Graph:
    """A planned graph: the main one of a model, or the body of an If, Loop, Scan or SequenceMap."""

    def __init__(self, *, name: str, input_names: list[str], output_names: list[str], constants: dict,
                 defaults: dict, steps: list[Step], outer_scope: frozenset[str]):
        self.name, self.input_names, self.output_names = name, input_names, output_names
        self.constants, self.defaults, self.steps = constants, defaults, steps
        defined = set(input_names) | set(constants) | set(defaults) | {o for s in steps for o in s.outputs}
        used = [name for step in steps for name in reads(step)] + output_names
        # Values this graph reads from the scope around it, copied in when it starts.
        self.outer_names = sorted({n for n in used if n and n not in defined and n in outer_scope})
        self._set_releases()

    def _set_releases(self) -> None:
        last_use: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            for name in (*reads(step), *step.outputs):
                if name:
                    last_use[name] = index
        keep = set(self.output_names) | set(self.constants)
        by_step: dict[int, list[str]] = {}
        for name, index in last_use.items():
            if name not in keep:
                by_step.setdefault(index, []).append(name)
        for index, step in enumerate(self.steps):
            step.release = tuple(by_step.get(index, ()))

    def run(self, feeds: Mapping[str, Any], outer: Mapping[str, Any] | None = None) -> list:
        env = self.constants.copy()
        if self.defaults:
            env.update(self.defaults)
        if outer is not None:
            for name in self.outer_names:
                env[name] = outer[name]
        env.update(feeds)
        for step in self.steps:
            step.run(env)
            for name in step.release:
                env.pop(name, None)
        return [env[name] if name else None for name in self.output_names]


def reads(step: Step):
    """The names a step reads: its inputs and the outer-scope values of its subgraphs."""
    yield from step.inputs
    for graph in step.graphs.values():
        for g in graph if isinstance(graph, list) else (graph,):
            yield from g.outer_names


class BoundGraph:
    """A subgraph as its kernel sees it: ``body(*inputs) -> list of outputs``, outer scope bound."""

    __slots__ = ("graph", "outer")

    def __init__(self, graph: Graph, outer: Mapping[str, Any]):
        self.graph, self.outer = graph, outer

    @property
    def input_names(self) -> list[str]:
        return self.graph.input_names

    @property
    def output_names(self) -> list[str]:
        return self.graph.output_names

    def __call__(self, *inputs) -> list:
        if len(inputs) > len(self.graph.input_names):
            raise ValueError(
                f"subgraph {self.graph.name!r} takes {len(self.graph.input_names)} inputs, got {len(inputs)}")
        return self.graph.run(dict(zip(self.graph.input_names, inputs)), self.outer)


def _bind(graph, env):
    if isinstance(graph, list):
        return [BoundGraph(g, env) for g in graph]
    return BoundGraph(graph, env)
