"""Random activations (``RReLU``, ``AlphaDropout``, ``FeatureAlphaDropout``, ``gumbel_softmax``) and lazy modules.

The random layers draw from trainer's generators, whose streams differ from PyTorch's: they are checked against
PyTorch where they are deterministic (evaluation mode, the gradient given the noise drawn) and statistically, with
fixed seeds, where they are not. Lazy modules are checked against PyTorch's: reprs and state_dict keys before and
after the first forward, the class they become, PyTorch weights loaded before that forward, and the errors.
"""

import copy

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import _assert_same, assert_forward_and_gradients_match_torch

nn = trainer.nn
F = trainer.nn.functional


def _normal(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- RReLU
def test_rrelu_in_eval_is_a_leaky_relu_with_the_mean_slope_like_torch():
    assert_forward_and_gradients_match_torch(
        lambda lib, x: (lib.nn.RReLU(0.1, 0.3).eval()(x), lib.nn.functional.rrelu(x * 2),
                        lib.nn.functional.rrelu(x, 0.2, 0.2, training=True)), [_normal(0, 4, 5)])


def test_rrelu_in_training_draws_a_slope_per_negative_element_and_differentiates_with_it():
    trainer.manual_seed(3)
    x = trainer.tensor(_normal(1, 200, 50), requires_grad=True)
    out = nn.RReLU(0.1, 0.4)(x)
    out.sum().backward()
    values, outputs, grads = x.detach().numpy(), out.detach().numpy(), x.grad.numpy()
    negative = values < 0
    slopes = outputs[negative] / values[negative]
    assert ((slopes >= 0.1) & (slopes <= 0.4)).all()
    assert abs(slopes.mean() - 0.25) < 0.005 and abs(slopes.std() - 0.3 / np.sqrt(12)) < 0.005  # U(0.1, 0.4)
    assert len(np.unique(slopes)) > 0.99 * slopes.size  # one draw per element
    np.testing.assert_array_equal(outputs[~negative], values[~negative])
    np.testing.assert_allclose(grads[negative], slopes, rtol=1e-12)  # the gradient uses the sampled slopes
    assert (grads[~negative] == 1).all()


def test_rrelu_draws_from_the_seeded_generator():
    x = trainer.tensor(_normal(2, 6, 6))
    trainer.manual_seed(7)
    first = F.rrelu(x, training=True)
    trainer.manual_seed(7)
    assert trainer.equal(F.rrelu(x, training=True), first)
    assert not trainer.equal(F.rrelu(x, training=True), first)


def test_rrelu_inplace_writes_into_its_input_and_checks_its_bounds():
    x = trainer.tensor([-2.0, 3.0])
    assert F.rrelu_(x, 0.5, 0.5) is x and x.tolist() == [-1.0, 3.0]
    layer = nn.RReLU(inplace=True)
    assert repr(layer) == repr(torch.nn.RReLU(inplace=True))
    assert repr(layer) == "RReLU(lower=0.125, upper=0.3333333333333333, inplace=True)"
    for lib in (torch, trainer):
        with pytest.raises(RuntimeError, match="Lower bound should be less than or equal to the upper bound"):
            lib.nn.functional.rrelu(lib.zeros(3), 0.5, 0.1)


# ---------------------------------------------------------------- AlphaDropout, FeatureAlphaDropout
ALPHA = 1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def _alpha_constants(p):
    a = 1 / np.sqrt((ALPHA**2 * p + 1) * (1 - p))
    return a, ALPHA * a * p, -ALPHA * a * (1 - p)  # scale, shift of kept elements, value of dropped ones


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_keeps_the_mean_and_variance_of_standardised_input(p):
    trainer.manual_seed(0)
    x = trainer.tensor(_normal(3, 400, 500), requires_grad=True)
    out = F.alpha_dropout(x, p, training=True)
    out.sum().backward()
    values, outputs, grads = x.detach().numpy(), out.detach().numpy(), x.grad.numpy()
    scale, shift, dropped_value = _alpha_constants(p)
    dropped = grads == 0
    assert abs(dropped.mean() - p) < 0.005
    np.testing.assert_allclose(outputs[dropped], dropped_value, rtol=1e-12)
    np.testing.assert_allclose(outputs[~dropped], scale * values[~dropped] + shift, rtol=1e-12)
    np.testing.assert_allclose(grads[~dropped], scale, rtol=1e-12)
    assert abs(outputs.mean()) < 0.01 and abs(outputs.std() - 1) < 0.01  # SELU's fixed point is kept


def test_feature_alpha_dropout_drops_whole_channels():
    trainer.manual_seed(1)
    x = trainer.tensor(_normal(4, 64, 32, 5, 5))
    out = nn.FeatureAlphaDropout(0.3)(x).numpy()
    _, _, dropped_value = _alpha_constants(0.3)
    per_channel = np.isclose(out, dropped_value).reshape(64, 32, -1)
    assert (per_channel.all(-1) | ~per_channel.any(-1)).all()  # a channel is dropped entirely or not at all
    assert abs(per_channel.all(-1).mean() - 0.3) < 0.03
    two_d = F.feature_alpha_dropout(trainer.tensor(_normal(5, 300, 40)), 0.5, training=True).numpy()
    assert abs(np.isclose(two_d, _alpha_constants(0.5)[2]).mean() - 0.5) < 0.01  # (N, C): per element


def test_alpha_dropouts_in_eval_and_at_the_edges_match_torch():
    def fn(lib, x):
        f = lib.nn.functional
        return (lib.nn.AlphaDropout(0.4).eval()(x), lib.nn.FeatureAlphaDropout(0.4).eval()(x),
                f.alpha_dropout(x, 0.4), f.feature_alpha_dropout(x, 0.7), f.alpha_dropout(x, 0.0, True),
                f.alpha_dropout(x, 1.0, True), f.feature_alpha_dropout(x, 1.0, True))

    assert_forward_and_gradients_match_torch(fn, [_normal(6, 3, 4, 2)])


def test_alpha_dropout_errors_and_reprs_match_torch():
    for lib in (torch, trainer):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
            lib.nn.AlphaDropout(1.5)
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
            lib.nn.functional.alpha_dropout(lib.zeros(3), -0.1)
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions in the input"):
            lib.nn.functional.feature_alpha_dropout(lib.zeros(3), 0.5, True)
    assert repr(nn.AlphaDropout()) == repr(torch.nn.AlphaDropout()) == "AlphaDropout(p=0.5, inplace=False)"
    assert repr(nn.FeatureAlphaDropout(0.2)) == repr(torch.nn.FeatureAlphaDropout(0.2))


def test_alpha_dropout_inplace_writes_into_its_input():
    x = trainer.ones(4, 3)
    assert F.alpha_dropout(x, 0.5, training=True, inplace=True) is x
    assert len(np.unique(np.round(x.numpy(), 6))) == 2  # every element kept (one value) or dropped (another)


# ---------------------------------------------------------------- gumbel_softmax
def test_gumbel_softmax_samples_follow_the_softmax_of_the_logits():
    trainer.manual_seed(0)
    draws = 50000
    logits = trainer.tensor([[1.0, 0.0, -1.0, 2.0]]).expand(draws, 4)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    assert set(np.unique(hard.numpy())) == {0.0, 1.0} and (hard.sum(-1) == 1).all()
    counts = hard.numpy().sum(0)
    expected = torch.tensor([1.0, 0.0, -1.0, 2.0]).softmax(0).numpy() * draws
    # the Gumbel-max trick: the argmax is a sample of the categorical distribution, whatever tau; a chi-square
    # test with 3 degrees of freedom at the 0.1% level
    assert ((counts - expected) ** 2 / expected).sum() < 16.27
    soft = F.gumbel_softmax(logits[:5], tau=2.0, dim=1)
    np.testing.assert_allclose(soft.sum(1).numpy(), 1.0, rtol=1e-6)


def test_gumbel_softmax_gradient_is_the_softmax_gradient_at_the_drawn_sample():
    x = _normal(7, 3, 5)
    for tau in (1.0, 0.3):
        ours = trainer.tensor(x, requires_grad=True)
        upstream = _normal(8, 3, 5)
        trainer.manual_seed(11)
        soft = F.gumbel_softmax(ours, tau=tau)
        (soft * trainer.tensor(upstream)).sum().backward()
        # the same sample in PyTorch: softmax((logits + g) / tau) with g recovered from ours up to a per-row constant
        noise = tau * np.log(soft.detach().numpy()) - x
        theirs = torch.tensor(x, requires_grad=True)
        expected = ((theirs + torch.tensor(noise)) / tau).softmax(-1)
        (expected * torch.tensor(upstream)).sum().backward()
        _assert_same(soft, expected, "sample")
        _assert_same(ours.grad, theirs.grad, "gradient")
        # hard: the one-hot of the same sample, differentiated straight through as the soft one
        hard_input = trainer.tensor(x, requires_grad=True)
        trainer.manual_seed(11)
        hard = F.gumbel_softmax(hard_input, tau=tau, hard=True, dim=-1)
        (hard * trainer.tensor(upstream)).sum().backward()
        assert hard.argmax(-1).tolist() == soft.argmax(-1).tolist()
        np.testing.assert_allclose(hard_input.grad.numpy(), ours.grad.numpy(), atol=1e-12)


def test_gumbel_softmax_along_another_dim_and_the_deprecated_eps():
    sample = F.gumbel_softmax(trainer.zeros(4, 3), dim=0, hard=True)
    assert (sample.sum(0) == 1).all()
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated and has no effect"):
        F.gumbel_softmax(trainer.zeros(2, 3), eps=1e-5)


# ---------------------------------------------------------------- lazy modules
LAZY = {  # lazy constructor call, an input, the class it becomes
    "LazyLinear(3)": ((2, 5), "Linear"),
    "LazyLinear(4, bias=False)": ((2, 3, 6), "Linear"),
    "LazyConv1d(4, 3, padding=1)": ((2, 5, 7), "Conv1d"),
    "LazyConv2d(4, 3, stride=2, groups=2)": ((2, 6, 7, 7), "Conv2d"),
    "LazyConv3d(2, (1, 2, 2), bias=False)": ((6, 4, 4, 4), "Conv3d"),
    "LazyConvTranspose1d(3, 2, stride=2)": ((2, 4, 5), "ConvTranspose1d"),
    "LazyConvTranspose2d(4, 3, groups=2, output_padding=1, stride=2)": ((2, 6, 4, 4), "ConvTranspose2d"),
    "LazyConvTranspose3d(2, 2)": ((1, 3, 3, 3, 3), "ConvTranspose3d"),
    "LazyBatchNorm1d()": ((4, 3), "BatchNorm1d"),
    "LazyBatchNorm2d(momentum=None)": ((4, 3, 2, 2), "BatchNorm2d"),
    "LazyBatchNorm3d(affine=False)": ((2, 3, 2, 2, 2), "BatchNorm3d"),
    "LazyInstanceNorm1d()": ((2, 3, 5), "InstanceNorm1d"),
    "LazyInstanceNorm2d(track_running_stats=False)": ((2, 3, 4, 4), "InstanceNorm2d"),
    "LazyInstanceNorm3d(affine=False, track_running_stats=False)": ((2, 3, 2, 3, 2), "InstanceNorm3d"),
}


def _pair(expr):
    torch.manual_seed(0)
    return eval(f"trainer.nn.{expr}"), eval(f"torch.nn.{expr}")


@pytest.mark.parametrize("expr", sorted(LAZY))
def test_lazy_module_becomes_its_class_with_torch_reprs_keys_and_shapes(expr):
    shape, becomes = LAZY[expr]
    ours, theirs = _pair(expr)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params()
    x = _normal(9, *shape)
    ours(trainer.tensor(x, dtype=trainer.float32))
    theirs(torch.tensor(x, dtype=torch.float32))
    assert type(ours).__name__ == type(theirs).__name__ == becomes
    assert repr(ours) == repr(theirs)
    assert {k: list(v.shape) for k, v in ours.state_dict().items()} == \
        {k: list(v.shape) for k, v in theirs.state_dict().items()}
    assert all(type(p) is nn.Parameter for p in ours.parameters())
    assert not hasattr(ours, "_initialize_hook")


@pytest.mark.parametrize("expr", sorted(LAZY))
def test_lazy_module_loads_torch_weights_before_its_first_forward(expr):
    shape, _ = LAZY[expr]
    ours, theirs = _pair(expr)
    x = _normal(10, *shape)
    theirs.double()(torch.tensor(x))  # initialise PyTorch's, with a training step for the running statistics
    result = ours.double().load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    assert not ours.has_uninitialized_params()
    for expected, got in zip(theirs.state_dict().values(), ours.state_dict().values()):
        _assert_same(got, expected, "loaded value")
    theirs.eval()
    ours.eval()
    _assert_same(ours(trainer.tensor(x)), theirs(torch.tensor(x)), "output with the loaded weights")


def test_lazy_linear_runs_reset_parameters_at_its_first_forward():
    x = trainer.randn(2, 5)
    lazy = nn.LazyLinear(3)
    trainer.manual_seed(4)
    lazy(x)
    trainer.manual_seed(4)
    eager = nn.Linear(5, 3)
    assert trainer.equal(lazy.weight, eager.weight) and trainer.equal(lazy.bias, eager.bias)
    assert lazy.weight.abs().max().item() <= 1 / np.sqrt(5)


def test_lazy_batch_norm_trains_like_torch():
    def fn(lib, x):
        layer = lib.nn.LazyBatchNorm2d(momentum=0.3).double()
        out = layer(x)
        return out, layer.running_mean * 1, layer.running_var * 1, layer.num_batches_tracked * 1

    assert_forward_and_gradients_match_torch(fn, [_normal(11, 4, 3, 2, 2)])


def test_uninitialized_parameter_refuses_to_be_used_like_torch():
    layer = nn.LazyLinear(3)
    for lib_layer, lib in ((layer, trainer), (torch.nn.LazyLinear(3), torch)):
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in"):
            lib.nn.functional.linear(lib.ones(2, 4), lib_layer.weight)
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
            lib_layer.weight + 1
        with pytest.raises(ValueError, match="When using LazyModules Call `forward` with a dummy batch"):
            lib_layer.weight.sum()
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter or buffer"):
            _ = lib_layer.weight.shape
        assert list(lib_layer.weight.size()) == [0] and lib_layer.weight.ndim == 1
        assert repr(lib_layer.weight) == "<UninitializedParameter>"
    with pytest.raises(ValueError, match=r"in linear\(\)"):  # names the function that was called
        F.linear(trainer.ones(2, 4), layer.weight)


def test_uninitialized_parameter_and_buffer_api():
    param = nn.UninitializedParameter(dtype=trainer.float64)
    assert isinstance(param, nn.Parameter) and nn.parameter.is_lazy(param) and param.requires_grad
    assert param.dtype is trainer.float64 and param.device == trainer.device("cpu") and param.is_floating_point()
    assert param.cls_to_become is nn.Parameter
    assert type(param.to(trainer.float32)) is trainer.Tensor  # as PyTorch: a converted parameter is a plain tensor
    param.materialize((2, 3))
    assert type(param) is nn.Parameter and param.shape == (2, 3) and param.dtype is trainer.float64
    assert param.requires_grad and not nn.parameter.is_lazy(param)
    buffer = nn.UninitializedBuffer(persistent=False)
    assert repr(buffer) == repr(torch.nn.UninitializedBuffer()) == "<UninitializedBuffer>"
    assert not buffer.requires_grad and not buffer.persistent and isinstance(buffer, nn.Buffer)
    converted = buffer.double()
    assert nn.parameter.is_lazy(converted) and converted.dtype is trainer.float64
    buffer.materialize([4], dtype=trainer.int64)
    assert isinstance(buffer, trainer.Tensor) and not nn.parameter.is_lazy(buffer) and buffer.shape == (4,)
    assert buffer.dtype is trainer.int64


def test_lazy_module_converts_dtype_before_its_first_forward():
    layer = nn.LazyBatchNorm1d().double()
    assert nn.parameter.is_lazy(layer.weight) and nn.parameter.is_lazy(layer.running_mean)
    assert layer.weight.dtype is trainer.float64 and layer.running_var.dtype is trainer.float64
    layer(trainer.randn(4, 3, dtype=trainer.float64))
    assert type(layer) is nn.BatchNorm1d
    assert all(t.dtype is trainer.float64 for t in (layer.weight, layer.bias, layer.running_mean, layer.running_var))


def test_lazy_state_dict_round_trips_and_refuses_to_fill_an_initialized_module():
    empty = nn.LazyLinear(3)
    assert all(nn.parameter.is_lazy(v) for v in empty.state_dict().values())
    other = nn.LazyLinear(3)
    assert repr(other.load_state_dict(empty.state_dict())) == "<All keys matched successfully>"
    assert other.has_uninitialized_params()
    for lib in (trainer, torch):
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter or buffer"):
            lib.nn.Linear(4, 3).load_state_dict(lib.nn.LazyLinear(3).state_dict())
    loaded = nn.LazyLinear(3)
    loaded.load_state_dict(nn.Linear(4, 3).state_dict())
    assert type(loaded) is nn.LazyLinear and loaded.in_features == 0  # still lazy until its first forward
    with pytest.raises(AssertionError, match="The in_features inferred from input: 5 is not equal to in_features "
                                             "from self.weight: 4"):
        loaded(trainer.ones(2, 5))
    loaded(trainer.ones(2, 4))
    assert type(loaded) is nn.Linear and loaded.in_features == 4


def test_lazy_modules_deepcopy_and_train_with_an_optimizer_made_before_their_first_forward():
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(1))
    twin = copy.deepcopy(model)
    assert twin[0] is not model[0] and nn.parameter.is_lazy(twin[0].weight)
    optimizer = trainer.optim.SGD(model.parameters(), lr=0.1)
    x = trainer.randn(8, 3)
    model(x).sum().backward()
    before = model[2].weight.detach().clone()
    optimizer.step()
    assert not trainer.equal(before, model[2].weight)  # the optimizer holds the parameters that were materialised
    twin(trainer.randn(2, 6))
    assert twin[0].in_features == 6 and model[0].in_features == 3


