"""The lowering of ``convert_fx``: a new graph where each observer on a float value becomes
``trainer.quantize_per_tensor`` (its scale and zero point stored on the module, as PyTorch stores them), observed
layers become their int8 modules (the output grid taken from their output observer), add/mul/cat become the
quantized functional ops on the observed output grid, grid-keeping ops run on the quantized tensors as they are, and
a ``dequantize`` goes before every op that stays in float and before the graph's outputs."""

from __future__ import annotations

import trainer
from trainer import nn
from trainer import quantized_types as qt
from trainer.ao.nn.quantized import functional as qF
from trainer.ao.quantization.convert import get_default_static_quant_module_mappings
from trainer.ao.quantization.fx import patterns
from trainer.ao.quantization.fx.integer_avg_pool import quantized_avg_pool2d
from trainer.ao.quantization.fx.prepare import FUSED_RELU, KIND, is_observer
from trainer.fx import Graph, GraphModule, Node, map_arg
from trainer.nn import functional as F

_QUANTIZED_FUNCTIONS = {"add": qF.add, "mul": qF.mul}


def _observer_index(obs_node: Node) -> int:
    return int(obs_node.target.rsplit("_", 1)[1])


def _node_name(base: str, index: int) -> str:
    return base if index == 0 else f"{base}_{index}"


