"""Load-time rewrites that make common patterns cheaper without changing what the graph computes.

- Conv followed by an inference BatchNormalization becomes one Conv: the normalisation's scale and
  shift are folded into the convolution's weights and bias, so the activation is traversed once.
- MatMul by a constant matrix followed by the addition of a constant bias vector becomes one
  ``MatMulAdd``, which adds the bias into the product's buffer instead of allocating another.
- Conv followed by Relu becomes ``ConvRelu``, which applies the Relu to each chunk of the convolution's
  result while it is in cache instead of in one more pass over the whole activation.
- A MaxPool without padding (so every window lies inside its input) and without Indices, after a Conv or
  ConvRelu, becomes ``ConvMaxPool``: each chunk of the convolution is pooled while it is in cache, so the
  full-size activation is never written, and the Relu runs on the pooled values (it commutes with max).
- Any other Relu whose input is the fresh result of a Gemm, MatMul, Add or BatchNormalization becomes
  ``ReluInPlace``: it overwrites that buffer instead of touching a new one of the same size, which on
  large activations costs more than the comparison itself.

Each rewrite applies only where the intermediate value has no other reader and is not an output.
An Identity of a constant is first replaced by the constant itself: torch exports a weight that several
layers share (identical initial values) once, and the other layers read it through Identity nodes.
"""

from __future__ import annotations

from collections import Counter

import onnx
from onnx import helper

from serving.kernels.fused import FUSED_DOMAIN
from serving.runtime import scopes
from serving.runtime.opsets import Opsets

_FUSED_OPSET = [helper.make_opsetid(FUSED_DOMAIN, 1)]
# Ops whose kernels always return a new array, never a view of an input: safe to overwrite. (A Conv's
# Relu becomes ConvRelu instead.)
_FRESH_RESULTS = {("", "Gemm"), ("", "MatMul"), ("", "Add"), ("", "BatchNormalization"), (FUSED_DOMAIN, "MatMulAdd")}


def fuse(nodes: list[tuple[onnx.NodeProto, Opsets]], constants: dict, outputs: set[str], xp):
    """``nodes`` (in topological order) with the rewrites applied; new weights are added to ``constants``."""
    nodes = _alias_constant_identities(nodes, constants)
    # A value an If/Loop/Scan body reads from outside has a reader too, though no node input names it.
    readers = Counter(name for node, _ in nodes for name in (*node.input, *_subgraph_reads(node)))
    producers = {out: i for i, (node, _) in enumerate(nodes) for out in node.output}
    fused: list[tuple[onnx.NodeProto, Opsets] | None] = list(nodes)

    def single_use_producer(name: str, *ops: tuple[str, str]) -> int | None:
        index = producers.get(name)
        if index is None or fused[index] is None or readers[name] != 1 or name in outputs:
            return None
        node, opsets = fused[index]
        return index if (node.domain, node.op_type) in ops else None

    for i, (node, opsets) in enumerate(nodes):
        if node.domain:
            continue
        if node.op_type == "BatchNormalization":
            conv_index = single_use_producer(node.input[0], ("", "Conv"))
            replacement = conv_index is not None and _fold_batch_norm(fused[conv_index][0], node, constants, xp)
            if replacement:
                fused[conv_index], fused[i] = None, (replacement, fused[conv_index][1])
        elif node.op_type == "Add" and len(node.input) == 2:
            for product, bias in (node.input, reversed(node.input)):
                matmul_index = single_use_producer(product, ("", "MatMul"))
                if matmul_index is not None and _is_bias_for(fused[matmul_index][0], bias, constants):
                    matmul = fused[matmul_index][0]
                    merged = helper.make_node("MatMulAdd", [*matmul.input, bias], list(node.output),
                                              name=_merged_name(matmul, node), domain=FUSED_DOMAIN)
                    fused[matmul_index], fused[i] = None, (merged, opsets.overlaid(_FUSED_OPSET))
                    break
        elif node.op_type == "Relu" and (conv_index := single_use_producer(node.input[0], ("", "Conv"))) is not None:
            conv, conv_opsets = fused[conv_index]
            fused[conv_index], fused[i] = None, (_conv_absorbing(conv, node, "ConvRelu"),
                                                 conv_opsets.overlaid(_FUSED_OPSET))
        elif node.op_type == "MaxPool" and (pool := _unpadded_pool(node)) is not None and (
                conv_index := single_use_producer(node.input[0], ("", "Conv"), (FUSED_DOMAIN, "ConvRelu"))) is not None:
            conv, conv_opsets = fused[conv_index]
            merged = _conv_absorbing(conv, node, "ConvMaxPool", relu=int(conv.op_type == "ConvRelu"), **pool)
            fused[conv_index], fused[i] = None, (merged, conv_opsets.overlaid(_FUSED_OPSET))
        elif node.op_type == "Relu" and single_use_producer(node.input[0], *_FRESH_RESULTS) is not None:
            in_place = helper.make_node("ReluInPlace", list(node.input), list(node.output), name=node.name,
                                        domain=FUSED_DOMAIN)
            fused[i] = (in_place, opsets.overlaid(_FUSED_OPSET))
    return [entry for entry in fused if entry is not None]


