"""Nested containers of tensors ("pytrees"), as ``torch.utils._pytree`` sees them: tuples (named ones included),
lists, dicts (``OrderedDict`` and ``defaultdict`` too), deques, ``trainer.Size`` and every type given to
``register_pytree_node`` are nodes; everything else (tensors, numbers, None) is a leaf. As in PyTorch, a node's type
is matched exactly: a subclass of ``list`` that is not registered is a leaf. The transforms in ``trainer.func``
flatten their inputs and outputs to lists of leaves and rebuild the same structure around the results, so a
registered type works in them too. ``trainer.utils._pytree`` exposes this module under PyTorch's names."""

from __future__ import annotations

import types
import warnings
from collections import OrderedDict, defaultdict, deque, namedtuple
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from trainer.tensor import Size


class NodeDef(NamedTuple):
    """How one node type comes apart: ``flatten_fn(node) -> (children, context)`` and
    ``unflatten_fn(children, context) -> node``."""

    type: Any
    flatten_fn: Callable[[Any], tuple[list, Any]]
    unflatten_fn: Callable[[Iterable, Any], Any]


SUPPORTED_NODES: dict[Any, NodeDef] = {}


def register_pytree_node(cls, flatten_fn, unflatten_fn, *, serialized_type_name: str | None = None,
                         to_dumpable_context=None, from_dumpable_context=None, flatten_with_keys_fn=None) -> None:
    """Make ``cls`` a node: ``flatten_fn(obj)`` returns ``(children, context)`` and ``unflatten_fn(children,
    context)`` rebuilds the object. Registering a type again replaces its functions, with a warning, as in PyTorch.

    The serialization keywords (``serialized_type_name``, ``to_dumpable_context``/``from_dumpable_context``) and
    ``flatten_with_keys_fn`` are accepted so that code written for PyTorch runs; trainer has neither treespec
    serialization nor key paths, so they are checked as PyTorch checks them and not used further."""
    if (to_dumpable_context is None) != (from_dumpable_context is None):
        raise ValueError(f"Both to_dumpable_context and from_dumpable_context for {cls} must be None or registered.")
    if cls in SUPPORTED_NODES:
        warnings.warn(f"{cls} is already registered as pytree node. Overwriting the previous registration.",
                      stacklevel=2)
    SUPPORTED_NODES[cls] = NodeDef(cls, flatten_fn, unflatten_fn)


def _dict_flatten(d):
    return list(d.values()), list(d.keys())


def _defaultdict_flatten(d):
    return list(d.values()), [d.default_factory, list(d.keys())]


register_pytree_node(tuple, lambda t: (list(t), None), lambda values, _: tuple(values))
register_pytree_node(list, lambda t: (list(t), None), lambda values, _: list(values))
register_pytree_node(dict, _dict_flatten, lambda values, keys: dict(zip(keys, values)))
# every namedtuple class shares the ``namedtuple`` entry and is its node's context, as in PyTorch
register_pytree_node(namedtuple, lambda t: (list(t), type(t)), lambda values, cls: cls(*values))
register_pytree_node(OrderedDict, _dict_flatten, lambda values, keys: OrderedDict(zip(keys, values)))
register_pytree_node(defaultdict, _defaultdict_flatten,
                     lambda values, context: defaultdict(context[0], zip(context[1], values)))
register_pytree_node(deque, lambda d: (list(d), d.maxlen), lambda values, maxlen: deque(values, maxlen=maxlen))
register_pytree_node(Size, lambda s: (list(s), None), lambda values, _: Size(values))


def _is_namedtuple_instance(tree) -> bool:
    fields = getattr(type(tree), "_fields", None)
    return isinstance(tree, tuple) and isinstance(fields, tuple) and all(type(f) is str for f in fields)


def _get_node_type(tree):
    return namedtuple if _is_namedtuple_instance(tree) else type(tree)


