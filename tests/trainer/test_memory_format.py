"""Memory formats (``channels_last``, ``channels_last_3d``, ``contiguous_format``, ``preserve_format``): the strides
each API gives match PyTorch's, values never change, and ops, a training step and an export give PyTorch's
results on channels-last inputs and weights."""

import copy
import pickle

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(0)
X4 = RNG.standard_normal((2, 3, 4, 5))
X5 = RNG.standard_normal((2, 3, 2, 3, 4))
FORMATS = ["contiguous_format", "channels_last", "channels_last_3d", "preserve_format"]


def both(array):
    return torch.tensor(array), trainer.tensor(array)


def test_formats_are_singletons_of_the_memory_format_type():
    for name in FORMATS:
        fmt = getattr(trainer, name)
        assert isinstance(fmt, trainer.memory_format)
        assert repr(fmt) == f"trainer.{name}"
        assert pickle.loads(pickle.dumps(fmt)) is fmt and copy.deepcopy(fmt) is fmt
    assert trainer.channels_last != trainer.contiguous_format


@pytest.mark.parametrize("array", [X4, X5, X4[:, :1], X4[:, :, :1, :1]], ids=["4d", "5d", "one-channel", "1x1"])
@pytest.mark.parametrize("name", ["contiguous_format", "channels_last", "channels_last_3d"])
def test_contiguous_and_is_contiguous_match_torch(array, name):
    theirs, ours = both(array)
    fmt_t, fmt_o = getattr(torch, name), getattr(trainer, name)
    try:
        expected = theirs.contiguous(memory_format=fmt_t)
    except RuntimeError as error:
        assert_raises_like_torch(lambda lib: lib.tensor(array).contiguous(memory_format=getattr(lib, name)),
                                 RuntimeError, str(error))
        return
    got = ours.contiguous(memory_format=fmt_o)
    assert got.stride() == expected.stride()
    np.testing.assert_array_equal(got.numpy(), array)
    for other in FORMATS[:3]:
        assert got.is_contiguous(memory_format=getattr(trainer, other)) == \
            expected.is_contiguous(memory_format=getattr(torch, other)), other
    assert got.contiguous(memory_format=fmt_o) is got  # already laid out so: no copy


def test_contiguous_of_preserve_format_returns_self_or_raises_like_torch():
    ours = trainer.tensor(X4)
    assert ours.contiguous(memory_format=trainer.preserve_format) is ours
    assert ours.is_contiguous(memory_format=trainer.preserve_format)
    assert_raises_like_torch(lambda lib: lib.tensor(X4).transpose(1, 2).contiguous(memory_format=lib.preserve_format),
                             RuntimeError, "preserve memory format is unsupported by the contiguous operator")


def test_contiguous_brings_a_channels_last_tensor_back_to_c_order():
    cl = trainer.tensor(X4).contiguous(memory_format=trainer.channels_last)
    back = cl.contiguous()
    assert back.stride() == (60, 20, 5, 1) and back.is_contiguous()
    np.testing.assert_array_equal(back.numpy(), X4)


@pytest.mark.parametrize("source", ["channels_last", "transposed", "sliced", "expanded"])
def test_clone_preserves_or_sets_the_layout_like_torch(source):
    def make(lib, array):
        t = lib.tensor(array)
        return {"channels_last": lambda: t.contiguous(memory_format=lib.channels_last),
                "transposed": lambda: t.transpose(1, 3),
                "sliced": lambda: t.transpose(0, 2)[..., ::2],
                "expanded": lambda: t[:, :1].expand(2, 3, 4, 5)}[source]()

    theirs, ours = make(torch, X4), make(trainer, X4)
    for name in ("preserve_format", "contiguous_format", "channels_last"):
        expected = theirs.clone(memory_format=getattr(torch, name))
        got = ours.clone(memory_format=getattr(trainer, name))
        assert got.stride() == expected.stride(), name
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert ours.clone().stride() == theirs.clone().stride()
    assert trainer.clone(ours, memory_format=trainer.channels_last).stride() == \
        torch.clone(theirs, memory_format=torch.channels_last).stride()


