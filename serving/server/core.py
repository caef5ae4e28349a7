"""What the gRPC and HTTP front ends share: every request of PROTOCOL.md answered over a ModelRepository.

Answers are the protocol's protobuf messages; the gRPC servicer returns them as they are and the HTTP
front end writes them as JSON. Errors are `ServerError`s, whose type names the status either front
end sends, so both answer a bad request with the same message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import metadata

import numpy as np

from serving.server import classification, validation
from serving.server.config import wire_shape
from serving.server.dtypes import from_config
from serving.server.errors import InternalError, InvalidRequestError, ModelLoadError, ServerError, UnimplementedError
from serving.server.protocol import pb
from serving.server.response_cache import ResponseCache, enabled_for
from serving.server.sequence_flags import read as sequence_flags
from serving.server.shared_memory import SystemSharedMemory
from serving.server.stats import PHASES

log = logging.getLogger("sardonyx.serve")

try:
    VERSION = metadata.version("sardonyx")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    VERSION = "0.0.0"

EXTENSIONS = ["binary_tensor_data", "model_configuration", "model_repository", "schedule_policy", "statistics",
              "system_shared_memory", "classification"]

# (output name, protocol datatype, value): what a front end encodes into its response.
Output = tuple[str, str, np.ndarray]


def unsupported(what: str) -> UnimplementedError:
    return UnimplementedError(f"sardonyx-serve does not support {what}")


class InferenceCore:
    def __init__(self, repository, server_ready: Callable[[], bool] = lambda: True, version: str = VERSION,
                 response_cache: ResponseCache | None = None):
        self.repository = repository
        self.response_cache = response_cache  # None: no --cache-config, so no model is cached
        self.server_ready = server_ready
        self.version = version
        self.shared_memory = SystemSharedMemory()  # the regions clients registered, which both front ends use

    # Health and metadata.

    def model_ready(self, name: str, version: str = "") -> bool:
        return self.repository.is_ready(name, version)

    def server_metadata(self):
        return pb.ServerMetadataResponse(name="sardonyx-serve", version=self.version, extensions=EXTENSIONS)

    def model_metadata(self, name: str, version: str = ""):
        model = self.repository.get(name, version)
        config = model.config
        versions = [str(m.version) for m in self.repository.loaded() if m.name == model.name]
        return pb.ModelMetadataResponse(
            name=model.name, versions=versions if not version else [str(model.version)],
            platform=config.platform,
            inputs=[_tensor_metadata(config, t) for t in config.input],
            outputs=[_tensor_metadata(config, t) for t in config.output])

    def model_config(self, name: str, version: str = ""):
        return self.repository.get(name, version).config

    # Inference.

    def infer(self, request, encode: Callable[[object, list[Output]], object]):
        """Run a ModelInferRequest; `encode(model, outputs)` builds the front end's response, timed as output."""
        start = time.perf_counter_ns()
        model = self.repository.get(request.model_name, request.model_version)
        try:
            job = validation.decode(request, model.schema)
            counts = classification.requested_counts(request)
            decoded = time.perf_counter_ns()
            key = self._cache_key(model, request, job, counts)
            cached = self.response_cache.lookup(key) if key is not None else None
            looked_up = time.perf_counter_ns()
            if cached is not None:
                response = encode(model, cached)
                model.stats.cache_hit(time.perf_counter_ns() - start, looked_up - decoded, job.batch)
                return response
            results = model.infer(job)
            computed = time.perf_counter_ns()
            outputs = _outputs(model, job, results, counts)
            if key is not None:
                inserting = time.perf_counter_ns()
                self.response_cache.insert(key, outputs)
                model.stats.cache_miss(looked_up - decoded + time.perf_counter_ns() - inserting)
            response = encode(model, outputs)
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

    def _cache_key(self, model, request, job, counts: dict[str, int]) -> bytes | None:
        """The request's response-cache key; None where no cached answer may stand in for running the model."""
        if self.response_cache is None or not enabled_for(model) or sequence_flags(request) is not None:
            return None  # a sequence request's result depends on the requests before it
        return self.response_cache.key(model, job.inputs, job.outputs, counts)

    # Statistics and repository control.

    def statistics(self, name: str = "", version: str = ""):
        if name:
            model = self.repository.get(name, version)
            models = [model] if version else [m for m in self.repository.loaded() if m.name == model.name]
        else:
            models = self.repository.loaded()
        return pb.ModelStatisticsResponse(model_stats=[_statistics(m) for m in models])

    def repository_index(self, repository_name: str = "", ready_only: bool = False):
        self._check_repository(repository_name)
        rows = self.repository.index(ready_only=ready_only)
        return pb.RepositoryIndexResponse(models=[
            pb.RepositoryIndexResponse.ModelIndex(name=n, version=v, state=s, reason=r) for n, v, s, r in rows])

    def load(self, model_name: str, parameters: dict[str, object], repository_name: str = "") -> None:
        """`parameters`: the load request's parameters as Python values (only `config`, a JSON ModelConfig)."""
        self._check_repository(repository_name)
        self.repository.require_explicit()
        config_json = None
        for key, value in parameters.items():
            if key != "config":
                raise InvalidRequestError(f"unsupported load parameter '{key}' for model '{model_name}' "
                                          "(sardonyx-serve accepts 'config', a JSON ModelConfig)")
            if not isinstance(value, str):
                raise InvalidRequestError(f"the 'config' load parameter for model '{model_name}' must be a string "
                                          f"holding a JSON ModelConfig, got {type(value).__name__}")
            config_json = value
        try:
            self.repository.load(model_name, config_json)
        except ModelLoadError as exc:
            raise InvalidRequestError(str(exc)) from exc

    def unload(self, model_name: str, repository_name: str = "") -> None:
        self._check_repository(repository_name)
        self.repository.require_explicit()
        self.repository.unload(model_name)

    def _check_repository(self, name: str) -> None:
        # Triton takes a repository name when it serves several; ours serves one, named by its folder.
        if name and name != self.repository.root.name:
            raise UnimplementedError(
                f"unknown repository '{name}': this server serves only '{self.repository.root.name}'")


def _tensor_metadata(config, tensor):
    return pb.ModelMetadataResponse.TensorMetadata(
        name=tensor.name, datatype=from_config(tensor.data_type), shape=wire_shape(config, tensor))


def _outputs(model, job, results: dict[str, np.ndarray], counts: dict[str, int]) -> list[Output]:
    """The requested outputs in the shapes clients receive (a config's `reshape` undone), classified if asked."""
    specs, outputs = model.schema.outputs, []
    for name in job.outputs:
        spec, value = specs[name], results[name]
        if spec.reshape is not None:
            value = value.reshape(model.schema.batch_dims(job.batch) + spec.reshape)
        if name in counts:
            value = classification.classify(value, spec.datatype, counts[name], model.schema.max_batch_size > 0,
                                            model.labels.get(name, []))
            outputs.append((name, "BYTES", value))
        else:
            outputs.append((name, spec.datatype, value))
    return outputs


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
