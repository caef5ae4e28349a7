"""Models whose forward changes tensors in place (``out += identity``, ``y[:, 0] = 0``, ``x.copy_(y)``, ...)
export as torch.onnx.export exports them: each write becomes new values in the graph, written through views into
the storage they lie in, at every size of a dynamic batch axis."""

import numpy as np
import pytest

import trainer
from exporter import export
from exporter.errors import ExportError
from tests.exporter.function_module import Fn
from trainer import nn
from trainer.nn import functional as F

BATCHES = [{0: 1}, {0: 6}]


def _iadd(x):
    y = x * 2
    y += x.flip(1)
    y -= 0.5
    return y


def _mul_(x):
    y = x + 0.5
    y.mul_(3.0)
    y.div_(x.abs() + 1)
    return y


def _setitem(x):
    y = x * 1
    y[:, 0] = 0
    y[:, 1:, -1] = y[:, :-1, 0] * 2
    y[..., 2] = trainer.tensor([1.0, 2.0, 3.0, 4.0])
    return y


def _slice_of_traced_iadd(x):
    z = x * 0 + 1
    z[:, 1:] += x[:, :-1]
    return z


def _constant_written_from_traced(x):
    z = trainer.zeros(x.shape[1:])  # no batch axis: the same constant at every batch size
    z[1:] += x.sum(0)[:-1]
    return z * 2


def _zeros_like_written_from_traced(x):
    z = trainer.zeros_like(x)
    z[:, 1:] += x[:, :-1]
    return z


def _masked_fill_(x):
    scores = x * 1
    scores.masked_fill_(x < 0, -1.0)
    mask = trainer.zeros(4, 5)  # a constant written through a traced boolean mask
    mask.masked_fill_(x[0] > 0.5, -1e4)
    return scores, x + mask


def _clamp_(x):
    h = x - 0.1
    h.clamp_(min=0)
    h[:, 1:3].clamp_(max=0.5)
    return h


def _copy_(x):
    buffer = x * 0
    buffer.copy_(x.flip(2))
    row = trainer.zeros(5)
    row.copy_(x[0, 0])
    return buffer, row


def _zero_(x):
    y = x * 2
    y[:, 1].zero_()
    y[:, :, 0].fill_(x.max())
    return y


def _index_put_(x):
    y = x.clone()
    y.index_put_((trainer.tensor([0]),), trainer.tensor(7.0))
    y.index_put_((trainer.tensor([0]), trainer.tensor([2])), x[:1, 1] * 3, accumulate=True)
    return y


def _scatter_(x):
    y = x * 1
    y.scatter_(2, x.argmax(2, keepdim=True), x.amax(2, keepdim=True) * 10)
    y.scatter_add_(1, (x[:, :1] > 5).long(), x[:, :1])  # a traced index (all zeros), as wide as the batch
    return y


def _relu_(x):
    y = x * 1
    y.relu_()
    z = trainer.relu_(x - 0.3)
    return y, nn.ReLU(inplace=True)(z + y)


def _through_a_chain_of_views(x):
    y = x * 1
    y.transpose(1, 2)[:, 1:3].mul_(-2)  # columns 1 and 2 of the last axis, through a transpose
    y.reshape(y.shape[0], -1)[:, ::7].add_(10)
    return y


def _views_see_later_writes(x):
    y = x * 1
    row = y[:, 0]
    y.add_(1)  # row is a view of y: it sees this
    row.mul_(2)  # and y sees this
    return row, y


def _detached_alias(x):
    y = x * 1
    y.detach().mul_(2)  # the same storage
    return y


def _squeeze_(x):
    y = x[:, :1] * 1
    y.squeeze_(1)
    return y + 1


def _integer_in_place(x):
    index = x.argmax(2)
    index += 1
    index.clamp_(max=3)
    return index


def _writes_into_its_input(x):
    x[:, 0] = 0  # idempotent, so that the check's trainer run (which writes again) gives the same input
    x.clamp_(min=-1)
    return x * 2