def _alias_constant_identities(nodes, constants: dict):
    kept = []
    for node, opsets in nodes:
        if not node.domain and node.op_type == "Identity" and node.input[0] in constants:
            constants[node.output[0]] = constants[node.input[0]]
        else:
            kept.append((node, opsets))
    return kept


def _conv_absorbing(conv: onnx.NodeProto, node: onnx.NodeProto, op_type: str, **attributes) -> onnx.NodeProto:
    """The fused ``op_type``: ``conv`` (a Conv or ConvRelu, with its attributes) and ``node``, its sole reader,
    whose output it produces."""
    merged = helper.make_node(op_type, list(conv.input), [node.output[0]], name=_merged_name(conv, node),
                              domain=FUSED_DOMAIN, **attributes)
    merged.attribute.extend(conv.attribute)
    return merged


def _merged_name(*nodes: onnx.NodeProto) -> str:
    """The fused node's name for errors and profiles: its parts' names, or their outputs where unnamed."""
    return "+".join(node.name or node.output[0] for node in nodes)


def _unpadded_pool(node: onnx.NodeProto) -> dict | None:
    """A MaxPool's window as ConvMaxPool's ``pool_*`` attributes, or None unless it pads nothing (no
    padding, no SAME, no ceil_mode: every window lies inside the input) and its Indices go unread."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if any(node.output[1:]) or "kernel_shape" not in attrs:
        return None
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID") or any(attrs.get("pads", ())):
        return None
    if attrs.get("ceil_mode", 0):
        return None
    kernel_shape = list(attrs["kernel_shape"])
    ones = [1] * len(kernel_shape)
    return {"pool_kernel_shape": kernel_shape, "pool_strides": list(attrs.get("strides") or ones),
            "pool_dilations": list(attrs.get("dilations") or ones)}


def _fold_batch_norm(conv: onnx.NodeProto, norm: onnx.NodeProto, constants: dict, xp) -> onnx.NodeProto | None:
    attrs = {a.name: helper.get_attribute_value(a) for a in norm.attribute}
    if len(norm.output) > 1 and any(norm.output[1:]) or attrs.get("training_mode", 0):
        return None
    params = norm.input[1:5]
    weight = conv.input[1]
    bias = conv.input[2] if len(conv.input) > 2 and conv.input[2] else None
    if not all(name in constants for name in (*params, weight, *([bias] if bias else []))):
        return None
    scale, shift, mean, var = (constants[name] for name in params)
    w = constants[weight]
    if w.dtype.kind != "f" or scale.shape != (w.shape[0],):
        return None
    factor = (scale / xp.sqrt(var + xp.asarray(attrs.get("epsilon", 1e-5), var.dtype))).astype(w.dtype)
    b = constants[bias] if bias else xp.zeros(w.shape[0], w.dtype)
    prefix = conv.name or conv.output[0]
    constants[f"{prefix}/folded_weight"] = w * factor.reshape((-1,) + (1,) * (w.ndim - 1))
    constants[f"{prefix}/folded_bias"] = ((b - mean) * factor + shift).astype(w.dtype)
    folded = onnx.NodeProto()
    folded.CopyFrom(conv)
    folded.input[:] = [conv.input[0], f"{prefix}/folded_weight", f"{prefix}/folded_bias"]
    folded.output[:] = [norm.output[0]]
    folded.name = f"{conv.name}+{norm.name}"
    return folded


def _is_bias_for(matmul: onnx.NodeProto, bias: str, constants: dict) -> bool:
    b, c = constants.get(matmul.input[1]), constants.get(bias)
    return (b is not None and c is not None and b.ndim == 2 and c.ndim == 1 and c.shape[0] == b.shape[1]
            and c.dtype == b.dtype and b.dtype.kind == "f")


def _subgraph_reads(node: onnx.NodeProto) -> set[str]:
    return {name for attr in node.attribute for graph in scopes.subgraphs(attr)
            for name in scopes.outer_references(graph)}
