"""Layers at PyTorch's module paths (``torch.nn.modules.<family>``), with PyTorch's private base classes, so that
``from torch.nn.modules.batchnorm import _BatchNorm`` and ``isinstance`` checks on them behave as in PyTorch; and
the tuple helpers of ``torch.nn.modules.utils``."""

import importlib
import inspect
from collections import OrderedDict

import pytest
import torch

import trainer

IMPORTS = {
    "utils": ["_single", "_pair", "_triple", "_quadruple", "_ntuple", "_reverse_repeat_tuple", "_list_with_default",
              "consume_prefix_in_state_dict_if_present"],
    "batchnorm": ["_BatchNorm", "_NormBase", "_LazyNormBase", "SyncBatchNorm", "LazyBatchNorm2d"],
    "instancenorm": ["_InstanceNorm", "_NormBase", "LazyInstanceNorm1d"],
    "conv": ["_ConvNd", "_ConvTransposeNd", "_LazyConvXdMixin", "LazyConv2d", "LazyConvTranspose3d"],
    "linear": ["LazyLinear", "Identity"],
    "loss": ["_Loss", "_WeightedLoss"],
    "pooling": ["MaxUnpool2d", "_MaxUnpoolNd", "LPPool2d", "_LPPoolNd", "FractionalMaxPool2d", "_AvgPoolNd"],
    "normalization": ["LocalResponseNorm", "CrossMapLRN2d"],
    "activation": ["MultiheadAttention"],
    "sparse": ["EmbeddingBag"],
    "padding": ["_CircularPadNd", "_ReflectionPadNd", "_ReplicationPadNd", "_ConstantPadNd"],
}


@pytest.mark.parametrize("family", sorted(IMPORTS))
def test_names_import_from_torchs_module_paths(family):
    module = importlib.import_module(f"trainer.nn.modules.{family}")
    theirs = importlib.import_module(f"torch.nn.modules.{family}")
    for name in IMPORTS[family]:
        assert hasattr(theirs, name), name
        assert getattr(module, name) is not None
        public = getattr(trainer.nn, name, None)
        if public is not None:
            assert getattr(module, name) is public
    with pytest.raises(AttributeError, match="no attribute 'NoSuchLayer'"):
        module.NoSuchLayer  # noqa: B018


def test_every_public_layer_has_torchs_bases_in_torchs_order():
    for name, theirs in inspect.getmembers(torch.nn, inspect.isclass):
        ours = getattr(trainer.nn, name, None)
        if not issubclass(theirs, torch.nn.Module) or ours is None:
            continue
        their_bases = [k.__name__ for k in theirs.__mro__]
        our_bases = [k.__name__ for k in ours.__mro__ if k.__name__ in their_bases]
        assert our_bases == their_bases, name


@pytest.mark.parametrize("make, base", [
    (lambda nn: nn.InstanceNorm2d(3), "_BatchNorm"),
    (lambda nn: nn.InstanceNorm2d(3), "_NormBase"),
    (lambda nn: nn.BatchNorm1d(3), "_NormBase"),
    (lambda nn: nn.SyncBatchNorm(3), "_BatchNorm"),
    (lambda nn: nn.LazyInstanceNorm2d(), "_NormBase"),
    (lambda nn: nn.LazyBatchNorm2d(), "_BatchNorm"),
])
def test_isinstance_of_the_norm_bases_matches_torch(make, base):
    ours = isinstance(make(trainer.nn), getattr(trainer.nn.modules.batchnorm, base))
    theirs = isinstance(make(torch.nn), getattr(torch.nn.modules.batchnorm, base))
    assert ours == theirs


def test_instance_norms_are_left_alone_by_convert_sync_batchnorm_as_in_torch():
    for lib in (torch, trainer):
        net = lib.nn.Sequential(lib.nn.BatchNorm2d(2), lib.nn.InstanceNorm2d(2))
        converted = lib.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        assert [type(m).__name__ for m in converted] == ["SyncBatchNorm", "InstanceNorm2d"]


@pytest.mark.parametrize("make", [
    lambda nn: nn.ZeroPad2d((1, 0, 2, 1)), lambda nn: nn.ConstantPad1d(2, 0.5), lambda nn: nn.ReflectionPad1d(1),
    lambda nn: nn.CircularPad2d(1), lambda nn: nn.ReplicationPad3d((1, 0, 0, 1, 1, 0)), lambda nn: nn.ReLU6(True),
    lambda nn: nn.ReLU6(), lambda nn: nn.AvgPool1d(3), lambda nn: nn.BCEWithLogitsLoss(),
])
def test_reworked_layers_keep_torchs_repr_and_values(make):
    ours, theirs = make(trainer.nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert [k for k, _ in ours.named_buffers()] == [k for k, _ in theirs.named_buffers()]
    if isinstance(theirs, torch.nn.modules.loss._Loss):
        return
    x = torch.linspace(-3, 8, 2 * 3 * 4 * 5 * 6, dtype=torch.float64)
    rank = 5 if "3d" in type(theirs).__name__ else 4 if "2d" in type(theirs).__name__ else 3
    shape = (2, 3, 4, 5, 6)[:rank]
    x = x[: int(torch.tensor(shape).prod())].reshape(shape)
    expected = theirs(x.clone())
    actual = ours(trainer.tensor(x.numpy()))
    assert actual.shape == tuple(expected.shape)
    torch.testing.assert_close(torch.tensor(actual.numpy()), expected)


def test_tuple_helpers_match_torch():
    ours = trainer.nn.modules.utils
    theirs = torch.nn.modules.utils
    for name in ("_single", "_pair", "_triple", "_quadruple"):
        for value in (3, (1, 2), [4, 5, 6]):
            assert getattr(ours, name)(value) == getattr(theirs, name)(value)
        assert getattr(ours, name).__name__ == name
    assert ours._ntuple(5)(2) == theirs._ntuple(5)(2)
    assert ours._reverse_repeat_tuple((1, 2, 3), 2) == theirs._reverse_repeat_tuple((1, 2, 3), 2)
    assert ours._list_with_default([None, 3], [8, 9, 10]) == theirs._list_with_default([None, 3], [8, 9, 10])
    with pytest.raises(ValueError, match="at least 3"):
        ours._list_with_default([None, 3], [8, 9])
    with pytest.raises(ValueError):
        theirs._list_with_default([None, 3], [8, 9])


def test_consume_prefix_matches_torch():
    def state():
        sd = OrderedDict([("module.a", 1), ("module.b.c", 2), ("other", 3)])
        sd._metadata = OrderedDict([("", {}), ("module", {"v": 1}), ("module.b", {"v": 2})])
        return sd

    ours, theirs = state(), state()
    trainer.nn.modules.utils.consume_prefix_in_state_dict_if_present(ours, "module.")
    torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(theirs, "module.")
    assert list(ours.items()) == list(theirs.items())
    assert list(ours._metadata.items()) == list(theirs._metadata.items())
