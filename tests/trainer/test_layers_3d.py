"""The 3-D layers (and their 1-D siblings) against PyTorch: forward values and the gradients of the input and the
parameters on identical float64 data, plus repr, state_dict keys and bad-input errors.

Functional cases are ``fn(lib, *inputs)``, run with ``lib = torch`` and ``lib = trainer``; module cases build the
same layer in both, load PyTorch's state into ours and compare outputs, gradients and the state after a step.
"""

import zlib

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_nn_extra_parity import assert_repr_and_state_dict_keys_match_torch

TOL = 1e-8


def _f(lib):
    return lib.nn.functional


CASES = {
    "conv3d_strided_dilated_groups": (lambda lib, x, w, b: _f(lib).conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 2),
                                                                         dilation=(1, 1, 2), groups=2),
                                      [(2, 4, 5, 6, 5), (6, 2, 3, 2, 3), (6,)]),
    "conv3d_same_even_kernel": (lambda lib, x, w: _f(lib).conv3d(x, w, padding="same", dilation=(2, 1, 1)),
                                [(2, 3, 5, 4, 4), (2, 3, 2, 3, 2)]),
    "conv3d_unbatched_valid": (lambda lib, x, w, b: _f(lib).conv3d(x, w, b, padding="valid", stride=2),
                               [(3, 5, 5, 4), (4, 3, 2, 2, 2), (4,)]),
    "conv_transpose3d": (lambda lib, x, w, b: _f(lib).conv_transpose3d(x, w, b, stride=(2, 1, 2), padding=(1, 0, 0),
                                                                      output_padding=(1, 0, 1), groups=2,
                                                                      dilation=(1, 2, 1)),
                         [(2, 4, 3, 4, 3), (4, 3, 2, 3, 2), (6,)]),
    "conv_transpose3d_unbatched": (lambda lib, x, w: _f(lib).conv_transpose3d(x, w, stride=2, padding=1),
                                   [(2, 3, 2, 3), (2, 3, 3, 3, 3)]),
    "conv1d_still_works": (lambda lib, x, w, b: _f(lib).conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
                           [(2, 4, 9), (6, 2, 3), (6,)]),
    "max_pool3d_indices_ceil": (lambda lib, x: _f(lib).max_pool3d(x, (2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0),
                                                                 dilation=(1, 1, 2), ceil_mode=True,
                                                                 return_indices=True),
                                [(2, 3, 5, 6, 7)]),
    "max_pool3d_unbatched": (lambda lib, x: _f(lib).max_pool3d(x, 2, return_indices=True), [(3, 4, 5, 4)]),
    "max_pool1d_indices": (lambda lib, x: _f(lib).max_pool1d(x, 3, 2, 1, return_indices=True), [(2, 3, 8)]),
    "avg_pool3d_exclude_pad_ceil": (lambda lib, x: _f(lib).avg_pool3d(x, 3, stride=2, padding=1, ceil_mode=True,
                                                                     count_include_pad=False),
                                    [(2, 3, 6, 5, 7)]),
    "avg_pool3d_include_pad": (lambda lib, x: _f(lib).avg_pool3d(x, (2, 3, 3), stride=(1, 2, 1), padding=(1, 1, 0)),
                               [(2, 3, 4, 5, 6)]),
    "avg_pool3d_divisor": (lambda lib, x: _f(lib).avg_pool3d(x, (2, 2, 3), divisor_override=5), [(3, 4, 4, 6)]),
    "adaptive_avg_pool3d_uneven": (lambda lib, x: _f(lib).adaptive_avg_pool3d(x, (3, None, 2)), [(2, 3, 5, 4, 7)]),
    "adaptive_avg_pool3d_unbatched": (lambda lib, x: _f(lib).adaptive_avg_pool3d(x, 2), [(3, 5, 4, 3)]),
    "adaptive_max_pool3d_indices": (lambda lib, x: _f(lib).adaptive_max_pool3d(x, (3, 2, 4), return_indices=True),
                                    [(2, 3, 5, 4, 7)]),
    "adaptive_max_pool3d_unbatched": (lambda lib, x: _f(lib).adaptive_max_pool3d(x, (2, 3, 1)), [(3, 4, 5, 6)]),
    "pad_modules_3d": (lambda lib, x: (lib.nn.ConstantPad3d((1, 0, 2, 1, 0, 2), 0.5)(x), lib.nn.ZeroPad3d(1)(x),
                                       lib.nn.ReflectionPad3d((1, 2, 0, 1, 2, 1))(x), lib.nn.ReplicationPad3d(2)(x),
                                       lib.nn.CircularPad3d((1, 1, 2, 0, 1, 2))(x)),
                       [(2, 3, 4, 3, 5)]),
    "pad_modules_1d_2d": (lambda lib, x: (lib.nn.ZeroPad1d((2, 1))(x[0]), lib.nn.CircularPad1d(2)(x[0]),
                                          lib.nn.ZeroPad2d((1, 0, 2, 1))(x), lib.nn.CircularPad2d((1, 2, 2, 0))(x)),
                          [(2, 3, 4, 5)]),
}


