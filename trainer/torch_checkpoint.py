"""Reading PyTorch checkpoints (files written by ``torch.save``) without running any code from them.

A ``torch.save`` file is a pickle whose tensors point at storages kept beside it: in a zip archive
(``<name>/data.pkl`` plus one ``<name>/data/<key>`` record per storage, and ``<name>/byteorder``), or, with
``_use_new_zipfile_serialization=False``, in one stream (magic number, protocol version, system info, the pickle,
the list of storage keys, then each storage's element count and bytes, little-endian). Unpickling can call any
function, so, like ``torch.load(weights_only=True)``, the pickle is read by an unpickler that resolves only an
allowlist of names, each to a function or type of trainer's own: tensor and parameter rebuilders, storage types,
dtypes, ``torch.device``, ``torch.Size`` and plain containers. Any other name stops the load with
``pickle.UnpicklingError``, whatever ``weights_only`` says: there is no switch that unpickles arbitrary objects.

Tensors are rebuilt the way PyTorch rebuilds them: a tensor set to (part of) its storage with the saved offset,
sizes and strides, so tensors that shared a storage when saved share memory when loaded.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

from trainer import dtypes
from trainer.backend import device, to_device
from trainer.creation import empty
from trainer.nn.parameter import Parameter
from trainer.storage import TypedStorage, UntypedStorage
from trainer.tensor import Size, Tensor

_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
_LEGACY_PROTOCOL_VERSION = 1001

_CONVERT_ADVICE = (
    "trainer.load reads PyTorch checkpoints without running code from them, so it only rebuilds tensors, "
    "parameters, storages, dtypes, devices, torch.Size and plain containers (dict, OrderedDict, list, tuple, set, "
    "str, bytes, numbers, None); weights_only=False does not change that. Convert the file where you trust it: in "
    "PyTorch, load it with torch.load(path, weights_only=False) and save only tensors and plain data, e.g. "
    "torch.save(model.state_dict(), path) or safetensors.torch.save_file(model.state_dict(), path)"
)


def is_torch_checkpoint(content: bytes) -> bool:
    """Whether ``content`` starts like a ``torch.save`` file: a zip archive, a binary pickle stream, or a tar
    archive (the format of PyTorch releases before 0.4)."""
    return content[:4] == b"PK\x03\x04" or content[:1] == b"\x80" or _is_tar(content)


def _is_tar(content: bytes) -> bool:
    return content[257:262] == b"ustar"  # the magic of POSIX tar headers


def load_torch_checkpoint(content: bytes, name: str, target: device):
    """The object a ``torch.save`` file holds, its tensors placed on ``target``; ``name`` is used in messages."""
    if target.type == "meta":  # trainer's meta arrays cannot take a saved tensor's strides and offset
        raise NotImplementedError(f"map_location='meta' is not supported for files written by torch.save ({name}); "
                                  f"load on the CPU, or build the model on the meta device and load into it later")
    if content[:4] == b"PK\x03\x04":
        return _load_zip(content, name, target)
    if _is_tar(content):
        raise RuntimeError(f"{name} is a tar archive, the format of PyTorch releases before 0.4, which trainer cannot "
                           f"read; load it with an older PyTorch and save it again with a current one")
    return _load_legacy(content, name, target)


# ------------------------------------------------------------------ the zip format (PyTorch 1.6 and later)


def _load_zip(content: bytes, name: str, target: device):
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        records = archive.namelist()
        prefix = records[0].split("/", 1)[0] if records else ""  # torch's writer puts every record in one folder
        if f"{prefix}/constants.pkl" in records:
            raise RuntimeError(f"{name} is a TorchScript archive (written by torch.jit.save), which holds code; "
                               f"trainer.load reads files written by torch.save")
        if f"{prefix}/data.pkl" not in records:
            raise RuntimeError(f"{name} is a zip archive without the data.pkl record of a torch.save file")
        byteorder = "little"  # files written before the byteorder record existed are little-endian
        if f"{prefix}/byteorder" in records:
            byteorder = archive.read(f"{prefix}/byteorder").decode("ascii").strip()
        if byteorder not in ("little", "big"):
            raise RuntimeError(f"{name} records an unknown byte order {byteorder!r}; expected 'little' or 'big'")
        memories: dict[str, object] = {}

        def storage_memory(key: str, dtype: dtypes.dtype, numel: int):
            if key not in memories:
                record = f"{prefix}/data/{key}"
                if record not in records:
                    raise RuntimeError(f"{name} is corrupt: the storage record {record} is missing")
                memory = _read_record(archive, record, numel * dtype.itemsize, name)
                if byteorder == "big":
                    _to_native_byte_order(memory, dtype)
                memories[key] = to_device(memory, target)
            return memories[key]

        return _RestrictedUnpickler(io.BytesIO(archive.read(f"{prefix}/data.pkl")), name, storage_memory).load()


def _read_record(archive: zipfile.ZipFile, record: str, nbytes: int, name: str) -> np.ndarray:
    """The ``nbytes`` bytes of ``record`` read straight into a writable array (no intermediate ``bytes``)."""
    if archive.getinfo(record).file_size != nbytes:  # checked before allocating what the pickle claims
        raise RuntimeError(f"{name} is corrupt: the storage record {record} does not hold the {nbytes} bytes "
                           f"its tensors need")
    memory = np.empty(nbytes, np.uint8)
    with archive.open(record) as file:
        filled = 0
        while filled < nbytes:
            count = file.readinto(memory[filled:])
            if not count:
                raise RuntimeError(f"{name} is corrupt: the storage record {record} ends early")
            filled += count
    return memory


def _to_native_byte_order(memory: np.ndarray, dtype: dtypes.dtype) -> None:
    """Swap, in place, the bytes of each element (each part of a complex element) of a big-endian storage."""
    part = dtype.itemsize // 2 if dtype.is_complex else dtype.itemsize
    if part > 1:
        memory.view(f"u{part}").byteswap(inplace=True)


# ------------------------------------------------------------------ the legacy stream format


def _load_legacy(content: bytes, name: str, target: device):
    stream = io.BytesIO(content)
    header = _RestrictedUnpickler(stream, name, None)
    if header.load() != _LEGACY_MAGIC_NUMBER:
        raise RuntimeError(f"{name} is not a PyTorch checkpoint: it starts with a pickle but not with torch.save's "
                           f"magic number")
    version = header.load()
    if version != _LEGACY_PROTOCOL_VERSION:
        raise RuntimeError(f"{name} has legacy format version {version}; trainer reads version "
                           f"{_LEGACY_PROTOCOL_VERSION}, so save it again with a current PyTorch")
    header.load()  # system info: storages in this format are little-endian whatever machine wrote them
    pickle_start = stream.tell()
    # The storages' bytes follow the pickle, so a first pass learns their keys, types and sizes (its tensors view
    # host memory that is filled afterwards); a second pass rebuilds the object over that memory on ``target``.
    host: dict[str, np.ndarray] = {}
    sized: dict[str, tuple] = {}

    def record_sizes(key: str, dtype: dtypes.dtype, numel: int):
        if key not in host:
            if numel * dtype.itemsize > len(content):  # checked before allocating what the pickle claims
                raise RuntimeError(f"{name} is corrupt: storage {key} claims more bytes than the file holds")
            sized[key] = dtype, numel
            host[key] = np.empty(numel * dtype.itemsize, np.uint8)
        return host[key]

    _RestrictedUnpickler(stream, name, record_sizes).load()
    keys = _RestrictedUnpickler(stream, name, None).load()
    if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys) and sorted(keys) == sorted(sized)):
        raise RuntimeError(f"{name} is corrupt: its list of storages does not match the storages its tensors use")
    for key in keys:
        dtype, numel = sized[key]
        saved_numel = int.from_bytes(stream.read(8), "little")
        data = stream.read(numel * dtype.itemsize)
        if saved_numel != numel or len(data) != numel * dtype.itemsize:
            raise RuntimeError(f"{name} is corrupt: storage {key} should hold {numel} elements of {dtype}")
        host[key][:] = np.frombuffer(data, np.uint8)
    placed = {key: to_device(memory, target) for key, memory in host.items()}
    stream.seek(pickle_start)
    return _RestrictedUnpickler(stream, name, lambda key, dtype, numel: placed[key]).load()


# ------------------------------------------------------------------ the restricted unpickler


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose only globals are those in ``_ALLOWED`` and whose persistent ids are storage records.

    ``storage_memory(key, dtype, numel)`` gives the 1-D ``uint8`` array holding storage ``key``; without it,
    a persistent id is refused (the legacy format's header and key list hold none)."""

    def __init__(self, file, name: str, storage_memory):
        super().__init__(file, encoding="utf-8")  # as torch.load: str pickled by Python 2 read as UTF-8
        self._name = name
        self._storage_memory = storage_memory

    def find_class(self, module: str, name: str):
        module = {"__builtin__": "builtins"}.get(module, module)  # protocol 2 pickles spell builtins this way
        path = f"{module}.{name}"
        if path in _ALLOWED:
            return _ALLOWED[path]
        if path in _UNSUPPORTED:
            raise RuntimeError(f"{self._name} holds {_UNSUPPORTED[path]}, which trainer.load cannot rebuild; "
                               f"save it as a plain dense tensor instead (in PyTorch: .dequantize(), .to_dense(), ...)")
        if module == "torch" and name in _TORCH_ONLY_DTYPES:
            raise TypeError(f"{self._name} holds a tensor of dtype torch.{name}, which trainer has no dtype for; "
                            f"convert it in PyTorch (e.g. to int64 or float32) before saving")
        raise pickle.UnpicklingError(f"Weights only load failed: {self._name} needs the global {path}. Unsupported "
                                     f"global: GLOBAL {path} was not an allowed global. {_CONVERT_ADVICE}")

    def persistent_load(self, saved_id):
        kind = saved_id[0] if isinstance(saved_id, tuple) and saved_id else None
        if self._storage_memory is None or kind not in ("storage", b"storage"):
            raise pickle.UnpicklingError(f"{self._name}: unsupported persistent id {saved_id!r}; torch.save files "
                                         f"only refer to storages")
        if len(saved_id) == 6 and saved_id[5] is not None:
            raise RuntimeError(f"{self._name} holds a view of a storage, written by an old PyTorch release; "
                               f"load it with an older PyTorch and save it again with a current one")
        if len(saved_id) not in (5, 6):
            raise pickle.UnpicklingError(f"{self._name}: malformed storage record {saved_id!r}")
        storage_type, key, _location, numel = saved_id[1:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"{self._name}: a storage record names {storage_type!r}, not a storage type")
        if not isinstance(key, str) or not _is_count(numel):
            raise pickle.UnpicklingError(f"{self._name}: malformed storage record {saved_id!r}")
        memory = self._storage_memory(key, storage_type.dtype, numel)
        return TypedStorage(wrap_storage=UntypedStorage._wrap(memory), dtype=storage_type.dtype, _internal=True)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _StorageType:
    """What a storage class (``torch.FloatStorage``, ``torch.storage.UntypedStorage``) names in a file: a dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: dtypes.dtype):
        self.dtype = dtype


class _TensorType:
    """What ``torch.Tensor`` and ``torch.nn.parameter.Parameter`` name in a file: the class a tensor is rebuilt
    as. Not a type itself, so a pickle cannot create instances of it behind the rebuilders' back."""

    __slots__ = ("cls",)

    def __init__(self, cls):
        self.cls = cls


