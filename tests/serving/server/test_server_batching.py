"""Scheduling: the dynamic batcher's batches, its queue limit, and concurrent load through the server."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import serverkit
import tritonclient.grpc as grpcclient
from serverkit import infer_input

from serving.server.errors import UnavailableError
from serving.server.queue_policy import Policies, QueuePolicy
from serving.server.scheduler import DynamicBatcher, Instance, Job
from serving.server.stats import ModelStats


class _RecordingSession:
    """Stands in for an InferenceSession: y = x * 2, remembering each batch size; can be held back."""

    def __init__(self):
        self.batches = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def run(self, outputs, feeds):
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(feeds["x"]))
        return [feeds["x"] * 2]


def _until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the batcher did not get there in time"
        time.sleep(0.002)


def _batcher(session, **kwargs):
    kwargs.setdefault("max_batch_size", 8)
    return DynamicBatcher("m", [Instance("m_0", session)], ModelStats(), **kwargs)


def _submit(batcher, pool, rows, width=3):
    x = np.arange(rows * width, dtype=np.float32).reshape(rows, width)
    return x, pool.submit(batcher.infer, Job(inputs={"x": x}, outputs=["y"], batch=rows))


def test_batches_are_concatenated_run_once_and_split():
    session = _RecordingSession()
    batcher = _batcher(session, max_queue_delay_us=200_000)
    with ThreadPoolExecutor(8) as pool:
        sent = [_submit(batcher, pool, rows) for rows in (1, 2, 3, 2)]  # 8 rows: a full batch ends the wait
        for x, future in sent:
            np.testing.assert_array_equal(future.result(5)["y"], x * 2)
    batcher.close(5)
    assert session.batches == [8]


def test_preferred_batch_size_and_incompatible_shapes():
    session = _RecordingSession()
    batcher = _batcher(session, max_queue_delay_us=300_000, preferred_batch_sizes=[2, 4])
    session.gate.clear()  # hold the instance so everything below queues up
    with ThreadPoolExecutor(8) as pool:
        first = _submit(batcher, pool, 1)
        rest = [_submit(batcher, pool, 1) for _ in range(5)]
        session.entered.wait(5)  # the first 4 rows run (held) ...
        _until(lambda: batcher.pending == 2)  # ... and two width-3 jobs wait
        rest.append(_submit(batcher, pool, 1, width=5))
        _until(lambda: batcher.pending == 3)
        session.gate.set()
        for x, future in [first] + rest:
            np.testing.assert_array_equal(future.result(5)["y"], x * 2)
    batcher.close(5)
    # Gathering stops as soon as the largest preferred size (4) is queued; after the delay the largest
    # preferred size the rest can fill (2) goes next; the width-5 job never joins a width-3 batch.
    assert session.batches == [4, 2, 1]


def test_full_queue_rejects_clearly():
    session = _RecordingSession()
    session.gate.clear()
    batcher = _batcher(session, policies=Policies(default=QueuePolicy(max_queue_size=2)))
    with ThreadPoolExecutor(8) as pool:
        running = _submit(batcher, pool, 1)
        session.entered.wait(5)  # the first job is taken by the instance, which is held
        queued = [_submit(batcher, pool, 1) for _ in range(2)]
        _until(lambda: batcher.pending == 2)
        with pytest.raises(UnavailableError, match="Exceeds maximum queue size"):
            batcher.infer(Job(inputs={"x": np.zeros((1, 3), np.float32)}, outputs=["y"], batch=1))
        session.gate.set()
        for _, future in [running] + queued:
            future.result(5)
    batcher.close(5)


def test_close_runs_the_queued_jobs():
    session = _RecordingSession()
    session.gate.clear()
    batcher = _batcher(session)
    with ThreadPoolExecutor(4) as pool:
        sent = [_submit(batcher, pool, 1)]
        session.entered.wait(5)  # the first runs, held; two more queue behind it
        sent += [_submit(batcher, pool, 1) for _ in range(2)]
        _until(lambda: batcher.pending == 2)
        closer = threading.Thread(target=batcher.close, args=(5,))
        closer.start()
        session.gate.set()
        closer.join(5)
        for x, future in sent:
            np.testing.assert_array_equal(future.result(5)["y"], x * 2)
    with pytest.raises(UnavailableError, match="unloaded"):
        batcher.infer(Job(inputs={"x": np.zeros((1, 3), np.float32)}, outputs=["y"], batch=1))


@pytest.mark.parametrize("model", ["batched", "simple"])
def test_load_32_clients_x_200_requests(server, model):
    """32 concurrent clients, 200 requests each, every result checked: zero errors."""
    clients, requests = 32, 200
    errors = []

    def client_loop(seed):
        rng = np.random.default_rng(seed)
        with grpcclient.InferenceServerClient(f"{serverkit.HOST}:{server.grpc_port}") as client:
            for _ in range(requests):
                a = rng.standard_normal((1, 16)).astype(np.float32)
                b = rng.standard_normal((1, 16)).astype(np.float32)
                try:
                    result = client.infer(model, [infer_input("INPUT0", a, "FP32"), infer_input("INPUT1", b, "FP32")])
                    if not (np.array_equal(result.as_numpy("OUTPUT0"), a + b)
                            and np.array_equal(result.as_numpy("OUTPUT1"), a - b)):
                        errors.append("wrong result")
                except Exception as exc:  # every failure is counted, none may happen
                    errors.append(repr(exc))

    with serverkit.client(server) as client:
        before = client.get_inference_statistics(model).model_stats[0]
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client_loop, range(clients)))
        after = client.get_inference_statistics(model).model_stats[0]
    assert errors == []
    served = after.inference_stats.success.count - before.inference_stats.success.count
    assert served == clients * requests
    executions = after.execution_count - before.execution_count
    if model == "batched":
        assert executions < served  # requests were batched together
    else:
        assert executions == served