def _arrays(name, shapes):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [rng.standard_normal(shape) for shape in shapes]


def _backward(outs):
    differentiable = [o for o in outs if o.requires_grad]
    sum((o * o).sum() for o in differentiable).backward()


def _run(lib, name):
    fn, shapes = CASES[name]
    inputs = [lib.tensor(a, requires_grad=True) for a in _arrays(name, shapes)]
    outs = fn(lib, *inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    _backward(outs)
    return outs, inputs


def _assert_same(ours, theirs, what):
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), what
    assert tuple(ours.shape) == tuple(theirs.shape), what
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=TOL, atol=TOL, err_msg=what)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("name", sorted(CASES))
def test_functional_forward_and_gradients_match_torch(name):
    theirs, theirs_in = _run(torch, name)
    ours, ours_in = _run(trainer, name)
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same(o, t, f"output {i}")
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        _assert_same(o.grad, t.grad, f"grad of input {i}")


MODULES = {
    "Conv3d": (lambda nn: nn.Conv3d(4, 6, (3, 2, 3), stride=(1, 2, 1), padding=1, dilation=(1, 1, 2), groups=2),
               (2, 4, 5, 6, 7)),
    "Conv3d_same_no_bias": (lambda nn: nn.Conv3d(3, 4, 3, padding="same", bias=False), (2, 3, 4, 5, 4)),
    "ConvTranspose1d": (lambda nn: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
                        (2, 4, 7)),
    "ConvTranspose3d": (lambda nn: nn.ConvTranspose3d(4, 2, (2, 3, 2), stride=(2, 1, 2), padding=(1, 0, 0),
                                                      output_padding=(1, 0, 1), dilation=(1, 2, 1)),
                        (2, 4, 3, 4, 3)),
    "BatchNorm3d": (lambda nn: nn.BatchNorm3d(4), (3, 4, 3, 2, 4)),
    "BatchNorm3d_eval": (lambda nn: nn.BatchNorm3d(4, momentum=None).eval(), (3, 4, 3, 2, 4)),
    "InstanceNorm3d": (lambda nn: nn.InstanceNorm3d(4, affine=True, track_running_stats=True), (2, 4, 3, 2, 4)),
    "InstanceNorm3d_unbatched": (lambda nn: nn.InstanceNorm3d(4), (4, 3, 2, 4)),
    "MaxPool3d": (lambda nn: nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 6, 5, 7)),
    "AvgPool3d": (lambda nn: nn.AvgPool3d((2, 3, 2), stride=1, count_include_pad=False, padding=1), (2, 3, 4, 5, 4)),
    "AdaptiveAvgPool3d": (lambda nn: nn.AdaptiveAvgPool3d((2, 3, None)), (2, 3, 5, 4, 3)),
    "AdaptiveMaxPool3d": (lambda nn: nn.AdaptiveMaxPool3d(2, return_indices=True), (2, 3, 5, 4, 3)),
}


