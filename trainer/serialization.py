"""``save`` and ``load`` in the safetensors format: tensors and plain data only, never pickle.

A file holds the tensors in safetensors' tensor map, named by their path in the saved object
(``"model/fc1.weight"``, ``"optimizer/state/0/momentum_buffer"``), and the rest of the object (dicts
with their key types, lists vs tuples, numbers, strings, bools, None) as JSON in the header's
``__metadata__``. The tensors of a flat ``state_dict`` are named by its keys, so other safetensors
readers (``safetensors.torch.load_file``) read the file directly; files written by other tools, which
carry no structure, load as a dict of tensor name -> tensor. ``load`` also reads files written by ``torch.save``,
rebuilding only tensors and plain data from their pickle (``trainer.torch_checkpoint``).
"""

from __future__ import annotations

import collections
import json
import os
import uuid

import numpy as np
import safetensors
import safetensors.numpy

from trainer import dtypes
from trainer import quantized_types as qt
from trainer.backend import CPU, as_device, to_device
from trainer.quantized_array import QuantizedArray
from trainer.tensor import Tensor

_STRUCTURE_KEY = "sardonyx.structure"
_SUPPORTED = "tensors (quantized ones too), dtypes, dicts, lists, tuples, str, int, float, bool and None"


def save(obj, f) -> None:
    """Write ``obj`` (a tensor, or nested dicts/lists/tuples of tensors and plain values) to ``f``.

    ``f`` is a path or a binary file object. A path is written atomically: the file is written to a
    temporary file next to it, flushed to disk and then renamed over the target, so an interrupted save
    leaves any previous file intact. Tensors on a GPU are copied to host memory.
    """
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, "", arrays, "obj")
    metadata = {"format": "pt", _STRUCTURE_KEY: json.dumps(structure)}  # "pt": what safetensors' loaders expect
    payload = safetensors.numpy.save(arrays, metadata=metadata)
    if isinstance(f, (str, os.PathLike)):
        _write_atomically(os.fspath(f), payload)
    else:
        f.write(payload)


def load(f, map_location=None, *, weights_only: bool | None = None):
    """Read an object written by ``save``, or any safetensors file (as a dict of name -> tensor), or a file
    written by ``torch.save`` (read as ``torch.load(weights_only=True)`` reads it: see ``trainer.torch_checkpoint``).

    ``map_location`` ("cpu", "cuda", "cuda:1", a ``trainer.device``; default CPU) is where tensors are
    placed. ``weights_only`` is accepted for compatibility with ``torch.load``: loading never runs code, and
    ``weights_only=False`` does not make it unpickle arbitrary objects.
    """
    if isinstance(f, (str, os.PathLike)):
        name = os.fspath(f)
        with open(f, "rb") as file:
            content = file.read()
    else:
        name, content = getattr(f, "name", "<file object>"), f.read()
    device = as_device(map_location)
    try:
        arrays = _load_arrays(content)
    except safetensors.SafetensorError as exc:
        from trainer.torch_checkpoint import is_torch_checkpoint, load_torch_checkpoint

        if is_torch_checkpoint(content):
            return load_torch_checkpoint(content, name, device)
        raise _not_safetensors_error(name, exc) from None
    except KeyError as exc:  # safetensors.numpy has no NumPy type for it (BF16, FP8, ...)
        raise TypeError(f"{name} holds a tensor of safetensors dtype {exc.args[0]}, which trainer cannot hold; "
                        f"convert it to float32 (or another supported type) before saving") from None
    tensors = {key: _tensor(name, key, array, device) for key, array in arrays.items()}
    structure = _header_metadata(content).get(_STRUCTURE_KEY)
    if structure is None:  # written by another safetensors tool: the file is a flat name -> tensor map
        return tensors
    return _decode(json.loads(structure), tensors)


# ------------------------------------------------------------------ encoding the structure
# JSON scalars stand for themselves; tensors and containers are one-key objects naming their kind, so
# that int dict keys, tuples and OrderedDicts survive the trip through JSON.


def _encode(obj, path: str, arrays: dict, where: str):
    """The JSON form of ``obj``, adding its tensors to ``arrays``; ``path`` names them, ``where`` is the
    Python expression that reaches ``obj`` (for error messages)."""
    if isinstance(obj, Tensor) and isinstance(obj._data, QuantizedArray):
        return _encode_quantized(obj._data, path, arrays)
    if isinstance(obj, Tensor):
        name = _unique_name(path or "tensor", arrays)
        # np.require: an array (a 0-d tensor may hold a NumPy scalar) in C order, as safetensors copies raw memory.
        arrays[name] = np.require(to_device(obj.detach()._data, CPU), requirements="C")
        if arrays[name].dtype == np.complex128:  # safetensors has no complex128: its (real, imag) pairs as float64
            arrays[name] = arrays[name].view(np.float64).reshape(*arrays[name].shape, 2)
            return {"complex128_as_real": name}
        return {"tensor": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (dtypes.dtype, qt.QuantizedDtype)):  # a quantized Linear's state_dict holds its weight dtype
        return {"dtype": obj.name}
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return obj.item()
    if isinstance(obj, dict):
        pairs = []
        for key, value in obj.items():
            key_where = f"{where}[{key!r}]"
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise TypeError(f"trainer.save cannot store the dict key {key!r} of type {type(key).__name__} in "
                                f"{where}; dict keys must be str, int, float, bool or None")
            pairs.append([key, _encode(value, _join(path, key), arrays, key_where)])
        return {"ordered_dict" if isinstance(obj, collections.OrderedDict) else "dict": pairs}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [_encode(item, _join(path, i), arrays, f"{where}[{i}]") for i, item in enumerate(obj)]}
    raise TypeError(f"trainer.save cannot store {where}, an object of type {type(obj).__name__}; supported are "
                    f"{_SUPPORTED}")


