"""The ops FX graph mode quantization handles, as PyTorch's default (x86/fbgemm) backend configuration lists them,
restricted to those trainer has int8 kernels for, and how each is observed:

- ``MODULE``: a layer with its own output observer, swapped for its int8 module (``convert``'s static mapping);
- ``BINARY``: ``a + b`` / ``a * b`` of two tensors, an optional ReLU after it fused in (``quantized::add_relu``);
- ``SCALAR``: ``a + c`` / ``a * c`` with a number ``c`` (``quantized::add_scalar``/``mul_scalar``), whose output
  observer is the input's;
- ``CAT``: ``trainer.cat``, whose inputs and output all share the first input's observer;
- ``SHARE``: ops that keep their input's grid (relu, pooling, flatten, reshape, view...): the output observer is the
  input's;
- ``OWN``: ops whose output gets its own observer (the fixed grids of sigmoid/tanh/hardsigmoid/softmax from the
  default ``QConfigMapping``; ``trainer.relu``).

Ops of ``SHARE`` and ``OWN`` that trainer has no integer kernel for (``FLOAT_KERNEL``) run in float between a
``dequantize`` and a ``quantize_per_tensor`` on the observed grid: the same observers as PyTorch, results within a
rounding of its integer kernels.
"""

from __future__ import annotations

import operator

import trainer
from trainer import nn
from trainer.ao.nn import intrinsic as nni
from trainer.ao.nn import qat as nnqat
from trainer.ao.nn.intrinsic import qat as nniqat
from trainer.fx import Node
from trainer.nn import functional as F

MODULE, BINARY, SCALAR, CAT, SHARE, OWN = "module", "binary", "scalar", "cat", "share", "own"

MODULE_TYPES = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm3d, nn.Dropout, nn.ELU, nn.LeakyReLU,
    nn.Hardswish,
    nni.ConvReLU1d, nni.ConvReLU2d, nni.ConvReLU3d, nni.LinearReLU, nni.BNReLU2d, nni.BNReLU3d,
    nniqat.ConvBn1d, nniqat.ConvBn2d, nniqat.ConvBn3d, nniqat.ConvBnReLU1d, nniqat.ConvBnReLU2d,
    nniqat.ConvBnReLU3d, nniqat.ConvReLU2d, nniqat.ConvReLU3d, nniqat.LinearReLU, nniqat.LinearBn1d,
    nnqat.Linear, nnqat.Conv2d, nnqat.Conv3d,
)
BINARY_FUNCTIONS = {operator.add: "add", trainer.add: "add", operator.mul: "mul", trainer.mul: "mul"}
SHARE_MODULE_TYPES = (nn.ReLU, nn.ReLU6, nn.MaxPool1d, nn.MaxPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                      nn.AvgPool1d, nn.AvgPool2d, nn.Hardtanh, nn.Identity)
SHARE_FUNCTIONS = (F.relu, F.relu6, F.max_pool1d, F.max_pool2d, F.adaptive_avg_pool2d, F.avg_pool2d, F.hardtanh,
                   trainer.flatten, trainer.transpose, trainer.squeeze, trainer.unsqueeze, trainer.clamp)
SHARE_METHODS = ("relu", "reshape", "view", "contiguous", "detach", "permute", "transpose", "squeeze", "unsqueeze",
                 "clamp")
OWN_MODULE_TYPES = (nn.Sigmoid, nn.Tanh, nn.Hardsigmoid, nn.Softmax)
OWN_FUNCTIONS = (trainer.sigmoid, trainer.tanh, F.hardsigmoid, trainer.relu)
OWN_METHODS = ("sigmoid", "tanh", "hardsigmoid")
# ops of SHARE that trainer runs on quantized tensors directly; the other SHARE and OWN ops run in float
INTEGER_SHARE_MODULE_TYPES = (nn.ReLU, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Identity)
INTEGER_SHARE_FUNCTIONS = (F.relu, F.max_pool2d, F.adaptive_avg_pool2d, trainer.flatten)
INTEGER_SHARE_METHODS = ("relu", "reshape", "view", "contiguous", "detach")
# a ReLU right after add/mul (or conv/linear/bn, in fusion) becomes part of that op
RELU_FUNCTIONS = (F.relu, trainer.relu)


def is_relu(node: Node, modules: dict) -> bool:
    return ((node.op == "call_module" and type(modules.get(node.target)) is nn.ReLU)
            or (node.op == "call_function" and node.target in RELU_FUNCTIONS)
            or (node.op == "call_method" and node.target == "relu"))


def pattern_kind(node: Node, modules: dict) -> str | None:
    """How ``node`` is quantized, or None for an op that stays in float."""
    if node.op == "call_module":
        module_type = type(modules[node.target])
        if module_type in MODULE_TYPES:
            return MODULE
        if module_type in OWN_MODULE_TYPES:
            return OWN
        return SHARE if module_type in SHARE_MODULE_TYPES else None
    if node.op == "call_function":
        if node.target in BINARY_FUNCTIONS:
            if len(node.args) != 2 or node.kwargs:
                return None
            tensors = [a for a in node.args if isinstance(a, Node)]
            if len(tensors) == 2:
                return BINARY
            return SCALAR if len(tensors) == 1 and isinstance(scalar_operand(node), (int, float)) else None
        if node.target is trainer.cat:
            return CAT if isinstance(node.args[0], (list, tuple)) and node.args[0] else None
        if node.target in OWN_FUNCTIONS:
            return OWN
        return SHARE if node.target in SHARE_FUNCTIONS else None
    if node.op == "call_method":
        if node.target in OWN_METHODS:
            return OWN
        return SHARE if node.target in SHARE_METHODS else None
    return None


def scalar_operand(node: Node):
    return node.args[1] if isinstance(node.args[0], Node) else node.args[0]


def runs_on_integers(node: Node, modules: dict) -> bool:
    """Whether a ``SHARE`` op works on quantized tensors in trainer (else it runs in float)."""
    if node.op == "call_module":
        return type(modules[node.target]) in INTEGER_SHARE_MODULE_TYPES
    if node.op == "call_function":
        return node.target in INTEGER_SHARE_FUNCTIONS
    return node.target in INTEGER_SHARE_METHODS


def tensor_inputs(node: Node, kind: str) -> list[Node]:
    """The inputs of ``node`` that carry activations to observe (the list of a ``cat``, the first argument of a
    layer or shape op, both operands of a binary op)."""
    if kind == CAT:
        return [a for a in node.args[0] if isinstance(a, Node)]
    if kind == BINARY:
        return list(node.args[:2])
    if kind == SCALAR:
        return [a for a in node.args if isinstance(a, Node)]
    first = node.args[0] if node.args else None
    return [first] if isinstance(first, Node) else []
