"""Triton's classification extension: a requested output's top-K entries as "value:index[:label]" strings.

A client asks for it with the output parameter `classification: K`. The answer replaces the tensor with a
BYTES tensor of shape [batch, min(K, n)] (or [min(K, n)] for a model that does not batch), n being the
elements per batch item, formatted exactly as Triton's classification.cc does: C's `std::to_string` of the
value ("%f" for floats), the index within the batch item, and the label of that index when the output's
config names a `label_filename`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from serving.server.errors import InvalidRequestError, ModelLoadError

# The datatypes Triton's TopkClassifications ranks; every other one (FP16, BF16, BOOL, BYTES) is refused.
_RANKABLE = {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP32", "FP64"}


def read_labels(model_dir: Path, config) -> dict[str, list[str]]:
    """{output name: its labels, one per line of its `label_filename`, a file in the model's folder}."""
    labels = {}
    for output in config.output:
        if not output.label_filename:
            continue
        path = model_dir / output.label_filename
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"unable to read label file '{path}' for output '{output.name}' of model "
                                 f"'{config.name}': {exc}") from exc
        lines = text.split("\n")
        if lines[-1] == "":  # getline reads no line after a final newline
            lines.pop()
        labels[output.name] = lines
    return labels


def requested_counts(request) -> dict[str, int]:
    """{output name: K} for each requested output with a `classification` parameter (Triton's gRPC checks)."""
    counts = {}
    for output in request.outputs:
        parameter = output.parameters.get("classification")
        if parameter is None:
            continue
        if parameter.WhichOneof("parameter_choice") != "int64_param":
            raise InvalidRequestError("invalid value type for 'classification' parameter, expected int64_param")
        if parameter.int64_param <= 0:
            raise InvalidRequestError("invalid value for 'classification' parameter, expected >= 0")
        counts[output.name] = parameter.int64_param
    return counts


def classify(value: np.ndarray, datatype: str, count: int, batched: bool, labels: list[str]) -> np.ndarray:
    """The top-`count` entries of each batch item of `value` as Triton formats them, an object array of bytes."""
    if datatype not in _RANKABLE:
        raise InvalidRequestError(f"class result not available for output due to unsupported type '{datatype}'")
    batch = value.shape[0] if batched and value.ndim > 0 else 0
    items = value.reshape(max(batch, 1), -1)
    kept = min(count, items.shape[1])
    floating = datatype in ("FP32", "FP64")
    strings = []
    for item in items:
        for index in _descending(item)[:kept]:
            # std::to_string: "%f" for floats, so six decimals whatever the magnitude
            text = f"{float(item[index]):f}:{index}" if floating else f"{int(item[index])}:{index}"
            label = labels[index] if index < len(labels) else ""
            if label:  # Triton adds no third field for an index past the file's end or an empty line
                text += f":{label}"
            strings.append(text.encode())
    out = np.empty(len(strings), dtype=object)
    out[:] = strings
    return out.reshape(((batch,) if batch else ()) + (kept,))


def _descending(item: np.ndarray) -> np.ndarray:
    """Indices from the largest value down; equal values keep index order (std::sort leaves it unspecified)."""
    reverse = np.argsort(item[::-1], kind="stable")[::-1]
    return len(item) - 1 - reverse
