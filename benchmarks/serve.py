"""Load-test sardonyx-serve with Triton's own client: throughput and p50/p99 latency.

    python benchmarks/serve.py [--duration 5] [--concurrency 1 8 32]

Builds a model repository in a temporary folder (the seed MNIST CNN exported by torch, one
1x28x28 image per request, and Triton's `simple` add/sub model on 16-float tensors), each with
and without dynamic batching; starts `sardonyx-serve` on it in its own process; drives it from
threads of `tritonclient.grpc` clients, checking every result; and runs the same models
in-process with `InferenceSession.run` for the serving overhead (and once at batch 32: the most any
batching can gain). Prints a table and the two figures the issue asks for: dynamic batching's
throughput gain at concurrency 32 and the p50 overhead over in-process `run` at concurrency 1, beside
the p50 of an empty RPC (`ServerLive`), the floor under that overhead, and the RPC ceiling: `simple`'s
unbatched throughput at the top concurrency, which no batching of the CNN can exceed on the same machine, and
the in-process gain of running a batch at once, which is all that batching saves.

Server and clients share the machine; `--blas-threads` is passed to sardonyx-serve (see its help).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import runpy
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

UNBATCHED = "max_batch_size: 32\n"
BATCHED = "max_batch_size: 32\ndynamic_batching { max_queue_delay_microseconds: 2000 }\n"


def mnist_cnn_onnx() -> bytes:
    """The seed MNIST CNN (PyTorch's MNIST example), exported with a dynamic batch dimension."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            return F.log_softmax(self.fc2(F.relu(self.fc1(torch.flatten(x, 1)))), dim=1)

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.onnx.export(Net().eval(), torch.zeros(1, 1, 28, 28), buffer, dynamo=False, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return buffer.getvalue()


def simple_onnx() -> bytes:
    """The default repository's `simple` model, from the script that made it."""
    namespace = runpy.run_path(str(ROOT / "models" / "generate.py"))
    return namespace["simple_model"]().SerializeToString()


class Workload:
    """A model on the wire: how to build its request inputs and which output to check."""

    def __init__(self, name: str, onnx_bytes: bytes, inputs: dict[str, np.ndarray], output: str):
        self.name, self.onnx, self.inputs, self.output = name, onnx_bytes, inputs, output


def workloads() -> list[Workload]:
    rng = np.random.default_rng(0)
    return [
        Workload("mnist_cnn", mnist_cnn_onnx(), {"input": rng.random((1, 1, 28, 28), dtype=np.float32)}, "output"),
        Workload("simple", simple_onnx(), {"INPUT0": rng.standard_normal((1, 16)).astype(np.float32),
                                           "INPUT1": rng.standard_normal((1, 16)).astype(np.float32)}, "OUTPUT0"),
    ]


def write_repository(root: Path, loads: list[Workload]) -> None:
    for load in loads:
        for suffix, config in (("", UNBATCHED), ("_batched", BATCHED)):
            folder = root / f"{load.name}{suffix}"
            (folder / "1").mkdir(parents=True)
            (folder / "1" / "model.onnx").write_bytes(load.onnx)
            (folder / "config.pbtxt").write_text(config)


@contextlib.contextmanager
def running_server(repository: Path, blas_threads: int):
    command = [sys.executable, "-m", "serving.server.cli", "--model-repository", str(repository), "--grpc-port", "0",
               "--grpc-address", HOST, "--allow-http", "false", "--metrics-port", "-1", "--log-level", "warning",
               "--blas-threads", str(blas_threads)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if not line.startswith("sardonyx-serve ready:"):
            raise RuntimeError(f"sardonyx-serve did not start: {line!r}")
        yield int(line.split()[3])
    finally:
        process.terminate()
        process.wait(60)


def _summary(latencies: list[float], elapsed: float, errors: int) -> dict:
    ms = np.asarray(latencies) * 1e3
    return {"throughput": len(latencies) / elapsed, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "requests": len(latencies), "errors": errors}


def _matches(result, output: str, expected: np.ndarray) -> bool:
    """Whether a response (None for a failed request) carries `output` equal to the in-process result."""
    value = None if result is None else result.as_numpy(output)
    return value is not None and value.shape == expected.shape and np.allclose(value, expected, rtol=1e-4, atol=1e-5)


def drive(port: int, model: str, load: Workload, expected: np.ndarray, concurrency: int, duration: float) -> dict:
    """`concurrency` threads, one client each, sending one request after another for `duration` s."""
    import tritonclient.grpc as grpcclient

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    clock = {}

    def start_clock():  # runs once every client is warm, before any is released
        clock["began"] = time.perf_counter()
        clock["stop"] = clock["began"] + duration

    start_line = threading.Barrier(concurrency + 1, action=start_clock)

    def worker():
        with grpcclient.InferenceServerClient(f"{HOST}:{port}") as client:
            inputs = []
            for name, array in load.inputs.items():
                tensor = grpcclient.InferInput(name, list(array.shape), "FP32")
                tensor.set_data_from_numpy(array)
                inputs.append(tensor)
            client.infer(model, inputs)  # warm the connection before the clock starts
            start_line.wait()
            mine, bad = [], 0
            while time.perf_counter() < clock["stop"]:
                t0 = time.perf_counter()
                try:
                    result = client.infer(model, inputs)
                except Exception:  # counted: the run reports every failed request
                    result = None
                mine.append(time.perf_counter() - t0)  # the round trip; the result check is the client's own work
                bad += not _matches(result, load.output, expected)
            with lock:
                latencies.extend(mine)
                errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    start_line.wait()
    for thread in threads:
        thread.join()
    return _summary(latencies, time.perf_counter() - clock["began"], errors[0])


def empty_rpc_p50_ms(port: int, calls: int = 2000) -> float:
    """p50 of `ServerLive`, an RPC with no work behind it: the floor that gRPC in Python and the client
    put under every request on this machine, which no server-side change can go below."""
    import tritonclient.grpc as grpcclient

    with grpcclient.InferenceServerClient(f"{HOST}:{port}") as client:
        client.is_server_live()
        latencies = []
        for _ in range(calls):
            t0 = time.perf_counter()
            client.is_server_live()
            latencies.append(time.perf_counter() - t0)
    return float(np.percentile(np.asarray(latencies) * 1e3, 50))


def in_process(load: Workload, duration: float, batch: int = 1) -> tuple[dict, np.ndarray]:
    """`InferenceSession.run` on one thread; with `batch` > 1 the request is repeated along the batch
    dimension and throughput counts elements, the ceiling any batching can reach."""
    from serving import InferenceSession

    session = InferenceSession(load.onnx)
    names = [o.name for o in session.get_outputs()]
    feeds = {name: np.concatenate([array] * batch) for name, array in load.inputs.items()}
    expected = session.run(None, load.inputs)[names.index(load.output)]
    latencies, began = [], time.perf_counter()
    while time.perf_counter() - began < duration:
        t0 = time.perf_counter()
        session.run(None, feeds)
        latencies.append(time.perf_counter() - t0)
    stats = _summary(latencies, time.perf_counter() - began, 0)
    stats["throughput"] *= batch
    return stats, expected


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="sardonyx-serve's --blas-threads, and the same limit for the in-process runs (default 1; "
                             "0: the BLAS library's own choice)")
    args = parser.parse_args(argv)
    if args.blas_threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")  # the in-process baseline runs as the server
    loads = workloads()
    rows, errors = [], 0
    baseline = {}
    for load in loads:
        stats, expected = in_process(load, args.duration)
        baseline[load.name] = (stats, expected)
        rows.append((load.name, "in-process run", 1, stats))
        top = max(args.concurrency)
        batched_stats = in_process(load, args.duration, top)[0]
        rows.append((load.name, f"in-process run, batch {top} (elements/s)", 1, batched_stats))
    with tempfile.TemporaryDirectory() as tmp:
        write_repository(Path(tmp), loads)
        with running_server(Path(tmp), args.blas_threads) as port:
            floor_ms = empty_rpc_p50_ms(port)
            for load in loads:
                for suffix, label in (("", "served, no batching"), ("_batched", "served, dynamic batching")):
                    for concurrency in args.concurrency:
                        stats = drive(port, load.name + suffix, load, baseline[load.name][1], concurrency,
                                      args.duration)
                        errors += stats["errors"]
                        rows.append((load.name, label, concurrency, stats))
                        print(f"  {load.name + suffix} c={concurrency}: {stats['throughput']:.0f} req/s", flush=True)
    print()
    print("| model | mode | concurrency | throughput (req/s) | p50 (ms) | p99 (ms) | requests | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, mode, concurrency, s in rows:
        print(f"| {model} | {mode} | {concurrency} | {s['throughput']:.1f} | {s['p50']:.2f} | {s['p99']:.2f} | "
              f"{s['requests']} | {s['errors']} |")
    table = {(m, mode, c): s for m, mode, c, s in rows}
    print()
    top = max(args.concurrency)
    for load in loads:
        batched = table[(load.name, "served, dynamic batching", top)]["throughput"]
        plain = table[(load.name, "served, no batching", top)]["throughput"]
        print(f"{load.name}: dynamic batching at concurrency {top}: {batched / plain:.2f}x the unbatched throughput")
        if 1 in args.concurrency:
            served = table[(load.name, "served, no batching", 1)]["p50"]
            local = table[(load.name, "in-process run", 1)]["p50"]
            print(f"{load.name}: p50 overhead over in-process run at concurrency 1: {served - local:.3f} ms "
                  f"({served:.3f} served vs {local:.3f} in-process)")
    print(f"an empty RPC (ServerLive) at concurrency 1: p50 {floor_ms:.3f} ms")
    # Batching saves compute only: its gain in-process bounds the served gain wherever both modes pay the same
    # per-request RPC cost on the same cores.
    for load in loads:
        one = table[(load.name, "in-process run", 1)]["throughput"]
        many = table[(load.name, f"in-process run, batch {top} (elements/s)", 1)]["throughput"]
        print(f"{load.name}: in-process throughput at batch {top} over batch 1: {many / one:.2f}x")
    # Every request pays its RPC however the model runs, so `simple` (next to no compute) served unbatched
    # at the top concurrency is the throughput no batching of a heavier model can exceed on this machine.
    ceiling = table[("simple", "served, no batching", top)]["throughput"]
    for load in loads:
        if load.name != "simple":
            plain = table[(load.name, "served, no batching", top)]["throughput"]
            print(f"{load.name}: RPC ceiling (simple, no batching, concurrency {top}): {ceiling:.0f} req/s, "
                  f"{ceiling / plain:.2f}x the unbatched throughput: the most any batching could give here")
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
