"""The generated protocol modules: up to date with protos/, and wire-identical to tritonclient's."""

import subprocess
import sys
from pathlib import Path

import pytest
import tritonclient.grpc.model_config_pb2 as triton_config
import tritonclient.grpc.service_pb2 as triton_service

from serving.server.protocol import config_pb, pb

ROOT = Path(__file__).resolve().parents[3]

# Messages whose every field tritonclient knows must also be ours (the rest may declare a subset).
COMPLETE = {
    "ModelInferRequest", "ModelInferResponse", "InferParameter", "InferTensorContents", "ModelStreamInferResponse",
    "ModelMetadataRequest", "ModelMetadataResponse", "ModelReadyRequest", "ModelReadyResponse",
    "ServerMetadataResponse", "ModelStatistics", "InferStatistics", "StatisticDuration", "InferBatchStatistics",
    "RepositoryIndexRequest", "RepositoryIndexResponse", "RepositoryModelLoadRequest", "ModelRepositoryParameter",
    "ModelConfigRequest", "ModelConfigResponse", "ModelStatisticsRequest", "ModelStatisticsResponse",
    "ModelVersionPolicy", "ModelTensorReshape", "ModelWarmup", "ModelParameter", "ModelQueuePolicy",
}


def test_generated_modules_match_protos():
    result = subprocess.run([sys.executable, "protos/generate.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def _messages(file_descriptor):
    """{full name: descriptor} of every message in a file, nested ones included."""
    out = {}

    def visit(descriptor):
        out[descriptor.full_name] = descriptor
        for nested in descriptor.nested_types:
            visit(nested)

    for descriptor in file_descriptor.message_types_by_name.values():
        visit(descriptor)
    return out


OURS = {**_messages(pb.DESCRIPTOR), **_messages(config_pb.DESCRIPTOR)}
THEIRS = {**_messages(triton_service.DESCRIPTOR), **_messages(triton_config.DESCRIPTOR)}


def _type_name(field):
    target = field.message_type or field.enum_type
    return target.full_name if target else None


@pytest.mark.parametrize("name", sorted(OURS))
def test_message_matches_tritonclient(name):
    assert name in THEIRS, f"{name} is not a message tritonclient knows"
    ours, theirs = OURS[name], THEIRS[name]
    for field in ours.fields:
        other = theirs.fields_by_name.get(field.name)
        assert other is not None, f"{name}.{field.name} is not in tritonclient's {name}"
        assert (field.number, field.type, field.is_repeated, _type_name(field)) == \
            (other.number, other.type, other.is_repeated, _type_name(other)), f"{name}.{field.name} differs"
        ours_oneof = field.containing_oneof.name if field.containing_oneof else None
        theirs_oneof = other.containing_oneof.name if other.containing_oneof else None
        assert ours_oneof == theirs_oneof, f"{name}.{field.name} oneof differs"
    short = name.split(".")[1]
    if short in COMPLETE or name.endswith("Entry") or short.endswith(("Request", "Response")):
        missing = set(theirs.fields_by_name) - set(ours.fields_by_name)
        assert not missing, f"{name} lacks tritonclient's fields {sorted(missing)}"


def test_enums_match_tritonclient():
    for name, enum in config_pb.DESCRIPTOR.enum_types_by_name.items():
        theirs = triton_config.DESCRIPTOR.enum_types_by_name[name]
        assert {v.name: v.number for v in enum.values} == {v.name: v.number for v in theirs.values}
    for name, message in OURS.items():
        for enum in message.enum_types:
            theirs = {e.name: e for e in THEIRS[name].enum_types}[enum.name]
            assert {v.name: v.number for v in enum.values} == {v.name: v.number for v in theirs.values}


def test_service_methods_match_tritonclient():
    ours = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    theirs = triton_service.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert ours.full_name == theirs.full_name == "inference.GRPCInferenceService"
    describe = {m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
                for m in theirs.methods}
    assert {m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
            for m in ours.methods} == describe


def test_messages_round_trip_with_tritonclient():
    """Bytes we write decode in tritonclient's classes to the same values, and back."""
    request = pb.ModelInferRequest(model_name="m", model_version="2", id="r1", raw_input_contents=[b"\x00\x01"])
    request.parameters["priority"].uint64_param = 3
    tensor = request.inputs.add(name="x", datatype="FP32", shape=[1, 2])
    tensor.contents.fp32_contents.extend([1.5, 2.5])
    theirs = triton_service.ModelInferRequest.FromString(request.SerializeToString())
    assert theirs.parameters["priority"].uint64_param == 3
    assert list(theirs.inputs[0].contents.fp32_contents) == [1.5, 2.5]
    assert pb.ModelInferRequest.FromString(theirs.SerializeToString()) == request
