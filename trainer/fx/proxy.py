"""``trainer.fx.Proxy``: the stand-in value that records every operation applied to it as a ``Node``."""

from __future__ import annotations

import dis
import inspect
import operator
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from trainer.backend import device
from trainer.dtypes import dtype
from trainer.fx.graph import Graph, comparison_methods, magic_methods, reflectable_magic_methods, unary_methods
from trainer.fx.node import Node, map_aggregate
from trainer.layouts import layout
from trainer.memory_formats import memory_format

# values that go into a graph as they are (everything else must be a Proxy, a Node or a container of them)
_base_types = (str, int, float, bool, complex, type(None), type(...), range, dtype, device, layout, memory_format)


class TraceError(ValueError):
    """A traced program did something that cannot be recorded, such as branching on a traced value."""


class TracerBase:
    """What a ``Proxy`` calls back into: makes nodes in ``self.graph`` and turns arguments into graph arguments."""

    graph: Graph
    proxy_buffer_attributes: bool = False  # whether module buffers read in forward become get_attr nodes

    def create_node(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                    type_expr: Any = None) -> Node:
        return self.graph.create_node(kind, target, args, kwargs, name, type_expr)

    def proxy(self, node: Node) -> Proxy:
        return Proxy(node, self)

    def create_proxy(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                     type_expr: Any = None, proxy_factory_fn=None) -> Proxy:
        node = self.create_node(kind, target, self.create_arg(args), self.create_arg(kwargs), name, type_expr)
        return self.proxy(node) if proxy_factory_fn is None else proxy_factory_fn(node)

    def create_arg(self, a: Any) -> Any:
        """A value as a graph argument: proxies become their nodes, containers are rebuilt, constants stay."""
        if isinstance(a, Proxy):
            return a.node
        if isinstance(a, tuple | list):
            mapped = [self.create_arg(elem) for elem in a]
            if isinstance(a, list):
                return mapped
            return type(a)(*mapped) if hasattr(a, "_fields") else tuple(mapped)
        if isinstance(a, dict):
            out = {}
            for k, v in a.items():
                key = self.create_arg(k)
                if isinstance(key, Node):
                    raise RuntimeError(f"Keys for dictionaries used as an argument cannot contain a Node. Got key: {k}")
                out[key] = self.create_arg(v)
            return out
        if isinstance(a, slice):
            return slice(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if isinstance(a, (Node, *_base_types)):
            return a
        raise NotImplementedError(f"argument of type: {type(a)}")

    def to_bool(self, obj: Proxy) -> bool:
        raise TraceError("symbolically traced variables cannot be used as inputs to control flow")

    def iter(self, obj: Proxy) -> Iterator:
        raise TraceError("Proxy object cannot be iterated. This can be attempted when the Proxy is used in a loop "
                         "or as a *args or **kwargs function argument. See the trainer.fx docs for a more detailed "
                         "explanation of what types of control flow can be traced")

    def keys(self, obj: Proxy) -> Any:
        return Attribute(obj, "keys")()


class GraphAppendingTracer(TracerBase):
    """The tracer of a ``Proxy`` made directly on a graph node: appends to that graph."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.tensor_attrs: dict = {}


class Proxy:
    """Stands for the value of ``node`` while tracing; operations on it add nodes to the tracer's graph."""

    def __init__(self, node: Node, tracer: TracerBase | None = None):
        self.tracer = tracer if tracer is not None else GraphAppendingTracer(node.graph)
        self.node = node

    def __repr__(self) -> str:
        return f"Proxy({self.node.name})"

    def __getattr__(self, k: str) -> Attribute:
        # probes for protocol dunders (__array__, __deepcopy__, ...) must fail as on a plain object
        if k.startswith("__") and k.endswith("__"):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{k}'")
        return Attribute(self, k)

    def __call__(self, *args, **kwargs) -> Proxy:
        return self.tracer.create_proxy("call_method", "__call__", (self, *args), kwargs)

    def __iter__(self) -> Iterator[Proxy]:
        # `a, b = proxy` unpacks a known number of items: record one getitem per item
        calling_frame = inspect.currentframe().f_back
        instructions = list(dis.get_instructions(calling_frame.f_code))
        inst = instructions[bisect_left(instructions, calling_frame.f_lasti, key=lambda x: x.offset)]
        if inst.opname == "UNPACK_SEQUENCE":
            return (self[i] for i in range(inst.argval))
        return self.tracer.iter(self)

    def __bool__(self) -> bool:
        return self.tracer.to_bool(self)

    def __len__(self) -> int:
        raise RuntimeError("'len' is not supported in symbolic tracing by default. If you want this call to be "
                           "recorded, please call trainer.fx.wrap('len') at module scope")

    def __abs__(self) -> Proxy:
        return self.tracer.create_proxy("call_function", operator.abs, (self,), {})

    def __hash__(self) -> int:
        return id(self)

    def keys(self) -> Any:
        return self.tracer.keys(self)


class Attribute(Proxy):
    """``proxy.name``: becomes a ``call_method`` when called, else (on first use) a ``getattr`` node."""

    def __init__(self, root: Proxy, attr: str):
        self.root = root
        self.attr = attr
        self.tracer = root.tracer
        self._node: Node | None = None

    @property
    def node(self) -> Node:
        # created lazily: most attributes are methods that are called, which needs no getattr node
        if self._node is None:
            self._node = self.tracer.create_proxy("call_function", getattr, (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs) -> Proxy:
        return self.tracer.create_proxy("call_method", self.attr, (self.root, *args), kwargs)


def _define_operators() -> None:
    def binary(name: str):
        target = getattr(operator, name)
        return lambda self, other: self.tracer.create_proxy("call_function", target, (self, other), {})

    def reflected(name: str):
        target = getattr(operator, name)
        return lambda self, other: self.tracer.create_proxy("call_function", target, (other, self), {})

    def unary(name: str):
        target = getattr(operator, name)
        return lambda self: self.tracer.create_proxy("call_function", target, (self,), {})

    for name in (*magic_methods, *comparison_methods):
        dunder = name.rstrip("_")
        setattr(Proxy, f"__{dunder}__", binary(name))
    for name in reflectable_magic_methods:
        setattr(Proxy, f"__r{name.rstrip('_')}__", reflected(name))
    for name in unary_methods:
        setattr(Proxy, f"__{name}__", unary(name))


_define_operators()


def _find_proxy(*objects: Any) -> Proxy | None:
    """The first Proxy inside (nested) arguments, or None."""
    found: list[Proxy] = []
    map_aggregate(objects, lambda x: found.append(x) if isinstance(x, Proxy) and not found else None)
    return found[0] if found else None
