"""Nested containers of tensors ("pytrees"), as ``torch.utils._pytree`` sees them: tuples (named ones included),
lists and dicts are nodes, everything else (tensors, numbers, None) is a leaf. The transforms in ``trainer.func``
flatten their inputs and outputs to lists of leaves and rebuild the same structure around the results."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class TreeSpec:
    """The shape of a pytree without its leaves: the node's type, its context (dict keys, or the namedtuple
    class) and one spec per child; a leaf has ``kind`` None."""

    kind: type | None
    context: object
    children: tuple[TreeSpec, ...]

    @property
    def num_leaves(self) -> int:
        return 1 if self.kind is None else sum(child.num_leaves for child in self.children)

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        if issubclass(self.kind, dict):
            body = ", ".join(f"{key!r}: {child!r}" for key, child in zip(self.context, self.children))
            return "{" + body + "}" if self.kind is dict else f"{self.kind.__name__}({{{body}}})"
        body = ", ".join(repr(child) for child in self.children)
        if self.kind is list:
            return f"[{body}]"
        if self.kind is tuple:
            return f"({body},)" if len(self.children) == 1 else f"({body})"
        return f"{self.kind.__name__}({body})"


_LEAF = TreeSpec(None, None, ())


def _node_kind(tree) -> type | None:
    """The container type that makes ``tree`` a node, or None for a leaf."""
    if isinstance(tree, tuple):
        return type(tree) if hasattr(tree, "_fields") else tuple
    if isinstance(tree, list):
        return list
    if isinstance(tree, OrderedDict):
        return OrderedDict
    if isinstance(tree, dict):
        return dict
    return None


def _children(tree, kind) -> tuple[object, list]:
    """``(context, children)`` of a node."""
    if issubclass(kind, dict):
        keys = list(tree)
        return keys, [tree[key] for key in keys]
    return (kind if kind not in (tuple, list) else None), list(tree)


def _rebuild(kind, context, children):
    if issubclass(kind, dict):
        return kind(zip(context, children))
    if kind in (tuple, list):
        return kind(children)
    return kind(*children)  # a namedtuple


def tree_flatten(tree) -> tuple[list, TreeSpec]:
    """The leaves of ``tree``, left to right, and its structure."""
    leaves: list = []

    def flatten(node) -> TreeSpec:
        kind = _node_kind(node)
        if kind is None:
            leaves.append(node)
            return _LEAF
        context, children = _children(node, kind)
        return TreeSpec(kind, context, tuple(flatten(child) for child in children))

    spec = flatten(tree)
    return leaves, spec


def tree_unflatten(leaves, spec: TreeSpec):
    """The pytree of structure ``spec`` holding ``leaves`` in order."""
    leaves = list(leaves)
    if len(leaves) != spec.num_leaves:
        raise ValueError(f"tree_unflatten: the structure {spec} has {spec.num_leaves} leaves, got {len(leaves)}")
    position = iter(leaves)

    def build(node: TreeSpec):
        if node.kind is None:
            return next(position)
        return _rebuild(node.kind, node.context, [build(child) for child in node.children])

    return build(spec)


def tree_map(fn, tree):
    """``tree`` with ``fn`` applied to every leaf."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(leaf) for leaf in leaves], spec)


def broadcast_prefix(prefix, spec: TreeSpec) -> list | None:
    """One value per leaf of the structure ``spec``, taken from ``prefix``: a pytree whose structure is a prefix
    of ``spec`` (a leaf of ``prefix`` stands for every leaf below it), as vmap's ``in_dims``/``out_dims`` are.
    None where ``prefix`` does not fit ``spec``."""
    result: list = []

    def broadcast(node, target: TreeSpec) -> bool:
        kind = _node_kind(node)
        if kind is None:
            result.extend([node] * target.num_leaves)
            return True
        if kind is not target.kind:
            return False
        context, children = _children(node, kind)
        if context != target.context or len(children) != len(target.children):
            return False
        return all(broadcast(child, child_spec) for child, child_spec in zip(children, target.children))

    return result if broadcast(prefix, spec) else None
