"""``trainer.fx.GraphModule``: a ``Module`` whose ``forward`` is the Python code generated from a ``Graph``."""

from __future__ import annotations

import copy
from typing import Any

import trainer
from trainer.fx.graph import Graph, PythonCode
from trainer.nn import Module, Parameter


def _copy_attr(from_module: Module, to_module: Module, target: str) -> None:
    """Install ``from_module.<target>`` at the same dotted path of ``to_module``, making empty ``Module``s for
    missing parents; tensors that are not parameters become buffers."""
    *prefix, field = target.split(".")
    for item in prefix:
        f = getattr(from_module, item)
        t = getattr(to_module, item, None)
        if f is t:  # a parent is already installed, and with it everything below it
            return
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        from_module, to_module = f, t
    original = getattr(from_module, field)
    if isinstance(original, trainer.Tensor) and not isinstance(original, Parameter):
        to_module.register_buffer(field, original)
    else:
        setattr(to_module, field, original)


def _assign_attr(value: Any, to_module: Module, target: str) -> None:
    *prefix, field = target.split(".")
    for item in prefix:
        t = getattr(to_module, item, None)
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        to_module = t
    if isinstance(value, trainer.Tensor) and not isinstance(value, Parameter):
        to_module.register_buffer(field, value)
    else:
        setattr(to_module, field, value)


class GraphModule(Module):
    """Built from a root (a Module, or a dict of attribute path -> value) and a ``Graph``: copies the submodules,
    parameters and buffers the graph refers to, and compiles the graph into ``forward``."""

    def __new__(cls, *args, **kwargs):
        # each instance gets its own class, so that recompile() can set forward without touching other instances
        base = next(t for t in cls.__mro__ if not t.__dict__.get("_fx_instance_class", False))
        instance_class = type(base.__name__, (base,), {"_fx_instance_class": True})
        return super().__new__(instance_class)

    def __init__(self, root: Module | dict[str, Any], graph: Graph, class_name: str = "GraphModule"):
        super().__init__()
        type(self).__name__ = class_name
        if isinstance(root, Module):
            self.training = root.training
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    _copy_attr(root, self, node.target)
        elif isinstance(root, dict):
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if node.target not in root:
                        raise RuntimeError(f"Node {node} referenced target {node.target} but that target was not "
                                           "provided in ``root``!")
                    _assign_attr(root[node.target], self, node.target)
        else:
            raise RuntimeError(f"Unsupported type {root} passed for root!")
        self.meta: dict[str, Any] = {}
        self.graph = graph

    @property
    def graph(self) -> Graph:
        return self._graph

    @graph.setter
    def graph(self, g: Graph) -> None:
        if not isinstance(g, Graph):
            raise RuntimeError(f"Expected a trainer.fx.Graph, got {type(g).__name__}")
        self._graph = g
        g.owning_module = self
        self.recompile()

    @property
    def code(self) -> str:
        """The Python source of ``forward`` generated from ``graph``."""
        return self._code

    def recompile(self) -> PythonCode:
        """Regenerate ``forward`` from ``graph`` (call after editing the graph)."""
        python_code = self._graph.python_code(root_module="self")
        self._code = python_code.src
        namespace = dict(python_code.globals)
        exec(compile(self._code, f"<eval_with_key>.{type(self).__name__}", "exec"), namespace)  # noqa: S102
        type(self).forward = namespace["forward"]
        return python_code

    def print_readable(self, print_output: bool = True) -> str:
        """``forward`` as a class definition, the way torch.fx prints it."""
        body = "\n".join(("    " + line).rstrip() for line in self._code.strip("\n").splitlines()).rstrip()
        text = f"class {type(self).__name__}(trainer.nn.Module):\n{body}\n"
        if print_output:
            print(text)
        return text

    def __str__(self) -> str:
        return "\n".join([super().__str__(), self._code,
                          "# To see more debug info, please use `graph_module.print_readable()`"])

    def __deepcopy__(self, memo: dict) -> GraphModule:
        state = {k: v for k, v in self.__dict__.items() if k != "_graph"}
        holder = Module()
        holder.__dict__.update(copy.deepcopy(state, memo))
        result = GraphModule(holder, copy.deepcopy(self._graph), type(self).__name__)
        result.meta = copy.deepcopy(self.meta, memo)
        return result

    def __copy__(self) -> GraphModule:
        result = GraphModule(self, self._graph, type(self).__name__)
        result.meta = getattr(self, "meta", {})
        return result
