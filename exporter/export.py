"""``export()``: trace a trainer model once in eval mode and write it as a checked ONNX model."""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from exporter import passes
from exporter.complex_values import refuse_complex_output
from exporter.errors import ExportError
from exporter.opsets import make_model, resolve_opset
from exporter.tracer import Tracer
from exporter.tracing_gaps import refuse_baked_outputs
from trainer.tensor import Tensor

PRODUCER_NAME = "sardonyx-exporter"
# protobuf cannot serialise a message of 2 GiB or more: larger models keep their tensors in a side file
_PROTOBUF_LIMIT = 2**31 - 2**20


def export(model, args, f, *, input_names=None, output_names=None, dynamic_axes=None, opset_version=None,
           do_constant_folding=True, external_data=None, verify=False, fuse_conv_bn=False) -> onnx.ModelProto:
    """Trace ``model(*args)`` and write it to ``f`` (a path or a binary file object), as ``torch.onnx.export``.

    ``dynamic_axes`` maps an input or output name to the axes that vary (``{"input": {0: "batch"}}`` or
    ``{"input": [0]}``). ``external_data`` None writes tensors beside the ``.onnx`` file only when the model
    reaches protobuf's 2 GB limit; True always, False never. ``verify`` compares the written model's outputs
    with the trainer's on ``args`` (see ``exporter.verify``). Returns the ONNX model.
    """
    args = _as_args(args)
    opset = resolve_opset(opset_version)
    input_names = _names(input_names, len(args), "input")
    was_training = model.training
    if was_training:
        warnings.warn("the model is in training mode; it is exported in eval mode (Dropout off, BatchNorm on its "
                      "running statistics) and put back in training mode afterwards", UserWarning, stacklevel=2)
        model.eval()
    try:
        tracer = Tracer(model, opset)
        for tensor, name in zip(args, input_names):
            tracer.add_input(tensor, name)
        with tracer.tracing():
            result = model(*args)
        outputs = _flatten_outputs(result)
        output_names = _names(output_names, len(outputs), "output")
        for tensor, name in zip(outputs, output_names):
            refuse_complex_output(tensor, name)
        axes = _dynamic_axes(dynamic_axes, dict(zip(input_names, args)), dict(zip(output_names, outputs)))
        state = _graph_state(tracer, args, input_names, outputs, output_names, axes, opset)
        refuse_baked_outputs(tracer, state, outputs)
    finally:
        if was_training:
            model.train()
    _run_passes(state, do_constant_folding, fuse_conv_bn)
    model_proto = _model(state, tracer, outputs, axes, opset)
    _save_checked(model_proto, f, external_data, _initializer_bytes(state))
    if verify:
        from exporter.verify import verify as verify_outputs

        if not isinstance(f, (str, os.PathLike)):
            raise ExportError("verify=True needs f to be a path, so that the runtimes can load the written file")
        verify_outputs(model, args, f, raise_on_mismatch=True)
    return model_proto


# ----------------------------------------------------------------- arguments
def _as_args(args) -> tuple:
    args = args if isinstance(args, (tuple, list)) else (args,)
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise ExportError(f"args[{i}] is a {type(a).__name__}; export traces with example tensors: pass a "
                              "trainer Tensor or a tuple of them")
    return tuple(args)


def _names(names, count: int, stem: str) -> list[str]:
    if names is None:
        return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]
    names = list(names)
    if len(names) != count or len(set(names)) != count:
        raise ExportError(f"{stem}_names={names} must give {count} distinct names, one per {stem} of the model")
    return names


def _flatten_outputs(result) -> list:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in _flatten_outputs(item)]
    kind = "int" if isinstance(result, int) else type(result).__name__  # a size read while tracing is an int
    raise ExportError(f"the model returned a value of type {kind} ({result!r}); an exported model's outputs must be "
                      "tensors (or tuples/lists of tensors)")


