"""``torch.utils._pytree`` under its PyTorch path: the pytree utilities of ``trainer.func.pytree``, whose
registered node types the ``trainer.func`` transforms use as well."""

from trainer.func.pytree import (
    SUPPORTED_NODES,
    NodeDef,
    TreeSpec,
    register_pytree_node,
    tree_all,
    tree_all_only,
    tree_any,
    tree_any_only,
    tree_flatten,
    tree_is_leaf,
    tree_leaves,
    tree_map,
    tree_map_only,
    tree_structure,
    tree_unflatten,
)

__all__ = [
    "SUPPORTED_NODES",
    "NodeDef",
    "TreeSpec",
    "register_pytree_node",
    "tree_all",
    "tree_all_only",
    "tree_any",
    "tree_any_only",
    "tree_flatten",
    "tree_is_leaf",
    "tree_leaves",
    "tree_map",
    "tree_map_only",
    "tree_structure",
    "tree_unflatten",
]
