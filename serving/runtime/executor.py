"""Walking a plan: each step calls its kernel on values looked up by name, then drops dead values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from serving.errors import KernelError, SessionError
from serving.kernels.registry import KernelContext
from serving.runtime.buffers import BufferPool

# Step.memo_mode: how a step reuses what it computed on an earlier run (see Planner._mark_shape_steps).
NO_MEMO, SAME_VALUE, SAME_INPUTS = 0, 1, 2
# Only values this small are kept between runs: shape vectors, not activations.
_MEMO_MAX_ELEMENTS = 64


class Step:
    """One node, ready to run: its kernel, context, decoded attributes and compiled subgraphs."""

    __slots__ = ("kernel", "ctx", "inputs", "outputs", "attrs", "graphs", "release", "memo_mode", "memo")

    def __init__(self, kernel, ctx: KernelContext, inputs: list[str], outputs: list[str], attrs: dict,
                 graphs: dict[str, Any]):
        self.kernel, self.ctx, self.inputs, self.outputs = kernel, ctx, inputs, outputs
        self.attrs, self.graphs = attrs, graphs
        self.release: tuple[str, ...] = ()  # values last used here, set by Graph
        self.memo_mode = NO_MEMO
        # (inputs, outputs) of the last run, replaced as one tuple so concurrent runs read a consistent pair.
        self.memo: tuple[tuple, tuple] | None = None

    def run(self, env: dict) -> None:
        try:
            args = [env[name] if name else None for name in self.inputs]
        except KeyError as exc:
            raise KernelError(
                f"node {self.ctx.node.name!r} ({self.ctx.node.op_type}) reads {exc.args[0]!r}, which no earlier "
                "node produced (an optional output the producing node did not compute?)"
            ) from None
        memo = self.memo
        if self.memo_mode == SAME_INPUTS and memo is not None and all(a is b for a, b in zip(args, memo[0])):
            outputs = memo[1]
        else:
            outputs = self._call(env, args)
            if self.memo_mode:
                outputs = self._remember(args, outputs, memo)
        for name, value in zip(self.outputs, outputs):
            if name:
                env[name] = value

    def _call(self, env: dict, args: list) -> tuple:
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
            return tuple(_as_value(value, xp) for value in result)
        return (_as_value(result, xp),)

    def _remember(self, args: list, outputs: tuple, memo) -> tuple:
        """Keep small results for the next run. A SAME_VALUE step (Shape, Size) hands back last run's
        array when the value is unchanged, so the steps it feeds see identical inputs and skip their work."""
        if not all(getattr(v, "size", _MEMO_MAX_ELEMENTS + 1) <= _MEMO_MAX_ELEMENTS for v in outputs):
            return outputs
        if self.memo_mode == SAME_VALUE and memo is not None and all(
            new.shape == old.shape and new.dtype == old.dtype and new.tobytes() == old.tobytes()
            for new, old in zip(outputs, memo[1])
        ):
            return memo[1]
        self.memo = (tuple(args), outputs)
        return outputs


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
                 defaults: dict, steps: list[Step], outer_scope: frozenset[str], pool: BufferPool | None = None):
        self.name, self.input_names, self.output_names = name, input_names, output_names
        self.pool = pool  # where dead values go for reuse
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
        env = self._environment(feeds, outer)
        pool = self.pool
        for step in self.steps:
            step.run(env)
            if pool is None:
                for name in step.release:
                    env.pop(name, None)
            else:
                for name in step.release:
                    pool.give_if_unused(env.pop(name, None))
        return [env[name] if name else None for name in self.output_names]

    def run_watched(self, feeds: Mapping[str, Any], run_step) -> list:
        """``run``, with ``run_step(index, step, env)`` running each step: how profiling and cancellation see
        the steps. A separate loop, so that runs without them pay nothing for either."""
        env = self._environment(feeds, None)
        pool = self.pool
        for index, step in enumerate(self.steps):
            run_step(index, step, env)
            if pool is None:
                for name in step.release:
                    env.pop(name, None)
            else:
                for name in step.release:
                    pool.give_if_unused(env.pop(name, None))  # as in ``run``: the pool measures the refcount
        return [env[name] if name else None for name in self.output_names]

    def _environment(self, feeds: Mapping[str, Any], outer: Mapping[str, Any] | None) -> dict:
        env = self.constants.copy()
        if self.defaults:
            env.update(self.defaults)
        if outer is not None:
            for name in self.outer_names:
                env[name] = outer[name]
        env.update(feeds)
        return env


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
