"""``export()``: trace a trainer model once (in eval mode unless told otherwise), write it as a checked ONNX model."""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from exporter import control_flow, custom_symbolics, parameter_inputs, passes
from exporter.complex_values import refuse_complex_output
from exporter.errors import ExportError
from exporter.example_inputs import dynamic_axes_of, example_inputs, positional_tensors
from exporter.lowering_overrides import overridden
from exporter.module_functions import as_functions, selected_paths
from exporter.opsets import make_model, resolve_opset
from exporter.readable_graph import readable_graph
from exporter.tracer import Tracer
from exporter.tracing_gaps import refuse_baked_outputs
from exporter.training_mode import (
    TRAINING_LOWERINGS,
    OperatorExportTypes,
    TrainingMode,
    check_operator_export_type,
    traces_in_training,
    training_mode,
)
from trainer.export import ExportedProgram
from trainer.tensor import Tensor

PRODUCER_NAME = "sardonyx-exporter"
# protobuf cannot serialise a message of 2 GiB or more: larger models keep their tensors in a side file
_PROTOBUF_LIMIT = 2**31 - 2**20


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=None, dynamic_shapes=None, custom_translation_table=None,
           report=False, optimize=True, verify=False, profile=False, dump_exported_program=False, artifacts_dir=".",
           fallback=False, export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=TrainingMode.EVAL, operator_export_type=OperatorExportTypes.ONNX, do_constant_folding=True,
           custom_opsets=None, export_modules_as_functions=False, autograd_inlining=True,
           fuse_conv_bn=False) -> onnx.ModelProto:
    """Trace ``model(*args, **kwargs)`` and write it to ``f`` (a path or a binary file object), as
    ``torch.onnx.export``; returns the ONNX model (also with ``f=None``, where PyTorch returns an ``ONNXProgram``:
    then nothing is written).

    ``args`` is a tensor or a tuple of tensors whose last element may be a dict of keyword inputs (``kwargs`` is
    that dict); keyword inputs become graph inputs named by their keywords (see ``exporter.example_inputs``).
    ``dynamic_axes`` maps an input or output name to the axes that vary (``{"input": {0: "batch"}}`` or
    ``{"input": [0]}``); ``dynamic_shapes`` says the same for the inputs in ``torch.export``'s form, with ``Dim``s.
    ``export_params=False`` makes parameters and buffers graph inputs instead of initializers;
    ``keep_initializers_as_inputs`` lists them as inputs too. ``verbose`` prints the graph. ``training`` is a
    ``TrainingMode`` (see ``exporter.training_mode``); ``operator_export_type`` must be ONNX. ``custom_opsets``
    gives the version of each custom domain a user symbolic emits nodes in (1 where not given; see
    ``exporter.register_custom_op_symbolic``). ``external_data`` None writes tensors beside the ``.onnx`` file only
    when the model reaches protobuf's 2 GB limit; True always, False never. ``verify`` compares the written
    model's outputs with the trainer's (see ``exporter.verify``). ``fuse_conv_bn`` folds BatchNorm into the Conv
    before it.

    Accepted for PyTorch's signature and without effect here: ``dynamo`` (both values trace with the same tracer),
    ``optimize`` (the graph passes always run), ``report``, ``profile``, ``dump_exported_program``,
    ``artifacts_dir``, ``fallback`` (nothing to fall back to) and ``autograd_inlining`` (autograd Functions are
    always traced through). ``custom_translation_table`` must be empty: user lowerings are registered with
    ``register_custom_op_symbolic``. ``export_modules_as_functions`` (True, or a set of module classes) writes those
    modules as ONNX local functions (see ``exporter.module_functions``).
    """
    if isinstance(model, ExportedProgram):  # as torch.onnx.export: trace what it runs, with its names and sizes
        input_names = input_names or list(model.graph_signature.user_inputs)
        if dynamic_axes is None and dynamic_shapes is None:
            dynamic_axes = model.dynamic_input_axes() or None
        model = model.module()
    mode = training_mode(training)
    check_operator_export_type(operator_export_type)
    if custom_translation_table:
        raise ExportError("custom_translation_table maps torch.fx targets to ONNX Script functions, which trainer "
                          "models do not have: register a lowering with exporter.register_custom_op_symbolic instead")
    custom_opsets = _custom_opsets(custom_opsets)
    inputs = example_inputs(model, args, kwargs, input_names)
    function_modules = selected_paths(model, export_modules_as_functions) if export_modules_as_functions else {}
    if dynamic_shapes is not None:
        if dynamic_axes is not None:
            raise ExportError("give the dynamic input axes once: dynamic_shapes or dynamic_axes, not both")
        dynamic_axes = dynamic_axes_of(dynamic_shapes, inputs)
    opset = resolve_opset(opset_version)
    in_training = traces_in_training(mode, model)
    if verify:
        _check_verifiable(f, inputs, export_params, in_training)
    was_training = model.training
    if was_training and not in_training:
        warnings.warn("the model is in training mode; it is exported in eval mode (Dropout off, BatchNorm on its "
                      "running statistics) and put back in training mode afterwards", UserWarning, stacklevel=2)
    model.train(in_training)
    try:
        tracer = Tracer(model, opset)
        for tensor, name in zip(inputs.tensors, inputs.names):
            tracer.add_input(tensor, name)
        with (tracer.tracing(), custom_symbolics.observed(tracer), control_flow.refused(),
              overridden(TRAINING_LOWERINGS if in_training else {})):
            result = model(*inputs.args, **inputs.kwargs)
        outputs = _flatten_outputs(result)
        output_names = _names(output_names, len(outputs), "output")
        for tensor, name in zip(outputs, output_names):
            refuse_complex_output(tensor, name)
        axes = _dynamic_axes(dynamic_axes, inputs.by_name(), dict(zip(output_names, outputs)))
        state = _graph_state(tracer, inputs.tensors, inputs.names, outputs, output_names, axes, opset)
        refuse_baked_outputs(tracer, state, outputs)
    finally:
        model.train(was_training)
    moved = [] if export_params else parameter_inputs.parameters_as_inputs(state)
    _run_passes(state, do_constant_folding, fuse_conv_bn)
    parameter_inputs.remove_unread_inputs(state, moved)
    extra_inputs = parameter_inputs.initializer_inputs(state) if keep_initializers_as_inputs else []
    model_proto = _model(state, tracer, outputs, axes, opset, custom_opsets, extra_inputs, function_modules)
    if verbose:
        print(readable_graph(model_proto))
    _save_checked(model_proto, f, external_data, _initializer_bytes(state))
    if verify:
        from exporter.verify import verify as verify_outputs

        verify_outputs(model, inputs.args, f, raise_on_mismatch=True)
    return model_proto