def _module_pair(name):
    make, shape = MODULES[name]
    torch.manual_seed(0)
    theirs = make(torch.nn).double()
    if theirs.training:
        with torch.no_grad():  # a step first, so that running statistics are not the defaults
            theirs(torch.randn(shape, dtype=torch.float64))
    ours = make(trainer.nn).double()
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs, shape


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_forward_gradients_and_state_match_torch(name):
    ours, theirs, shape = _module_pair(name)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = _arrays(name, [shape])[0]
    results = []
    for lib, layer in ((trainer, ours), (torch, theirs)):
        inp = lib.tensor(x, requires_grad=True)
        outs = layer(inp)
        outs = outs if isinstance(outs, tuple) else (outs,)
        _backward(outs)
        results.append((outs, inp.grad, dict(layer.named_parameters()), layer.state_dict()))
    (o_outs, o_grad, o_params, o_state), (t_outs, t_grad, t_params, t_state) = results
    for i, (o, t) in enumerate(zip(o_outs, t_outs)):
        _assert_same(o, t, f"output {i}")
    _assert_same(o_grad, t_grad, "grad of input")
    assert list(o_params) == list(t_params)
    for key in t_params:
        _assert_same(o_params[key].grad, t_params[key].grad, f"grad of {key}")
    for key in t_state:
        _assert_same(o_state[key], t_state[key], f"state {key} after the step")


@pytest.mark.parametrize("name", ["Conv3d", "ConvTranspose3d"])
def test_convolution_weights_load_from_torch(name):
    ours, theirs, _ = _module_pair(name)
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())


def test_conv_transpose3d_output_size_picks_the_output_padding():
    ours, theirs, shape = _module_pair("ConvTranspose3d")
    x = _arrays("output_size", [shape])[0]
    size = [5, 8, 7]  # the largest valid size: output_padding (1, 0, 1)
    expected = theirs(torch.tensor(x), output_size=size)
    _assert_same(ours(trainer.tensor(x), output_size=size), expected, "output")


REPRS = ["Conv3d(4, 6, (3, 2, 3), stride=(1, 2, 1), padding=1, dilation=(1, 1, 2), groups=2)",
         "Conv3d(3, 4, 3, padding='same', bias=False)",
         "ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)",
         "ConvTranspose3d(4, 2, (2, 3, 2), stride=(2, 1, 2), padding=(1, 0, 0), output_padding=(1, 0, 1))",
         "MaxPool3d(3, stride=2, padding=1, ceil_mode=True)", "MaxPool3d((2, 3, 2), dilation=2)",
         "AvgPool3d(3)", "AvgPool3d((2, 3, 2), stride=1, padding=1, divisor_override=3)",
         "AdaptiveAvgPool3d((2, None, 3))", "AdaptiveMaxPool3d(2)", "BatchNorm3d(4)",
         "BatchNorm3d(4, affine=False, track_running_stats=False)", "InstanceNorm3d(4, affine=True)",
         "Dropout1d(0.2)", "Dropout3d()", "ConstantPad3d(1, 0.5)", "ConstantPad3d((1, 0, 2, 1, 0, 2), 2.0)",
         "ZeroPad1d(2)", "ZeroPad2d((1, 0, 2, 1))", "ZeroPad3d(1)", "ReflectionPad3d((1, 2, 0, 1, 2, 1))",
         "ReplicationPad3d(2)", "CircularPad1d(2)", "CircularPad2d((1, 2, 2, 0))", "CircularPad3d(1)"]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_and_state_dict_keys_match_torch(expr):
    assert_repr_and_state_dict_keys_match_torch(expr)


@pytest.mark.parametrize("layer, shape", [("Dropout1d", (4, 6, 8)), ("Dropout1d", (6, 8)),
                                          ("Dropout3d", (4, 6, 2, 3, 2)), ("Dropout3d", (6, 2, 3, 2))])
def test_channel_dropout_zeroes_whole_channels_in_training_only(layer, shape):
    trainer.manual_seed(0)
    dropout = getattr(trainer.nn, layer)(0.5)
    x = trainer.rand(*shape) + 1
    out = dropout(x).numpy()
    spatial = 1 if layer == "Dropout1d" else 3
    channels = out.reshape(-1, int(np.prod(shape[-spatial:])))
    kept = (channels != 0).all(axis=1)
    assert ((channels == 0).all(axis=1) | kept).all()
    assert 0 < kept.sum() < len(kept)
    np.testing.assert_allclose(channels[kept], 2 * x.numpy().reshape(channels.shape)[kept])
    dropout.eval()
    np.testing.assert_array_equal(dropout(x).numpy(), x.numpy())


F = trainer.nn.functional