def _encode_quantized(data: QuantizedArray, path: str, arrays: dict) -> dict:
    """A quantized tensor as its integers plus its grid: per tensor the scale and zero point as JSON numbers, per
    channel as arrays beside the integers."""
    name = _unique_name(path or "tensor", arrays)
    arrays[name] = np.require(to_device(data.int_repr, CPU), requirements="C")
    grid = {"int_repr": name, "dtype": data.qdtype.name, "axis": data.axis}
    if data.axis is None:
        return {"quantized": {**grid, "scale": float(data.scale), "zero_point": int(data.zero_point)}}
    for key, values in (("scale", data.scale), ("zero_point", data.zero_point)):
        grid[key] = _unique_name(f"{name}.{key}", arrays)
        arrays[grid[key]] = np.require(to_device(values, CPU), requirements="C")
    return {"quantized": grid}


def _decode_quantized(grid: dict, tensors: dict) -> Tensor:
    int_repr = tensors[grid["int_repr"]]._data
    scale, zero_point = grid["scale"], grid["zero_point"]
    if grid["axis"] is not None:
        scale, zero_point = tensors[scale]._data, tensors[zero_point]._data
    return Tensor._wrap(QuantizedArray(int_repr, getattr(qt, grid["dtype"]), scale, zero_point, grid["axis"]))


def _join(path: str, key) -> str:
    return f"{path}/{key}" if path else str(key)


def _unique_name(name: str, taken: dict) -> str:
    """``name``, or ``name~1``, ``name~2``, ... when distinct paths spell the same (``{"a/b": x, "a": {"b": y}}``)."""
    candidate, n = name, 0
    while candidate in taken:
        n += 1
        candidate = f"{name}~{n}"
    return candidate


def _decode(node, tensors: dict):
    if not isinstance(node, dict):
        return node
    (kind, value), = node.items()
    if kind == "tensor":
        return tensors[value]
    if kind == "quantized":
        return _decode_quantized(value, tensors)
    if kind == "dtype":
        return getattr(qt, value, None) or getattr(dtypes, value)
    if kind == "complex128_as_real":
        from trainer.ops.complex_ops import view_as_complex

        return view_as_complex(tensors[value])
    if kind == "list":
        return [_decode(item, tensors) for item in value]
    if kind == "tuple":
        return tuple(_decode(item, tensors) for item in value)
    mapping = collections.OrderedDict() if kind == "ordered_dict" else {}
    for key, item in value:
        mapping[key] = _decode(item, tensors)
    return mapping


# ------------------------------------------------------------------ files


def _write_atomically(path: str, payload: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: the directory {folder} does not exist")
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would for the target.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    if os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _load_arrays(content: bytes) -> dict:
    """``safetensors.numpy.load``, which has no NumPy type for BF16: files holding BF16 are read through
    safetensors' own parser, the BF16 tensors as ml_dtypes' bfloat16 (what trainer's bfloat16 tensors hold)."""
    try:
        return safetensors.numpy.load(content)
    except KeyError as exc:
        if exc.args[0] != "BF16":
            raise
    return {name: np.frombuffer(view["data"], _SAFETENSORS_DTYPES[view["dtype"]]).reshape(view["shape"])
            for name, view in safetensors.deserialize(content)}


# safetensors' dtype names of the types a trainer tensor holds; another name raises KeyError, as load expects
_SAFETENSORS_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32,
                       "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
                       "BF16": dtypes.bfloat16.np, "C64": np.complex64, "C128": np.complex128}


def _tensor(file_name: str, key: str, array: np.ndarray, device) -> Tensor:
    try:
        dtypes.from_numpy(array.dtype)
    except TypeError as exc:
        raise TypeError(f"tensor {key!r} in {file_name}: {exc}") from None
    if device != CPU:
        return Tensor._wrap(to_device(array, device))
    # Older safetensors releases return read-only views of the file's bytes; tensors must be writable.
    return Tensor._wrap(array if array.flags.writeable else array.copy())


def _header_metadata(content: bytes) -> dict:
    """The ``__metadata__`` map of a safetensors file (an 8-byte little-endian length, then JSON)."""
    length = int.from_bytes(content[:8], "little")
    return json.loads(content[8:8 + length]).get("__metadata__") or {}


def _not_safetensors_error(name: str, cause: Exception) -> Exception:
    return ValueError(f"{name} is not a safetensors file ({cause}); trainer.load reads files written by "
                      f"trainer.save or any safetensors writer")
