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

from serving.server import validation
from serving.server.config import wire_shape
from serving.server.dtypes import from_config
from serving.server.errors import InternalError, InvalidRequestError, ModelLoadError, ServerError, UnimplementedError
from serving.server.protocol import pb
from serving.server.stats import PHASES

log = logging.getLogger("sardonyx.serve")

try:
    VERSION = metadata.version("sardonyx")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    VERSION = "0.0.0"

EXTENSIONS = ["binary_tensor_data", "model_configuration", "model_repository", "schedule_policy", "statistics"]

# (output name, protocol datatype, value): what a front end encodes into its response.
Output = tuple[str, str, np.ndarray]


def unsupported(what: str) -> UnimplementedError:
    return UnimplementedError(f"sardonyx-serve does not support {what}")


class InferenceCore:
    def __init__(self, repository, server_ready: Callable[[], bool] = lambda: True, version: str = VERSION):
        self.repository = repository
        self.server_ready = server_ready
        self.version = version

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
            decoded = time.perf_counter_ns()
            results = model.infer(job)
            computed = time.perf_counter_ns()
            response = encode(model, _outputs(model, job, results))
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


def _outputs(model, job, results: dict[str, np.ndarray]) -> list[Output]:
    """The requested outputs in the shapes clients receive (a config's `reshape` undone)."""
    specs, outputs = model.schema.outputs, []
    for name in job.outputs:
        spec, value = specs[name], results[name]
        if spec.reshape is not None:
            value = value.reshape(model.schema.batch_dims(job.batch) + spec.reshape)
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
