"""`sardonyx-serve` as a process: startup logs, metrics over HTTP, and a graceful SIGTERM."""

import contextlib
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import serverkit
import tritonclient.grpc as grpcclient
from serverkit import infer_input

ROOT = Path(__file__).resolve().parents[3]


@contextlib.contextmanager
def serve_process(repo, *args):
    """Start the CLI on free ports, yield (process, grpc port, metrics port, log lines); always ends it."""
    command = [sys.executable, "-m", "serving.server.cli", "--model-repository", str(repo), "--grpc-port", "0",
               "--grpc-address", serverkit.HOST, "--metrics-port", "0", "--http-port", "0", *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        while True:
            line = process.stdout.readline()
            assert line, f"server exited before it was ready: {''.join(lines)}"
            lines.append(line)
            if line.startswith("sardonyx-serve ready:"):
                _, grpc_port, _, metrics_port = line.split(":", 1)[1].split()
                break
            assert time.monotonic() < deadline, "server did not become ready"
        # Keep draining the log so the process never blocks on a full pipe.
        reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
        reader.start()
        yield process, int(grpc_port), int(metrics_port), lines
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_startup_logs_each_model_and_each_error_once(tmp_path):
    serverkit.write_model(tmp_path, "good", serverkit.add_model(1.0))
    serverkit.write_model(tmp_path, "broken", b"garbage")
    with serve_process(tmp_path, "--log-level", "info") as (process, port, metrics_port, lines):
        with grpcclient.InferenceServerClient(f"{serverkit.HOST}:{port}") as client:
            assert client.is_model_ready("good") and not client.is_model_ready("broken")
            client.infer("good", [infer_input("x", np.zeros((3, 4), np.float32), "FP32")])
        text = urllib.request.urlopen(f"http://{serverkit.HOST}:{metrics_port}/metrics", timeout=10).read().decode()
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    log = "".join(lines)
    assert "successfully loaded model 'good' version 1" in log
    errors = [line for line in lines if " ERROR " in line]
    assert len(errors) == 1 and "failed to load 'broken' version 1" in errors[0]
    assert 'nv_inference_count{model="good",version="1"} 3.0' in text
    assert 'nv_inference_exec_count{model="good",version="1"} 1.0' in text
    assert 'nv_inference_request_success{model="good",version="1"} 1.0' in text


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish_and_exits_0(tmp_path):
    steps = 96  # about half a second per request on one core, so all are caught in flight
    serverkit.write_model(tmp_path, "slow", serverkit.slow_model(steps=steps), "max_batch_size: 512\n")
    x = np.full((256, 1024), 0.1, np.float32)
    expected = x
    for _ in range(steps):
        expected = np.tanh(expected @ (np.eye(1024, dtype=np.float32) * 0.5))
    with serve_process(tmp_path) as (process, port, _, lines):
        def one_request(_):
            with grpcclient.InferenceServerClient(f"{serverkit.HOST}:{port}") as client:
                return client.infer("slow", [infer_input("x", x, "FP32")]).as_numpy("y")

        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(one_request, i) for i in range(3)]
            time.sleep(0.3)  # all three have arrived: one running, two waiting for the instance
            assert not any(f.done() for f in futures), [f.exception() for f in futures if f.done()]
            process.send_signal(signal.SIGTERM)
            results = [f.result(60) for f in futures]
        assert process.wait(60) == 0
    for y in results:
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert "signal received: finishing in-flight requests" in "".join(lines)


def test_the_server_imports_nothing_of_the_training_side_or_the_client():
    code = ("import serving.server.cli, sys\n"
            "loaded = sorted({'trainer', 'exporter', 'torch', 'tritonclient'} & set(sys.modules))\n"
            "assert not loaded, f'sardonyx-serve imported {loaded}'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