# ------------------------------------------------------------------ rebuilders (torch._utils' functions)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor_over(storage, storage.dtype, storage_offset, size, stride, False, None)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    _check_hooks(backward_hooks)
    return _tensor_over(storage, storage.dtype, storage_offset, size, stride, requires_grad, metadata)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    _check_hooks(backward_hooks)
    if not isinstance(dtype, dtypes.dtype):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v3 expects a dtype, got {type(dtype).__name__}")
    return _tensor_over(storage, dtype, storage_offset, size, stride, requires_grad, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    _check_hooks(backward_hooks)
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError(f"_rebuild_parameter expects a tensor, got {type(data).__name__}")
    return Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    _check_no_attributes(state, "a Parameter")
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def _rebuild_from_type_v2(func, new_type, args, state):
    """A tensor saved with Python attributes or as a subclass: only plain tensors and parameters without
    attributes are rebuilt."""
    if func not in _REBUILDERS or not isinstance(args, tuple):
        raise pickle.UnpicklingError(f"_rebuild_from_type_v2 expects a tensor rebuilder and its arguments, got "
                                     f"{func!r}")
    if not isinstance(new_type, _TensorType):
        raise RuntimeError(f"a tensor subclass ({new_type!r}) cannot be rebuilt by trainer.load; save plain "
                           f"tensors instead")
    _check_no_attributes(state, "a tensor")
    tensor = func(*args)
    if new_type.cls is Parameter and not isinstance(tensor, Parameter):
        return Parameter(tensor, tensor.requires_grad)
    return tensor


def _check_hooks(backward_hooks) -> None:
    # torch saves an empty OrderedDict here; hooks themselves are functions, which no file may name.
    if not isinstance(backward_hooks, dict) or backward_hooks:
        raise pickle.UnpicklingError(f"expected an empty dict of backward hooks, got {backward_hooks!r}")


def _check_no_attributes(state, what: str) -> None:
    parts = state if isinstance(state, tuple) else (state,)
    if any(part for part in parts):
        raise RuntimeError(f"{what} saved with Python attributes ({state!r}) cannot be rebuilt by trainer.load; "
                           f"save it without them")


def _tensor_over(storage, dtype, storage_offset, size, stride, requires_grad, metadata) -> Tensor:
    """A tensor viewing ``storage`` as torch's ``torch.empty(0).set_(storage, offset, size, stride)`` does."""
    if not isinstance(storage, TypedStorage):
        raise pickle.UnpicklingError(f"a tensor's storage must be a storage record, got {type(storage).__name__}")
    if not (_is_count(storage_offset) and _are_counts(size) and _are_counts(stride) and len(size) == len(stride)):
        raise pickle.UnpicklingError(f"malformed tensor geometry: offset {storage_offset!r}, size {size!r}, "
                                     f"stride {stride!r}")
    if not isinstance(requires_grad, bool):
        raise pickle.UnpicklingError(f"requires_grad must be a bool, got {requires_grad!r}")
    untyped = storage._untyped_storage
    tensor = empty(0, dtype=dtype, device=untyped.device).set_(untyped, storage_offset, tuple(size), tuple(stride))
    if metadata:  # PyTorch's lazy conjugate / negative views; trainer has none, so the values are materialised
        if not isinstance(metadata, dict) or not set(metadata) <= {"conj", "neg"}:
            raise pickle.UnpicklingError(f"unknown tensor metadata {metadata!r}")
        data = tensor._data
        if metadata.get("conj"):
            data = data.conj()
        if metadata.get("neg"):
            data = -data
        tensor = Tensor._wrap(data)
    return tensor.requires_grad_(requires_grad)


def _are_counts(values) -> bool:
    return isinstance(values, tuple) and all(_is_count(v) for v in values)


def _encode(text, encoding="utf-8"):
    """``_codecs.encode`` as protocol 2 pickles use it for ``bytes`` (``encode(text, 'latin1')``); other codecs are
    refused, since looking one up may import a module."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed for bytes (latin1), got {encoding!r}")
    return text.encode("latin-1")


_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
               _rebuild_parameter_with_state)

# torch's storage class names -> dtype (the legacy typed storages; UntypedStorage holds bytes)
_STORAGE_DTYPES = {
    "DoubleStorage": dtypes.float64, "FloatStorage": dtypes.float32, "HalfStorage": dtypes.float16,
    "BFloat16Storage": dtypes.bfloat16, "LongStorage": dtypes.int64, "IntStorage": dtypes.int32,
    "ShortStorage": dtypes.int16, "CharStorage": dtypes.int8, "ByteStorage": dtypes.uint8, "BoolStorage": dtypes.bool,
    "ComplexFloatStorage": dtypes.complex64, "ComplexDoubleStorage": dtypes.complex128,
}

_ALLOWED = {
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.bytearray": bytearray,
    "builtins.complex": complex,
    "builtins.slice": slice,
    "_codecs.encode": _encode,
    "torch.Size": Size,
    "torch.device": device,
    "torch.Tensor": _TensorType(Tensor),
    "torch.nn.parameter.Parameter": _TensorType(Parameter),
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.storage.UntypedStorage": _StorageType(dtypes.uint8),
    **{f"torch._utils.{f.__name__}": f for f in _REBUILDERS},
    **{f"torch.{name}": _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
    **{f"torch.{dtype.name}": dtype for dtype in dtypes.ALL},
}

# names torch's weights-only loader allows that stand for tensors trainer does not have
_UNSUPPORTED = {
    "torch._utils._rebuild_qtensor": "a quantized tensor",
    **{f"torch.{scheme}": "a quantized tensor" for scheme in (
        "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
        "per_channel_affine_float_qparams", "QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage",
        "QUInt2x4Storage")},
    "torch._utils._rebuild_sparse_tensor": "a sparse tensor",
    "torch.serialization._get_layout": "a sparse tensor",
    "torch._utils._rebuild_nested_tensor": "a nested tensor",
    "torch._utils._rebuild_wrapper_subclass": "a tensor subclass",
    "torch._utils._rebuild_meta_tensor_no_storage": "a meta tensor",
    "torch._utils._rebuild_device_tensor_from_numpy": "a tensor of a device without storages (XLA, MTIA)",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": "a tensor of a device without storages (XLA, MTIA)",
}

_TORCH_ONLY_DTYPES = frozenset(
    ["uint16", "uint32", "uint64", "complex32", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
     "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "bits1x8", "bits2x4",
     "bits4x2", "bits8", "bits16"]
    + [f"int{n}" for n in range(1, 8)] + [f"uint{n}" for n in range(1, 8)])