LAZY_ERRORS = [
    ("LazyConv2d(4, 3)", (2, 5, 7, 7, 1), RuntimeError, "Expected 3D \\(unbatched\\) or 4D \\(batched\\) input to "
                                                        "LazyConv2d, but got input of size"),
    ("LazyConv1d(4, 3, groups=2)", (2, 5, 7), ValueError, "in_channels must be divisible by groups"),
    ("LazyConvTranspose2d(4, 3, groups=4)", (6, 7, 7), ValueError, "in_channels must be divisible by groups"),
    ("LazyBatchNorm1d()", (2, 3, 4, 5), ValueError, "expected 2D or 3D input \\(got 4D input\\)"),
    ("LazyInstanceNorm1d()", (3, 5), ValueError, "expected input's size at dim=0 to match num_features \\(5\\)"),
]


@pytest.mark.parametrize("case", range(len(LAZY_ERRORS)))
def test_lazy_module_errors_match_torch(case):
    expr, shape, error, message = LAZY_ERRORS[case]
    for lib in (trainer, torch):
        layer = eval(f"lib.nn.{expr}")
        with pytest.raises(error, match=message):
            layer(lib.zeros(*shape))


class _Doubling(nn.modules.lazy.LazyModuleMixin, nn.Module):
    """A custom lazy module: its scale has the size of the input's last dim; it stays this class."""

    def __init__(self):
        super().__init__()
        self.scale = nn.UninitializedParameter()

    def initialize_parameters(self, input):
        self.scale.materialize((input.shape[-1],))
        with trainer.no_grad():
            self.scale.fill_(2.0)

    def forward(self, input):
        return input * self.scale