def test_clone_in_a_format_is_differentiable():
    def fn(lib, x):
        return (x.clone(memory_format=lib.channels_last) * 2).contiguous(memory_format=lib.channels_last).sin()

    assert_forward_and_gradients_match_torch(fn, [X4])


def test_to_with_memory_format_matches_torch():
    theirs, ours = both(X4)
    cl_t = theirs.to(memory_format=torch.channels_last)
    cl_o = ours.to(memory_format=trainer.channels_last)
    assert cl_o.stride() == cl_t.stride()
    assert cl_o.to(memory_format=trainer.channels_last) is cl_o
    assert cl_o.to(trainer.float32).stride() == cl_t.to(torch.float32).stride()  # a cast keeps the layout
    assert ours.to(trainer.float32, memory_format=trainer.channels_last).stride() == \
        theirs.to(torch.float32, memory_format=torch.channels_last).stride()
    copied = cl_o.to(memory_format=trainer.channels_last, copy=True)
    assert copied is not cl_o and copied.stride() == cl_t.stride()
    assert cl_o.to(memory_format=trainer.contiguous_format).stride() == (60, 20, 5, 1)
    assert ours.to(memory_format=trainer.preserve_format) is ours
    transposed = ours.transpose(0, 1)  # strides that read as contiguous_format: to() keeps them, as PyTorch does
    assert transposed.to(memory_format=trainer.contiguous_format) is transposed
    one_by_one_t, one_by_one_o = both(X4[:, :, :1, :1])  # ambiguous strides read as contiguous: to() copies
    assert one_by_one_o.to(memory_format=trainer.channels_last).stride() == \
        one_by_one_t.to(memory_format=torch.channels_last).stride()
    assert_raises_like_torch(lambda lib: lib.tensor(X5).to(memory_format=lib.channels_last), RuntimeError,
                             "required rank 4 tensor to use channels_last format")


def test_creation_functions_take_memory_format_like_torch():
    cl_t = torch.tensor(X4).contiguous(memory_format=torch.channels_last)
    cl_o = trainer.tensor(X4).contiguous(memory_format=trainer.channels_last)
    assert trainer.empty(2, 3, 4, 5, memory_format=trainer.channels_last).stride() == \
        torch.empty(2, 3, 4, 5, memory_format=torch.channels_last).stride()
    assert trainer.empty((2, 3, 2, 3, 4), memory_format=trainer.channels_last_3d).stride() == \
        torch.empty((2, 3, 2, 3, 4), memory_format=torch.channels_last_3d).stride()
    for name in ("empty_like", "zeros_like", "ones_like", "rand_like", "randn_like"):
        for fmt in ("preserve_format", "contiguous_format", "channels_last"):
            got = getattr(trainer, name)(cl_o, memory_format=getattr(trainer, fmt))
            assert got.stride() == getattr(torch, name)(cl_t, memory_format=getattr(torch, fmt)).stride(), (name, fmt)
    full = trainer.full_like(cl_o, 2.5)
    assert full.stride() == torch.full_like(cl_t, 2.5).stride() and (full.numpy() == 2.5).all()
    ones = trainer.ones_like(cl_o, dtype=trainer.float32, requires_grad=True)
    assert ones.stride() == cl_t.stride() and ones.requires_grad and (ones.detach().numpy() == 1).all()
    assert trainer.zeros_like(trainer.tensor(X4).transpose(1, 3)).stride() == \
        torch.zeros_like(torch.tensor(X4).transpose(1, 3)).stride()


