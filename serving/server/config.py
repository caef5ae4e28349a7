"""Model configurations: read config.pbtxt, complete it from the ONNX model, check it (Triton's rules)."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format

from serving.server import dtypes, pbtxt, queue_policy, sequence_config
from serving.server.errors import ModelLoadError
from serving.server.protocol import config_pb

PLATFORM = "onnxruntime_onnx"
BACKEND = "onnxruntime"
DEFAULT_MODEL_FILENAME = "model.onnx"

# Fields our ModelConfig declares but the server does not act on: reported when a config sets them.
_NOT_ACTED_ON = {
    "input": ("format", "is_shape_tensor", "allow_ragged_batch"),
    "output": ("is_shape_tensor",),
    "instance_group": ("profile", "passive", "host_policy"),
}


class ConfigFile:
    """What config.pbtxt says, before completion: the message, its unknown fields, its explicit fields."""

    def __init__(self, config, unknown: list[str], mentioned: set[str]):
        self.config = config
        self.unknown = unknown
        self.mentioned = mentioned


def read(model_dir: Path) -> ConfigFile:
    """Parse `<model_dir>/config.pbtxt`; a missing file is an empty config to complete."""
    path = model_dir / "config.pbtxt"
    config = config_pb.ModelConfig()
    if not path.exists():
        return ConfigFile(config, [], set())
    try:
        unknown, mentioned = pbtxt.parse(path.read_text(), config)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"failed to parse {path}: {exc}") from exc
    return ConfigFile(config, unknown, mentioned)


def ignored_fields(file: ConfigFile) -> list[str]:
    """Every field config.pbtxt sets that the server will not act on, Triton's and ours."""
    ignored = list(dict.fromkeys(file.unknown))
    for name, fields in _NOT_ACTED_ON.items():
        value = getattr(file.config, name)
        items = list(value) if hasattr(value, "add") else [value]  # repeated fields have add()
        for field in fields:
            if any(bool(getattr(item, field)) for item in items):
                ignored.append(f"{name}.{field}")
    if file.config.parameters:
        ignored.append("parameters")
    return ignored


def named_copy(file: ConfigFile, name: str):
    """A copy of the file's config named after its model folder, as Triton requires (a config may omit the name,
    but not contradict the folder)."""
    config = config_pb.ModelConfig()
    config.CopyFrom(file.config)
    if config.name and config.name != name:
        raise ModelLoadError(f"unexpected directory name '{name}' for model '{config.name}', "
                             "directory name must equal model name")
    config.name = name
    return config


def complete(file: ConfigFile, name: str, inputs, outputs, default_max_batch_size: int):
    """Fill what config.pbtxt leaves out from the model's `get_inputs()`/`get_outputs()`, then check it.

    Raises ModelLoadError with a message that names the model and what disagrees.
    """
    config = named_copy(file, name)
    if config.platform and config.platform != PLATFORM or config.backend and config.backend != BACKEND:
        raise ModelLoadError(
            f"model '{name}' asks for platform '{config.platform}' backend '{config.backend}'; "
            f"sardonyx-serve runs ONNX models (platform '{PLATFORM}', backend '{BACKEND}')")
    config.platform, config.backend = PLATFORM, BACKEND
    model_inputs = {arg.name: _tensor_arg(name, arg, "input") for arg in inputs}
    model_outputs = {arg.name: _tensor_arg(name, arg, "output") for arg in outputs}
    if "max_batch_size" not in file.mentioned and default_max_batch_size > 0 and \
            _batchable(list(model_inputs.values()) + list(model_outputs.values())):
        # Triton's autocomplete: a model whose every tensor starts with a free dimension batches.
        config.max_batch_size = default_max_batch_size
        if config.WhichOneof("scheduling_choice") is None:  # a sequence batcher stays one
            config.dynamic_batching.SetInParent()
    if config.max_batch_size < 0:
        raise ModelLoadError(f"max_batch_size must be >= 0 for model '{name}', got {config.max_batch_size}")
    fed, states = sequence_config.fed_inputs(config), sequence_config.state_outputs(config)
    _complete_tensors(config, config.input, {k: v for k, v in model_inputs.items() if k not in fed}, "input")
    _complete_tensors(config, config.output, model_outputs if config.output else
                      {k: v for k, v in model_outputs.items() if k not in states}, "output")
    sequence_config.check(config, model_inputs, model_outputs)
    _check_scheduling(config)
    if not config.instance_group:
        config.instance_group.add()
    for index, group in enumerate(config.instance_group):
        group.name = group.name or f"{name}_{index}"
        group.count = group.count or 1
        if group.count < 0:
            raise ModelLoadError(f"instance_group count must be >= 1 for model '{name}', got {group.count}")
    if not config.HasField("version_policy"):
        config.version_policy.latest.num_versions = 1
    config.default_model_filename = config.default_model_filename or DEFAULT_MODEL_FILENAME
    return config


