"""CUDA: a clear error without CuPy; on a GPU, the same results as on the CPU."""

import numpy as np
import pytest

import trainer
import trainer.nn as nn
from trainer.backend import cupy_available


@pytest.mark.skipif(cupy_available(), reason="checks the message shown when CUDA cannot be used")
@pytest.mark.parametrize("make", [
    lambda: trainer.zeros(2, device="cuda"),
    lambda: trainer.randn(2, 3).to("cuda"),
    lambda: trainer.randn(2, 3).cuda(),
    lambda: nn.Linear(2, 3).to("cuda"),
])
def test_cuda_without_cupy_says_how_to_install_it(make):
    with pytest.raises(RuntimeError, match=r"pip install 'sardonyx\[cuda12\]'"):
        make()


def test_cuda_is_available_is_false_without_cupy_or_device():
    assert trainer.cuda.is_available() == cupy_available()


def test_device_strings_follow_pytorch():
    assert str(trainer.device("cuda:1")) == "cuda:1"
    assert trainer.device("cuda", 1) == trainer.device("cuda:1")
    assert trainer.device("cpu") == "cpu"
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        trainer.device("tpu")


@pytest.mark.cuda
def test_ops_and_gradients_on_cuda_match_cpu():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((8, 5))
    results = {}
    for device in ("cpu", "cuda"):
        x = trainer.tensor(data, device=device, requires_grad=True)
        w = trainer.tensor(data[:5].T.copy(), device=device, requires_grad=True)
        y = (x @ w).relu().softmax(1)
        loss = (y * y).sum() + x.max() - x.std() + x[::2, 1:].mean()
        loss.backward()
        results[device] = (loss.item(), x.grad.cpu().numpy(), w.grad.cpu().numpy())
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], abs=1e-10)
    np.testing.assert_allclose(results["cuda"][1], results["cpu"][1], atol=1e-10)
    np.testing.assert_allclose(results["cuda"][2], results["cpu"][2], atol=1e-10)


@pytest.mark.cuda
def test_training_step_on_cuda_matches_cpu():
    rng = np.random.default_rng(1)
    inputs, labels = rng.standard_normal((16, 64)).astype(np.float32), rng.integers(0, 10, 16)
    losses = {}
    for device in ("cpu", "cuda"):
        trainer.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        model.to(device)
        optimizer = trainer.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, y = trainer.tensor(inputs, device=device), trainer.tensor(labels, device=device)
        for _ in range(5):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        losses[device] = loss.item()
        assert model[0].weight.device.type == device
    assert losses["cuda"] == pytest.approx(losses["cpu"], rel=1e-4)


@pytest.mark.cuda
def test_checkpoint_round_trip_from_cuda(tmp_path):
    model = nn.Linear(4, 2).cuda()
    trainer.save(model.state_dict(), tmp_path / "model.safetensors")
    state = trainer.load(tmp_path / "model.safetensors", map_location="cuda")
    assert state["weight"].device.type == "cuda"
    np.testing.assert_array_equal(state["weight"].cpu().numpy(), model.weight.detach().cpu().numpy())
