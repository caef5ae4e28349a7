"""Tracing a module for ``export``: ``trainer.fx``'s tracer, run alongside the example inputs.

torch.export's non-strict mode runs the Python of ``forward`` on tensors whose sizes it knows. Here every ``Proxy``
also carries the value its node computes on (copies of) the example inputs, in ``node.meta['val']``, so a program
may branch on sizes (``if x.dim() != 4``, ``for d in x.shape``): the branch taken is the example's. Branching on a
value computed from tensor data cannot be one graph, and raises ``GuardOnDataDependentSymNode`` naming the line.
"""

from __future__ import annotations

import linecache
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import trainer
from trainer.control_flow import cond
from trainer.export.control_flow import cond_example_value, record_cond
from trainer.export.errors import GuardOnDataDependentSymNode
from trainer.fx import Tracer
from trainer.fx._patching import Patcher, recording_wrapper
from trainer.fx.node import Node, map_arg
from trainer.fx.proxy import Proxy
from trainer.nn import Module

# a tensor's metadata that one graph fixes: read from the example value instead of being recorded
_STATIC_ATTRIBUTES = {"dtype", "device", "ndim", "is_cuda", "is_meta", "layout", "is_sparse", "is_quantized",
                      "is_complex", "is_floating_point", "requires_grad", "is_leaf"}
# methods and functions whose non-tensor result depends only on sizes and types, never on tensor data
_SHAPE_METHODS = {"size", "dim", "ndimension", "numel", "nelement", "stride", "is_contiguous", "is_floating_point",
                  "is_complex", "get_device", "element_size", "type", "storage_offset"}
_SHAPE_FUNCTIONS = {"numel", "is_tensor", "is_floating_point", "is_complex", "is_same_size", "result_type", "getattr"}
_TRACING_DIRS = tuple(os.path.dirname(m.__file__) for m in (sys.modules["trainer.fx"], sys.modules[__package__]))


class ConcreteProxy(Proxy):
    """A ``Proxy`` that answers size questions (``len``, ``int``, indexing a range) and static metadata (``dtype``,
    ``device``, ``ndim``) from its example value."""

    def __getattr__(self, k: str) -> Any:
        value = self.node.meta.get("val")
        if k in _STATIC_ATTRIBUTES and isinstance(value, trainer.Tensor):
            return getattr(value, k)
        if not k.startswith("__") and hasattr(value, k) and not callable(getattr(value, k)):
            # a plain attribute (x.shape, x.T) is read now, so that what it gives answers size questions too
            return self.tracer.create_proxy("call_function", getattr, (self, k), {})
        return super().__getattr__(k)

    def __len__(self) -> int:
        return len(self.tracer.concrete(self, "len()", sizes_only=True))

    def __index__(self) -> int:
        return self.tracer.concrete(self, "an integer conversion").__index__()

    def __int__(self) -> int:
        return int(self.tracer.concrete(self, "int()"))

    def __float__(self) -> float:
        return float(self.tracer.concrete(self, "float()"))