def test_bad_memory_format_arguments_raise_like_torch():
    assert_raises_like_torch(lambda lib: lib.empty(2, 3, memory_format=lib.preserve_format), RuntimeError,
                             "unsupported memory format Preserve")
    assert_raises_like_torch(lambda lib: lib.empty(2, 3, 4, memory_format=lib.channels_last), RuntimeError,
                             "required rank 4 tensor to use channels_last format")
    assert_raises_like_torch(lambda lib: lib.zeros_like(lib.tensor(X4), memory_format=lib.channels_last_3d),
                             RuntimeError, "required rank 5 tensor to use channels_last_3d format")
    assert_raises_like_torch(lambda lib: lib.tensor(X4).contiguous(memory_format="channels_last"), TypeError,
                             "contiguous\\(\\): argument 'memory_format' must be trainer.memory_format, not str")
    assert_raises_like_torch(lambda lib: lib.tensor(X4).is_contiguous(memory_format=None), TypeError,
                             "argument 'memory_format' must be trainer.memory_format, not NoneType")
    assert_raises_like_torch(lambda lib: lib.tensor(X4).clone(memory_format=1), TypeError,
                             "clone\\(\\): argument 'memory_format' must be trainer.memory_format, not int")
    assert not trainer.randn(2, 3).is_contiguous(memory_format=trainer.channels_last)


# ---------------------------------------------------------------- ops on channels-last arrays

def _cl(lib, t):
    return t.contiguous(memory_format=lib.channels_last)


def _cl3(lib, t):
    return t.contiguous(memory_format=lib.channels_last_3d)


OPS = {
    "conv2d": (lambda lib, x, w, b: lib.nn.functional.conv2d(_cl(lib, x), _cl(lib, w), b, padding=1, stride=2),
               [X4, RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)]),
    "conv2d_groups": (lambda lib, x, w: lib.nn.functional.conv2d(_cl(lib, x), _cl(lib, w), groups=3),
                      [X4, RNG.standard_normal((6, 1, 2, 2))]),
    "conv_transpose2d": (lambda lib, x, w: lib.nn.functional.conv_transpose2d(_cl(lib, x), _cl(lib, w), stride=2),
                         [X4, RNG.standard_normal((3, 2, 3, 3))]),
    "conv3d": (lambda lib, x, w: lib.nn.functional.conv3d(_cl3(lib, x), _cl3(lib, w), padding=1),
               [X5, RNG.standard_normal((2, 3, 2, 2, 2))]),
    "batch_norm_train": (lambda lib, x, g, b: lib.nn.functional.batch_norm(_cl(lib, x), None, None, g, b,
                                                                           training=True),
                         [X4, RNG.standard_normal(3), RNG.standard_normal(3)]),
    "batch_norm_eval": (lambda lib, x, g: lib.nn.functional.batch_norm(
        _cl(lib, x), lib.tensor([0.1, -0.2, 0.3], dtype=lib.float64), lib.tensor([1.5, 0.5, 2.0], dtype=lib.float64),
        g, None, training=False), [X4, RNG.standard_normal(3)]),
    "max_pool2d": (lambda lib, x: lib.nn.functional.max_pool2d(_cl(lib, x), 2, stride=1, padding=1), [X4]),
    "avg_pool2d": (lambda lib, x: lib.nn.functional.avg_pool2d(_cl(lib, x), 2, ceil_mode=True), [X4]),
    "adaptive_avg_pool2d": (lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(_cl(lib, x), (2, 3)), [X4]),
    "max_pool3d": (lambda lib, x: lib.nn.functional.max_pool3d(_cl3(lib, x), 2), [X5]),
    "linear_on_last_axis": (lambda lib, x, w: lib.nn.functional.linear(_cl(lib, x), w),
                            [X4, RNG.standard_normal((2, 5))]),
    "flatten_linear": (lambda lib, x, w: lib.nn.functional.linear(lib.flatten(_cl(lib, x), 1), w),
                       [X4, RNG.standard_normal((2, 60))]),
    "group_norm": (lambda lib, x: lib.nn.functional.group_norm(_cl(lib, x), 3), [X4]),
    "interpolate": (lambda lib, x: lib.nn.functional.interpolate(_cl(lib, x), scale_factor=2, mode="bilinear"),
                    [X4]),
    "elementwise_and_reduce": (lambda lib, x: (lib.relu(_cl(lib, x)) * x).sum(dim=(2, 3)), [X4]),
}


@pytest.mark.parametrize("name", list(OPS))
def test_ops_on_channels_last_inputs_match_torch(name):
    fn, arrays = OPS[name]
    assert_forward_and_gradients_match_torch(fn, arrays)


