"""System shared memory (Triton's extension): regions of POSIX shared-memory objects that clients register by name,
inference inputs read from them and outputs written into them instead of travelling in the request and response.

A region maps `byte_size` bytes at `offset` of `/dev/shm/<key>` (what `shm_open(key)` opens). Each request pins
the regions it names for as long as it runs, so a region unregistered meanwhile is unmapped only after it, as in
Triton. Messages and status codes follow Triton's shared-memory manager.
"""

from __future__ import annotations

import mmap
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc

from serving.server import tensors
from serving.server.errors import InternalError, InvalidRequestError, NotFoundError, ServerError
from serving.server.protocol import pb

SHM_ROOT = Path("/dev/shm")
REGION, BYTE_SIZE, OFFSET = "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"


class AlreadyExistsError(ServerError):
    code = grpc.StatusCode.ALREADY_EXISTS


class SharedMemoryRegion:
    """`byte_size` bytes at `offset` of one shared-memory object, mapped read-write."""

    def __init__(self, name: str, key: str, offset: int, byte_size: int):
        self.name, self.key, self.offset, self.byte_size = name, key, offset, byte_size
        path = _object_path(key)
        try:
            fd = os.open(path, os.O_RDWR)
        except (OSError, ValueError):
            raise InternalError(f"Unable to open shared memory region: '{key}'") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise InternalError(f"Invalid shared memory region: '{key}'")
            if byte_size <= 0 or offset + byte_size > info.st_size:
                raise InvalidRequestError(f"failed to register shared memory region '{name}': invalid args")
            # mmap wants a page-aligned offset: map from the page holding `offset` and skip to it.
            self._skip = offset % mmap.ALLOCATIONGRANULARITY
            try:
                self._map = mmap.mmap(fd, byte_size + self._skip, offset=offset - self._skip)
            except OSError as exc:
                raise InvalidRequestError(f"failed to register shared memory region '{name}': unable to map it "
                                          f"({exc.strerror or exc})") from exc
        finally:
            os.close(fd)
        self.users = 0  # requests in flight that use the region
        self.unregistered = False

    def read(self, offset: int, size: int) -> bytes:
        start = self._skip + offset
        return self._map[start:start + size]

    def write(self, offset: int, data: bytes) -> None:
        start = self._skip + offset
        self._map[start:start + len(data)] = data

    def close(self) -> None:
        self._map.close()

    def check_bounds(self, offset: int, size: int) -> None:
        if offset < 0 or offset >= self.byte_size:
            raise InvalidRequestError(f"Invalid offset for shared memory region: '{self.name}'")
        if size < 0 or offset + size > self.byte_size:
            raise InvalidRequestError(f"Invalid offset + byte size for shared memory region: '{self.name}'")


def _object_path(key: str) -> Path:
    # shm_open ignores leading slashes and refuses any other; "." and ".." would leave /dev/shm.
    name = key.lstrip("/")
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(key)
    return SHM_ROOT / name


@dataclass(frozen=True)
class _Span:
    region: SharedMemoryRegion
    offset: int
    byte_size: int


class SystemSharedMemory:
    """The registered regions, by name; every method is safe to call from concurrent requests."""

    def __init__(self):
        self._regions: dict[str, SharedMemoryRegion] = {}
        self._lock = threading.Lock()

    def register(self, name: str, key: str, offset: int, byte_size: int) -> None:
        if not name:
            raise InvalidRequestError("a system shared memory region needs a name to be registered under")
        with self._lock:
            if name in self._regions:
                raise AlreadyExistsError(f"shared memory region '{name}' already in manager")
            self._regions[name] = SharedMemoryRegion(name, key, offset, byte_size)

    def unregister(self, name: str = "") -> None:
        """Unregister `name`, or every region for ""; a name that is not registered is no error (as Triton)."""
        with self._lock:
            names = list(self._regions) if not name else [name] if name in self._regions else []
            for each in names:
                region = self._regions.pop(each)
                region.unregistered = True
                if region.users == 0:
                    region.close()

    def status(self, name: str = ""):
        with self._lock:
            if name and name not in self._regions:
                raise NotFoundError(f"Unable to find system shared memory region: '{name}'")
            regions = [self._regions[name]] if name else list(self._regions.values())
            status = pb.SystemSharedMemoryStatusResponse()
            for region in regions:
                status.regions[region.name].CopyFrom(pb.SystemSharedMemoryStatusResponse.RegionStatus(
                    name=region.name, key=region.key, offset=region.offset, byte_size=region.byte_size))
            return status

    def close(self) -> None:
        """Unmap every region (the server is stopping and its requests are done)."""
        with self._lock:
            for region in self._regions.values():
                region.close()
            self._regions.clear()

    def bind(self, request) -> SharedMemoryBinding:
        """Resolve the shared-memory inputs and outputs a ModelInferRequest names; use the result as a context."""
        binding = SharedMemoryBinding(self, request)
        try:
            binding.resolve()
        except BaseException:
            binding.release()
            raise
        return binding

    def _pin(self, name: str) -> SharedMemoryRegion:
        with self._lock:
            region = self._regions.get(name)
            if region is None:
                raise NotFoundError(f"Unable to find shared memory region: '{name}'")
            region.users += 1
            return region

    def _unpin(self, region: SharedMemoryRegion) -> None:
        with self._lock:
            region.users -= 1
            if region.users == 0 and region.unregistered:
                region.close()


