"""The sequence batcher: stateful models through the real server, with tritonclient as Triton's examples use it."""

import functools
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import serverkit
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from onnx import TensorProto, helper
from serverkit import infer_input
from tritonclient.utils import InferenceServerException

from serving.server.metrics import RepositoryCollector

WIDTH = 4


def _controls(*controls) -> str:
    return ",\n".join(f'{{ name: "{name}" control [ {{ kind: CONTROL_SEQUENCE_{kind} {value} }} ] }}'
                      for name, kind, value in controls)


ALL_CONTROLS = _controls(("START", "START", "int32_false_true: [0, 1]"), ("END", "END", "int32_false_true: [0, 1]"),
                         ("READY", "READY", "int32_false_true: [0, 1]"), ("CORRID", "CORRID", "data_type: TYPE_UINT64"))
STATE = 'state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]'


def accumulator_model(batch: bool = True, controls: bool = True):
    """OUTPUT = START ? INPUT : STATE_IN + INPUT, fed back as STATE_OUT; FLAGS = [START, END, READY]; CORRID echoed."""
    lead = ["batch"] if batch else []
    vi = helper.make_tensor_value_info
    nodes = [helper.make_node("Add", ["STATE_IN", "INPUT"], ["SUM"])]
    inputs = [vi("INPUT", TensorProto.FLOAT, lead + [WIDTH]), vi("STATE_IN", TensorProto.FLOAT, lead + [WIDTH])]
    outputs = [vi("OUTPUT", TensorProto.FLOAT, lead + [WIDTH]), vi("STATE_OUT", TensorProto.FLOAT, lead + [WIDTH])]
    if controls:
        nodes += [helper.make_node("Cast", ["START"], ["IS_START"], to=TensorProto.BOOL),
                  helper.make_node("Where", ["IS_START", "INPUT", "SUM"], ["OUTPUT"]),
                  helper.make_node("Concat", ["START", "END", "READY"], ["FLAGS"], axis=-1),
                  helper.make_node("Identity", ["CORRID"], ["CORRID_OUT"])]
        inputs += [vi(name, TensorProto.INT32, lead + [1]) for name in ("START", "END", "READY")]
        inputs.append(vi("CORRID", TensorProto.UINT64, lead + [1]))
        outputs += [vi("FLAGS", TensorProto.INT32, lead + [3]), vi("CORRID_OUT", TensorProto.UINT64, lead + [1])]
    else:  # no START: the initial state alone starts the sum
        nodes.append(helper.make_node("Identity", ["SUM"], ["OUTPUT"]))
    nodes.append(helper.make_node("Identity", ["OUTPUT"], ["STATE_OUT"]))
    graph = helper.make_graph(nodes, "accumulator", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _config(batching: str, max_batch_size: int = 4, extra: str = "") -> str:
    return f"max_batch_size: {max_batch_size}\nsequence_batching {{\n{batching}\n}}\n{extra}"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("sequence_repo")
    serverkit.write_model(repo, "accumulate", accumulator_model(), _config(
        f"max_sequence_idle_microseconds: 5000000\ncontrol_input [ {ALL_CONTROLS} ]\n{STATE}",
        extra="instance_group [{ count: 2 }]\n"))
    for name, idle_us in (("one_slot", 10_000_000), ("short_idle", 300_000)):
        serverkit.write_model(repo, name, accumulator_model(), _config(
            f"max_sequence_idle_microseconds: {idle_us}\ndirect {{ }}\ncontrol_input [ {ALL_CONTROLS} ]\n{STATE}",
            max_batch_size=1))
    serverkit.write_model(repo, "oldest", accumulator_model(), _config(
        "oldest { max_candidate_sequences: 4 max_queue_delay_microseconds: 2000000 preferred_batch_size: [ 2 ] }\n"
        f"control_input [ {ALL_CONTROLS} ]\n{STATE}"))
    serverkit.write_model(repo, "unbatched", accumulator_model(batch=False), _config(
        f"control_input [ {ALL_CONTROLS} ]\n{STATE}", max_batch_size=0))
    initial = ('state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ -1 ] '
               'initial_state { data_type: TYPE_FP32 dims: [ 4 ] data_file: "hundreds" name: "start" } } ]')
    outputs = 'output [ { name: "OUTPUT" }, { name: "STATE_OUT" } ]\n'  # the state output, listed, reaches clients
    folder = serverkit.write_model(repo, "from_file", accumulator_model(batch=False, controls=False),
                                   _config(initial, max_batch_size=0) + outputs)
    (folder / "initial_state").mkdir()
    (folder / "initial_state" / "hundreds").write_bytes(np.full(WIDTH, 100, np.float32).tobytes())
    serverkit.write_model(repo, "simple", serverkit.simple_model(), "max_batch_size: 8\n")
    return repo


@pytest.fixture(scope="module")
def server(repo):
    with serverkit.running_server(repo, model_control_mode="explicit", load_models=["*"], http_port=0) as running:
        yield running


@pytest.fixture
def client(server):
    with serverkit.client(server) as c:
        yield c


def _step(client, model, sequence_id, values, start=False, end=False, batch=True, outputs=("OUTPUT",)):
    x = np.asarray(values, dtype=np.float32).reshape(([1] if batch else []) + [WIDTH])
    result = client.infer(model, [infer_input("INPUT", x, "FP32")], sequence_id=sequence_id, sequence_start=start,
                          sequence_end=end, outputs=[grpcclient.InferRequestedOutput(name) for name in outputs])
    return {name: result.as_numpy(name) for name in outputs}


def _run_sequence(client, model, sequence_id, steps, batch=True):
    """Send `steps` (one value each) as one sequence; return each response's OUTPUT[0]."""
    sums = []
    for i, value in enumerate(steps):
        out = _step(client, model, sequence_id, [value] * WIDTH, start=i == 0, end=i == len(steps) - 1, batch=batch)
        sums.append(float(out["OUTPUT"].ravel()[0]))
    return sums


def _error(call) -> str:
    with pytest.raises(InferenceServerException) as info:
        call()
    return info.value.message()


def test_config_hides_control_and_state_tensors_and_round_trips(client):
    config = client.get_model_config("accumulate").config
    assert [t.name for t in config.input] == ["INPUT"]
    assert sorted(t.name for t in config.output) == ["CORRID_OUT", "FLAGS", "OUTPUT"]
    assert config.WhichOneof("scheduling_choice") == "sequence_batching"
    batching = config.sequence_batching
    assert batching.max_sequence_idle_microseconds == 5_000_000
    assert [c.name for c in batching.control_input] == ["START", "END", "READY", "CORRID"]
    assert batching.control_input[3].control[0].data_type == 5  # TYPE_UINT64, decoded by tritonclient's classes
    assert (batching.state[0].input_name, list(batching.state[0].dims)) == ("STATE_IN", [4])
    metadata = client.get_model_metadata("accumulate")
    assert [t.name for t in metadata.inputs] == ["INPUT"]


def test_one_sequence_accumulates_and_sees_its_controls(client):
    first = _step(client, "accumulate", 42, [1, 2, 3, 4], start=True, outputs=("OUTPUT", "FLAGS", "CORRID_OUT"))
    middle = _step(client, "accumulate", 42, [10] * 4, outputs=("OUTPUT", "FLAGS"))
    last = _step(client, "accumulate", 42, [100] * 4, end=True, outputs=("OUTPUT", "FLAGS"))
    np.testing.assert_array_equal(first["OUTPUT"], [[1, 2, 3, 4]])
    np.testing.assert_array_equal(middle["OUTPUT"], [[11, 12, 13, 14]])
    np.testing.assert_array_equal(last["OUTPUT"], [[111, 112, 113, 114]])
    np.testing.assert_array_equal(first["FLAGS"], [[1, 0, 1]])
    np.testing.assert_array_equal(middle["FLAGS"], [[0, 0, 1]])
    np.testing.assert_array_equal(last["FLAGS"], [[0, 1, 1]])
    assert first["CORRID_OUT"].dtype == np.uint64 and first["CORRID_OUT"].tolist() == [[42]]


def test_concurrent_sequences_keep_their_own_sums(server):
    """Eight sequences (more than the 2 instances x 4 slots hold at once) from eight threads."""
    steps = {sequence_id: [sequence_id * 10 + k for k in range(5)] for sequence_id in range(1, 9)}

    def run(sequence_id):
        with serverkit.client(server) as own:
            return _run_sequence(own, "accumulate", sequence_id, steps[sequence_id])

    with ThreadPoolExecutor(8) as pool:
        results = dict(zip(steps, pool.map(run, steps)))
    for sequence_id, values in steps.items():
        assert results[sequence_id] == list(np.cumsum(values)), sequence_id


def test_streaming_sequences_interleaved(client):
    """Triton's simple_grpc_sequence_stream_infer_client: two sequences on one stream, ids as int and string."""
    responses = queue.Queue()
    client.start_stream(callback=lambda result, error: responses.put((result, error)))
    try:
        values = {1001: [0, 1, 2, 3], 1002: [100, -1, -2, -3]}
        for step in range(4):
            for sequence_id, seq in values.items():
                x = np.full((1, WIDTH), seq[step], dtype=np.float32)
                client.async_stream_infer("accumulate", [infer_input("INPUT", x, "FP32")],
                                          request_id=f"{sequence_id}_{step}", sequence_id=sequence_id,
                                          sequence_start=step == 0, sequence_end=step == 3)
        got = {}
        for _ in range(8):
            result, error = responses.get(timeout=10)
            assert error is None, error
            got[result.get_response().id] = float(result.as_numpy("OUTPUT")[0, 0])
    finally:
        client.stop_stream()
    for sequence_id, seq in values.items():
        assert [got[f"{sequence_id}_{s}"] for s in range(4)] == list(np.cumsum(seq))


def _http_step(http, sequence_id, value, start=False, end=False, output="OUTPUT"):
    x = httpclient.InferInput("INPUT", [1, WIDTH], "FP32")
    x.set_data_from_numpy(np.full((1, WIDTH), value, np.float32))
    result = http.infer("accumulate", [x], sequence_id=sequence_id, sequence_start=start, sequence_end=end,
                        outputs=[httpclient.InferRequestedOutput(output)])
    return result.as_numpy(output)


def test_sequences_over_http(server):
    with httpclient.InferenceServerClient(f"{serverkit.HOST}:{server.http_port}") as http:
        sums = [float(_http_step(http, 31, v, start=i == 0, end=i == 2)[0, 0]) for i, v in enumerate([1, 2, 3])]
        assert sums == [1, 3, 6]
        # A uint64 id past int64's range reaches the model intact (JSON carries it as a plain number).
        big = 2**63 + 5
        assert _http_step(http, big, 1, start=True, end=True, output="CORRID_OUT").tolist() == [[big]]
        with pytest.raises(InferenceServerException, match="sequence 32 to model 'accumulate' must specify the START"):
            _http_step(http, 32, 1)
        with pytest.raises(InferenceServerException, match="must be an integer: its CORRID control input"):
            _http_step(http, "text", 1, start=True)


def test_model_that_does_not_batch_takes_integer_ids_for_its_uint64_corrid(client):
    config = client.get_model_config("unbatched").config
    assert [t.name for t in config.input] == ["INPUT"]
    message = _error(lambda: _step(client, "unbatched", "seq-a", [1] * 4, start=True, batch=False))
    assert "must be an integer" in message and "CORRID" in message
    assert _run_sequence(client, "unbatched", 7, [1, 2, 3], batch=False) == [1, 3, 6]


def test_initial_state_from_file_and_requested_state_output(client):
    out = _step(client, "from_file", "text-id", [1] * 4, start=True, batch=False, outputs=("OUTPUT", "STATE_OUT"))
    np.testing.assert_array_equal(out["OUTPUT"], [101] * 4)
    np.testing.assert_array_equal(out["STATE_OUT"], [101] * 4)
    out = _step(client, "from_file", "text-id", [2] * 4, end=True, batch=False)
    np.testing.assert_array_equal(out["OUTPUT"], [103] * 4)
    out = _step(client, "from_file", "text-id", [5] * 4, start=True, end=True, batch=False)
    np.testing.assert_array_equal(out["OUTPUT"], [105] * 4)  # a new START begins from the initial state again


def test_new_sequence_waits_in_the_backlog_until_a_slot_frees(server, client):
    _step(client, "one_slot", 1, [1] * 4, start=True)
    with ThreadPoolExecutor(1) as pool, serverkit.client(server) as other:
        waiting = pool.submit(_step, other, "one_slot", 2, [5] * 4, start=True, end=True)
        time.sleep(0.1)
        assert not waiting.done(), "the one slot is taken: sequence 2 must wait"
        assert _metric(server, "nv_inference_pending_request_count", "one_slot") == 1
        np.testing.assert_array_equal(_step(client, "one_slot", 1, [2] * 4, end=True)["OUTPUT"], [[3] * 4])
        np.testing.assert_array_equal(waiting.result(10)["OUTPUT"], [[5] * 4])


def _metric(server, family: str, model: str) -> float:
    for metric in RepositoryCollector(server.repository).collect():
        for sample in metric.samples:
            if sample.name == family and sample.labels["model"] == model:
                return sample.value
    raise AssertionError(f"no {family} sample for model '{model}'")


def test_idle_sequence_is_released(server, client):
    _step(client, "short_idle", 3, [1] * 4, start=True)
    time.sleep(0.6)  # max_sequence_idle_microseconds is 300000
    message = _error(lambda: _step(client, "short_idle", 3, [1] * 4))
    assert message == ("inference request for sequence 3 to model 'short_idle' must specify the START flag on the "
                       "first request of the sequence")
    # The slot is free again: a new sequence runs at once.
    assert _run_sequence(client, "short_idle", 4, [2, 3]) == [2, 5]


def test_oldest_batches_requests_of_different_sequences(server):
    def first_step(sequence_id):
        with serverkit.client(server) as own:
            return _step(own, "oldest", sequence_id, [sequence_id] * 4, start=True, end=True)["OUTPUT"]

    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(first_step, [11, 12]))
    assert [o.tolist() for o in outputs] == [[[11] * 4], [[12] * 4]]
    with serverkit.client(server) as own:
        stats = own.get_inference_statistics("oldest").model_stats[0]
    assert [b.batch_size for b in stats.batch_stats] == [2]  # preferred size 2 reached before the 2 s delay
    assert (stats.inference_count, stats.execution_count) == (2, 1)