class _Lowering:
    def __init__(self, model: GraphModule):
        self.model = model
        # the layers under every name the graph calls them by (a ReLU fused into a conv may be called again)
        self.modules = dict(model.named_modules(remove_duplicate=False))
        self.graph = Graph()
        self.env: dict[Node, Node] = {}
        self.quantized: dict[Node, int] = {}  # quantized values -> index of the observer that gave their grid
        self.dequantized: dict[Node, Node] = {}
        self.mapping = get_default_static_quant_module_mappings()
        self.converted_modules: set[str] = set()

    # ----------------------------------------------------------------- values
    def float_value(self, node: Node) -> Node:
        value = self.env[node]
        if value not in self.quantized:
            return value
        if value not in self.dequantized:
            self.dequantized[value] = self.graph.create_node(
                "call_method", "dequantize", (value,), {}, name=_node_name("dequantize", self.quantized[value]))
        return self.dequantized[value]

    def _output_observer(self, node: Node) -> Node | None:
        users = list(node.users)
        if len(users) == 1 and users[0].meta.get(FUSED_RELU):
            users = list(users[0].users)
        for user in users:
            if user.op == "call_module" and is_observer(self.model.get_submodule(user.target)):
                return user
        return None

    def _new_buffer(self, prefix: str, value) -> Node:
        i = 0
        while hasattr(self.model, f"{prefix}{i}"):
            i += 1
        name = f"{prefix}{i}"
        self.model.register_buffer(name, value)
        return self.graph.create_node("get_attr", name, (), {}, name=name)

    # ----------------------------------------------------------------- nodes
    def quantize(self, obs_node: Node) -> None:
        source = self.env[obs_node.args[0]]
        observer = self.model.get_submodule(obs_node.target)
        if source in self.quantized or not isinstance(getattr(observer, "dtype", None), qt.QuantizedDtype):
            self.env[obs_node] = source  # already on this grid, or an observer that only records (float16 ...)
            return
        scale, zero_point = observer.calculate_qparams()
        # named as PyTorch names them: after the module whose (quantized) output this is when that module has a
        # qconfig, else after the module it is the input of
        observed, first_user = obs_node.args[0], next(iter(obs_node.users), None)
        if observed.op == "call_module" and getattr(self.model.get_submodule(observed.target), "qconfig", None):
            prefix = observed.target.replace(".", "_")
        else:
            prefix = f"{first_user.target.replace('.', '_')}_input" if first_user is not None and \
                first_user.op == "call_module" else ""
        scale_node = self._new_buffer(f"{prefix}_scale_", trainer.tensor(float(scale)))
        zero_point_node = self._new_buffer(f"{prefix}_zero_point_", trainer.tensor(int(zero_point)))
        index = _observer_index(obs_node)
        q = self.graph.create_node("call_function", trainer.quantize_per_tensor,
                                   (source, scale_node, zero_point_node, observer.dtype), {},
                                   name=_node_name("quantize_per_tensor", index))
        self.quantized[q] = index
        self.env[obs_node] = q

    def lower(self, node: Node, kind: str) -> bool:
        """Emit the quantized form of ``node``; False when it has to stay in float (an unquantized input)."""
        inputs = patterns.tensor_inputs(node, kind)
        if any(self.env[i] not in self.quantized for i in inputs):
            return False
        if kind == patterns.OWN:
            return False  # float between dequantize and the output observer's quantize
        if kind == patterns.SHARE and not patterns.runs_on_integers(node, self.modules):
            self._share_in_float(node, inputs[0])
            return True
        output_observer = self._output_observer(node)
        if kind != patterns.SHARE and output_observer is None:
            return False
        args = map_arg(node.args, lambda n: self.env[n])
        if kind == patterns.MODULE:
            if node.target not in self.converted_modules:  # a layer called twice keeps its first call's grid
                self.converted_modules.add(node.target)
                module = self.model.get_submodule(node.target)
                module.activation_post_process = self.model.get_submodule(output_observer.target)
                quantized_module = self.mapping[type(module)].from_float(module)
                parent_name, _, name = node.target.rpartition(".")
                setattr(self.model.get_submodule(parent_name) if parent_name else self.model, name, quantized_module)
            new = self.graph.create_node("call_module", node.target, args, dict(node.kwargs), name=node.name)
        elif kind == patterns.SHARE:
            new = self.graph.node_copy(node, lambda n: self.env[n])
        elif kind == patterns.SCALAR:
            op = patterns.BINARY_FUNCTIONS[node.target]
            scalar_function = qF.add_scalar if op == "add" else qF.mul_scalar
            new = self.graph.create_node("call_function", scalar_function,
                                         (self.env[inputs[0]], patterns.scalar_operand(node)), {},
                                         name=node.name)
        else:
            scale, zero_point = self.model.get_submodule(output_observer.target).calculate_qparams()
            scale, zero_point = float(scale), int(zero_point)
            if kind == patterns.CAT:
                dim = node.kwargs.get("dim", args[1] if len(args) > 1 else 0)
                new = self.graph.create_node("call_function", qF.cat, (args[0], scale, zero_point, dim), {},
                                             name=node.name)
            else:
                op = patterns.BINARY_FUNCTIONS[node.target]
                relu = output_observer.args[0] is not node
                new = self.graph.create_node("call_function", _QUANTIZED_FUNCTIONS[op],
                                             (args[0], args[1], scale, zero_point), {"relu": relu} if relu else {},
                                             name=f"{op}_relu" if relu else node.name)
                if relu:
                    self.env[output_observer.args[0]] = new
        self.quantized[new] = _observer_index(output_observer) if output_observer is not None else \
            self.quantized[self.env[inputs[0]]]
        self.env[node] = new
        return True

    def _share_in_float(self, node: Node, source: Node) -> None:
        """A grid-keeping op without an integer kernel: average pooling by ``quantized_avg_pool2d``, the others in
        float, requantized on the grid of their input as it is when the graph runs (a scalar add/mul before them
        moves it away from the observer's)."""
        quantized_input = self.env[source]
        if node.op == "call_module" and type(self.modules[node.target]) is nn.AvgPool2d:
            m = self.modules[node.target]
            new = self.graph.create_node("call_function", quantized_avg_pool2d,
                                         (quantized_input, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                          m.count_include_pad, m.divisor_override), {}, name=node.name)
        elif node.op == "call_function" and node.target is F.avg_pool2d:
            new = self.graph.create_node("call_function", quantized_avg_pool2d,
                                         map_arg(node.args, lambda n: self.env[n]),
                                         map_arg(node.kwargs, lambda n: self.env[n]), name=node.name)
        else:
            result = self.graph.node_copy(node, self.float_value)
            scale = self.graph.call_method("q_scale", (quantized_input,))
            zero_point = self.graph.call_method("q_zero_point", (quantized_input,))
            dtype = self.model.get_submodule(source.target).dtype  # ``source`` is the input's observer node
            new = self.graph.call_function(trainer.quantize_per_tensor, (result, scale, zero_point, dtype))
        self.quantized[new] = self.quantized[quantized_input]
        self.env[node] = new

    def run(self) -> GraphModule:
        for node in self.model.graph.nodes:
            if node in self.env:  # a ReLU already folded into the op before it
                continue
            if node.op == "call_module" and is_observer(self.model.get_submodule(node.target)):
                self.quantize(node)
                continue
            kind = node.meta.get(KIND)
            if kind is not None and self.lower(node, kind):
                continue
            if node.op == "output":
                self.graph.output(map_arg(node.args[0], self.float_value))
                continue
            self.env[node] = self.graph.node_copy(node, self.float_value)
        self.graph.lint()
        return GraphModule(self.model, self.graph, type(self.model).__name__)


def lower_to_quantized(model: GraphModule) -> GraphModule:
    """The converted ``GraphModule`` of a prepared (and calibrated) ``model``, which it modifies."""
    return _Lowering(model).run()