def test_custom_lazy_module_keeps_its_class_and_must_initialise_everything():
    module = _Doubling()
    assert module(trainer.ones(2, 3)).tolist() == [[2.0, 2.0, 2.0]] * 2
    assert type(module) is _Doubling and not module.has_uninitialized_params()

    class Forgetful(_Doubling):
        def initialize_parameters(self, input):
            pass

    with pytest.raises(RuntimeError, match="module Forgetful has not been fully initialized"):
        Forgetful()(trainer.ones(2))


# ---------------------------------------------------------------- nn.Buffer
def test_buffer_assignment_registers_a_buffer_like_torch():
    for lib in (trainer, torch):
        module = lib.nn.Module()
        values = lib.ones(2)
        module.kept = lib.nn.Buffer(values)
        module.scratch = lib.nn.Buffer(lib.zeros(3), persistent=False)
        assert list(module.state_dict()) == ["kept"]
        assert [name for name, _ in module.named_buffers()] == ["kept", "scratch"]
        assert module.kept.data_ptr() == values.data_ptr()  # the buffer shares the tensor's storage
        module.kept = lib.zeros(2)  # a plain tensor assigned to a buffer's name replaces the buffer
        assert list(module.state_dict()) == ["kept"] and module.kept.sum().item() == 0
        module.plain = 5
        with pytest.raises(KeyError, match="attribute 'plain' already exists"):
            module.plain = lib.nn.Buffer(lib.ones(1))
