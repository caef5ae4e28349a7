"""A request's sequence parameters: `sequence_id`, `sequence_start`, `sequence_end` (Triton's names and types)."""

from __future__ import annotations

from dataclasses import dataclass

from serving.server.errors import InvalidRequestError


@dataclass(frozen=True)
class SequenceFlags:
    correlation_id: int | str
    start: bool
    end: bool


def read(request) -> SequenceFlags | None:
    """The request's sequence flags; None when it names no sequence (a 0 or empty `sequence_id` names none)."""
    parameters = request.parameters
    given = parameters.get("sequence_id")
    if given is None:
        return None
    kind = given.WhichOneof("parameter_choice")
    if kind not in ("int64_param", "uint64_param", "string_param"):
        raise InvalidRequestError(f"sequence_id of the request for model '{request.model_name}' must be an integer "
                                  f"or a string, got {kind or 'no value'}")
    correlation_id = getattr(given, kind)
    if correlation_id in (0, ""):
        return None
    return SequenceFlags(correlation_id, _flag(request, "sequence_start"), _flag(request, "sequence_end"))


def _flag(request, name: str) -> bool:
    given = request.parameters.get(name)
    if given is None:
        return False
    if given.WhichOneof("parameter_choice") != "bool_param":
        raise InvalidRequestError(f"{name} of the request for model '{request.model_name}' must be a bool")
    return given.bool_param


def from_json(parameters: dict, target) -> None:
    """Copy an HTTP request's sequence parameters into the ModelInferRequest's `parameters` map (`target`)."""
    if "sequence_id" in parameters:
        value = parameters["sequence_id"]
        if isinstance(value, str):
            target["sequence_id"].string_param = value
        elif type(value) is int and 0 <= value < 2**64:
            if value < 2**63:
                target["sequence_id"].int64_param = value
            else:
                target["sequence_id"].uint64_param = value
        else:
            raise InvalidRequestError(f"'sequence_id' of the request must be an unsigned integer or a string, "
                                      f"got {value!r}")
    for name in ("sequence_start", "sequence_end"):
        if name in parameters:
            if not isinstance(parameters[name], bool):
                raise InvalidRequestError(f"'{name}' of the request must be true or false, got {parameters[name]!r}")
            target[name].bool_param = parameters[name]
