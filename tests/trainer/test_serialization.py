"""trainer.save / trainer.load: safetensors files holding tensors and the exact structure around them."""

import collections
import io
import os
import pickle

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import trainer
import trainer.nn as nn


def _assert_same(loaded, original, where="obj"):
    """Equal values and exactly the same types, all the way down."""
    assert type(loaded) is type(original) or (
        isinstance(original, trainer.Tensor) and type(loaded) is trainer.Tensor
    ), f"{where}: {type(loaded).__name__} != {type(original).__name__}"
    if isinstance(original, trainer.Tensor):
        assert loaded.dtype == original.dtype and loaded.shape == original.shape, where
        np.testing.assert_array_equal(loaded.numpy(), original.detach().numpy(), err_msg=where)
    elif isinstance(original, dict):
        assert list(loaded) == list(original), where
        for key in original:
            assert type(key) is type(next(k for k in loaded if k == key)), f"{where}: key {key!r}"
            _assert_same(loaded[key], original[key], f"{where}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert len(loaded) == len(original), where
        for i, (a, b) in enumerate(zip(loaded, original)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(original, float) and np.isnan(original):
        assert np.isnan(loaded), where
    else:
        assert loaded == original, where


def _checkpoint():
    model = collections.OrderedDict([("fc1.weight", trainer.randn(4, 3)), ("fc1.bias", trainer.zeros(4)),
                                     ("bn.num_batches_tracked", trainer.tensor(7))])
    optimizer = {
        "state": {0: {"step": trainer.tensor(12.0), "exp_avg": trainer.randn(4, 3)}, 1: {"momentum_buffer": None}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False, "foreach": None,
                          "weight_decay": 0, "params": [0, 1]}],
    }
    return {"model": model, "optimizer": optimizer, "epoch": 3, "step": 1200, "best": float("nan"),
            "loss": float("inf"), "note": "", "flags": [True, 1, 1.0, "1", None], "nested": ((), [()], {})}


def test_nested_checkpoint_round_trips_with_exact_types(tmp_path):
    checkpoint = _checkpoint()
    path = tmp_path / "checkpoint.safetensors"
    trainer.save(checkpoint, path)
    _assert_same(trainer.load(path), checkpoint)
    _assert_same(trainer.load(str(path), map_location="cpu"), checkpoint)


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    checkpoint = _checkpoint()
    trainer.save(checkpoint, buffer)
    buffer.seek(0)
    _assert_same(trainer.load(buffer), checkpoint)
    with open(tmp_path / "c.safetensors", "wb") as f:
        trainer.save(trainer.arange(5), f)
    with open(tmp_path / "c.safetensors", "rb") as f:
        _assert_same(trainer.load(f, weights_only=True), trainer.arange(5))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "int32", "int16", "int8", "uint8",
                                   "bool"])
def test_tensor_dtypes_round_trip(tmp_path, dtype):
    values = np.array([[0, 1, 2], [3, 250, 7]]).astype(dtype)
    original = trainer.from_numpy(values)
    path = tmp_path / f"{dtype}.safetensors"
    trainer.save({"x": original, "scalar": original[1, 1], "empty": original[:0]}, path)
    loaded = trainer.load(path)
    _assert_same(loaded, {"x": original, "scalar": original[1, 1], "empty": original[:0]})
    loaded["x"].add_(loaded["x"])  # loaded tensors are writable
    np.testing.assert_array_equal(trainer.load(path)["x"].numpy(), values)  # ... and own their memory


def test_strided_parameters_and_grad_tensors_save_their_values(tmp_path):
    strided = trainer.arange(12, dtype=trainer.float32).reshape(3, 4).t()
    weight = nn.Parameter(trainer.randn(2, 2))
    grad_tensor = trainer.randn(3, requires_grad=True) * 2
    trainer.save([strided, weight, grad_tensor], tmp_path / "t.safetensors")
    loaded = trainer.load(tmp_path / "t.safetensors")
    for got, want in zip(loaded, [strided, weight, grad_tensor]):
        assert type(got) is trainer.Tensor and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want.detach().numpy())


def test_numpy_scalars_are_stored_as_numbers(tmp_path):
    trainer.save({"lr": np.float64(0.5), "step": np.int64(3), "flag": np.bool_(True)}, tmp_path / "n.safetensors")
    loaded = trainer.load(tmp_path / "n.safetensors")
    assert loaded == {"lr": 0.5, "step": 3, "flag": True}
    assert [type(v) for v in loaded.values()] == [float, int, bool]


