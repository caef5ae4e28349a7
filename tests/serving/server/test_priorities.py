"""The dynamic batcher's priority levels and queue policies (Triton's), through the real server and tritonclient.

Each model runs one request per batch on one instance. A test holds that instance inside its first run (a
gate wrapped around the loaded InferenceSession), queues requests behind it, and then reads the order in
which the model ran them: each request's input is filled with its own tag.
"""

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import serverkit
from serverkit import infer_input
from tritonclient.utils import InferenceServerException

_ONE_AT_A_TIME = "max_batch_size: 1\ninstance_group [{ count: 1 }]\n"
MODELS = {
    # Two levels; level 1 queues at most one request; requests without a priority go to level 2.
    "prio": _ONE_AT_A_TIME + "dynamic_batching { priority_levels: 2 default_priority_level: 2 "
                             "priority_queue_policy { key: 1 value: { max_queue_size: 1 } } }",
    "fifo": _ONE_AT_A_TIME + "dynamic_batching { }",
    "reject": _ONE_AT_A_TIME + "dynamic_batching { default_queue_policy { default_timeout_microseconds: 200000 } }",
    "override": _ONE_AT_A_TIME + "dynamic_batching { default_queue_policy { default_timeout_microseconds: 30000000 "
                                 "allow_timeout_override: true } }",
    "no_override": _ONE_AT_A_TIME + "dynamic_batching { default_queue_policy { default_timeout_microseconds: "
                                    "30000000 } }",
    "delay": _ONE_AT_A_TIME + "dynamic_batching { default_queue_policy { timeout_action: DELAY "
                              "default_timeout_microseconds: 30000000 allow_timeout_override: true } }",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repo = tmp_path_factory.mktemp("priorities")
    for name, config in MODELS.items():
        serverkit.write_model(repo, name, serverkit.add_model(0.0), config)
    serverkit.write_model(repo, "bad_default", serverkit.add_model(0.0), "max_batch_size: 1\n"
                          "dynamic_batching { priority_levels: 2 default_priority_level: 3 }")
    serverkit.write_model(repo, "bad_level", serverkit.add_model(0.0), "max_batch_size: 1\n"
                          "dynamic_batching { priority_levels: 2 default_priority_level: 1 "
                          "priority_queue_policy { key: 3 value: { max_queue_size: 1 } } }")
    with serverkit.running_server(repo, model_control_mode="explicit", load_models=list(MODELS), http_port=0,
                                  http_address=serverkit.HOST) as running:
        yield running


@pytest.fixture
def client(server):
    with serverkit.client(server) as c:
        yield c


class _Gate:
    """Stands in for an instance's session: holds each run until opened, remembering each request's tag."""

    def __init__(self, session):
        self.session = session
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.tags = []

    def run(self, outputs, feeds):
        self.entered.set()
        assert self.opened.wait(10), "the test never opened the gate"
        self.tags.extend(int(row[0]) for row in feeds["x"])
        return self.session.run(outputs, feeds)


@contextlib.contextmanager
def _held(server, model):
    """The model's only instance, held inside a first request (tag 0) until the gate opens."""
    version = server.repository.get(model)
    instance = version.instances[0]
    gate = _Gate(instance.session)
    instance.session = gate
    with ThreadPoolExecutor(8) as pool, serverkit.client(server) as client:
        sender = _Sender(pool, client, model, version.scheduler)
        first = sender.send(0, queued=False)
        assert gate.entered.wait(5)
        try:
            yield gate, sender
        finally:
            gate.opened.set()
            instance.session = gate.session
        first.result(5)


class _Sender:
    def __init__(self, pool, client, model, scheduler):
        self.pool, self.client, self.model, self.scheduler = pool, client, model, scheduler

    def send(self, tag, queued=True, **kwargs):
        """Send a request tagged `tag` from another thread; wait until the batcher has queued it."""
        before = self.scheduler.pending
        x = np.full((1, 4), tag, np.float32)
        future = self.pool.submit(self.client.infer, self.model, [infer_input("x", x, "FP32")], **kwargs)
        if queued:
            _until(lambda: self.scheduler.pending == before + 1)
        return future


def _until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server did not get there in time"
        time.sleep(0.002)


def _tag(result):
    return int(result.as_numpy("y")[0, 0])


def _fails(future, code, message):
    with pytest.raises(InferenceServerException) as info:
        future.result(5)
    assert info.value.status() == f"StatusCode.{code}", info.value
    assert message in info.value.message(), info.value.message()


def _failures(client, model):
    return client.get_inference_statistics(model).model_stats[0].inference_stats.fail.count


def test_high_priority_requests_overtake_queued_low_ones(server):
    with _held(server, "prio") as (gate, send):
        low = [send.send(1), send.send(2)]  # no priority: the default level, 2
        high = send.send(3, priority=1)
        past_levels = send.send(4, priority=7)  # out of range: the default level, as Triton does
        gate.opened.set()
        assert [_tag(f.result(5)) for f in low + [high, past_levels]] == [1, 2, 3, 4]
    assert gate.tags == [0, 3, 1, 2, 4]


def test_without_priority_levels_the_queue_stays_fifo(server):
    with _held(server, "fifo") as (gate, send):
        sent = [send.send(1), send.send(2, priority=1), send.send(3, timeout=1)]  # neither has any effect here
        gate.opened.set()
        assert [_tag(f.result(5)) for f in sent] == [1, 2, 3]
    assert gate.tags == [0, 1, 2, 3]


def test_a_level_queue_limit_rejects_only_that_level(server, client):
    failed = _failures(client, "prio")
    with _held(server, "prio") as (gate, send):
        queued = send.send(1, priority=1)
        _fails(send.send(2, queued=False, priority=1), "UNAVAILABLE", "Exceeds maximum queue size")
        low = send.send(3, priority=2)  # level 2 has no limit
        gate.opened.set()
        assert (_tag(queued.result(5)), _tag(low.result(5))) == (1, 3)
    assert gate.tags == [0, 1, 3]
    assert _failures(client, "prio") == failed + 1


def test_a_request_queued_past_its_timeout_is_rejected_while_the_instance_is_busy(server, client):
    failed = _failures(client, "reject")
    with _held(server, "reject") as (gate, send):
        start = time.monotonic()
        late = send.send(1)
        _fails(late, "UNAVAILABLE", "Request timeout expired")
        assert time.monotonic() - start >= 0.2  # the policy's 200 ms
        assert not gate.opened.is_set()  # rejected from the queue, without waiting for the instance
        assert send.scheduler.pending == 0
    assert gate.tags == [0]
    stats = client.get_inference_statistics("reject").model_stats[0]
    assert stats.inference_stats.fail.count == failed + 1  # counted as a failure, as Triton does
    assert stats.execution_count >= 1


def test_a_request_timeout_shortens_the_default_where_overriding_is_allowed(server):
    with _held(server, "override") as (gate, send):
        short = send.send(1, timeout=300_000)
        patient = send.send(2)  # the policy's 30 s
        _fails(short, "UNAVAILABLE", "Request timeout expired")
        gate.opened.set()
        assert _tag(patient.result(5)) == 2
    assert gate.tags == [0, 2]


def test_a_request_timeout_is_ignored_where_overriding_is_not_allowed(server):
    with _held(server, "no_override") as (gate, send):
        ignored = send.send(1, timeout=1_000)
        time.sleep(0.1)  # a hundred times the request's own timeout
        assert not ignored.done()
        gate.opened.set()
        assert _tag(ignored.result(5)) == 1
    assert gate.tags == [0, 1]


def test_delay_moves_a_timed_out_request_behind_the_waiting_ones(server):
    with _held(server, "delay") as (gate, send):
        delayed = send.send(1, timeout=50_000)
        time.sleep(0.2)  # past its 50 ms: moved behind, not rejected
        later = send.send(2)
        after = send.send(3)
        gate.opened.set()
        assert [_tag(f.result(5)) for f in (delayed, later, after)] == [1, 2, 3]
    assert gate.tags == [0, 2, 3, 1]


def _raw_infer(server, parameter, value):
    request = serverkit.pb_request("prio", {"x": [1, 2, 3, 4]}, shape=[1, 4])
    setattr(request.parameters[parameter], *value)
    with serverkit.channel(server) as channel:
        serverkit.stub(channel).ModelInfer(request, timeout=5)


@pytest.mark.parametrize(("parameter", "value", "message"), [
    ("priority", ("int64_param", -1), "invalid value for 'priority', expected value >= 0."),
    ("priority", ("string_param", "high"),
     "invalid value type for 'priority' parameter, expected int64_param or uint64_param."),
    ("timeout", ("uint64_param", 5), "invalid value type for 'timeout' parameter, expected int64_param."),
    ("timeout", ("int64_param", -5), "invalid value for 'timeout', expected value >= 0"),
])
def test_invalid_priority_or_timeout_is_rejected(server, parameter, value, message):
    with pytest.raises(grpc.RpcError) as info:
        _raw_infer(server, parameter, value)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in info.value.details()


def test_http_requests_carry_priority_and_timeout(server):
    def post(parameters):
        body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
                "parameters": parameters}
        request = urllib.request.Request(f"http://{serverkit.HOST}:{server.http_port}/v2/models/prio/infer",
                                         data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    assert post({"priority": 1, "timeout": 1000})["outputs"][0]["data"] == [1, 2, 3, 4]
    with pytest.raises(urllib.error.HTTPError) as info:
        post({"priority": -1})
    assert info.value.code == 400
    assert "'priority' of the request must be an unsigned integer" in json.loads(info.value.read())["error"]


@pytest.mark.parametrize(("model", "message"), [
    ("bad_default", "default priority level must be in range [1, 2] for bad_default"),
    ("bad_level", "priority queue policy must have priority level in range [1, 2] for bad_level"),
])
def test_invalid_priority_settings_fail_the_load(client, model, message):
    with pytest.raises(InferenceServerException) as info:
        client.load_model(model)
    assert message in info.value.message()
