"""Assemble the server: gRPC (inference service, grpc health, reflection), HTTP/REST and the metrics endpoint."""

from __future__ import annotations

import logging
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from serving.server.core import InferenceCore
from serving.server.http_frontend import MAX_INPUT_BYTES, HttpFrontend
from serving.server.metrics import serve_metrics
from serving.server.protocol import POOL, grpc_pb, pb
from serving.server.repository import ModelRepository
from serving.server.response_cache import ResponseCache
from serving.server.service import InferenceService

log = logging.getLogger("sardonyx.serve")

# Triton's limits: a default grpcio server refuses messages over 4 MiB.
MAX_MESSAGE_BYTES = 2**31 - 1
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


@dataclass
class ServerOptions:
    model_repository: str = "models"
    grpc_port: int = 8001  # 0: pick a free port (see InferenceServer.grpc_port)
    grpc_address: str = "0.0.0.0"
    metrics_port: int | None = 8002  # None: no metrics endpoint; 0: a free port
    # None: no HTTP/REST endpoint. sardonyx-serve (the CLI) serves it on 8000 by default, as Triton does;
    # in-process servers ask for it, so that tests and scripts never contend for a fixed port.
    http_port: int | None = None
    http_address: str = "0.0.0.0"
    http_max_input_bytes: int = MAX_INPUT_BYTES
    device: str = "cpu"
    model_control_mode: str = "none"
    load_models: list[str] = field(default_factory=list)
    repository_poll_secs: float = 15.0
    default_max_batch_size: int = 4
    max_message_bytes: int = MAX_MESSAGE_BYTES
    strict_readiness: bool = True  # Triton's default: ready only while every model tried serves
    threads: int = 64  # gRPC handler threads: the most requests in flight at once
    shutdown_timeout: float = 30.0  # seconds in-flight requests get to finish at stop()
    response_cache_bytes: int = 0  # Triton's --cache-config local,size=N; 0: no response cache


class InferenceServer:
    def __init__(self, options: ServerOptions):
        self.options = options
        self.repository = ModelRepository(options.model_repository, options.device, options.model_control_mode,
                                          options.default_max_batch_size, options.shutdown_timeout)
        cache = ResponseCache(options.response_cache_bytes) if options.response_cache_bytes > 0 else None
        self.core = InferenceCore(self.repository, self.is_ready, response_cache=cache)
        self.service = InferenceService(self.core)
        self.health = health.HealthServicer()
        self._started = False
        limit = options.max_message_bytes
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=options.threads, thread_name_prefix="grpc"),
            options=[("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)])
        grpc_pb.add_GRPCInferenceServiceServicer_to_server(self.service, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        _add_reflection(self._server)
        self.grpc_port = self._server.add_insecure_port(f"{options.grpc_address}:{options.grpc_port}")
        if self.grpc_port == 0:
            raise OSError(f"cannot listen on {options.grpc_address}:{options.grpc_port} (port in use?)")
        self._http: HttpFrontend | None = None
        if options.http_port is not None:
            self._http = HttpFrontend(self.core, options.http_port, options.http_address, options.http_max_input_bytes)
        self.http_port = self._http.port if self._http is not None else None
        self.metrics_port: int | None = None
        self._metrics = None
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None

    def start(self) -> None:
        """Load the models the control mode asks for, then serve; health turns SERVING once ready.

        With strict readiness (Triton's default) the server is ready, and health SERVING, only while
        every model it tried to load has a version serving.
        """
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self._server.start()
        if self._http is not None:
            self._http.start()
        if self.options.metrics_port is not None:
            self._metrics = serve_metrics(self.repository, self.options.metrics_port,
                                          self.options.grpc_address)
            self.metrics_port = self._metrics[0].server_port
        self.repository.load_initial(self.options.load_models)
        if self.options.model_control_mode == "poll":
            self._poller = threading.Thread(target=self._poll, name="repository-poll", daemon=True)
            self._poller.start()
        self._started = True
        self.repository.on_change = self._refresh_health
        self._refresh_health()
        log.info("serving gRPC on %s:%d%s%s", self.options.grpc_address, self.grpc_port,
                 f", HTTP on {self.options.http_address}:{self.http_port}" if self._http is not None else "",
                 f", metrics on :{self.metrics_port}/metrics" if self.metrics_port else "")

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting requests, let in-flight ones finish (at most `timeout` s), unload the models."""
        timeout = self.options.shutdown_timeout if timeout is None else timeout
        self._stopping.set()
        self.health.enter_graceful_shutdown()
        deadline = time.monotonic() + timeout
        if self._http is not None:
            self._http.stop_accepting()
        self._server.stop(grace=timeout).wait()
        if self._http is not None:  # its requests in flight had the same grace, running beside gRPC's
            self._http.wait(max(0.0, deadline - time.monotonic()))
        if self._poller is not None:
            self._poller.join()
        self.repository.close()
        self.core.shared_memory.close()
        if self._metrics is not None:
            self._metrics[0].shutdown()
            self._metrics[0].server_close()
        log.info("server stopped")

    def wait(self) -> None:
        self._server.wait_for_termination()

    def is_ready(self) -> bool:
        if not self._started or self._stopping.is_set():
            return False
        return self.repository.all_ready() if self.options.strict_readiness else True

    def _refresh_health(self) -> None:
        status = health_pb2.HealthCheckResponse
        self._set_health(status.SERVING if self.is_ready() else status.NOT_SERVING)

    def _set_health(self, status) -> None:
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def _poll(self) -> None:
        while not self._stopping.wait(self.options.repository_poll_secs):
            self.repository.poll()


def _add_reflection(server) -> None:
    """Reflection answers from our descriptor pool, which also has to know health and reflection."""
    for module in (health_pb2, reflection_pb2):
        try:
            POOL.FindFileByName(module.DESCRIPTOR.name)
        except KeyError:
            POOL.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    names = (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server, pool=POOL)
