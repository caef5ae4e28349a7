"""FX graph mode post-training quantization (prepare_fx / convert_fx / QConfigMapping) against PyTorch: the same
models built from the same weights and calibrated on the same data get the same observers, grids and int8 outputs."""


import numpy as np
import pytest
import torch
from torch.ao.quantization import get_default_qat_qconfig_mapping as torch_default_qat_mapping
from torch.ao.quantization import get_default_qconfig_mapping as torch_default_mapping
from torch.ao.quantization.quantize_fx import convert_fx as torch_convert_fx
from torch.ao.quantization.quantize_fx import prepare_fx as torch_prepare_fx
from torch.ao.quantization.quantize_fx import prepare_qat_fx as torch_prepare_qat_fx

import trainer
from trainer.ao.quantization import (
    QConfigMapping,
    default_qconfig,
    get_default_qat_qconfig_mapping,
    get_default_qconfig_mapping,
)
from trainer.ao.quantization.quantize_fx import convert_fx, fuse_fx, prepare_fx, prepare_qat_fx

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning", "ignore::FutureWarning")


def _cnn(lib):
    nn = lib.nn

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(64, 5)

        def forward(self, x):
            x = self.pool(self.relu(self.bn(self.conv(x))))
            return self.fc(lib.flatten(x, 1))

    return CNN()


def _residual(lib):
    nn, F = lib.nn, lib.nn.functional

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 3, 3, padding=1)
            self.c2 = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            y = self.c2(F.relu(self.c1(x))) + x
            return F.relu(y)

    return Residual()


def _mixed(lib):
    """mul, dropout, adaptive pooling, reshape/view, cat, linear-relu, and a float-only op (exp) in between."""
    nn, F = lib.nn, lib.nn.functional

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(4)
            self.drop = nn.Dropout(0.5)
            self.ap = nn.AdaptiveAvgPool2d(2)
            self.fc = nn.Linear(32, 5)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(5, 3)

        def forward(self, x):
            x = F.max_pool2d(self.conv(x), 2)
            z = self.drop(x * self.bn2(x))
            a = lib.cat([self.ap(z).reshape(2, -1), z.view(2, 4, 16)[:, :, :4].reshape(2, -1)], 1)
            a = lib.exp(self.relu(self.fc(a)))
            return self.fc2(a)

    return Mixed()


def _float_kernels(lib):
    """Scalar add/mul, average pooling, standalone relu, the nnq activations and the fixed-grid ops."""
    nn = lib.nn

    class FloatKernels(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.conv1 = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)
            self.ap = nn.AvgPool2d(2)
            self.elu, self.leaky, self.hswish = nn.ELU(), nn.LeakyReLU(0.1), nn.Hardswish()
            self.sigmoid = nn.Sigmoid()
            self.conv2 = nn.Conv2d(4, 2, 1)

        def forward(self, x):
            y = self.ap((self.conv(x) + 0.5) * 2.0)
            y = lib.relu(y).relu() - 0.25
            y = self.hswish(self.leaky(self.elu(self.conv2(lib.tanh(self.ap(self.conv1(x))) + y))))
            return self.sigmoid(y)

    return FloatKernels()


def _pair(build, seed=0):
    torch.manual_seed(seed)
    torch_model = build(torch).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in torch_model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    trainer_model = build(trainer).eval()
    trainer_model.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in torch_model.state_dict().items()})
    return torch_model, trainer_model


def _quantize_both(build, batches=3):
    torch_model, trainer_model = _pair(build)
    rng = np.random.default_rng(1)
    data = [rng.standard_normal((2, 3, 8, 8)).astype(np.float32) for _ in range(batches)]
    tp = torch_prepare_fx(torch_model, torch_default_mapping("x86"), (torch.from_numpy(data[0]),))
    mp = prepare_fx(trainer_model, get_default_qconfig_mapping("x86"), (trainer.tensor(data[0]),))
    with torch.no_grad():
        for batch in data:
            tp(torch.from_numpy(batch))
            mp(trainer.tensor(batch))
    return tp, mp, data


def _observer_groups(gm):
    """Observer node names grouped by the module instance they call."""
    groups = {}
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target.startswith("activation_post_process_"):
            groups.setdefault(id(gm.get_submodule(node.target)), []).append(node.name)
    return sorted(groups.values())


def _node_names(gm):
    return [(n.op, n.name) for n in gm.graph.nodes]


@pytest.mark.parametrize("build", [_cnn, _residual, _mixed, _float_kernels])
def test_prepare_places_and_shares_observers_as_torch(build):
    tp, mp, _ = _quantize_both(build)
    assert _node_names(mp) == _node_names(tp)
    assert _observer_groups(mp) == _observer_groups(tp)
    for group in _observer_groups(tp):
        t_scale, t_zp = tp.get_submodule(group[0]).calculate_qparams()
        m_scale, m_zp = mp.get_submodule(group[0]).calculate_qparams()
        np.testing.assert_allclose(float(m_scale), float(t_scale), rtol=1e-5)
        assert int(m_zp) == int(t_zp)


