"""Observer insertion for ``prepare_fx``: every op of ``patterns`` with a qconfig gets observers (or fake-quantize
modules) on its activation inputs and its output, named ``activation_post_process_<i>`` as PyTorch names them. An
input already observed with the same kind of observer reuses it; ops that keep their input's grid (``SHARE``,
``CAT``) share one observer instance between inputs and output, as PyTorch's backend configuration asks."""

from __future__ import annotations

import re
from collections import defaultdict

from trainer.ao.quantization.fake_quantize import FakeQuantizeBase
from trainer.ao.quantization.fx import patterns
from trainer.ao.quantization.observer import ObserverBase
from trainer.ao.quantization.passthrough_observers import ReuseInputObserver
from trainer.ao.quantization.qconfig_mapping import QConfigMapping
from trainer.ao.quantization.quantization_mappings import get_default_qat_module_mappings
from trainer.fx import GraphModule, Node

KIND = "quantize_fx_kind"  # node.meta key: the pattern kind a prepared node was observed as
FUSED_RELU = "quantize_fx_fused_relu"  # node.meta key on a ReLU folded into the add/mul before it


def is_observer(module) -> bool:
    return isinstance(module, (ObserverBase, FakeQuantizeBase))


def _parent_name(name: str) -> str:
    return name.rpartition(".")[0]


def _module_name_qconfig(mapping: QConfigMapping, module_name: str, fallback):
    while module_name:
        if module_name in mapping.module_name_qconfigs:
            return mapping.module_name_qconfigs[module_name]
        module_name = _parent_name(module_name)
    return fallback


def _type_or_name_qconfig(mapping: QConfigMapping, object_type, module_name: str, fallback):
    """Module name over the first matching regex over object type over ``fallback``."""
    qconfig = mapping.object_type_qconfigs.get(object_type, fallback)
    for regex, regex_qconfig in mapping.module_name_regex_qconfigs.items():
        if re.match(regex, module_name):
            qconfig = regex_qconfig
            break
    return _module_name_qconfig(mapping, module_name, qconfig)


def node_qconfigs(model: GraphModule, mapping: QConfigMapping, node_name_to_scope: dict) -> dict:
    """The qconfig of each node, by PyTorch's precedence rules; modules called by the graph get it as ``qconfig``."""
    modules = dict(model.named_modules(remove_duplicate=False))
    call_counts: dict = defaultdict(lambda: defaultdict(int))
    result = {}
    for node in model.graph.nodes:
        qconfig = None
        if node.op == "call_function":
            module_path, module_type = node_name_to_scope.get(node.name, ("", None))
            qconfig = mapping.object_type_qconfigs.get(node.target, mapping.global_qconfig)
            qconfig = _type_or_name_qconfig(mapping, module_type, module_path, qconfig)
            index = call_counts[module_path][node.target]
            call_counts[module_path][node.target] += 1
            qconfig = mapping.module_name_object_type_order_qconfigs.get((module_path, node.target, index), qconfig)
        elif node.op == "call_method":
            module_path, module_type = node_name_to_scope.get(node.name, ("", None))
            qconfig = _type_or_name_qconfig(mapping, node.target, module_path, mapping.global_qconfig)
            qconfig = _type_or_name_qconfig(mapping, module_type, module_path, qconfig)
        elif node.op == "call_module":
            module = modules[node.target]
            qconfig = _type_or_name_qconfig(mapping, type(module), node.target, mapping.global_qconfig)
            parent = _parent_name(node.target)
            index = call_counts[parent][type(module)]
            call_counts[parent][type(module)] += 1
            qconfig = mapping.module_name_object_type_order_qconfigs.get((parent, type(module), index), qconfig)
            for part in module.modules():  # the parts of a fused module too, as from_float reads them
                part.qconfig = qconfig
        result[node.name] = qconfig
    return result


def swap_qat_modules(model: GraphModule) -> None:
    """Replace each called module that has a qconfig and a QAT version by that version (fake-quantized weights)."""
    mapping = get_default_qat_module_mappings()
    for node in model.graph.nodes:
        if node.op != "call_module":
            continue
        module = model.get_submodule(node.target)
        if getattr(module, "qconfig", None) is not None and type(module) in mapping:
            parent_name, _, name = node.target.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, name, mapping[type(module)].from_float(module))


class _ObserverInserter:
    def __init__(self, model: GraphModule):
        self.model = model
        self.graph = model.graph

    def _new_name(self) -> str:
        i = 0
        while hasattr(self.model, f"activation_post_process_{i}"):
            i += 1
        return f"activation_post_process_{i}"

    def _insert_after(self, node: Node, observer) -> Node:
        name = self._new_name()
        setattr(self.model, name, observer)
        with self.graph.inserting_after(node):
            return self.graph.create_node("call_module", name, (node,), {}, name=name)

    def observer_of(self, node: Node):
        return self.model.get_submodule(node.target) if node.op == "call_module" else None

    def observe_input(self, node: Node, arg: Node, qconfig) -> Node | None:
        """The observer node standing for ``arg`` (reused or new), wired into ``node``; None where ``arg`` cannot
        be observed (a reuse-input qconfig on an unobserved input)."""
        if is_observer(self.observer_of(arg)):
            return arg
        observer = qconfig.activation()
        for user in arg.users:
            existing = self.observer_of(user)
            if type(existing) is type(observer) and getattr(existing, "dtype", None) == getattr(observer, "dtype",
                                                                                                   None):
                obs_node = user
                break
        else:
            if isinstance(observer, ReuseInputObserver):
                return None
            obs_node = self._insert_after(arg, observer)
        node.replace_input_with(arg, obs_node)
        return obs_node

    def observe_output(self, node: Node, qconfig) -> Node:
        obs_node = self._insert_after(node, qconfig.activation())
        node.replace_all_uses_with(obs_node, delete_user_cb=lambda user: user is not obs_node)
        return obs_node

    def share(self, input_observers: list[Node], output_observer: Node) -> None:
        shared = self.observer_of(input_observers[0])
        for obs_node in [*input_observers[1:], output_observer]:
            setattr(self.model, obs_node.target, shared)


def insert_observers(model: GraphModule, qconfigs: dict) -> GraphModule:
    """Observe every quantizable node with a qconfig, in graph order (inputs first, then the output)."""
    modules = dict(model.named_modules(remove_duplicate=False))
    inserter = _ObserverInserter(model)
    for node in list(model.graph.nodes):
        qconfig = qconfigs.get(node.name)
        kind = patterns.pattern_kind(node, modules) if qconfig is not None else None
        if kind is None or node.meta.get(FUSED_RELU):
            continue
        inputs = patterns.tensor_inputs(node, kind)
        if not inputs:
            continue
        observed = [inserter.observe_input(node, arg, qconfig) for arg in inputs]
        if any(obs is None for obs in observed):
            continue
        node.meta[KIND] = kind
        last = node
        users = list(node.users)
        if kind == patterns.BINARY and len(users) == 1 and patterns.is_relu(users[0], modules) \
                and users[0].args[0] is node:
            last = users[0]
            last.meta[FUSED_RELU] = True
        output_observer = inserter.observe_output(last, qconfig)
        if kind in (patterns.SHARE, patterns.SCALAR, patterns.CAT):
            inserter.share(observed, output_observer)
    model.recompile()
    return model
