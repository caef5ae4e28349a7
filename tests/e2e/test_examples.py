"""Each example in examples/ runs, with small settings, in a temporary directory."""

import export_dynamic_batch
import gpu
import pytest
import serve_repository
import torch_onnx
import train_recipes
import triton_client

from serving.server import InferenceServer, ServerOptions


@pytest.mark.parametrize("recipe", train_recipes.SEED_FAMILIES)
def test_train_recipes_cnn_rnn_transformer_gan(tmp_path, capsys, recipe):
    final = train_recipes.main(["--epochs", "1", "--out", str(tmp_path), recipe])[recipe]
    assert (tmp_path / recipe / "checkpoint.safetensors").is_file()
    if recipe == "gan-digits":
        assert {"d_loss", "g_loss"} <= set(final)
    else:
        assert final["test_accuracy"] > 0.3  # one epoch: well above chance (0.1)
    assert recipe in capsys.readouterr().out


def test_export_dynamic_batch_runs_every_batch_size(tmp_path):
    differences = export_dynamic_batch.main(["--out", str(tmp_path / "lenet.onnx")])
    assert set(differences) == {1, 7, 32} and max(differences.values()) < 1e-4


def test_serve_repository_loads_both_versions_and_simple(tmp_path):
    loaded = serve_repository.main(["--out", str(tmp_path / "repo")])
    assert sorted(loaded["mlp"]) == ["1", "2"] and loaded["simple"] == ["1"]


def test_triton_client_against_the_default_repository(capsys):
    server = InferenceServer(ServerOptions(model_repository=str(serve_repository.DEFAULT_REPOSITORY),
                                           grpc_address="127.0.0.1", grpc_port=0, metrics_port=None,
                                           shutdown_timeout=5.0))
    server.start()
    try:
        triton_client.main(["--url", f"127.0.0.1:{server.grpc_port}"])
    finally:
        server.stop()
    assert "async: INPUT0 - INPUT1 = [0. 0. 0. 0.]" in capsys.readouterr().out


def test_torch_exported_model_runs_in_inference_session(tmp_path):
    assert torch_onnx.main(["--out", str(tmp_path / "seed_cnn.onnx")]) < 1e-4


@pytest.mark.cuda
def test_gpu_trains_exports_and_serves_on_cuda(tmp_path):
    assert gpu.main(["--out", str(tmp_path / "mlp.onnx"), "--epochs", "3"]) > 0.8