def test_colliding_paths_get_distinct_tensor_names(tmp_path):
    obj = {"a/b": trainer.zeros(1), "a": {"b": trainer.ones(1)}}
    trainer.save(obj, tmp_path / "c.safetensors")
    _assert_same(trainer.load(tmp_path / "c.safetensors"), obj)
    assert sorted(safetensors.numpy.load_file(tmp_path / "c.safetensors")) == ["a/b", "a/b~1"]


# ------------------------------------------------------------------ interoperability


def test_flat_state_dict_tensor_names_are_its_keys(tmp_path):
    state = collections.OrderedDict([("0.weight", trainer.randn(3, 2)), ("0.bias", trainer.randn(3)),
                                     ("2.weight", trainer.randn(1, 3).to(trainer.float64))])
    path = tmp_path / "model.safetensors"
    trainer.save(state, path)
    arrays = safetensors.numpy.load_file(path)
    assert sorted(arrays) == sorted(state)
    from_torch = safetensors.torch.load_file(path)
    assert sorted(from_torch) == sorted(state)
    for key, value in state.items():
        assert from_torch[key].dtype == getattr(torch, value.dtype.name)
        np.testing.assert_array_equal(from_torch[key].numpy(), value.numpy())


def test_loads_a_state_dict_written_by_safetensors_torch(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(model.state_dict(), path)
    loaded = trainer.load(path)
    assert type(loaded) is dict and sorted(loaded) == sorted(model.state_dict())
    for key, value in model.state_dict().items():
        assert isinstance(loaded[key], trainer.Tensor) and loaded[key].dtype.name == str(value.dtype).split(".")[1]
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())


# ------------------------------------------------------------------ atomic writes


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_failing_encoder_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    trainer.save({"w": trainer.ones(3)}, path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(safetensors.numpy, "save", broken)
    with pytest.raises(RuntimeError, match="encoder crashed"):
        trainer.save({"w": trainer.zeros(3)}, path)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []


def test_a_crash_while_writing_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    trainer.save({"w": trainer.ones(3)}, path)
    before = path.read_bytes()
    written = []

    def crash(fd):  # the temporary file is fully written by now; the process "dies" before the rename
        written.append(os.fstat(fd).st_size)
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk vanished"):
        trainer.save({"w": trainer.zeros(1000)}, path)
    assert written and written[0] > len(before)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    monkeypatch.undo()
    np.testing.assert_array_equal(trainer.load(path)["w"].numpy(), np.ones(3, np.float32))


# ------------------------------------------------------------------ errors


def test_pickle_checkpoints_that_need_code_are_refused(tmp_path):
    module = torch.nn.Linear(2, 2)  # the whole module, not its state_dict: unpickling it would import its class
    torch.save(module, tmp_path / "model.pt")
    torch.save(module, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for name in ("model.pt", "legacy.pt"):
        with pytest.raises(pickle.UnpicklingError, match="Linear was not an allowed.*safetensors.torch.save_file"):
            trainer.load(tmp_path / name)


def test_other_files_are_not_safetensors(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, this is not a tensor file at all")
    with pytest.raises(ValueError, match=r"notes.txt is not a safetensors file"):
        trainer.load(tmp_path / "notes.txt")


def test_saving_into_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="the directory .*missing does not exist"):
        trainer.save(trainer.ones(1), tmp_path / "missing" / "x.safetensors")


def test_unsupported_objects_name_their_key_path(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['optimizer'\]\['state'\]\[0\]\[1\], an object of type object"):
        trainer.save({"optimizer": {"state": [[1, object()]]}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"dict key \(1, 2\) of type tuple in obj\['a'\]"):
        trainer.save({"a": {(1, 2): 3}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="type ndarray"):
        trainer.save(np.zeros(3), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists() and _leftovers(tmp_path) == []


# ------------------------------------------------------------------ GPU


@pytest.mark.cuda
def test_cuda_tensors_save_from_and_load_onto_the_gpu(tmp_path):
    original = {"w": trainer.randn(3, 4, device="cuda"), "step": 5}
    trainer.save(original, tmp_path / "gpu.safetensors")
    on_cpu = trainer.load(tmp_path / "gpu.safetensors")
    assert on_cpu["w"].device.type == "cpu"
    np.testing.assert_array_equal(on_cpu["w"].numpy(), original["w"].cpu().numpy())
    on_gpu = trainer.load(tmp_path / "gpu.safetensors", map_location="cuda")
    assert on_gpu["w"].device.type == "cuda" and on_gpu["step"] == 5
    np.testing.assert_array_equal(on_gpu["w"].cpu().numpy(), on_cpu["w"].numpy())
