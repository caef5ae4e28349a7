"""Weights move between PyTorch and trainer: the same architecture in both gives the same outputs after a transfer.

The architecture is written once against a library's ``nn`` and built in each: nested modules, ``Sequential``,
``ModuleList``, parameters without a bias and a persistent buffer, so that every kind of ``state_dict`` key occurs.
"""

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import trainer

IN, HIDDEN, OUT = 8, 16, 3
TOLERANCE = 1e-6  # float32


def build(lib):
    """The same model in ``torch`` or ``trainer``: its state_dict keys are the same in both."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, IN))
            self.skip = nn.Linear(IN, IN, bias=False)
            self.register_buffer("scale", lib.ones(IN) * 0.5)

        def forward(self, x):
            return (self.body(x) + self.skip(x)) * self.scale

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(Block(), nn.Tanh(), Block())
            self.heads = nn.ModuleList([nn.Linear(IN, OUT), nn.Linear(IN, OUT)])

        def forward(self, x):
            x = self.encoder(x)
            return self.heads[0](x) + self.heads[1](x)

    return Net()


@pytest.fixture
def models():
    torch.manual_seed(0)
    theirs = build(torch).eval()
    ours = build(trainer).eval()
    for buffer in (theirs.encoder[0].scale, theirs.encoder[2].scale):
        buffer.uniform_(0.5, 1.5)  # not the value a fresh model starts with, so loading must carry it
    return ours, theirs


@pytest.fixture
def inputs():
    return np.random.default_rng(0).standard_normal((16, IN)).astype(np.float32)


def outputs(ours, theirs, inputs):
    with torch.no_grad():
        expected = theirs(torch.from_numpy(inputs)).numpy()
    with trainer.no_grad():
        got = ours(trainer.tensor(inputs)).numpy()
    return got, expected


def assert_same_outputs(ours, theirs, inputs):
    got, expected = outputs(ours, theirs, inputs)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def torch_arrays(model):
    return {key: value.numpy() for key, value in model.state_dict().items()}


def test_state_dict_keys_match_pytorchs(models):
    ours, theirs = models
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}


def test_fresh_models_differ(models, inputs):
    got, expected = outputs(*models, inputs)
    assert np.abs(got - expected).max() > 1e-3  # so the checks below show that loading did something


def test_loading_a_pytorch_safetensors_file(models, inputs, tmp_path):
    ours, theirs = models
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(theirs.state_dict(), path)
    result = ours.load_state_dict(trainer.load(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert_same_outputs(ours, theirs, inputs)


def test_loading_a_safetensors_file_of_numpy_arrays(models, inputs, tmp_path):
    ours, theirs = models
    path = tmp_path / "numpy.safetensors"
    safetensors.numpy.save_file(torch_arrays(theirs), path)
    ours.load_state_dict(trainer.load(path))
    assert_same_outputs(ours, theirs, inputs)


def test_loading_numpy_arrays_directly(models, inputs):
    ours, theirs = models
    arrays = torch_arrays(theirs)
    ours.load_state_dict(arrays)
    assert_same_outputs(ours, theirs, inputs)
    for key, value in ours.state_dict().items():  # copied, not shared: the model owns its weights
        assert not np.shares_memory(value.numpy(), arrays[key])


def test_pytorch_loads_what_trainer_saves(models, inputs, tmp_path):
    ours, theirs = models
    path = tmp_path / "trainer.safetensors"
    trainer.save(ours.state_dict(), path)
    state = safetensors.torch.load_file(path)
    assert sorted(state) == sorted(theirs.state_dict())  # safetensors keeps tensors by name, not in order
    theirs.load_state_dict(state)  # strict: every key present, none extra
    assert_same_outputs(ours, theirs, inputs)
