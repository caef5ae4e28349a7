"""The `sequence_batching` section of a model config: what the sequence batcher feeds the model, checked at load.

Control inputs (START, END, READY, CORRID) and implicit-state inputs are the batcher's to fill, so clients
never send them and autocompletion leaves them out of the config's `input`; state outputs are fed back and
reach clients only when the config lists them as outputs (Triton's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serving.server import tensors
from serving.server.dtypes import NUMPY, from_config
from serving.server.errors import InvalidRequestError, ModelLoadError
from serving.server.protocol import config_pb

_Control = config_pb.ModelSequenceBatching.Control
# Which false/true list each datatype takes, and which datatypes a correlation ID may have.
_FALSE_TRUE = {"int32_false_true": "INT32", "fp32_false_true": "FP32", "bool_false_true": "BOOL"}
_CORRID_TYPES = ("UINT64", "INT64", "UINT32", "INT32", "BYTES")


@dataclass(frozen=True)
class ControlSpec:
    input: str
    kind: str  # "START", "END", "READY" or "CORRID"
    datatype: str
    false_true: tuple | None  # the values meaning false and true; None for CORRID


@dataclass(frozen=True)
class StateSpec:
    input: str
    output: str
    initial: np.ndarray  # the state before a sequence's first request, without the batch dimension


def fed_inputs(config) -> set[str]:
    """Model inputs the batcher fills: control and state inputs."""
    if not config.HasField("sequence_batching"):
        return set()
    batching = config.sequence_batching
    return {c.name for c in batching.control_input} | {s.input_name for s in batching.state}


def state_outputs(config) -> set[str]:
    if not config.HasField("sequence_batching"):
        return set()
    return {s.output_name for s in config.sequence_batching.state}


def check(config, model_inputs: dict, model_outputs: dict) -> None:
    """Raise ModelLoadError where `sequence_batching` disagrees with the model ({name: (datatype, shape)})."""
    if not config.HasField("sequence_batching"):
        return
    batching, name = config.sequence_batching, config.name
    strategy = batching.WhichOneof("strategy_choice")
    if strategy == "direct" and not 0 <= batching.direct.minimum_slot_utilization <= 1:
        raise ModelLoadError(f"sequence batching minimum_slot_utilization for model '{name}' must be in [0, 1], "
                             f"got {batching.direct.minimum_slot_utilization}")
    if strategy == "oldest":
        if batching.oldest.max_candidate_sequences < 0:
            raise ModelLoadError(f"sequence batching max_candidate_sequences for model '{name}' must be >= 0, got "
                                 f"{batching.oldest.max_candidate_sequences}")
        for size in batching.oldest.preferred_batch_size:
            if not 0 < size <= max(1, config.max_batch_size):
                raise ModelLoadError(f"sequence batching preferred size {size} for model '{name}' must be in "
                                     f"[1, max_batch_size = {max(1, config.max_batch_size)}]")
    client_inputs = {t.name for t in config.input}
    kinds = set()
    for spec in controls(config):
        if spec.kind in kinds:
            raise ModelLoadError(f"sequence batching for model '{name}' declares CONTROL_SEQUENCE_{spec.kind} twice")
        kinds.add(spec.kind)
        where = f"sequence batching control input '{spec.input}' of model '{name}'"
        if spec.input not in model_inputs:
            raise ModelLoadError(f"{where} is not an input of the model; its inputs are: {', '.join(model_inputs)}")
        if spec.input in client_inputs:
            raise ModelLoadError(f"{where} is also listed in 'input'; the sequence batcher fills it")
        datatype, shape = model_inputs[spec.input]
        if datatype != spec.datatype:
            raise ModelLoadError(f"{where} is {spec.datatype} in the config but {datatype} in the model")
        own = shape[1:] if config.max_batch_size > 0 else shape
        if len(own) != 1 or own[0] not in (1, -1):
            raise ModelLoadError(f"{where} must take shape [1] per batch element, the model gives it {shape}")
    for state in config.sequence_batching.state:
        _check_state(config, state, model_inputs, model_outputs, client_inputs)


def controls(config) -> list[ControlSpec]:
    out = []
    for control_input in config.sequence_batching.control_input:
        where = f"sequence batching control input '{control_input.name}' of model '{config.name}'"
        if len(control_input.control) != 1:
            raise ModelLoadError(f"{where} must hold exactly one control, it holds {len(control_input.control)}")
        control = control_input.control[0]
        kind = _Control.Kind.Name(control.kind)[len("CONTROL_SEQUENCE_"):]
        if kind == "CORRID":
            datatype = from_config(control.data_type)
            if datatype not in _CORRID_TYPES:
                raise ModelLoadError(f"{where}: CONTROL_SEQUENCE_CORRID needs data_type TYPE_UINT64, TYPE_INT64, "
                                     f"TYPE_UINT32, TYPE_INT32 or TYPE_STRING, got {datatype}")
            out.append(ControlSpec(control_input.name, kind, datatype, None))
            continue
        given = [field for field in _FALSE_TRUE if len(getattr(control, field))]
        if len(given) != 1 or len(getattr(control, given[0])) != 2:
            raise ModelLoadError(f"{where}: CONTROL_SEQUENCE_{kind} needs exactly one of int32_false_true, "
                                 "fp32_false_true, bool_false_true, with two values (false, true)")
        out.append(ControlSpec(control_input.name, kind, _FALSE_TRUE[given[0]], tuple(getattr(control, given[0]))))
    return out


def _check_state(config, state, model_inputs, model_outputs, client_inputs) -> None:
    where = f"sequence batching state '{state.input_name}' -> '{state.output_name}' of model '{config.name}'"
    if state.input_name not in model_inputs:
        raise ModelLoadError(f"{where}: '{state.input_name}' is not an input of the model")
    if state.output_name not in model_outputs:
        raise ModelLoadError(f"{where}: '{state.output_name}' is not an output of the model")
    if state.input_name in client_inputs:
        raise ModelLoadError(f"{where}: '{state.input_name}' is also listed in 'input'; the sequence batcher fills it")
    datatype = from_config(state.data_type)
    for tensor, (model_type, shape) in ((state.input_name, model_inputs[state.input_name]),
                                        (state.output_name, model_outputs[state.output_name])):
        if model_type != datatype:
            raise ModelLoadError(f"{where} is {datatype} in the config but '{tensor}' is {model_type} in the model")
        own = shape[1:] if config.max_batch_size > 0 else shape
        if not _compatible(state.dims, own):
            raise ModelLoadError(f"{where} has dims {list(state.dims)} but the model's '{tensor}' has {own}")
    if len(state.initial_state) > 1:
        raise ModelLoadError(f"{where} gives {len(state.initial_state)} initial states, at most one is allowed")
    for initial in state.initial_state:
        if from_config(initial.data_type) != datatype:
            raise ModelLoadError(f"{where}: its initial_state is {from_config(initial.data_type)}, not {datatype}")
        if any(d < 0 for d in initial.dims) or not _compatible(state.dims, list(initial.dims)):
            raise ModelLoadError(f"{where}: initial_state dims {list(initial.dims)} must be fixed and fit the "
                                 f"state's dims {list(state.dims)}")
        if initial.WhichOneof("state_data") is None:
            raise ModelLoadError(f"{where}: initial_state needs zero_data or data_file")


def _compatible(dims, shape) -> bool:
    return len(dims) == len(shape) and all(a == -1 or b == -1 or a == b for a, b in zip(dims, shape))


def states(config, model_dir: Path) -> list[StateSpec]:
    """The states with their initial values: initial_state's, else zeros with 1 for each variable dimension."""
    out = []
    for state in config.sequence_batching.state:
        datatype = from_config(state.data_type)
        if state.initial_state:
            initial = state.initial_state[0]
            shape = [int(d) for d in initial.dims]
            if initial.WhichOneof("state_data") == "data_file":
                initial_value = _read_initial(model_dir / "initial_state" / initial.data_file, datatype, shape,
                                              config.name)
            else:
                initial_value = _zeros(datatype, shape)
        else:
            initial_value = _zeros(datatype, [1 if d < 0 else int(d) for d in state.dims])
        out.append(StateSpec(state.input_name, state.output_name, initial_value))
    return out


def _zeros(datatype: str, shape: list[int]) -> np.ndarray:
    if datatype == "BYTES":
        return np.full(shape, b"", dtype=object)
    return np.zeros(shape, dtype=NUMPY[datatype])


def _read_initial(path: Path, datatype: str, shape: list[int], model: str) -> np.ndarray:
    where = f"initial state file {path} of model '{model}'"
    try:
        return tensors.from_raw(path.read_bytes(), datatype, shape, where)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {where}: {exc}") from exc
    except InvalidRequestError as exc:
        raise ModelLoadError(exc.message) from exc