def _custom_opsets(custom_opsets) -> dict[str, int]:
    custom_opsets = dict(custom_opsets or {})
    for domain, version in custom_opsets.items():
        if not isinstance(domain, str) or not isinstance(version, int) or isinstance(version, bool):
            raise ExportError(f"custom_opsets maps a domain name to its opset version ({{'mydomain': 2}}), got "
                              f"{domain!r}: {version!r}")
        if domain in ("", "ai.onnx"):
            raise ExportError("custom_opsets sets custom domains' versions; the ONNX opset is opset_version")
    return custom_opsets


def _check_verifiable(f, inputs, export_params, in_training) -> None:
    if not isinstance(f, (str, os.PathLike)):
        raise ExportError("verify=True needs f to be a path, so that the runtimes can load the written file")
    if inputs.kwargs or not export_params or in_training:
        raise ExportError("verify=True runs the model on its positional example inputs in eval mode and feeds them "
                          "to the graph: it cannot check an export with keyword inputs, export_params=False or a "
                          "training-mode export")


# ----------------------------------------------------------------- arguments
_as_args = positional_tensors  # verify's name for it


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


def _model(state, tracer, outputs, axes, opset, custom_opsets, extra_inputs, function_modules) -> onnx.ModelProto:
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
    nodes, functions = list(state.nodes), []
    if function_modules:
        imports = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, v) for d, v in custom_opsets.items())]
        nodes, functions = as_functions(nodes, state.outputs, function_modules, imports)
    skip = {i.name for i in state.inputs} | set(state.outputs) | set(state.initializers)
    values = {name for node in nodes for name in node.output}  # not those now inside a function
    value_info = [info for name, info in inferred.items() if name not in skip and name in values]
    graph = helper.make_graph(nodes, type(tracer.model).__name__, state.inputs + extra_inputs, output_infos,
                              initializer=state.builder.initializer_protos(), value_info=value_info)
    return make_model(graph, opset, custom_opsets, functions=functions, producer_name=PRODUCER_NAME,
                      producer_version=_version())


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
    if f is None:  # nothing to write: the model is returned, checked as far as it fits in memory
        external = False
    if not external:
        if size >= _PROTOBUF_LIMIT:
            raise ExportError(f"the model's tensors take {size / 2**30:.2f} GiB, past protobuf's 2 GB limit: "
                              "export with external_data=True (or None) to a path")
        onnx.checker.check_model(model, full_check=True)
        if is_path:
            onnx.save_model(model, os.fspath(f))
        elif f is not None:
            f.write(model.SerializeToString())
        return
    if not is_path:
        raise ExportError("external data is written next to the .onnx file: pass f as a path, not a file object")
    path = Path(f)
    onnx.save_model(model, os.fspath(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)
    onnx.checker.check_model(os.fspath(path), full_check=True)
