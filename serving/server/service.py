"""The `inference.GRPCInferenceService` servicer: every RPC of PROTOCOL.md over a ModelRepository."""

from __future__ import annotations

import functools
import logging
import time
from importlib import metadata

import grpc
import numpy as np

from serving.server import tensors, validation
from serving.server.config import wire_shape
from serving.server.dtypes import from_config
from serving.server.errors import InternalError, InvalidRequestError, ModelLoadError, ServerError, UnimplementedError
from serving.server.protocol import grpc_pb, pb
from serving.server.stats import PHASES

log = logging.getLogger("sardonyx.serve")

try:
    VERSION = metadata.version("sardonyx")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    VERSION = "0.0.0"

EXTENSIONS = ["model_configuration", "model_repository", "schedule_policy", "statistics"]


def _rpc(method):
    """Turn a ServerError into the gRPC status its type names; anything else is INTERNAL, logged once."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except ServerError as exc:
            context.abort(exc.code, exc.message)
        except Exception as exc:
            log.exception("unexpected error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")

    return wrapper


def _unimplemented(what: str):
    def method(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"sardonyx-serve does not support {what}")

    method.__name__ = what
    return method


class InferenceService(grpc_pb.GRPCInferenceServiceServicer):
    def __init__(self, repository, server_ready=lambda: True, version: str = VERSION):
        self._repository = repository
        self._server_ready = server_ready
        self._version = version

    # Health and metadata.

    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self._server_ready())

    @_rpc
    def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=self._repository.is_ready(request.name, request.version))

    def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name="sardonyx-serve", version=self._version, extensions=EXTENSIONS)

    @_rpc
    def ModelMetadata(self, request, context):
        model = self._repository.get(request.name, request.version)
        config = model.config
        versions = [str(m.version) for m in self._repository.loaded() if m.name == model.name]
        return pb.ModelMetadataResponse(
            name=model.name, versions=versions if not request.version else [str(model.version)],
            platform=config.platform,
            inputs=[_tensor_metadata(config, t) for t in config.input],
            outputs=[_tensor_metadata(config, t) for t in config.output])

    @_rpc
    def ModelConfig(self, request, context):
        return pb.ModelConfigResponse(config=self._repository.get(request.name, request.version).config)

    # Inference.

    def ModelInfer(self, request, context):
        try:
            return self._infer(request)
        except ServerError as exc:
            context.abort(exc.code, exc.message)

    def ModelStreamInfer(self, request_iterator, context):
        # Errors travel in error_message so one bad request does not end the stream.
        for request in request_iterator:
            try:
                response = self._infer(request)
                flag = request.parameters.get("triton_enable_empty_final_response")
                if flag is not None and flag.bool_param:
                    # Our models answer once per request, so that one response is also the final one.
                    response.parameters["triton_final_response"].bool_param = True
                yield pb.ModelStreamInferResponse(infer_response=response)
            except ServerError as exc:
                yield pb.ModelStreamInferResponse(error_message=exc.message)
            except Exception as exc:
                log.exception("unexpected error in ModelStreamInfer")
                yield pb.ModelStreamInferResponse(error_message=f"{type(exc).__name__}: {exc}")

    def _infer(self, request):
        start = time.perf_counter_ns()
        model = self._repository.get(request.model_name, request.model_version)
        try:
            job = validation.decode(request, model.schema)
            decoded = time.perf_counter_ns()
            results = model.infer(job)
            computed = time.perf_counter_ns()
            response = _response(request, model, job, results)
        except ServerError as exc:
            model.stats.request_done(False, time.perf_counter_ns() - start)
            if isinstance(exc, InternalError):  # the client's own mistakes and overload are not the server's errors
                log.error("model '%s': %s", model.name, exc.message)
            raise
        except Exception as exc:
            model.stats.request_done(False, time.perf_counter_ns() - start)
            log.exception("unexpected error serving model '%s'", model.name)
            raise ServerError(f"{type(exc).__name__}: {exc}") from exc
        end = time.perf_counter_ns()
        queue_ns = max(0, job.started_ns - job.enqueued_ns)
        model.stats.request_done(True, end - start, job.batch, queue_ns, decoded - start, job.infer_ns, end - computed)
        return response

    # Statistics and repository control.

    @_rpc
    def ModelStatistics(self, request, context):
        if request.name:
            model = self._repository.get(request.name, request.version)
            models = [model] if request.version else [m for m in self._repository.loaded() if m.name == model.name]
        else:
            models = self._repository.loaded()
        return pb.ModelStatisticsResponse(model_stats=[_statistics(m) for m in models])

    @_rpc
    def RepositoryIndex(self, request, context):
        self._check_repository(request.repository_name)
        rows = self._repository.index(ready_only=request.ready)
        return pb.RepositoryIndexResponse(models=[
            pb.RepositoryIndexResponse.ModelIndex(name=n, version=v, state=s, reason=r) for n, v, s, r in rows])

    @_rpc
    def RepositoryModelLoad(self, request, context):
        self._check_repository(request.repository_name)
        self._repository.require_explicit()
        config_json = None
        for key, value in request.parameters.items():
            if key == "config":
                config_json = value.string_param
            else:
                raise InvalidRequestError(f"unsupported load parameter '{key}' for model '{request.model_name}' "
                                          "(sardonyx-serve accepts 'config', a JSON ModelConfig)")
        try:
            self._repository.load(request.model_name, config_json)
        except ModelLoadError as exc:
            raise InvalidRequestError(str(exc)) from exc
        return pb.RepositoryModelLoadResponse()

    @_rpc
    def RepositoryModelUnload(self, request, context):
        self._check_repository(request.repository_name)
        self._repository.require_explicit()
        self._repository.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()

    def _check_repository(self, name: str) -> None:
        # Triton takes a repository name when it serves several; ours serves one, named by its folder.
        if name and name != self._repository.root.name:
            raise UnimplementedError(
                f"unknown repository '{name}': this server serves only '{self._repository.root.name}'")

    SystemSharedMemoryStatus = _unimplemented("system shared memory")
    SystemSharedMemoryRegister = _unimplemented("system shared memory")
    SystemSharedMemoryUnregister = _unimplemented("system shared memory")
    CudaSharedMemoryStatus = _unimplemented("CUDA shared memory")
    CudaSharedMemoryRegister = _unimplemented("CUDA shared memory")
    CudaSharedMemoryUnregister = _unimplemented("CUDA shared memory")
    TraceSetting = _unimplemented("trace settings")
    LogSettings = _unimplemented("log settings")


def _tensor_metadata(config, tensor):
    return pb.ModelMetadataResponse.TensorMetadata(
        name=tensor.name, datatype=from_config(tensor.data_type), shape=wire_shape(config, tensor))


def _response(request, model, job, results: dict[str, np.ndarray]):
    specs = model.schema.outputs
    response = pb.ModelInferResponse(model_name=model.name, model_version=str(model.version), id=request.id)
    for name in job.outputs:
        spec, value = specs[name], results[name]
        if spec.reshape is not None:
            value = value.reshape(model.schema.batch_dims(job.batch) + spec.reshape)
        response.outputs.add(name=name, datatype=spec.datatype, shape=value.shape)
        response.raw_output_contents.append(tensors.to_raw(value, spec.datatype))
    return response


def _statistics(model):
    stats = model.stats.snapshot()
    infer = pb.InferStatistics(**{phase: pb.StatisticDuration(count=stats.phases[phase].count,
                                                              ns=stats.phases[phase].ns) for phase in PHASES})
    batches = [pb.InferBatchStatistics(
        batch_size=size,
        compute_input=pb.StatisticDuration(count=b.compute_input.count, ns=b.compute_input.ns),
        compute_infer=pb.StatisticDuration(count=b.compute_infer.count, ns=b.compute_infer.ns),
        compute_output=pb.StatisticDuration(count=b.compute_output.count, ns=b.compute_output.ns))
        for size, b in sorted(stats.batches.items())]
    return pb.ModelStatistics(name=model.name, version=str(model.version), last_inference=stats.last_inference_ms,
                              inference_count=stats.inference_count, execution_count=stats.execution_count,
                              inference_stats=infer, batch_stats=batches)