def _user_frame() -> str:
    """``file:line in function: code`` of the innermost frame outside the tracing machinery."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_TRACING_DIRS):
        frame = frame.f_back
    if frame is None:
        return "an unknown line"
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}: `{code}`"


def _is_trainer_function(value: Any, package: str | tuple[str, ...] = "trainer.") -> bool:
    """A function of ``package`` that trainer.fx has not wrapped."""
    return (isinstance(value, types.FunctionType) and not hasattr(value, "__fx_original__")
            and value.__module__.startswith(package))


def _is_kernel(value: Any) -> bool:
    """A kernel function (``trainer.ops``, the autocast wrappers around them in ``trainer.amp``, or a factory of
    ``trainer.creation`` that layers call with sizes read from their input)."""
    return _is_trainer_function(value, ("trainer.ops.", "trainer.amp.", "trainer.creation"))


class ExportTracer(Tracer):
    """Traces through every submodule (so parameters and buffers are read as ``get_attr`` nodes) and computes each
    node's value on copies of the example inputs and of the module's state, leaving the module untouched."""

    proxy_buffer_attributes = True

    def __init__(self, example_values: dict[str, Any], constant_attributes: dict[int, str]) -> None:
        super().__init__()
        self.example_values = example_values
        self.constant_attributes = constant_attributes  # id -> path of the module's plain tensor attributes
        self.state_copies: dict[str, Any] = {}
        self._modules_by_path: dict[str, Module] = {}
        self.branch_modules: dict[str, Module] = {}  # cond's traced branches (true_graph_0), read by get_attr

    def _patch_wrapped_functions(self, patcher: Patcher, fn_globals: dict) -> None:
        """As trainer.fx, and: the kernels ``trainer.nn``'s layers call by module path (``_conv.conv2d``) or import
        (``batch_norm``) record a node when given a Proxy, as they cannot compute with one. trainer.fx keeps those
        layers whole; export traces through them so that their parameters become inputs."""
        super()._patch_wrapped_functions(patcher, fn_globals)
        wrappers: dict[Callable, Callable] = {}

        def wrapper(value: Callable) -> Callable:
            if value not in wrappers:
                wrappers[value] = recording_wrapper(value)
            return wrappers[value]

        for module_name, module in list(sys.modules.items()):
            if module is None or not module_name.startswith(("trainer.ops.", "trainer.nn.", "trainer.creation")):
                continue
            namespace = vars(module)
            for name, value in list(namespace.items()):
                if _is_kernel(value) and not name.startswith("_"):
                    patcher.patch_global(namespace, name, wrapper(value))
                elif (isinstance(value, type) and value.__module__ == module_name
                      and module_name.startswith("trainer.nn.")):
                    # layers that keep their kernel as a class attribute (Conv2d._function)
                    for attr, member in list(vars(value).items()):
                        if isinstance(member, staticmethod) and _is_kernel(member.__func__):
                            patcher.patch(value, attr, staticmethod(wrapper(member.__func__)))
        for submodule in self.root.modules():  # a layer holding a function (self.activation = F.relu)
            for attr, value in list(vars(submodule).items()):
                if _is_trainer_function(value):
                    patcher.patch(submodule, attr, wrapper(value))

    def create_arg(self, a: Any) -> Any:
        if isinstance(a, type):  # a kernel's op class (recurrent_apply(Lstm, ...)) is a constant of the call
            return a
        # a plain tensor attribute (``self.scale``) is read by its path, as torch lifts it, not as _tensor_constant<i>
        if isinstance(a, trainer.Tensor) and id(a) in self.constant_attributes:
            self.tensor_attrs.setdefault(id(a), self.constant_attributes[id(a)])
        return super().create_arg(a)

    def is_leaf_module(self, m: Module, module_qualified_name: str) -> bool:
        return False

    def proxy(self, node: Node) -> ConcreteProxy:
        return ConcreteProxy(node, self)

    def create_proxy(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                     type_expr: Any = None, proxy_factory_fn=None) -> Proxy:
        if kind == "call_function" and target is cond:
            return record_cond(self, args, kwargs)
        return super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)

    def create_node(self, kind: str, target: Any, args: tuple, kwargs: dict, name: str | None = None,
                    type_expr: Any = None) -> Node:
        if name is None and kind == "call_function" and kwargs.get("inplace") is True:
            name = f"{self.graph._target_to_str(target)}_"  # torch's graph holds the in-place op (relu_)
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if kind != "output":
            with trainer.no_grad():
                node.meta["val"] = self._run(node)
            node.meta["data_dependent"] = self._is_data_dependent(node)
        return node

    def _run(self, node: Node) -> Any:
        args = map_arg(node.args, lambda n: n.meta["val"])
        kwargs = map_arg(node.kwargs, lambda n: n.meta["val"])
        if node.op == "placeholder":
            return self.example_values[node.target]
        if node.op == "get_attr" and node.target in self.branch_modules:
            return self.branch_modules[node.target]
        if node.op == "get_attr":
            if node.target not in self.state_copies:
                value = self._attribute(node.target)
                # in-place updates while tracing (running statistics) must not reach the user's module
                self.state_copies[node.target] = value.clone() if isinstance(value, trainer.Tensor) else value
            return self.state_copies[node.target]
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        if node.target is cond:
            return cond_example_value(*args[:3])
        return node.target(*args, **kwargs)

    def _attribute(self, path: str) -> Any:
        # looked up in the module's tables: getattr would go through the tracer's patched Module.__getattr__
        if not self._modules_by_path:
            self._modules_by_path.update(self.root.named_modules())
        prefix, _, field = path.rpartition(".")
        owner = self._modules_by_path[prefix]
        for table in (owner._parameters, owner._buffers, vars(owner)):
            if field in table:
                return table[field]
        raise AttributeError(f"{type(owner).__name__} has no attribute {field!r} (reading {path!r})")

    @staticmethod
    def _is_data_dependent(node: Node) -> bool:
        """Whether a non-tensor value was computed from tensor data (so a branch on it is data-dependent)."""
        value = node.meta["val"]
        if isinstance(value, trainer.Tensor) or isinstance(value, tuple | list) and value and all(
                isinstance(v, trainer.Tensor) for v in value):
            return False  # tensors, or several of them (max's values and indices): how many never depends on data
        if node.op == "call_method" and node.target in _SHAPE_METHODS:
            return False
        if node.op == "call_function" and getattr(node.target, "__name__", None) in _SHAPE_FUNCTIONS:
            return False  # getattr: a tensor's attributes are sizes and metadata, never its data
        inputs = node.all_input_nodes
        return any(isinstance(n.meta["val"], trainer.Tensor) or n.meta.get("data_dependent") for n in inputs)

    def concrete(self, proxy: Proxy, use: str, sizes_only: bool = False) -> Any:
        """The example value of ``proxy`` for a Python decision, refused when it depends on tensor data
        (``sizes_only``: the decision reads only the value's length, as ``len`` and iteration do)."""
        node = proxy.node
        if node.meta["data_dependent"] or isinstance(node.meta["val"], trainer.Tensor) and not sizes_only:
            raise GuardOnDataDependentSymNode(
                f"Could not guard on data-dependent expression: {use} of `{node.name}` (computed from tensor data) "
                f"at {_user_frame()}. export records one graph for every input, so Python control flow may depend "
                "on sizes but not on tensor values; compute both branches and select with trainer.where instead.")
        return node.meta["val"]

    def to_bool(self, obj: Proxy) -> bool:
        return bool(self.concrete(obj, "bool()"))

    def iter(self, obj: Proxy) -> Iterator[Proxy]:
        return (obj[i] for i in range(len(self.concrete(obj, "iteration", sizes_only=True))))