BAD_INPUTS = [
    (lambda: F.conv3d(trainer.zeros(3, 4, 4), trainer.zeros(4, 3, 2, 2, 2)), RuntimeError,
     r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d"),
    (lambda: F.conv3d(trainer.zeros(1, 3, 4, 4, 4), trainer.zeros(4, 3, 2, 2)), RuntimeError, "expected a 5D weight"),
    (lambda: F.conv3d(trainer.zeros(1, 3, 4, 2, 4), trainer.zeros(4, 3, 3, 3, 3)), RuntimeError,
     "Kernel size can't be greater than actual input size"),
    (lambda: F.conv3d(trainer.zeros(1, 4, 4, 4, 4), trainer.zeros(4, 3, 1, 1, 1)), RuntimeError,
     "expected input.* to have 3 channels"),
    (lambda: F.conv3d(trainer.zeros(1, 3, 4, 4, 4), trainer.zeros(4, 3, 2, 2, 2), stride=2, padding="same"),
     ValueError, "padding='same' is not supported for strided"),
    (lambda: F.conv_transpose3d(trainer.zeros(1, 3, 4, 4, 4), trainer.zeros(3, 2, 2, 2, 2), output_padding=1),
     RuntimeError, "output padding must be smaller than either stride or dilation"),
    (lambda: trainer.nn.Conv3d(3, 4, 2)(trainer.zeros(3, 4, 4)), RuntimeError, r"Conv3d\(3, 4.*Expected 4D"),
    (lambda: trainer.nn.Conv3d(3, 4, (2, 2)), ValueError, "kernel_size"),
    (lambda: trainer.nn.ConvTranspose3d(3, 4, 2, padding="same"), ValueError, "padding must be an int"),
    (lambda: F.max_pool3d(trainer.zeros(3, 4, 4), 2), RuntimeError, "Expected 4D or 5D"),
    (lambda: F.max_pool3d(trainer.zeros(1, 2, 4, 4, 4), (2, 0, 2)), RuntimeError,
     "kernel_size should be greater than zero"),
    (lambda: F.max_pool3d(trainer.zeros(1, 2, 4, 4, 4), 2, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size"),
    (lambda: F.max_pool3d(trainer.zeros(1, 2, 4, 1, 4), 2), RuntimeError, "Output size is too small"),
    (lambda: F.avg_pool3d(trainer.zeros(1, 2, 4, 4, 4), 2, divisor_override=0), RuntimeError,
     "divisor must be not zero"),
    (lambda: F.adaptive_avg_pool3d(trainer.zeros(2, 4, 4), 2), RuntimeError, "Expected 4D or 5D tensor"),
    (lambda: F.adaptive_max_pool3d(trainer.zeros(1, 2, 4, 4, 4), (2, 2)), ValueError, "tuple of 3"),
    (lambda: F.adaptive_max_pool3d(trainer.zeros(1, 2, 4, 4, 4), (2, 0, 2)), RuntimeError, "greater than 0"),
    (lambda: trainer.nn.BatchNorm3d(3)(trainer.zeros(2, 3, 4, 4)), ValueError, r"expected 5D input \(got 4D"),
    (lambda: trainer.nn.InstanceNorm3d(3)(trainer.zeros(3, 4, 4)), ValueError, "expected 4D or 5D input"),
    (lambda: F.dropout1d(trainer.zeros(2, 3, 4, 4)), RuntimeError, "Expected 2D or 3D input"),
    (lambda: F.dropout3d(trainer.zeros(2, 3, 4)), RuntimeError, "Expected 4D or 5D input"),
    (lambda: trainer.nn.ConstantPad3d((1, 2), 0.0), ValueError, "expected padding of 6 ints"),
    (lambda: trainer.nn.ReflectionPad3d(2)(trainer.zeros(1, 2, 2, 4, 4)), RuntimeError,
     "Padding size should be less than the corresponding input dimension"),
    (lambda: trainer.nn.CircularPad2d(3)(trainer.zeros(1, 2, 2, 4)), RuntimeError, "wrapping around more than once"),
]


@pytest.mark.parametrize("index", range(len(BAD_INPUTS)))
def test_bad_input_raises_a_clear_error(index):
    call, error, message = BAD_INPUTS[index]
    with pytest.raises(error, match=message):
        call()
