"""Triton ensembles: preprocess -> classifier -> postprocess served as one model through the real server."""

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime
import pytest
import serverkit
from onnx import TensorProto, helper, numpy_helper
from serverkit import infer_input, write_model
from tritonclient.utils import InferenceServerException

INVALID, UNAVAILABLE = "StatusCode.INVALID_ARGUMENT", "StatusCode.UNAVAILABLE"
FEATURES, HIDDEN, CLASSES = 8, 16, 3


def _onnx(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def preprocess_model():
    """normalised = (raw - mean) / std, per feature."""
    rng = np.random.default_rng(1)
    mean = numpy_helper.from_array(rng.normal(size=FEATURES).astype(np.float32), "mean")
    std = numpy_helper.from_array(rng.uniform(0.5, 2.0, size=FEATURES).astype(np.float32), "std")
    return _onnx([helper.make_node("Sub", ["raw", "mean"], ["centred"]),
                  helper.make_node("Div", ["centred", "std"], ["normalised"])],
                 [_vi("raw", TensorProto.FLOAT, ["batch", FEATURES])],
                 [_vi("normalised", TensorProto.FLOAT, ["batch", FEATURES])], [mean, std])


def classifier_model():
    """A two-layer MLP: logits = relu(features @ W1 + b1) @ W2 + b2."""
    rng = np.random.default_rng(2)
    weights = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name) for name, shape in
               (("W1", (FEATURES, HIDDEN)), ("b1", (HIDDEN,)), ("W2", (HIDDEN, CLASSES)), ("b2", (CLASSES,)))]
    return _onnx([helper.make_node("MatMul", ["features", "W1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
                  helper.make_node("Relu", ["a1"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["m2"]),
                  helper.make_node("Add", ["m2", "b2"], ["logits"])],
                 [_vi("features", TensorProto.FLOAT, ["batch", FEATURES])],
                 [_vi("logits", TensorProto.FLOAT, ["batch", CLASSES])], weights)


def postprocess_model():
    """probabilities = softmax(logits), label = argmax(logits) as [batch, 1] INT64."""
    return _onnx([helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
                  helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=1)],
                 [_vi("logits", TensorProto.FLOAT, ["batch", CLASSES])],
                 [_vi("probabilities", TensorProto.FLOAT, ["batch", CLASSES]),
                  _vi("label", TensorProto.INT64, ["batch", 1])])


# Steps listed out of order on purpose: the server runs them in dependency order.
STEPS = """
  { model_name: "postprocess" model_version: -1 input_map { key: "logits" value: "logits" }
    output_map [ { key: "probabilities" value: "PROBABILITIES" }, { key: "label" value: "LABEL" } ] },
  { model_name: "preprocess" model_version: -1 input_map { key: "raw" value: "IMAGE" }
    output_map { key: "normalised" value: "features" } },
  { model_name: "classifier" model_version: 1 input_map { key: "features" value: "features" }
    output_map { key: "logits" value: "logits" } }
"""
IO = """
input [ { name: "IMAGE" data_type: TYPE_FP32 dims: [ 8 ] } ]
output [ { name: "PROBABILITIES" data_type: TYPE_FP32 dims: [ 3 ] },
         { name: "LABEL" data_type: TYPE_INT64 dims: [ 1 ] } ]
"""


def ensemble_config(steps=STEPS, io=IO, extra="", max_batch_size=4):
    return f'platform: "ensemble"\nmax_batch_size: {max_batch_size}\n{io}\n{extra}\nensemble_scheduling {{ step [ ' \
           f'{steps} ] }}\n'


def write_ensemble(repo, name, config, version_folder=True):
    folder = repo / name
    folder.mkdir()
    if version_folder:
        (folder / "1").mkdir()  # Triton's layout: an empty version folder
    (folder / "config.pbtxt").write_text(config)


def write_members(repo):
    write_model(repo, "preprocess", preprocess_model())
    write_model(repo, "classifier", classifier_model())
    write_model(repo, "postprocess", postprocess_model())


def by_hand(image):
    sessions = [onnxruntime.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                for m in (preprocess_model(), classifier_model(), postprocess_model())]
    (features,) = sessions[0].run(None, {"raw": image})
    (logits,) = sessions[1].run(None, {"features": features})
    return sessions[2].run(None, {"logits": logits})


def _fails(call, status, *fragments):
    with pytest.raises(InferenceServerException) as info:
        call()
    assert info.value.status() == status, info.value.message()
    for fragment in fragments:
        assert fragment in info.value.message(), info.value.message()


@pytest.fixture(scope="module")
def pipeline_server(tmp_path_factory):
    repo = tmp_path_factory.mktemp("ensemble_repo")
    write_members(repo)
    write_ensemble(repo, "pipeline", ensemble_config())
    write_ensemble(repo, "probabilities_only", ensemble_config(
        io='input [ { name: "IMAGE" data_type: TYPE_FP32 dims: [ 8 ] } ]\n'
           'output [ { name: "PROBABILITIES" data_type: TYPE_FP32 dims: [ 3 ] } ]\n',
        extra='version_policy { latest { num_versions: 1 } }'), version_folder=False)
    # Any number of features is accepted here, so a wrong one is caught only when the preprocess step runs.
    write_ensemble(repo, "any_width", ensemble_config(
        io=IO.replace("dims: [ 8 ]", "dims: [ -1 ]"), max_batch_size=2))
    # An ensemble may run another ensemble.
    write_ensemble(repo, "nested", ensemble_config(steps=_step(
        "pipeline", {"IMAGE": "IMAGE"}, {"LABEL": "LABEL", "PROBABILITIES": "PROBABILITIES"})))
    write_model(repo, "classifier", classifier_model(),  # waits for concurrent requests to batch them
                "max_batch_size: 4\ndynamic_batching { max_queue_delay_microseconds: 100000 }\n")
    with serverkit.running_server(repo) as server:
        yield server


def test_ensemble_infer_equals_running_the_models_by_hand(pipeline_server):
    image = np.random.default_rng(0).normal(size=(3, FEATURES)).astype(np.float32)
    probabilities, label = by_hand(image)
    with serverkit.client(pipeline_server) as client:
        result = client.infer("pipeline", [infer_input("IMAGE", image, "FP32")])
        np.testing.assert_allclose(result.as_numpy("PROBABILITIES"), probabilities, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(result.as_numpy("LABEL"), label)
        assert result.get_response().model_name == "pipeline"
        # A requested subset comes back alone; a folder without version folders serves as version 1.
        only = client.infer("probabilities_only", [infer_input("IMAGE", image[:1], "FP32")])
        np.testing.assert_allclose(only.as_numpy("PROBABILITIES"), probabilities[:1], rtol=1e-5, atol=1e-6)
        assert only.as_numpy("LABEL") is None and only.get_response().model_version == "1"


def test_nested_ensemble(pipeline_server):
    image = np.random.default_rng(4).normal(size=(2, FEATURES)).astype(np.float32)
    with serverkit.client(pipeline_server) as client:
        result = client.infer("nested", [infer_input("IMAGE", image, "FP32")])
        np.testing.assert_array_equal(result.as_numpy("LABEL"), by_hand(image)[1])


def test_members_batch_concurrent_ensemble_requests(pipeline_server):
    def stats():
        with serverkit.client(pipeline_server) as client:
            found = client.get_inference_statistics("classifier").model_stats[0]
            return found.inference_count, found.execution_count

    def one(row):
        with serverkit.client(pipeline_server) as client:
            return client.infer("pipeline", [infer_input("IMAGE", row, "FP32")]).as_numpy("LABEL")

    images = np.random.default_rng(5).normal(size=(4, 1, FEATURES)).astype(np.float32)
    (inferences, executions) = stats()
    with ThreadPoolExecutor(4) as pool:
        labels = list(pool.map(one, images))
    np.testing.assert_array_equal(np.concatenate(labels), by_hand(images[:, 0])[1])
    after = stats()
    assert after[0] == inferences + 4
    assert after[1] - executions < 4  # the classifier's dynamic batcher joined requests of different clients


def test_ensemble_metadata_config_readiness_and_statistics(pipeline_server):
    with serverkit.client(pipeline_server) as client:
        assert client.is_model_ready("pipeline")
        metadata = client.get_model_metadata("pipeline")
        assert (metadata.platform, list(metadata.versions)) == ("ensemble", ["1"])
        assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
            ("PROBABILITIES", "FP32", [-1, 3]), ("LABEL", "INT64", [-1, 1])]
        # Decoded by tritonclient's own ModelConfig: field numbers are Triton's.
        config = client.get_model_config("pipeline").config
        assert [s.model_name for s in config.ensemble_scheduling.step] == ["postprocess", "preprocess", "classifier"]
        assert dict(config.ensemble_scheduling.step[1].output_map) == {"normalised": "features"}
        assert config.ensemble_scheduling.step[2].model_version == 1

        def counts(name):
            stats = client.get_inference_statistics(name).model_stats[0]
            return stats.inference_stats.success.count, stats.inference_count, stats.execution_count

        before = {name: counts(name) for name in ("pipeline", "preprocess", "classifier", "postprocess")}
        image = np.ones((2, FEATURES), np.float32)
        for _ in range(2):
            client.infer("pipeline", [infer_input("IMAGE", image, "FP32")])
        after = {name: counts(name) for name in before}
        assert after["pipeline"][:2] == (before["pipeline"][0] + 2, before["pipeline"][1] + 4)
        assert after["pipeline"][2] == 0  # an ensemble runs nothing itself
        for member in ("preprocess", "classifier", "postprocess"):
            assert after[member] == (before[member][0] + 2, before[member][1] + 4, before[member][2] + 2)


def test_ensemble_inputs_are_validated_as_for_other_models(pipeline_server):
    with serverkit.client(pipeline_server) as client:
        fails_before = client.get_inference_statistics("preprocess").model_stats[0].inference_stats.fail.count
        _fails(lambda: client.infer("any_width", [infer_input("IMAGE", np.ones((1, 4), np.float32), "FP32")]),
               INVALID, "ensemble 'any_width' step 2 (model 'preprocess'): unexpected shape for input 'raw' for "
               "model 'preprocess'. Expected [-1,8], got [1,4]")
        stats = client.get_inference_statistics("preprocess").model_stats[0]
        assert stats.inference_stats.fail.count == fails_before + 1
        _fails(lambda: client.infer("pipeline", [infer_input("IMAGE", np.ones((1, 4), np.float32), "FP32")]),
               INVALID, "unexpected shape for input 'IMAGE' for model 'pipeline'. Expected [-1,8], got [1,4]")
        _fails(lambda: client.infer("pipeline", [infer_input("IMAGE", np.ones((5, 8), np.float32), "FP32")]),
               INVALID, "batch-size must be <= 4 for 'pipeline'")
        _fails(lambda: client.infer("pipeline", [infer_input("IMAGE", np.ones((1, 8), np.int32), "INT32")]),
               INVALID, "inference input 'IMAGE' data-type is 'INT32', but model 'pipeline' expects 'FP32'")


def _step(model, inputs, outputs, version=-1):
    def mapping(name, pairs):
        return " ".join(f'{name} {{ key: "{k}" value: "{v}" }}' for k, v in pairs.items())

    return f'{{ model_name: "{model}" model_version: {version} {mapping("input_map", inputs)} ' \
           f'{mapping("output_map", outputs)} }}'


PRE = _step("preprocess", {"raw": "IMAGE"}, {"normalised": "features"})
CLS = _step("classifier", {"features": "features"}, {"logits": "logits"})
POST = _step("postprocess", {"logits": "logits"}, {"probabilities": "PROBABILITIES", "label": "LABEL"})
BAD = {
    "unknown_tensor": (", ".join([PRE, _step("classifier", {"features": "feature"}, {"logits": "logits"}), POST]),
                       "step 2 (model 'classifier') reads tensor 'feature', which is neither an ensemble input nor "
                       "written by any step"),
    "cycle": (", ".join([_step("preprocess", {"raw": "logits"}, {"normalised": "features"}), CLS, POST]),
              "has a cycle: step 1 (model 'preprocess'), step 2 (model 'classifier') each wait for another's output"),
    "unwritten_output": (", ".join([PRE, CLS, _step("postprocess", {"logits": "logits"}, {"label": "LABEL"})]),
                         "output 'PROBABILITIES' is not written by any step"),
    "two_writers": (", ".join([PRE, _step("classifier", {"features": "features"}, {"logits": "features"}), POST]),
                    "tensor 'features' is written by both step 1 (model 'preprocess') and step 2 (model 'classifier')"),
    "missing_member": (", ".join([PRE, _step("resnet", {"x": "features"}, {"y": "logits"}), POST]),
                       "step 2 (model 'resnet') is not available: the repository has no model 'resnet'"),
    "failed_member": (", ".join([PRE, _step("broken", {"features": "features"}, {"logits": "logits"}), POST]),
                      "step 2 (model 'broken') is not available", "failed to load 'broken' version 1"),
    "unknown_member_input": (", ".join([PRE, _step("classifier", {"x": "features"}, {"logits": "logits"}), POST]),
                             "step 2 (model 'classifier') maps input 'x', which model 'classifier' does not have; "
                             "its inputs are: features"),
    "wrong_datatype": (", ".join([PRE, CLS, _step("postprocess", {"logits": "logits"},
                                                  {"probabilities": "LABEL", "label": "PROBABILITIES"})]),
                       "tensor 'PROBABILITIES' is INT64 as output 'label' of step 3 (model 'postprocess') but "
                       "ensemble output 'PROBABILITIES' takes FP32"),
    "missing_version": (", ".join([PRE, _step("classifier", {"features": "features"}, {"logits": "logits"}, 2), POST]),
                        "step 2 (model 'classifier') is not available: the repository has no version 2 of model "
                        "'classifier'"),
}


def test_bad_ensembles_are_unavailable_with_their_reasons(tmp_path, caplog):
    write_members(tmp_path)
    write_model(tmp_path, "broken", b"not an onnx model")
    for name, (steps, *_) in BAD.items():
        write_ensemble(tmp_path, name, ensemble_config(steps))
    write_ensemble(tmp_path, "too_wide", ensemble_config(max_batch_size=8))
    write_ensemble(tmp_path, "no_steps", 'platform: "ensemble"\n' + IO)
    write_ensemble(tmp_path, "wrong_platform", 'platform: "onnxruntime_onnx"\n' + IO +
                   f"ensemble_scheduling {{ step [ {PRE} ] }}\n")
    write_ensemble(tmp_path, "unknown_fields", ensemble_config(extra='instance_group [ { count: 2 } ]').replace(
        "ensemble_scheduling {", "ensemble_scheduling { max_inflight_requests: 4"))
    loop = {"IMAGE": "IMAGE"}, {"LABEL": "LABEL", "PROBABILITIES": "PROBABILITIES"}
    write_ensemble(tmp_path, "loop_a", ensemble_config(_step("loop_b", *loop)))
    write_ensemble(tmp_path, "loop_b", ensemble_config(_step("loop_a", *loop)))
    expected = {name: fragments for name, (_, *fragments) in BAD.items()}
    expected["too_wide"] = ["ensemble 'too_wide' has max_batch_size 8 but step 2 (model 'preprocess') takes at most 4"]
    expected["no_steps"] = ["ensemble 'no_steps' has no ensemble_scheduling step"]
    expected["wrong_platform"] = ["asks for platform 'onnxruntime_onnx' backend ''; an ensemble has platform "
                                  "'ensemble' and no backend"]
    with caplog.at_level(logging.WARNING, logger="sardonyx.serve"):
        with serverkit.running_server(tmp_path) as server, serverkit.client(server) as client:
            reasons = {}
            for row in client.get_model_repository_index().models:
                reasons.setdefault(row.name, []).append((row.state, row.reason))
            for name, fragments in expected.items():
                (state, reason), = reasons[name]
                assert state == "UNAVAILABLE", name
                for fragment in fragments:
                    assert fragment in reason, (name, reason)
            assert reasons["unknown_fields"] == [("READY", "")]
            for name in ("loop_a", "loop_b"):  # ensembles that run each other
                (state, reason), = reasons[name]
                assert state == "UNAVAILABLE" and "ensembles cannot form a cycle" in reason, reason
            assert not client.is_server_ready()  # strict readiness: tried models that do not serve
            _fails(lambda: client.infer("failed_member", [infer_input("IMAGE", np.ones((1, 8), np.float32), "FP32")]),
                   UNAVAILABLE, "'failed_member' has no available versions", "model 'broken'")
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING and "unknown_fields" in r.message]
    assert any("ensemble_scheduling.max_inflight_requests" in w for w in warnings), warnings
    assert any("'instance_group', which ensembles do not use" in w for w in warnings), warnings


def test_unloading_a_member_makes_the_ensemble_unavailable_until_it_loads_again(tmp_path):
    write_members(tmp_path)
    write_ensemble(tmp_path, "pipeline", ensemble_config())
    image = np.random.default_rng(3).normal(size=(2, FEATURES)).astype(np.float32)
    with serverkit.running_server(tmp_path, model_control_mode="explicit", load_models=["pipeline"]) as server, \
            serverkit.client(server) as client:
        # Loading the ensemble loaded its members.
        assert all(client.is_model_ready(m) for m in ("pipeline", "preprocess", "classifier", "postprocess"))
        client.unload_model("classifier")
        assert not client.is_model_ready("pipeline")
        (row,) = [r for r in client.get_model_repository_index().models if r.name == "pipeline"]
        assert (row.state, row.reason) == ("UNAVAILABLE", "member model 'classifier' of ensemble 'pipeline' "
                                                          "was unloaded")
        _fails(lambda: client.infer("pipeline", [infer_input("IMAGE", image, "FP32")]), UNAVAILABLE,
               "member model 'classifier'")
        client.load_model("classifier")
        assert client.is_model_ready("pipeline")
        result = client.infer("pipeline", [infer_input("IMAGE", image, "FP32")])
        np.testing.assert_array_equal(result.as_numpy("LABEL"), by_hand(image)[1])
        # An ensemble unloaded by name stays unloaded when its members change.
        client.unload_model("pipeline")
        client.load_model("preprocess")
        assert not client.is_model_ready("pipeline") and client.is_server_ready()
