"""Prometheus metrics in Triton's names and labels, read from the same counters as ModelStatistics.

Triton exposes its counters without the `_total` suffix prometheus-client adds to counter
families, and dashboards built for Triton query those exact names; so the families here are
untyped, which keeps the names exactly as Triton's.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric

# (name, help, value of a ModelStats snapshot)
_FAMILIES = (
    ("nv_inference_request_success", "Number of successful inference requests, all batch sizes",
     lambda s: s.phases["success"].count),
    ("nv_inference_request_failure", "Number of failed inference requests, all batch sizes",
     lambda s: s.phases["fail"].count),
    ("nv_inference_count", "Number of inferences performed (a batch of n counts n)", lambda s: s.inference_count),
    ("nv_inference_exec_count", "Number of model executions performed (a dynamic batch counts one)",
     lambda s: s.execution_count),
    ("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds",
     lambda s: (s.phases["success"].ns + s.phases["fail"].ns) // 1000),
    ("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds",
     lambda s: s.phases["queue"].ns // 1000),
    ("nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds",
     lambda s: s.phases["compute_input"].ns // 1000),
    ("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds",
     lambda s: s.phases["compute_infer"].ns // 1000),
    ("nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds",
     lambda s: s.phases["compute_output"].ns // 1000),
)

# Triton's per-model response cache families, reported for the models whose config enables the cache.
_CACHE_FAMILIES = (
    ("nv_cache_num_hits_per_model", "Number of response cache hits per model", lambda s: s.phases["cache_hit"].count),
    ("nv_cache_num_misses_per_model", "Number of response cache misses per model",
     lambda s: s.phases["cache_miss"].count),
    ("nv_cache_hit_duration_per_model", "Total cache hit duration per model, in microseconds",
     lambda s: s.phases["cache_hit"].ns // 1000),
    ("nv_cache_miss_duration_per_model", "Total cache miss (insert + lookup) duration per model, in microseconds",
     lambda s: s.phases["cache_miss"].ns // 1000),
)


# (name, help, value of a ModelVersion) for what is read live rather than counted
_GAUGES = (
    ("nv_inference_pending_request_count", "Instantaneous number of pending requests awaiting execution",
     lambda m: m.scheduler.pending),
)


class RepositoryCollector:
    """A prometheus-client collector over every loaded model version of a repository."""

    def __init__(self, repository):
        self._repository = repository

    def collect(self):
        models = self._repository.loaded()
        snapshots = [(m.name, str(m.version), m.stats.snapshot()) for m in models]
        for name, documentation, value in _FAMILIES:
            family = Metric(name, documentation, "unknown")
            for model, version, stats in snapshots:
                family.add_sample(name, {"model": model, "version": version}, value(stats))
            yield family
        cached = [(m.name, str(m.version), stats) for m, (_, _, stats) in zip(models, snapshots)
                  if m.config.response_cache.enable]
        for name, documentation, value in _CACHE_FAMILIES:
            family = Metric(name, documentation, "unknown")
            for model, version, stats in cached:
                family.add_sample(name, {"model": model, "version": version}, value(stats))
            yield family
        for name, documentation, value in _GAUGES:
            family = Metric(name, documentation, "gauge")
            for model in models:
                family.add_sample(name, {"model": model.name, "version": str(model.version)}, value(model))
            yield family


def serve_metrics(repository, port: int, address: str = "0.0.0.0"):
    """Start the /metrics HTTP endpoint; returns (http server, thread) for shutdown."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RepositoryCollector(repository))
    return start_http_server(port, addr=address, registry=registry)
