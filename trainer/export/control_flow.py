"""Recording ``trainer.cond`` in an exported graph as torch.export does: one ``call_function`` node targeting
``cond`` whose branches are traced into ``GraphModule`` submodules (``true_graph_0``, ``false_graph_0``) read by
``get_attr``, so the program picks its branch per input instead of keeping the example's."""

from __future__ import annotations

import inspect
from typing import Any

import trainer
from trainer.control_flow import cond
from trainer.export.errors import UserError
from trainer.fx import GraphModule, Tracer
from trainer.fx.node import map_arg
from trainer.fx.proxy import Proxy


def _example_value(value: Any) -> Any:
    return value.node.meta["val"] if isinstance(value, Proxy) else value


def _trace_branch(tracer: Tracer, fn: Any, operands: tuple, which: str) -> GraphModule:
    """``fn`` traced on the example values of ``operands`` into a graph of its own."""
    if not callable(fn):
        raise RuntimeError("Expect both branches to be callable.")
    names = list(inspect.signature(fn).parameters)
    if len(names) != len(operands):
        raise UserError(f"cond's {which} takes {len(names)} arguments ({names}) but cond passes it {len(operands)} "
                        "operands")
    examples = {name: _example_value(v) for name, v in zip(names, operands, strict=True)}
    branch_tracer = type(tracer)(examples, {})
    graph = branch_tracer.trace(fn)
    # a parameter read through the model (self.w) is a node of the outer graph, a constant one of this graph's
    read = [n.target for n in graph.nodes if n.op == "get_attr"]
    read += [i.name for n in graph.nodes for i in n.all_input_nodes if i.graph is not graph]
    if read:
        raise UserError(f"cond's {which} reads {read}, tensors it does not take as operands; export traces each "
                        "branch as a function of its operands only, so pass parameters, buffers and constant tensors "
                        "to cond in `operands`")
    return GraphModule(branch_tracer.root, graph)


def cond_example_value(pred: Any, true_graph: GraphModule, false_graph: GraphModule) -> Any:
    """What a recorded ``cond`` gives on the example inputs: the chosen branch's output as its trace computed it
    (calling the branch module would go through the tracer's patched ``Module.__call__``)."""
    output = next(n for n in (true_graph if pred else false_graph).graph.nodes if n.op == "output")
    return map_arg(output.args[0], lambda n: n.meta["val"])


def record_cond(tracer: Tracer, args: tuple, kwargs: dict) -> Any:
    """The ``cond`` call of a traced program (``args``/``kwargs`` as the program passed them, some proxies): the
    branches become submodules of the root, registered in ``tracer.branch_modules``."""
    bound = inspect.signature(cond).bind(*args, **kwargs)
    bound.apply_defaults()
    pred, true_fn, false_fn, operands = bound.arguments.values()
    example = _example_value(pred)
    if not isinstance(example, trainer.Tensor):
        # a constant predicate (or one computed from sizes) picks its branch now, as torch.cond does
        return cond(tracer.concrete(pred, "cond's predicate") if isinstance(pred, Proxy) else pred, true_fn,
                    false_fn, operands)
    if not isinstance(example, trainer.Tensor) or example.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {example}.")
    if not isinstance(operands, tuple | list) or not all(isinstance(_example_value(v), trainer.Tensor)
                                                         for v in operands):
        raise UserError("export records cond with `operands` a flat tuple or list of tensors; got "
                        f"{type(operands).__name__} {operands}")
    operands = tuple(operands)
    index = sum(1 for name in tracer.branch_modules if name.startswith("true_graph_"))
    branches = []
    for which, fn in (("true", true_fn), ("false", false_fn)):
        name = f"{which}_graph_{index}"
        tracer.branch_modules[name] = _trace_branch(tracer, fn, operands, f"{which}_fn")
        branches.append(tracer.create_proxy("get_attr", name, (), {}, name=name))
    # the base class's create_proxy: the tracer's own sends cond here
    return Tracer.create_proxy(tracer, "call_function", cond, (pred, *branches, operands), {})