PATTERNS = {
    "iadd_isub": _iadd,
    "mul_div": _mul_,
    "setitem": _setitem,
    "slice_iadd": _slice_of_traced_iadd,
    "constant_written_from_traced": _constant_written_from_traced,
    "masked_fill": _masked_fill_,
    "clamp": _clamp_,
    "copy": _copy_,
    "zero_fill": _zero_,
    "index_put": _index_put_,
    "scatter": _scatter_,
    "relu": _relu_,
    "chain_of_views": _through_a_chain_of_views,
    "views_see_writes": _views_see_later_writes,
    "detached_alias": _detached_alias,
    "squeeze": _squeeze_,
    "integer": _integer_in_place,
    "writes_into_input": _writes_into_its_input,
}


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic_batch"])
@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_in_place_patterns_export_and_match(name, dynamic, runtime, roundtrip):
    trainer.manual_seed(0)
    example = trainer.randn(3, 4, 5)
    if dynamic:
        roundtrip(Fn(PATTERNS[name]), example, runtime, dynamic=[0], variants=BATCHES)
    else:
        roundtrip(Fn(PATTERNS[name]), example, runtime)


def test_zeros_like_written_from_traced_values(runtime, roundtrip):
    # zeros_like makes a constant of the traced shape, so this one is exported for that shape only
    trainer.manual_seed(0)
    roundtrip(Fn(_zeros_like_written_from_traced), trainer.randn(3, 4, 5), runtime)


class BasicBlock(nn.Module):
    """torchvision's ResNet block: ``out += identity`` and in-place ReLUs."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        x = F.relu_(x.mean((2, 3)))
        return self.fc(x)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic_batch"])
def test_resnet_basic_blocks_export_and_match(dynamic, runtime, roundtrip):
    trainer.manual_seed(0)
    model = TinyResNet()
    with trainer.no_grad():  # running statistics that are not the identity
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    example = trainer.randn(2, 3, 8, 8)
    if dynamic:
        roundtrip(model, example, runtime, dynamic=[0], variants=BATCHES)
    else:
        roundtrip(model, example, runtime)


def _ops(model_proto):
    return [node.op_type for node in model_proto.graph.node]


def test_a_whole_tensor_write_is_just_the_new_value(tmp_path):
    proto = export(Fn(_iadd).eval(), trainer.randn(3, 4, 5), tmp_path / "m.onnx")
    assert not {"ScatterElements", "ScatterND", "Range"} & set(_ops(proto))


def test_a_slice_write_is_one_scatter_into_its_base(tmp_path):
    # Python's z[k] += y ends with z[k] = (the view already changed): that second write adds nothing
    proto = export(Fn(_slice_of_traced_iadd).eval(), trainer.randn(3, 4, 5), tmp_path / "m.onnx",
                   dynamic_axes={"input": {0: "batch"}})
    assert _ops(proto).count("ScatterElements") == 1


def test_a_constant_written_from_constants_stays_a_constant(tmp_path):
    def fn(x):
        mask = trainer.zeros(4, 5)
        mask[0] = 1
        mask[:, 1:].fill_(2)
        return x + mask

    proto = export(Fn(fn).eval(), trainer.randn(3, 4, 5), tmp_path / "m.onnx")
    assert _ops(proto) == ["Add"]
    (initializer,) = proto.graph.initializer
    expected = np.zeros((4, 5), np.float32)
    expected[0], expected[:, 1:] = 1, 2
    np.testing.assert_array_equal(np.frombuffer(initializer.raw_data, np.float32).reshape(4, 5), expected)


def test_a_write_the_exporter_cannot_follow_is_refused(tmp_path):
    def fn(x):
        y = x * 2
        y.resize_(y.numel())  # the tensor now holds another array over the same memory
        return y + 1

    with pytest.raises(ExportError, match=r"modified in place while tracing \(in module '<root>'\) by a write the "
                                          "exporter cannot follow"):
        export(Fn(fn).eval(), trainer.randn(2, 3), tmp_path / "m.onnx")