class SharedMemoryBinding:
    """One request's view of shared memory: `request` carries every input's bytes as raw contents, and
    `write_output` puts the outputs that asked for a region there."""

    def __init__(self, manager: SystemSharedMemory, request):
        self.request = request
        self._manager = manager
        self._pinned: list[SharedMemoryRegion] = []
        self._outputs: dict[str, _Span] = {}

    def __enter__(self) -> SharedMemoryBinding:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def release(self) -> None:
        pinned, self._pinned = self._pinned, []
        for region in pinned:
            self._manager._unpin(region)

    def resolve(self) -> None:
        request = self.request
        for output in request.outputs:
            span = self._span(output, f"output '{output.name}'")
            if span is None:
                continue
            if "classification" in output.parameters:
                raise InvalidRequestError("output can't set both 'shared_memory_region' and 'classification'")
            self._outputs[output.name] = span
        shared = {}
        for tensor in request.inputs:
            span = self._span(tensor, f"input '{tensor.name}'")
            if span is None:
                continue
            if tensor.HasField("contents"):
                raise InvalidRequestError(f"unexpected 'content' provided when using shared memory for input tensor "
                                          f"'{tensor.name}' for model '{request.model_name}'")
            shared[tensor.name] = span.region.read(span.offset, span.byte_size)
        if shared:
            self.request = _with_raw_inputs(request, shared)

    def _span(self, tensor, what: str) -> _Span | None:
        parameters = tensor.parameters
        region_name = _parameter(parameters, REGION, "string_param", what)
        offset = _parameter(parameters, OFFSET, "int64_param", what)
        size = _parameter(parameters, BYTE_SIZE, "int64_param", what)
        if region_name is None:
            for key, value in ((OFFSET, offset), (BYTE_SIZE, size)):
                if value is not None:
                    raise InvalidRequestError(f"'{key}' can not be specified without '{REGION}' parameter for "
                                              f"tensor '{tensor.name}'")
            return None
        if size is None:
            raise InvalidRequestError(f"'{BYTE_SIZE}' must be specified along with '{REGION}' parameter for tensor "
                                      f"'{tensor.name}'")
        region = self._manager._pin(region_name)
        self._pinned.append(region)
        offset = offset or 0
        region.check_bounds(offset, size)
        return _Span(region, offset, size)

    def write_output(self, name: str, datatype: str, value) -> dict[str, object] | None:
        """Write an output that asked for shared memory into its region and return the parameters that describe
        it in the response; None for an output that travels in the response."""
        target = self._outputs.get(name)
        if target is None:
            return None
        raw = tensors.to_raw(value, datatype)
        if len(raw) > target.byte_size:
            raise InternalError(f"shared memory size specified with the request for output '{name}' "
                                f"({target.byte_size} bytes) should be at least {len(raw)} bytes to hold the results")
        target.region.write(target.offset, raw)
        described: dict[str, object] = {REGION: target.region.name, BYTE_SIZE: len(raw)}
        if target.offset:
            described[OFFSET] = target.offset
        return described


def _parameter(parameters, key: str, kind: str, what: str):
    if key not in parameters:
        return None
    value = parameters[key]
    if value.WhichOneof("parameter_choice") != kind:
        raise InvalidRequestError(f"invalid value type for '{key}' parameter for {what}, expected {kind}.")
    return getattr(value, kind)


def _with_raw_inputs(request, shared: dict[str, bytes]):
    """The request with every input's data as raw_input_contents: the shared ones read from their regions,
    the others as sent (typed contents are kept when the request also has raw ones, for validation to refuse)."""
    raw = list(request.raw_input_contents)
    carried = [t for t in request.inputs if t.name not in shared and not t.HasField("contents")]
    if raw and len(raw) != len(carried):
        raise InvalidRequestError(f"expected {len(carried)} raw_input_contents (one per input not in shared memory) "
                                  f"but got {len(raw)} for model '{request.model_name}'")
    rebuilt = pb.ModelInferRequest(model_name=request.model_name, model_version=request.model_version, id=request.id)
    for key, value in request.parameters.items():
        rebuilt.parameters[key].CopyFrom(value)
    rebuilt.outputs.extend(request.outputs)
    following = iter(raw)
    for tensor in request.inputs:
        copy = rebuilt.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        if tensor.name in shared:
            rebuilt.raw_input_contents.append(shared[tensor.name])
        elif tensor.HasField("contents") and raw:
            copy.contents.CopyFrom(tensor.contents)
        elif tensor.HasField("contents"):
            where = f"input '{tensor.name}' for model '{request.model_name}'"
            array = tensors.from_contents(tensor.contents, tensor.datatype, tensor.shape, where)
            rebuilt.raw_input_contents.append(tensors.to_raw(array, tensor.datatype))
        elif raw:
            rebuilt.raw_input_contents.append(next(following))
        elif tensors.element_count(tensor.shape) == 0:
            rebuilt.raw_input_contents.append(b"")
        else:
            raise InvalidRequestError(f"input '{tensor.name}' for model '{request.model_name}' has no data: set its "
                                      "contents or raw_input_contents, or its shared-memory parameters")
    return rebuilt


def json_parameters(parameters: dict, target, what: str) -> None:
    """Copy the shared-memory parameters of an HTTP tensor's JSON `parameters` into the protobuf map `target`."""
    for key in (REGION, BYTE_SIZE, OFFSET):
        if key not in parameters:
            continue
        value = parameters[key]
        if key == REGION:
            if not isinstance(value, str):
                raise InvalidRequestError(f"'{key}' of {what} must be a string, got {value!r}")
            target[key].string_param = value
        else:
            if type(value) is not int or value < 0:
                raise InvalidRequestError(f"'{key}' of {what} must be a non-negative integer, got {value!r}")
            target[key].int64_param = value