def _tensor_arg(model: str, arg, kind: str) -> tuple[str, list]:
    datatype = dtypes.from_onnx(arg.type)
    if datatype is None:
        raise ModelLoadError(f"{kind} '{arg.name}' of model '{model}' is a {arg.type}, which the inference "
                             "protocol cannot carry (only tensors of numbers, booleans and strings)")
    if arg.shape is None:
        raise ModelLoadError(f"{kind} '{arg.name}' of model '{model}' has no shape in the ONNX graph; "
                             "give it one or list its dims in config.pbtxt")
    return datatype, [d if isinstance(d, int) else -1 for d in arg.shape]


def _batchable(tensors) -> bool:
    return bool(tensors) and all(shape and shape[0] == -1 for _, shape in tensors)


def _complete_tensors(config, declared, model_tensors: dict, kind: str) -> None:
    name, batch = config.name, config.max_batch_size > 0
    if not declared:
        for tensor_name in model_tensors:
            declared.add(name=tensor_name)
    for tensor in declared:
        if tensor.name not in model_tensors:
            raise ModelLoadError(f"unexpected inference {kind} '{tensor.name}' for model '{name}', allowed "
                                 f"{kind}s are: {', '.join(model_tensors) or 'none'}")
        datatype, shape = model_tensors[tensor.name]
        if batch:
            if not shape or shape[0] != -1:
                raise ModelLoadError(
                    f"model '{name}' has max_batch_size {config.max_batch_size} but its {kind} '{tensor.name}' "
                    f"has shape {shape}, whose first dimension is not free to be the batch dimension")
            shape = shape[1:]
        if tensor.data_type == config_pb.TYPE_INVALID:
            tensor.data_type = dtypes.to_config(datatype)
        elif dtypes.from_config(tensor.data_type) != datatype:
            raise ModelLoadError(
                f"unexpected datatype {config_pb.DataType.Name(tensor.data_type)} for inference {kind} "
                f"'{tensor.name}' of model '{name}', expecting {config_pb.DataType.Name(dtypes.to_config(datatype))}")
        if not tensor.dims and shape:
            tensor.dims.extend(shape)
        if tensor.HasField("reshape"):
            continue  # the wire shape is the config's; the model sees the reshape
        if len(tensor.dims) != len(shape) or any(m != -1 and c != m for c, m in zip(tensor.dims, shape)):
            prefix = [-1] if batch else []
            raise ModelLoadError(
                f"model '{name}', tensor '{tensor.name}': the model expects shape {_dims(prefix + shape)} but the "
                f"configuration specifies {_dims(prefix + list(tensor.dims))}")


def _check_scheduling(config) -> None:
    if not config.HasField("dynamic_batching"):
        return
    if config.max_batch_size == 0:
        raise ModelLoadError(f"dynamic batching is enabled for model '{config.name}' but max_batch_size is 0; "
                             "set max_batch_size > 0 (dims then exclude the batch dimension)")
    for size in config.dynamic_batching.preferred_batch_size:
        if not 0 < size <= config.max_batch_size:
            raise ModelLoadError(f"dynamic batching preferred size {size} for model '{config.name}' must be "
                                 f"in [1, max_batch_size = {config.max_batch_size}]")
    queue_policy.check(config)


def _dims(dims) -> str:
    return "[" + ",".join(str(int(d)) for d in dims) + "]"


def wire_shape(config, tensor) -> list[int]:
    """The shape clients see for a config input/output: -1 for the batch dimension when batching."""
    return ([-1] if config.max_batch_size > 0 else []) + [int(d) for d in tensor.dims]
