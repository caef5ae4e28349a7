"""``sardonyx-export``: a zoo model with a checkpoint to a file, and into a Triton repository with its config."""

import numpy as np
import onnx
import onnxruntime
import pytest

import trainer
from exporter.cli import main
from trainer import zoo


@pytest.fixture
def checkpoint(tmp_path):
    trainer.manual_seed(3)
    model = zoo.LeNet5()
    path = tmp_path / "ckpt.safetensors"
    trainer.save({"model": model.state_dict(), "epoch": 1}, str(path))
    return model.eval(), path


def test_exports_a_checkpoint_to_a_file(tmp_path, checkpoint, capsys):
    model, ckpt = checkpoint
    out = tmp_path / "lenet.onnx"
    assert main(["trainer.zoo:LeNet5", "--checkpoint", str(ckpt), "--input-shape", "1,1,28,28", "--dynamic-batch",
                 "--opset", "17", "--verify", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version == 17
    x = trainer.randn(3, 1, 28, 28)
    got = onnxruntime.InferenceSession(str(out)).run(None, {"input": x.numpy()})[0]
    with trainer.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4)


def test_writes_a_triton_repository_entry(tmp_path, checkpoint):
    _, ckpt = checkpoint
    folder = tmp_path / "models" / "lenet"
    assert main(["trainer.zoo:LeNet5", "--checkpoint", str(ckpt), "--input-shape", "1,1,28,28", "--dynamic-batch",
                 "--repository", str(folder), "--version", "3"]) == 0
    assert (folder / "3" / "model.onnx").exists()
    config = (folder / "config.pbtxt").read_text()
    assert config.splitlines()[:3] == ['name: "lenet"', 'platform: "onnxruntime_onnx"', "max_batch_size: 8"]
    assert 'name: "input"\n    data_type: TYPE_FP32\n    dims: [ 1, 28, 28 ]' in config
    assert 'name: "output"\n    data_type: TYPE_FP32\n    dims: [ 10 ]' in config
    assert "dynamic_batching { }" in config


def test_without_dynamic_batch_the_config_has_full_dims_and_no_batching(tmp_path):
    folder = tmp_path / "mlp"
    assert main(["trainer.zoo:MLP", "--input-shape", "2,784", "--repository", str(folder)]) == 0
    config = (folder / "config.pbtxt").read_text()
    assert "max_batch_size: 0" in config and "dims: [ 2, 784 ]" in config and "dynamic_batching" not in config


@pytest.mark.parametrize("argv, message", [
    (["trainer.zoo.LeNet5", "--input-shape", "1,1,28,28", "-o", "x.onnx"], "expected MODULE:CALLABLE"),
    (["trainer.zoo:NoSuchNet", "--input-shape", "1,1,28,28", "-o", "x.onnx"], "has no attribute 'NoSuchNet'"),
    (["trainer.zoo:LeNet5", "--input-shape", "1,x,28", "-o", "x.onnx"], "comma-separated ints"),
])
def test_bad_arguments_say_what_is_wrong(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