def test_in_place_ops_write_through_channels_last_strides():
    theirs = torch.tensor(X4).contiguous(memory_format=torch.channels_last)
    ours = trainer.tensor(X4).contiguous(memory_format=trainer.channels_last)
    theirs.mul_(3).add_(1)[:, 1] = 0
    ours.mul_(3).add_(1)[:, 1] = 0
    assert ours.stride() == theirs.stride()
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


# ---------------------------------------------------------------- modules

def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, 1), nn.Flatten(), nn.Linear(16, 3))


def _same_weights(ours, theirs):
    ours.load_state_dict({k: trainer.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def test_module_to_channels_last_converts_4d_tensors_only_and_keeps_parameters():
    torch.manual_seed(0)
    theirs = _cnn(torch).double()
    ours = _cnn(trainer).double()
    _same_weights(ours, theirs)
    weight = ours[0].weight
    assert ours.to(memory_format=trainer.channels_last) is ours
    theirs.to(memory_format=torch.channels_last)
    assert ours[0].weight is weight  # an optimizer made before .to() still holds the model's parameters
    for (name, o), t in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert o.stride() == t.stride(), name
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    assert_raises_like_torch(lambda lib: lib.nn.Conv3d(2, 2, 1).to(memory_format=lib.channels_last),
                             RuntimeError, "required rank 4 tensor to use channels_last format")


def test_training_step_of_a_channels_last_cnn_matches_torch():
    torch.manual_seed(1)
    theirs = _cnn(torch).double()
    ours = _cnn(trainer).double()
    _same_weights(ours, theirs)
    ours.to(memory_format=trainer.channels_last)
    theirs.to(memory_format=torch.channels_last)
    x = RNG.standard_normal((4, 3, 4, 4))
    y = np.array([0, 2, 1, 2])
    losses = []
    for lib, model in ((torch, theirs), (trainer, ours)):
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(2):
            optimizer.zero_grad()
            inputs = lib.tensor(x).contiguous(memory_format=lib.channels_last)
            loss = lib.nn.functional.cross_entropy(model(inputs), lib.tensor(y))
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-10)
    for (name, o), t in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_convert_conv_weight_memory_format_matches_torch():
    def models(lib):
        nn = lib.nn
        return (nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 3, 3), nn.Linear(3, 2)),
                nn.Sequential(nn.Conv3d(3, 4, 3), nn.ConvTranspose3d(4, 3, 3)))

    (two_t, three_t), (two_o, three_o) = models(torch), models(trainer)
    torch.nn.utils.convert_conv2d_weight_memory_format(two_t, torch.channels_last)
    torch.nn.utils.convert_conv3d_weight_memory_format(three_t, torch.channels_last_3d)
    weight = two_o[0].weight
    values = weight.detach().numpy().copy()
    assert trainer.nn.utils.convert_conv2d_weight_memory_format(two_o, trainer.channels_last) is two_o
    trainer.nn.utils.convert_conv3d_weight_memory_format(three_o, trainer.channels_last_3d)
    assert two_o[0].weight is weight and isinstance(weight, trainer.nn.Parameter)
    np.testing.assert_array_equal(weight.detach().numpy(), values)
    for o, t in zip([*two_o.parameters(), *three_o.parameters()], [*two_t.parameters(), *three_t.parameters()]):
        assert o.stride() == t.stride()
    assert_raises_like_torch(
        lambda lib: lib.nn.utils.convert_conv2d_weight_memory_format(lib.nn.Conv2d(2, 2, 1), lib.channels_last_3d),
        RuntimeError, "required rank 5 tensor to use channels_last_3d format")


def test_a_channels_last_model_exports_and_runs_in_onnxruntime(tmp_path):
    from exporter import export
    from exporter.verify import run_exported

    model = _cnn(trainer).to(memory_format=trainer.channels_last).eval()
    x = trainer.randn(2, 3, 4, 4).contiguous(memory_format=trainer.channels_last)
    export(model, x, tmp_path / "model.onnx", input_names=["input"])
    with trainer.no_grad():
        expected = model(x).numpy()
    (got,) = run_exported("onnxruntime", tmp_path / "model.onnx", {"input": np.ascontiguousarray(x.numpy())})
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