def test_statistics_and_metrics_count_sequence_requests(server, client):
    before = client.get_inference_statistics("unbatched").model_stats[0]
    _run_sequence(client, "unbatched", 99, [1, 1, 1], batch=False)
    after = client.get_inference_statistics("unbatched").model_stats[0]
    assert after.inference_stats.success.count - before.inference_stats.success.count == 3
    assert after.execution_count - before.execution_count == 3
    assert _metric(server, "nv_inference_request_success", "unbatched") == after.inference_stats.success.count


@pytest.mark.parametrize(("call", "expected"), [
    (lambda c: c.infer("accumulate", [infer_input("INPUT", np.ones((1, 4), np.float32), "FP32")]),
     "inference request to model 'accumulate' must specify a non-zero or non-empty correlation ID"),
    (lambda c: _step(c, "accumulate", 555, [1] * 4),
     "inference request for sequence 555 to model 'accumulate' must specify the START flag on the first request "
     "of the sequence"),
    (lambda c: c.infer("accumulate", [infer_input("INPUT", np.ones((2, 4), np.float32), "FP32")], sequence_id=5,
                       sequence_start=True),
     "inference request to model 'accumulate' must specify batch-size 1 due to requirements of sequence batcher"),
])
def test_errors_like_triton(client, call, expected):
    assert _error(functools.partial(call, client)) == expected