def tree_is_leaf(tree, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether ``tree`` is a leaf: not of a registered node type, or picked out by ``is_leaf``."""
    return (is_leaf is not None and is_leaf(tree)) or _get_node_type(tree) not in SUPPORTED_NODES


@dataclass(frozen=True, eq=False, repr=False)
class TreeSpec:
    """The shape of a pytree without its leaves: the node's ``type``, its ``context`` (dict keys, the namedtuple
    class, a deque's maxlen, ...) and one spec per child. A leaf's spec has ``type`` None."""

    type: Any
    context: Any
    children_specs: list[TreeSpec]
    num_nodes: int = field(init=False)
    num_leaves: int = field(init=False)
    num_children: int = field(init=False)

    def __post_init__(self) -> None:
        children = list(self.children_specs)
        object.__setattr__(self, "children_specs", children)
        is_leaf = self.type is None
        object.__setattr__(self, "num_nodes", 1 + sum(child.num_nodes for child in children))
        object.__setattr__(self, "num_leaves", 1 if is_leaf else sum(child.num_leaves for child in children))
        object.__setattr__(self, "num_children", len(children))

    def is_leaf(self) -> bool:
        return self.type is None

    def children(self) -> list[TreeSpec]:
        return list(self.children_specs)

    def child(self, index: int) -> TreeSpec:
        return self.children_specs[index]

    def __eq__(self, other) -> bool:
        if not isinstance(other, TreeSpec):
            return NotImplemented
        return (self.type is other.type and self.context == other.context
                and self.children_specs == other.children_specs)

    def __hash__(self) -> int:
        return hash((self.type, self.num_nodes, self.num_leaves))

    def __repr__(self) -> str:
        # trainer's compact form (``[*, {'a': *}]``), not PyTorch's ``TreeSpec(list, None, [...])``
        if self.type is None:
            return "*"
        if self.type in (dict, OrderedDict, defaultdict):
            keys = self.context[1] if self.type is defaultdict else self.context
            body = ", ".join(f"{key!r}: {child!r}" for key, child in zip(keys, self.children_specs))
            return "{" + body + "}" if self.type is dict else f"{self.type.__name__}({{{body}}})"
        body = ", ".join(repr(child) for child in self.children_specs)
        if self.type is list:
            return f"[{body}]"
        if self.type is tuple:
            return f"({body},)" if self.num_children == 1 else f"({body})"
        name = self.context.__name__ if self.type is namedtuple else self.type.__name__
        return f"{name}({body})"

    def flatten_up_to(self, tree) -> list:
        """The subtrees of ``tree`` at this spec's leaves; ``tree`` must have this spec's structure down to them."""
        subtrees: list = []

        def walk(spec: TreeSpec, node) -> None:
            if spec.type is None:
                subtrees.append(node)
                return
            node_type = _get_node_type(node)
            if node_type is not spec.type:
                raise ValueError(f"Type mismatch; expected {spec.type!r}, but got {node_type!r}.")
            children, context = SUPPORTED_NODES[node_type].flatten_fn(node)
            if len(children) != spec.num_children:
                raise ValueError(f"Node arity mismatch; expected {spec.num_children}, but got {len(children)}.")
            if context != spec.context:
                raise ValueError(f"Node context mismatch for custom node type {spec.type!r}; expected "
                                 f"{spec.context!r}, but got {context!r}.")
            for child_spec, child in zip(spec.children_specs, children):
                walk(child_spec, child)

        walk(self, tree)
        return subtrees

    def unflatten(self, leaves: Iterable):
        """The pytree of this structure holding ``leaves`` in order."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} but the spec refers to "
                             f"a pytree that holds {self.num_leaves} items ({self}).")
        position = iter(leaves)

        def build(spec: TreeSpec):
            if spec.type is None:
                return next(position)
            children = [build(child) for child in spec.children_specs]
            return SUPPORTED_NODES[spec.type].unflatten_fn(children, spec.context)

        return build(self)


_LEAF = TreeSpec(None, None, [])