@pytest.mark.parametrize("build", [_cnn, _residual, _mixed, _float_kernels])
def test_convert_matches_torch_int8_outputs(build):
    tp, mp, data = _quantize_both(build)
    output_observer = next(n for n in tp.graph.nodes if n.op == "output").args[0]
    out_scale = float(tp.get_submodule(output_observer.target).calculate_qparams()[0])
    tq, mq = torch_convert_fx(tp), convert_fx(mp)
    ours = {name: type(m).__name__ for name, m in mq.named_children()}
    theirs = {name: type(m).__name__ for name, m in tq.named_children()}
    # trainer calls its integer average pooling as a function, not through the float AvgPool2d module
    assert ours == {name: kind for name, kind in theirs.items() if kind != "AvgPool2d"}
    for batch in data:
        expected = tq(torch.from_numpy(batch)).numpy()
        got = mq(trainer.tensor(batch)).numpy()
        quanta = np.abs(got - expected) / out_scale
        assert quanta.max() <= 1.0 + 1e-4
        assert np.mean(quanta > 0.5) <= 0.02, f"{np.mean(quanta > 0.5):.3f} of the outputs are 1 quantum off"


def test_converted_graphs_have_torch_structure():
    tp, mp, _ = _quantize_both(_cnn)
    names = [n.name for n in convert_fx(mp).graph.nodes]
    assert names == [n.name for n in torch_convert_fx(tp).graph.nodes]
    tp, mp, _ = _quantize_both(_residual)
    tq, mq = torch_convert_fx(tp), convert_fx(mp)
    assert [n.name for n in mq.graph.nodes if n.op != "get_attr"] == \
        [n.name for n in tq.graph.nodes if n.op != "get_attr"]
    assert "add_relu" in [n.name for n in mq.graph.nodes]
    assert not any(hasattr(m, "qconfig") for m in mq.modules())


@pytest.mark.parametrize("build", [_cnn, _residual])
def test_prepare_qat_fx_trains_and_converts_like_torch(build):
    torch_model, trainer_model = _pair(build)
    torch_model.train()
    trainer_model.train()
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32)
    tp = torch_prepare_qat_fx(torch_model, torch_default_qat_mapping("x86"), (torch.from_numpy(x),))
    mp = prepare_qat_fx(trainer_model, get_default_qat_qconfig_mapping("x86"), (trainer.tensor(x),))
    assert _node_names(mp) == _node_names(tp)
    expected = tp(torch.from_numpy(x))
    got = mp(trainer.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    got.sum().backward()  # fake-quantized training: gradients reach the float weights
    assert all(p.grad is not None for p in mp.parameters() if p.requires_grad)
    tp.eval()
    mp.eval()
    tq, mq = torch_convert_fx(tp), convert_fx(mp)
    np.testing.assert_allclose(mq(trainer.tensor(x)).numpy(), tq(torch.from_numpy(x)).numpy(), rtol=0, atol=1e-6)


def test_fuse_fx_folds_batch_norm_like_torch():
    torch_model, trainer_model = _pair(_cnn)
    fused = fuse_fx(trainer_model)
    assert [type(m).__name__ for _, m in fused.named_children()] == ["ConvReLU2d", "MaxPool2d", "Linear"]
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32)
    expected = torch_model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(fused(trainer.tensor(x)).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_qconfig_mapping_precedence_and_dict():
    other = trainer.ao.quantization.default_per_channel_qconfig
    mapping = (QConfigMapping().set_global(default_qconfig).set_object_type(trainer.nn.Conv2d, other)
               .set_module_name("c2", None).set_module_name_regex("c.*", default_qconfig))
    torch_model, trainer_model = _pair(_residual)
    prepared = prepare_fx(trainer_model, mapping, (trainer.randn(2, 3, 8, 8),))
    assert prepared.c1.qconfig is default_qconfig  # the regex wins over the object type
    assert prepared.c2.qconfig is None  # the module name wins over the regex
    again = QConfigMapping.from_dict(mapping.to_dict())
    assert again.to_dict() == mapping.to_dict()
    ours, theirs = get_default_qconfig_mapping("x86").to_dict(), torch_default_mapping("x86").to_dict()
    assert list(ours) == list(theirs)

    def spell(key):
        return key if isinstance(key, str) else key.__name__

    assert [spell(k) for k, _ in ours["object_type"]] == [spell(k) for k, _ in theirs["object_type"]]


def test_bad_arguments_raise_like_torch():
    _, model = _pair(_cnn)
    with pytest.raises(AssertionError, match="training mode"):
        prepare_qat_fx(model, get_default_qconfig_mapping(), (trainer.randn(2, 3, 8, 8),))
    with pytest.raises(TypeError, match="QConfigMapping"):
        prepare_fx(model, default_qconfig, (trainer.randn(2, 3, 8, 8),))
