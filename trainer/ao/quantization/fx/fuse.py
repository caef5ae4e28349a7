"""Module fusion on a traced graph (``fuse_fx``): conv-bn(-relu), conv-relu, linear-bn, linear-relu and bn-relu
chains, where each inner result has no other reader, become one module placed at the first module's name (the
batch norm folded into the weights in eval mode, a fused container for quantization-aware training), as PyTorch's
default fusion patterns do. The ReLU may be ``nn.ReLU`` or ``F.relu``."""

from __future__ import annotations

from trainer import nn
from trainer.ao.quantization.fuser_method_mappings import get_fuser_method
from trainer.fx import GraphModule, Node
from trainer.nn import functional as F

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN_FOR = {nn.Conv1d: nn.BatchNorm1d, nn.Conv2d: nn.BatchNorm2d, nn.Conv3d: nn.BatchNorm3d,
           nn.Linear: nn.BatchNorm1d}
_BN_RELU = (nn.BatchNorm2d, nn.BatchNorm3d)


def _module(node: Node, modules: dict):
    return modules.get(node.target) if node.op == "call_module" else None


def _single_user(node: Node) -> Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _is_fusable_relu(node: Node | None, modules: dict) -> bool:
    if node is None:
        return False
    return type(_module(node, modules)) is nn.ReLU or (node.op == "call_function" and node.target is F.relu)


def _chain_from(node: Node, modules: dict) -> list[Node]:
    """The longest fusable chain starting at ``node`` (just ``[node]`` when none)."""
    first = _module(node, modules)
    if first is None:
        return [node]
    first_type = type(first)
    chain = [node]
    nxt = _single_user(node)
    if first_type in _BN_FOR and nxt is not None and type(_module(nxt, modules)) is _BN_FOR[first_type] \
            and nxt.args[0] is node:
        chain.append(nxt)
        nxt = _single_user(nxt)
    if (first_type in _CONVS or first_type is nn.Linear or first_type in _BN_RELU) and _is_fusable_relu(nxt, modules) \
            and nxt.args[0] is chain[-1]:
        if not (first_type is nn.Linear and len(chain) == 2):  # linear-bn-relu has no fused module
            chain.append(nxt)
    return chain


def fuse_graph_module(model: GraphModule, is_qat: bool) -> GraphModule:
    """``model`` with its chains fused: a new ``GraphModule`` holding only the modules its graph still calls."""
    modules = dict(model.named_modules())
    for node in list(model.graph.nodes):
        if node.op != "call_module" or node.target not in modules:
            continue
        chain = _chain_from(node, modules)
        if len(chain) == 1:
            continue
        parts = [modules[n.target] if n.op == "call_module" else nn.ReLU() for n in chain]
        fused = get_fuser_method(tuple(type(p) for p in parts))(is_qat, *parts)
        _set_module(model, node.target, fused)
        modules[node.target] = fused
        last = chain[-1]
        last.replace_all_uses_with(node)
        for dead in reversed(chain[1:]):
            model.graph.erase_node(dead)
    model.graph.lint()
    return GraphModule(model, model.graph, type(model).__name__)


def _set_module(root, qualified_name: str, module) -> None:
    parent_name, _, name = qualified_name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, name, module)
