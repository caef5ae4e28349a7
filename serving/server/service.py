"""The `inference.GRPCInferenceService` servicer: every RPC of PROTOCOL.md, answered by the shared InferenceCore."""

from __future__ import annotations

import functools
import logging

import grpc

from serving.server import tensors
from serving.server.core import InferenceCore, unsupported
from serving.server.errors import ServerError
from serving.server.protocol import grpc_pb, pb

log = logging.getLogger("sardonyx.serve")


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
        error = unsupported(what)
        context.abort(error.code, error.message)

    method.__name__ = what
    return method


class InferenceService(grpc_pb.GRPCInferenceServiceServicer):
    def __init__(self, core: InferenceCore):
        self.core = core

    # Health and metadata.

    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self.core.server_ready())

    @_rpc
    def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=self.core.model_ready(request.name, request.version))

    def ServerMetadata(self, request, context):
        return self.core.server_metadata()

    @_rpc
    def ModelMetadata(self, request, context):
        return self.core.model_metadata(request.name, request.version)

    @_rpc
    def ModelConfig(self, request, context):
        return pb.ModelConfigResponse(config=self.core.model_config(request.name, request.version))

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
        with self.core.shared_memory.bind(request) as shared:
            return self.core.infer(shared.request, functools.partial(_response, request, shared))

    # Statistics and repository control.

    @_rpc
    def ModelStatistics(self, request, context):
        return self.core.statistics(request.name, request.version)

    @_rpc
    def RepositoryIndex(self, request, context):
        return self.core.repository_index(request.repository_name, request.ready)

    @_rpc
    def RepositoryModelLoad(self, request, context):
        parameters = {key: getattr(value, value.WhichOneof("parameter_choice") or "string_param")
                      for key, value in request.parameters.items()}
        self.core.load(request.model_name, parameters, request.repository_name)
        return pb.RepositoryModelLoadResponse()

    @_rpc
    def RepositoryModelUnload(self, request, context):
        self.core.unload(request.model_name, request.repository_name)
        return pb.RepositoryModelUnloadResponse()

    # System shared memory.

    @_rpc
    def SystemSharedMemoryStatus(self, request, context):
        return self.core.shared_memory.status(request.name)

    @_rpc
    def SystemSharedMemoryRegister(self, request, context):
        self.core.shared_memory.register(request.name, request.key, request.offset, request.byte_size)
        return pb.SystemSharedMemoryRegisterResponse()

    @_rpc
    def SystemSharedMemoryUnregister(self, request, context):
        self.core.shared_memory.unregister(request.name)
        return pb.SystemSharedMemoryUnregisterResponse()

    CudaSharedMemoryStatus = _unimplemented("CUDA shared memory")
    CudaSharedMemoryRegister = _unimplemented("CUDA shared memory")
    CudaSharedMemoryUnregister = _unimplemented("CUDA shared memory")
    TraceSetting = _unimplemented("trace settings")
    LogSettings = _unimplemented("log settings")


def _response(request, shared, model, outputs):
    response = pb.ModelInferResponse(model_name=model.name, model_version=str(model.version), id=request.id)
    for name, datatype, value in outputs:
        tensor = response.outputs.add(name=name, datatype=datatype, shape=value.shape)
        placed = shared.write_output(name, datatype, value)
        if placed is None:
            response.raw_output_contents.append(tensors.to_raw(value, datatype))
            continue
        for key, parameter in placed.items():
            if isinstance(parameter, str):
                tensor.parameters[key].string_param = parameter
            else:
                tensor.parameters[key].int64_param = parameter
        # An empty entry keeps raw_output_contents in step with outputs, as Triton does.
        response.raw_output_contents.append(b"")
    return response