def test_request_after_end_needs_a_new_start(client):
    _run_sequence(client, "accumulate", 77, [1, 2])
    message = _error(lambda: _step(client, "accumulate", 77, [1] * 4))
    assert "must specify the START flag" in message
    assert _run_sequence(client, "accumulate", 77, [4, 4]) == [4, 8]


def test_sequence_id_on_a_model_without_sequence_batching_is_ignored(client):
    x = np.ones((1, 16), np.float32)
    result = client.infer("simple", [infer_input("INPUT0", x, "FP32"), infer_input("INPUT1", x, "FP32")],
                          sequence_id=12, sequence_start=False)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), x * 2)


@pytest.mark.parametrize(("batching", "expected"), [
    ('control_input [ { name: "GO" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] } ] } ]\n'
     + STATE, "control input 'GO' of model 'bad' is not an input of the model"),
    ('control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [0, 1] } ] } ]\n'
     + STATE, "is FP32 in the config but INT32 in the model"),
    ('control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [1] } ] } ]\n'
     + STATE, "needs exactly one of int32_false_true, fp32_false_true, bool_false_true, with two values"),
    ('state [ { input_name: "STATE_IN" output_name: "NOPE" data_type: TYPE_FP32 dims: [ 4 ] } ]',
     "'NOPE' is not an output of the model"),
    ('state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_FP32 dims: [ 5 ] } ]',
     "has dims [5] but the model's 'STATE_IN' has [4]"),
])
def test_bad_sequence_config_fails_to_load(tmp_path, batching, expected):
    serverkit.write_model(tmp_path, "bad", accumulator_model(), _config(batching))
    with serverkit.running_server(tmp_path, model_control_mode="explicit") as running, serverkit.client(running) as c:
        message = _error(lambda: c.load_model("bad"))
    assert expected in message


def test_unload_fails_requests_left_in_the_backlog(tmp_path):
    serverkit.write_model(tmp_path, "m", accumulator_model(), _config(
        f"control_input [ {ALL_CONTROLS} ]\n{STATE}", max_batch_size=1))
    with serverkit.running_server(tmp_path, model_control_mode="explicit", load_models=["m"]) as running:
        with serverkit.client(running) as c, serverkit.client(running) as other, ThreadPoolExecutor(1) as pool:
            _step(c, "m", 1, [1] * 4, start=True)
            waiting = pool.submit(_step, other, "m", 2, [1] * 4, start=True)
            time.sleep(0.1)
            threading.Thread(target=c.unload_model, args=("m",), daemon=True).start()
            with pytest.raises(InferenceServerException, match="unloaded before the sequence 2 got a batch slot"):
                waiting.result(10)
