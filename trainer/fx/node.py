"""``trainer.fx.Node``: one operation of a ``Graph`` (``torch.fx.Node``), and the helpers that walk nested arguments."""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable
from typing import Any

OPCODES = ("placeholder", "get_attr", "call_function", "call_method", "call_module", "output", "root")


def map_aggregate(a: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` to every leaf of ``a``, rebuilding the tuples, lists, dicts and slices around them."""
    if isinstance(a, tuple):
        mapped = tuple(map_aggregate(elem, fn) for elem in a)
        # namedtuples are rebuilt from their fields
        return type(a)(*mapped) if hasattr(a, "_fields") else mapped
    if isinstance(a, list):
        return [map_aggregate(elem, fn) for elem in a]
    if isinstance(a, dict):
        return {k: map_aggregate(v, fn) for k, v in a.items()}
    if isinstance(a, slice):
        return slice(map_aggregate(a.start, fn), map_aggregate(a.stop, fn), map_aggregate(a.step, fn))
    return fn(a)


def map_arg(a: Any, fn: Callable[[Node], Any]) -> Any:
    """Apply ``fn`` to every ``Node`` inside the argument structure ``a``."""
    return map_aggregate(a, lambda x: fn(x) if isinstance(x, Node) else x)


def _qualified_name(target: Any) -> str:
    """How ``format_node`` names a callable target: ``operator.add``, ``trainer.relu``, ``builtins.getattr``."""
    from trainer.fx._patching import public_name

    name = public_name(target)
    if name is not None:
        return name
    if getattr(builtins, getattr(target, "__name__", ""), None) is target:
        return f"builtins.{target.__name__}"
    if getattr(operator, getattr(target, "__name__", ""), None) is target:
        return f"operator.{target.__name__}"
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{getattr(target, '__qualname__', target.__name__)}".lstrip(".")


def _format_arg(arg: Any) -> str:
    if isinstance(arg, Node):
        return f"%{arg}"
    if isinstance(arg, tuple):
        items = ", ".join(_format_arg(a) for a in arg)
        return f"({items},)" if len(arg) == 1 else f"({items})"
    if isinstance(arg, list):
        return "[" + ", ".join(_format_arg(a) for a in arg) + "]"
    if isinstance(arg, dict):
        return "{" + ", ".join(f"{k}: {_format_arg(v)}" for k, v in arg.items()) + "}"
    return str(arg)


class Node:
    """An operation in a ``Graph``: ``op`` is one of placeholder, get_attr, call_function, call_method, call_module,
    output; ``target`` what it calls; ``args``/``kwargs`` its inputs, where other nodes stand for their values."""

    def __init__(self, graph, name: str, op: str, target: Any, args: tuple, kwargs: dict, type_expr: Any = None):
        if op not in OPCODES:
            raise ValueError(f"Node op must be one of {OPCODES[:-1]}, got '{op}'")
        if op in ("call_method", "call_module", "get_attr", "placeholder") and not isinstance(target, str):
            raise ValueError(f"Node target must be a string for op '{op}', got {type(target).__name__}")
        if op == "call_function" and not callable(target):
            raise ValueError(f"Node target must be a callable for op 'call_function', got {type(target).__name__}")
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self.type = type_expr
        self.users: dict[Node, None] = {}
        self.meta: dict[str, Any] = {}
        self._input_nodes: dict[Node, None] = {}
        self._args: tuple = ()
        self._kwargs: dict = {}
        self._prev = self
        self._next = self
        self._erased = False
        self._update_args_kwargs(map_arg(args, lambda n: n), map_arg(kwargs, lambda n: n))

    # ----------------------------------------------------------------- position in the graph
    @property
    def next(self) -> Node:
        return self._next

    @property
    def prev(self) -> Node:
        return self._prev

    def prepend(self, x: Node) -> None:
        """Put ``x`` just before this node (moving it when it is already in the graph)."""
        if x is self:
            raise ValueError("Cannot prepend a node to itself")
        if x.graph is not self.graph:
            raise ValueError("Attempting to move a Node into a different Graph")
        x._remove_from_list()
        p = self._prev
        p._next, x._prev = x, p
        x._next, self._prev = self, x

    def append(self, x: Node) -> None:
        """Put ``x`` just after this node."""
        self._next.prepend(x)

    def _remove_from_list(self) -> None:
        p, n = self._prev, self._next
        p._next, n._prev = n, p

    # ----------------------------------------------------------------- inputs
    @property
    def args(self) -> tuple:
        return self._args

    @args.setter
    def args(self, a: tuple) -> None:
        self._update_args_kwargs(tuple(a), self._kwargs)

    @property
    def kwargs(self) -> dict:
        return self._kwargs

    @kwargs.setter
    def kwargs(self, k: dict) -> None:
        self._update_args_kwargs(self._args, dict(k))

    @property
    def all_input_nodes(self) -> list[Node]:
        """The nodes this one reads, in order of first appearance in ``args`` then ``kwargs``."""
        return list(self._input_nodes)

    def update_arg(self, idx: int, arg: Any) -> None:
        args = list(self._args)
        args[idx] = arg
        self.args = tuple(args)

    def update_kwarg(self, key: str, arg: Any) -> None:
        self.kwargs = {**self._kwargs, key: arg}

    def _update_args_kwargs(self, new_args: tuple, new_kwargs: dict) -> None:
        for old in self._input_nodes:
            old.users.pop(self, None)
        self._args, self._kwargs = new_args, new_kwargs
        self._input_nodes = {}
        map_arg((new_args, new_kwargs), self._input_nodes.setdefault)
        for new in self._input_nodes:
            new.users.setdefault(self)

    def replace_all_uses_with(self, replace_with: Node, delete_user_cb: Callable[[Node], bool] = lambda user: True,
                              *, propagate_meta: bool = False) -> list[Node]:
        """Make every user of this node read ``replace_with`` instead; returns the users that changed."""
        if propagate_meta:
            if replace_with.meta:
                raise ValueError("Called node.replace_all_uses_with(replace_with, propagate_meta=True), "
                                 "but replace_with already has .meta keys")
            replace_with.meta.update(self.meta)
        changed = [user for user in list(self.users) if delete_user_cb(user)]
        for user in changed:
            user.replace_input_with(self, replace_with)
        return changed

    def replace_input_with(self, old_input: Node, new_input: Node) -> None:
        """Read ``new_input`` wherever this node read ``old_input``."""
        def swap(n: Node) -> Node:
            return new_input if n is old_input else n

        self._update_args_kwargs(map_arg(self._args, swap), map_arg(self._kwargs, swap))

    # ----------------------------------------------------------------- side effects
    def is_impure(self) -> bool:
        """Whether dead-code elimination must keep this node even when nothing reads it."""
        if self.op in ("placeholder", "output"):
            return True
        if self.op == "call_function":
            from trainer.fx.graph import side_effectful_functions

            return self.target in side_effectful_functions
        if self.op == "call_module" and self.graph.owning_module is not None:
            return getattr(self.graph.owning_module.get_submodule(self.target), "_is_impure", False)
        return False

    # ----------------------------------------------------------------- printing
    def format_node(self, placeholder_names: list[str] | None = None,
                    maybe_return_typename: list[str] | None = None) -> str | None:
        """One line as ``print(graph)`` shows it, e.g. ``%relu : [num_users=1] = call_function[...](...)``."""
        if self.op == "placeholder":
            arg_str = str(self.target)
            if placeholder_names is not None:
                placeholder_names.append(arg_str)
                return None
            default = f"(default={self.args[0]})" if self.args else ""
            return f"%{self.name} : [num_users={len(self.users)}] = placeholder[target={self.target}]{default}"
        if self.op == "output":
            return f"return {self._args[0]}"
        target = _qualified_name(self.target) if callable(self.target) else self.target
        if self.op == "get_attr":
            return f"%{self.name} : [num_users={len(self.users)}] = get_attr[target={target}]"
        return (f"%{self.name} : [num_users={len(self.users)}] = {self.op}[target={target}]"
                f"(args = {_format_arg(self._args)}, kwargs = {_format_arg(self._kwargs)})")

    def __repr__(self) -> str:
        return self.name


# the type names torch.fx.node exports for annotations: what a node calls, and what its arguments may hold
Target = Callable[..., Any] | str
Argument = tuple | list | dict | slice | range | Node | str | int | float | bool | complex | None
