"""trainer.load on files written by torch.save: what torch.load(weights_only=True) reads, and nothing that runs code."""

import collections
import io
import os
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn

FORMATS = [pytest.param({}, id="zip"), pytest.param({"_use_new_zipfile_serialization": False}, id="legacy")]


def _save(obj, path, **options):
    torch.save(obj, path, **options)
    return path


def _assert_like_torch(loaded, expected, where="obj"):
    """``loaded`` (from trainer.load) holds what ``expected`` (from torch.load) holds: same containers, and tensors
    of the same class, dtype, shape, strides, values and requires_grad."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(loaded, trainer.Tensor), where
        assert isinstance(loaded, nn.Parameter) == isinstance(expected, torch.nn.Parameter), where
        assert str(loaded.dtype).split(".")[1] == str(expected.dtype).split(".")[1], where
        assert tuple(loaded.shape) == tuple(expected.shape), where
        assert tuple(loaded.stride()) == tuple(expected.stride()), where
        assert loaded.requires_grad == expected.requires_grad, where
        if expected.dtype == torch.bfloat16:
            expected, loaded = expected.float(), loaded.float()
        np.testing.assert_array_equal(loaded.detach().numpy(), expected.detach().resolve_conj().numpy(), err_msg=where)
        return
    assert type(loaded) is type(expected) or isinstance(expected, (torch.Size, torch.device, torch.dtype)), where
    if isinstance(expected, dict):
        assert list(loaded) == list(expected), where
        assert getattr(loaded, "_metadata", None) == getattr(expected, "_metadata", None), where
        for key in expected:
            _assert_like_torch(loaded[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(loaded) == len(expected), where
        for i, (a, b) in enumerate(zip(loaded, expected, strict=True)):
            _assert_like_torch(a, b, f"{where}[{i}]")
    elif isinstance(expected, (torch.device, torch.dtype)):
        assert str(loaded).replace("trainer.", "") == str(expected).replace("torch.", ""), where
    else:
        assert loaded == expected, where


def _load_both(path):
    return trainer.load(path), torch.load(path, weights_only=True)


# ------------------------------------------------------------------ models


class _TorchBlock(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class _TrainerBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return trainer.relu(x + self.bn2(self.conv2(trainer.relu(self.bn1(self.conv1(x))))))


def _resnet_like(lib, block):
    return lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3, padding=1), lib.nn.BatchNorm2d(4), lib.nn.ReLU(), block(4),
                             lib.nn.AdaptiveAvgPool2d(1), lib.nn.Flatten(), lib.nn.Linear(4, 5))


def _trained_torch_model():
    torch.manual_seed(0)
    model = _resnet_like(torch, _TorchBlock).double()
    model.train()
    with torch.no_grad():
        for _ in range(2):  # moves the BatchNorm running statistics away from their initial values
            model(torch.randn(4, 3, 6, 6, dtype=torch.float64))
    return model.eval()


@pytest.mark.parametrize("options", FORMATS)
def test_resnet_like_state_dict_loads_into_a_trainer_model(tmp_path, options):
    torch_model = _trained_torch_model()
    path = _save(torch_model.state_dict(), tmp_path / "resnet.pth", **options)
    loaded, expected = _load_both(path)
    _assert_like_torch(loaded, expected)
    model = _resnet_like(trainer, _TrainerBlock).double()
    model.load_state_dict(loaded)
    model.eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6))
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(trainer.tensor(x)).detach().numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("options", FORMATS)
def test_checkpoint_with_optimizer_state_and_plain_data(tmp_path, options):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    checkpoint = {"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "parameters": list(model.parameters()), "best": (0.5, None, True), "tags": {"a", "b"},
                  "blob": b"\x00\xffbytes", "z": 1 + 2j, "dtype": torch.float16, "device": torch.device("cpu"),
                  "size": torch.Size([2, 3]), 7: "int key", "counts": collections.Counter("aab")}
    path = _save(checkpoint, tmp_path / "checkpoint.pt", **options)
    loaded, expected = _load_both(path)
    _assert_like_torch(loaded, expected)
    assert loaded["dtype"] is trainer.float16 and loaded["device"] == trainer.device("cpu")
    assert isinstance(loaded["parameters"][0], nn.Parameter) and loaded["parameters"][0].requires_grad
    assert loaded["optimizer"]["state"][0]["step"].shape == ()


@pytest.mark.parametrize("options", FORMATS)
def test_every_dtype_and_odd_shapes(tmp_path, options):
    torch.manual_seed(0)
    tensors = {str(dtype): (torch.randn(2, 3) * 50).to(dtype) for dtype in (
        torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16,
        torch.float32, torch.float64, torch.complex64, torch.complex128)}
    tensors.update(scalar=torch.tensor(2.5, dtype=torch.float64), empty=torch.empty(0, 4), empty_int=torch.zeros(3, 0,
                   dtype=torch.int32), transposed=torch.randn(3, 4).t(), strided=torch.randn(6, 5)[::2, 1::2],
                   conj=torch.randn(3, dtype=torch.complex128).conj(), expanded=torch.randn(3, 1).expand(3, 4),
                   grad=torch.randn(2, requires_grad=True),
                   half_grad=torch.randn(2, dtype=torch.float16).requires_grad_())
    path = _save(tensors, tmp_path / "dtypes.pt", **options)
    loaded, expected = _load_both(path)
    _assert_like_torch(loaded, expected)
    assert loaded["scalar"].dim() == 0


@pytest.mark.parametrize("options", FORMATS)
def test_views_of_one_storage_share_memory_as_in_torch(tmp_path, options):
    base = torch.arange(12.0).reshape(3, 4)
    path = _save({"base": base, "row": base[1], "column": base[:, 2], "tail": base.view(-1)[5:]}, tmp_path / "v.pt",
                 **options)
    loaded, expected = _load_both(path)
    _assert_like_torch(loaded, expected)
    for tensors in (loaded, expected):
        tensors["base"][1, 2] = -1.0
    for key in ("row", "column", "tail"):
        np.testing.assert_array_equal(loaded[key].numpy(), expected[key].numpy())
    assert loaded["row"].untyped_storage().data_ptr() == loaded["base"].untyped_storage().data_ptr()


def test_tensors_of_different_storages_do_not_share(tmp_path):
    path = _save({"a": torch.zeros(3), "b": torch.zeros(3)}, tmp_path / "two.pt")
    loaded = trainer.load(path)
    loaded["a"][0] = 1.0
    assert loaded["b"][0].item() == 0.0


def _as_big_endian(path, out):
    """The zip checkpoint at ``path`` (a dict of tensors, each with its own storage) rewritten as a big-endian
    machine writes it, which torch cannot do here."""
    tensors = list(torch.load(path, weights_only=True).values())  # storage key i holds tensor i
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for item in source.infolist():
            data = source.read(item)
            folder, _, name = item.filename.rpartition("/")
            if folder.endswith("/data"):
                tensor = tensors[int(name)]
                part = tensor.element_size() // (2 if tensor.is_complex() else 1)
                data = np.frombuffer(data, f"<u{part}").astype(f">u{part}").tobytes() if part > 1 else data
            elif name == "byteorder":
                data = b"big"
            target.writestr(item, data)
    return out


def test_big_endian_files_are_read_as_torch_reads_them(tmp_path):
    torch.manual_seed(0)
    tensors = {"f32": torch.randn(3, 2), "i64": torch.arange(-3, 3), "c128": torch.randn(2, dtype=torch.complex128),
               "bf16": torch.randn(4).to(torch.bfloat16), "u8": torch.arange(5, dtype=torch.uint8)}
    big = _as_big_endian(_save(tensors, tmp_path / "little.pt"), tmp_path / "big.pt")
    loaded, expected = _load_both(big)
    _assert_like_torch(loaded, expected)
    _assert_like_torch(loaded, tensors)


def test_map_location_and_file_objects(tmp_path):
    path = _save({"w": torch.ones(2)}, tmp_path / "w.pt")
    with open(path, "rb") as file:
        loaded = trainer.load(file, map_location=trainer.device("cpu"))
    assert loaded["w"].device == trainer.device("cpu")
    np.testing.assert_array_equal(trainer.load(io.BytesIO(path.read_bytes()), map_location="cpu")["w"].numpy(),
                                  np.ones(2, np.float32))


# ------------------------------------------------------------------ files that need code are refused


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("options", FORMATS)
@pytest.mark.parametrize("weights_only", [None, True, False])
def test_a_reduce_calling_os_system_is_refused_and_not_run(tmp_path, options, weights_only):
    marker = tmp_path / "pwned"
    path = _save({"w": torch.ones(1), "payload": _RunsCommand(marker)}, tmp_path / "evil.pt", **options)
    with pytest.raises(pickle.UnpicklingError, match=rf"GLOBAL {os.system.__module__}\.system was not an allowed "
                                                     r"global.*weights_only=False does not change that"):
        trainer.load(path, weights_only=weights_only)
    assert not marker.exists()


def _zip_checkpoint_with_pickle(tmp_path, edit):
    """A torch.save zip of ones(4) whose data.pkl is replaced by ``edit(data.pkl)``."""
    path = _save(torch.ones(4), tmp_path / "template.pt")
    out = tmp_path / "crafted.pt"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, edit(data) if item.filename.endswith("/data.pkl") else data)
    return out


def test_builtins_eval_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "evaluated"
    payload = f"open({str(marker)!r}, 'w').close()"
    crafted = b"\x80\x02cbuiltins\neval\nX" + len(payload).to_bytes(4, "little") + payload.encode() + b"\x85R."
    path = _zip_checkpoint_with_pickle(tmp_path, lambda data: crafted)
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL builtins.eval was not an allowed global"):
        trainer.load(path, weights_only=False)
    assert not marker.exists()


def test_a_whole_module_is_refused_with_conversion_advice(tmp_path):
    path = _save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"GLOBAL torch\.nn\.modules\.linear\.Linear.*"
                                                     r"torch\.save\(model\.state_dict\(\), path\)"):
        trainer.load(path)


def test_out_of_bounds_tensor_geometry_is_refused(tmp_path):
    def as_100_elements(data):  # ones(4)'s storage viewed as 100 elements: must fail, not read past its memory
        assert data.count(b"K\x04\x85") == 1  # the size tuple (4,)
        return data.replace(b"K\x04\x85", b"Kd\x85")

    path = _zip_checkpoint_with_pickle(tmp_path, as_100_elements)
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 4 elements"):
        trainer.load(path)


def test_unsupported_tensors_raise_clear_errors(tmp_path):
    cases = [(torch.ones(2, dtype=torch.uint16), TypeError, "dtype torch.uint16, which trainer has no dtype for"),
             (torch.eye(2).to_sparse(), RuntimeError, "holds a sparse tensor"),
             (torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.quint8), RuntimeError, "holds a quantized tensor")]
    for i, (tensor, error, message) in enumerate(cases):
        with pytest.raises(error, match=message):
            trainer.load(_save(tensor, tmp_path / f"{i}.pt"))


@pytest.mark.parametrize("make, what", [(torch.nn.Parameter, "a Parameter"), (torch.Tensor.clone, "a tensor")])
def test_tensors_with_python_attributes_are_refused(tmp_path, make, what):
    tensor = make(torch.ones(2))
    tensor.note = "extra"
    with pytest.raises(RuntimeError, match=f"{what} saved with Python attributes"):
        trainer.load(_save(tensor, tmp_path / "p.pt"))


def test_torchscript_archives_are_named(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    with pytest.raises(RuntimeError, match="TorchScript archive"):
        trainer.load(path)


def test_a_plain_pickle_is_not_taken_for_a_checkpoint(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(RuntimeError, match="not a PyTorch checkpoint"):
        trainer.load(path)


def test_a_storage_claiming_more_bytes_than_saved_is_refused_before_allocating(tmp_path):
    def as_2_pow_40_elements(data):
        assert data.count(b"K\x04t") == 1  # the storage record's element count, 4
        return data.replace(b"K\x04t", b"\x8a\x06\x00\x00\x00\x00\x00\x01t")  # LONG1: 2**40

    with pytest.raises(RuntimeError, match=r"does not hold the 4398046511104 bytes"):
        trainer.load(_zip_checkpoint_with_pickle(tmp_path, as_2_pow_40_elements))


def test_meta_map_location_is_refused_clearly(tmp_path):
    with pytest.raises(NotImplementedError, match="map_location='meta' is not supported for files written by torch"):
        trainer.load(_save(torch.ones(2), tmp_path / "w.pt"), map_location="meta")


def test_the_pre_0_4_tar_format_asks_for_a_resave(tmp_path):
    path = tmp_path / "old.pt"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:  # the layout of torch's legacy tar files
        for member in ("sys_info", "storages", "tensors", "pickle"):
            info = tarfile.TarInfo(member)
            info.size = 1
            archive.addfile(info, io.BytesIO(b"\x80"))
    with pytest.raises(RuntimeError, match="tar archive, the format of PyTorch releases before 0.4"):
        trainer.load(path)