def _dynamic_axes(dynamic_axes, inputs: dict, outputs: dict) -> dict[str, dict[int, str]]:
    """``{name: {axis: dim name}}``, checked against the input and output names and ranks."""
    if not dynamic_axes:
        return {}
    named = {**inputs, **outputs}
    out = {}
    for name, axes in dynamic_axes.items():
        if name not in named:
            raise ExportError(f"dynamic_axes names {name!r}, which is neither an input ({list(inputs)}) nor an "
                              f"output ({list(outputs)}) of the exported model")
        if not isinstance(axes, dict):
            axes = {axis: f"{name}_dynamic_axes_{i + 1}" for i, axis in enumerate(axes)}
        rank = named[name].ndim
        for axis in axes:
            if not isinstance(axis, int) or not -rank <= axis < rank:
                raise ExportError(f"dynamic_axes[{name!r}] has axis {axis!r}, but {name} has {rank} dims")
        out[name] = {axis % rank: str(dim) for axis, dim in axes.items()}
    return out


# ----------------------------------------------------------------- the graph
def _graph_state(tracer, args, input_names, outputs, output_names, axes, opset) -> passes.GraphState:
    infos = [_value_info(name, t._data.dtype, t._data.shape, axes.get(name, {})) for t, name in zip(args, input_names)]
    # each output is an Identity of its value; the identity pass then renames the value itself where it can
    for tensor, name in zip(outputs, output_names):
        tracer.builder.node("Identity", [tracer.output_name_of(tensor, name)], 1, "", {},
                            output_names=[tracer.builder.reserve(name)])
    return passes.GraphState(tracer.builder, infos, list(output_names), opset)


def _value_info(name, dtype, shape, dynamic: dict[int, str]):
    dims = [dynamic.get(axis, size) for axis, size in enumerate(shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), dims)


def _run_passes(state, do_constant_folding: bool, fuse_conv_bn: bool) -> None:
    passes.remove_identities(state)
    passes.remove_dead_nodes(state)
    if do_constant_folding:
        passes.fold_constants(state)
    if fuse_conv_bn:
        passes.fuse_conv_batch_norm(state)
    passes.remove_dead_nodes(state)
    passes.remove_unused_initializers(state)
    passes.deduplicate_constants(state)


def _model(state, tracer, outputs, axes, opset) -> onnx.ModelProto:
    inferred = passes.infer_shapes(state)
    output_infos = []
    for tensor, name in zip(outputs, state.outputs):
        dims = []
        known = passes.static_dims(inferred.get(name))
        symbolic = _symbolic_dims(inferred.get(name))
        for axis in range(tensor._data.ndim):
            if axis in axes.get(name, {}):
                dims.append(axes[name][axis])
            elif known is not None and known[axis] is not None:
                dims.append(known[axis])
            else:
                dims.append(symbolic[axis] if symbolic else None)
        output_infos.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(tensor._data.dtype),
                                                          dims))
    skip = {i.name for i in state.inputs} | set(state.outputs) | set(state.initializers)
    value_info = [info for name, info in inferred.items() if name not in skip]
    graph = helper.make_graph(state.nodes, type(tracer.model).__name__, state.inputs, output_infos,
                              initializer=state.builder.initializer_protos(), value_info=value_info)
    return make_model(graph, opset, producer_name=PRODUCER_NAME, producer_version=_version())


def _symbolic_dims(info):
    if info is None or not info.type.tensor_type.HasField("shape"):
        return None
    # shape inference names the dims it cannot relate to any other "unk__N": no better than no name
    return [d.dim_param if d.dim_param and not d.dim_param.startswith("unk__") else None
            for d in info.type.tensor_type.shape.dim]


def _version() -> str:
    try:
        return importlib.metadata.version("sardonyx")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _initializer_bytes(state) -> int:
    return sum(a.nbytes for a in state.initializers.values())


# ----------------------------------------------------------------- writing
def _save_checked(model: onnx.ModelProto, f, external_data, size: int) -> None:
    external = size >= _PROTOBUF_LIMIT if external_data is None else bool(external_data)
    is_path = isinstance(f, (str, os.PathLike))
    if not external:
        if size >= _PROTOBUF_LIMIT:
            raise ExportError(f"the model's tensors take {size / 2**30:.2f} GiB, past protobuf's 2 GB limit: "
                              "export with external_data=True (or None) to a path")
        onnx.checker.check_model(model, full_check=True)
        if is_path:
            onnx.save_model(model, os.fspath(f))
        else:
            f.write(model.SerializeToString())
        return
    if not is_path:
        raise ExportError("external data is written next to the .onnx file: pass f as a path, not a file object")
    path = Path(f)
    onnx.save_model(model, os.fspath(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)
    onnx.checker.check_model(os.fspath(path), full_check=True)
