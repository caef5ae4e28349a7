"""A request's schedule-policy parameters: `priority` and `timeout` (Triton's schedule_policy extension).

`priority` 1 is the highest level, 2 the next, ...; 0 (or none) asks for the model's default level.
`timeout` is in microseconds; the dynamic batcher's queue policy decides whether it counts.
Messages and accepted types are Triton's gRPC front end's.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.server.errors import InvalidRequestError


@dataclass(frozen=True)
class SchedulePolicy:
    priority: int = 0
    timeout_us: int = 0


DEFAULT = SchedulePolicy()


def read(request) -> SchedulePolicy:
    """The request's priority and timeout; DEFAULT when it sets neither."""
    parameters = request.parameters
    if "priority" not in parameters and "timeout" not in parameters:
        return DEFAULT
    return SchedulePolicy(_priority(parameters.get("priority")), _timeout(parameters.get("timeout")))


def _priority(given) -> int:
    if given is None:
        return 0
    kind = given.WhichOneof("parameter_choice")
    if kind == "uint64_param":
        return given.uint64_param
    if kind != "int64_param":
        raise InvalidRequestError("invalid value type for 'priority' parameter, expected int64_param or uint64_param.")
    if given.int64_param < 0:
        raise InvalidRequestError("invalid value for 'priority', expected value >= 0.")
    return given.int64_param


def _timeout(given) -> int:
    if given is None:
        return 0
    if given.WhichOneof("parameter_choice") != "int64_param":
        raise InvalidRequestError("invalid value type for 'timeout' parameter, expected int64_param.")
    if given.int64_param < 0:
        raise InvalidRequestError(f"invalid value for 'timeout', expected value >= 0 (microseconds), "
                                  f"got {given.int64_param}.")
    return given.int64_param


def from_json(parameters: dict, target) -> None:
    """Copy an HTTP request's `priority` and `timeout` into the ModelInferRequest's `parameters` map (`target`)."""
    for name in ("priority", "timeout"):
        if name not in parameters:
            continue
        value = parameters[name]
        if type(value) is not int or not 0 <= value < 2**63:
            raise InvalidRequestError(f"'{name}' of the request must be an unsigned integer, got {value!r}")
        target[name].int64_param = value