def tree_flatten(tree, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, TreeSpec]:
    """The leaves of ``tree``, left to right, and its structure."""
    leaves: list = []

    def flatten(node) -> TreeSpec:
        if tree_is_leaf(node, is_leaf):
            leaves.append(node)
            return _LEAF
        node_type = _get_node_type(node)
        children, context = SUPPORTED_NODES[node_type].flatten_fn(node)
        return TreeSpec(node_type, context, [flatten(child) for child in children])

    spec = flatten(tree)
    return leaves, spec


def tree_unflatten(leaves, spec: TreeSpec):
    """The pytree of structure ``spec`` holding ``leaves`` in order."""
    if not isinstance(spec, TreeSpec):
        raise TypeError(f"tree_unflatten(leaves, treespec): Expected `treespec` to be instance of TreeSpec but got "
                        f"item of type {type(spec)}.")
    return spec.unflatten(leaves)


def tree_leaves(tree, is_leaf: Callable[[Any], bool] | None = None) -> list:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf: Callable[[Any], bool] | None = None) -> TreeSpec:
    return tree_flatten(tree, is_leaf)[1]


def tree_map(fn, tree, *rests, is_leaf: Callable[[Any], bool] | None = None):
    """``tree`` with ``fn`` applied to every leaf; with ``rests``, ``fn`` gets the matching subtree of each of them
    too (``tree`` must be a prefix of every one)."""
    leaves, spec = tree_flatten(tree, is_leaf)
    others = [spec.flatten_up_to(rest) for rest in rests]
    return spec.unflatten(fn(*values) for values in zip(leaves, *others))


def _leaf_predicate(type_or_types_or_pred) -> Callable[[Any], bool]:
    """A type, a tuple of types or a union (``int | str``) selects leaves by isinstance; anything else is called."""
    if isinstance(type_or_types_or_pred, (type, tuple, types.UnionType)):
        return lambda x: isinstance(x, type_or_types_or_pred)
    return type_or_types_or_pred


def tree_map_only(type_or_types_or_pred, /, func, tree, is_leaf: Callable[[Any], bool] | None = None):
    """``tree`` with ``func`` applied to the leaves of the given type(s), or that satisfy the predicate; the other
    leaves are kept as they are."""
    pred = _leaf_predicate(type_or_types_or_pred)
    return tree_map(lambda x: func(x) if pred(x) else x, tree, is_leaf=is_leaf)


def tree_all(pred, tree, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    return all(pred(leaf) for leaf in tree_leaves(tree, is_leaf))


def tree_any(pred, tree, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    return any(pred(leaf) for leaf in tree_leaves(tree, is_leaf))


def tree_all_only(type_or_types, pred, tree, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    of_type = _leaf_predicate(type_or_types)
    return all(pred(leaf) for leaf in tree_leaves(tree, is_leaf) if of_type(leaf))


def tree_any_only(type_or_types, pred, tree, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    of_type = _leaf_predicate(type_or_types)
    return any(pred(leaf) for leaf in tree_leaves(tree, is_leaf) if of_type(leaf))


def broadcast_prefix(prefix, spec: TreeSpec) -> list | None:
    """One value per leaf of the structure ``spec``, taken from ``prefix``: a pytree whose structure is a prefix
    of ``spec`` (a leaf of ``prefix`` stands for every leaf below it), as vmap's ``in_dims``/``out_dims`` are.
    None where ``prefix`` does not fit ``spec``."""
    result: list = []

    def broadcast(node, target: TreeSpec) -> bool:
        if tree_is_leaf(node):
            result.extend([node] * target.num_leaves)
            return True
        node_type = _get_node_type(node)
        if node_type is not target.type:
            return False
        children, context = SUPPORTED_NODES[node_type].flatten_fn(node)
        if context != target.context or len(children) != target.num_children:
            return False
        return all(broadcast(child, child_spec) for child, child_spec in zip(children, target.children_specs))

    return result if broadcast(prefix, spec) else None
