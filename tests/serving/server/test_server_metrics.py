"""/metrics: Triton's metric names and labels, from the same counters as ModelStatistics."""

import urllib.request

import numpy as np
import pytest
import serverkit
from serverkit import infer_input
from tritonclient.utils import InferenceServerException

NAMES = ["nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
         "nv_inference_exec_count", "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
         "nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us",
         "nv_inference_compute_output_duration_us", "nv_inference_pending_request_count"]


def _scrape(port) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://{serverkit.HOST}:{port}/metrics", timeout=10).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def test_metrics_match_statistics(tmp_path):
    serverkit.write_model(tmp_path, "simple", serverkit.simple_model(), "max_batch_size: 8\n")
    with serverkit.running_server(tmp_path, metrics_port=0) as server, serverkit.client(server) as client:
        a = np.ones((4, 16), np.float32)
        for _ in range(3):
            client.infer("simple", [infer_input("INPUT0", a, "FP32"), infer_input("INPUT1", a, "FP32")])
        with pytest.raises(InferenceServerException):
            client.infer("simple", [infer_input("INPUT0", a, "FP32")])
        samples = _scrape(server.metrics_port)
        stats = client.get_inference_statistics("simple").model_stats[0]
    labels = '{model="simple",version="1"}'
    for name in NAMES:
        assert name + labels in samples, name
    assert samples["nv_inference_request_success" + labels] == stats.inference_stats.success.count == 3
    assert samples["nv_inference_request_failure" + labels] == stats.inference_stats.fail.count == 1
    assert samples["nv_inference_count" + labels] == stats.inference_count == 12
    assert samples["nv_inference_exec_count" + labels] == stats.execution_count == 3
    assert samples["nv_inference_compute_infer_duration_us" + labels] == stats.inference_stats.compute_infer.ns // 1000
    assert samples["nv_inference_pending_request_count" + labels] == 0
