"""bfloat16 and complex support in the places the first passes left, and CPU autocast for the recurrent ops and
``F.pad``, each against PyTorch on the same inputs."""

import io

import ml_dtypes
import numpy as np
import onnx
import pytest
import torch
from onnx.reference import ReferenceEvaluator

import exporter
import trainer
from tests.trainer.test_complex import assert_complex_parity
from tests.trainer.test_ops_parity import assert_raises_like_torch

BF16 = np.dtype(ml_dtypes.bfloat16)
RNG = np.random.default_rng(7)


def _complex(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _bf16(lib, values):
    return lib.tensor(values, dtype=lib.bfloat16)


def _same_bf16(ours, theirs, atol=0.0):
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.float().detach().numpy(), theirs.float().detach().numpy(), atol=atol, rtol=0)


# ---------------------------------------------------------------- bfloat16: limits (finfo) inside ops

def test_rms_norm_default_eps_on_bfloat16_matches_torch():
    x = RNG.standard_normal((3, 4)) * 1e-3
    _same_bf16(trainer.nn.functional.rms_norm(_bf16(trainer, x), (4,)),
               torch.nn.functional.rms_norm(_bf16(torch, x), (4,)), atol=2e-2)


def test_adafactor_steps_a_bfloat16_parameter_like_torch():
    start, grad = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    results = []
    for lib in (torch, trainer):
        p = lib.nn.Parameter(_bf16(lib, start))
        opt = lib.optim.Adafactor([p], lr=0.1)
        p.grad = _bf16(lib, grad)
        opt.step()
        results.append(p.detach())
    _same_bf16(results[1], results[0], atol=2e-2)


def test_random_fill_on_bfloat16_stays_within_its_exact_integers():
    trainer.manual_seed(0)
    values = trainer.empty(2000, dtype=trainer.bfloat16).random_().float()
    assert values.max().item() <= 2**8 and values.min().item() >= 0
    assert bool((values == values.round()).all())


CONC = RNG.uniform(0.5, 2.0, 4)


@pytest.mark.parametrize("make", [
    lambda lib: lib.distributions.Laplace(_bf16(lib, CONC), _bf16(lib, CONC)).rsample((5,)),
    lambda lib: lib.distributions.Gumbel(_bf16(lib, CONC), _bf16(lib, CONC)).rsample((5,)),
    lambda lib: lib.distributions.Geometric(probs=_bf16(lib, CONC / 3)).sample((5,)),
    lambda lib: lib.distributions.Categorical(logits=_bf16(lib, CONC)).sample((5,)),
    lambda lib: lib.distributions.transforms.StickBreakingTransform()(_bf16(lib, CONC)),
], ids=["Laplace", "Gumbel", "Geometric", "Categorical", "StickBreaking"])
def test_distribution_draws_on_bfloat16_match_torch_dtype(make):
    for lib in (torch, trainer):
        lib.manual_seed(0)
    theirs, ours = make(torch), make(trainer)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert bool(ours.float().isfinite().all())


@pytest.mark.parametrize("make, kernel", [
    (lambda lib: lib.distributions.Gamma(_bf16(lib, CONC), _bf16(lib, CONC)).rsample(), "gamma_cpu"),
    (lambda lib: lib.distributions.Chi2(_bf16(lib, CONC)).rsample(), "gamma_cpu"),
    (lambda lib: lib.distributions.Beta(_bf16(lib, CONC), _bf16(lib, CONC)).rsample(), "dirichlet"),
    (lambda lib: lib.distributions.Dirichlet(_bf16(lib, CONC)).rsample(), "dirichlet"),
], ids=["Gamma", "Chi2", "Beta", "Dirichlet"])
def test_gamma_family_draws_refuse_bfloat16_like_torch(make, kernel):
    assert_raises_like_torch(make, NotImplementedError, f'"{kernel}" not implemented for \'BFloat16\'')


def test_distribution_limits_on_bfloat16_match_torch():
    conc = CONC
    value = RNG.uniform(0.1, 3.0, 4)
    _same_bf16(trainer.distributions.Gumbel(_bf16(trainer, conc), 1.0).log_prob(_bf16(trainer, value)),
               torch.distributions.Gumbel(_bf16(torch, conc), 1.0).log_prob(_bf16(torch, value)), atol=5e-2)
    logits = RNG.standard_normal(5)
    _same_bf16(trainer.distributions.Categorical(logits=_bf16(trainer, logits)).entropy(),
               torch.distributions.Categorical(logits=_bf16(torch, logits)).entropy(), atol=2e-2)
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    _same_bf16(trainer.distributions.Categorical(probs=_bf16(trainer, probs)).log_prob(trainer.tensor(2)),
               torch.distributions.Categorical(probs=_bf16(torch, probs)).log_prob(torch.tensor(2)), atol=2e-2)


def test_gumbel_softmax_on_bfloat16_gives_bfloat16_distributions():
    trainer.manual_seed(0)
    out = trainer.nn.functional.gumbel_softmax(_bf16(trainer, RNG.standard_normal((4, 6))), tau=0.5)
    assert out.dtype == trainer.bfloat16
    np.testing.assert_allclose(out.float().sum(-1).numpy(), 1.0, atol=2e-2)


@pytest.mark.parametrize("op, error", [
    (lambda lib, a: lib.linalg.qr(a), NotImplementedError),
    (lambda lib, a: lib.linalg.cholesky(a), NotImplementedError),
    (lambda lib, a: lib.linalg.det(a), NotImplementedError),
    (lambda lib, a: lib.linalg.svd(a), NotImplementedError),
    (lambda lib, a: lib.geqrf(a), NotImplementedError),
    (lambda lib, a: lib.linalg.inv(a), RuntimeError),
    (lambda lib, a: lib.linalg.slogdet(a), RuntimeError),
    (lambda lib, a: lib.linalg.pinv(a), RuntimeError),
    (lambda lib, a: lib.linalg.lstsq(a, a), RuntimeError),
])
def test_linalg_refuses_bfloat16_like_torch(op, error):
    m = np.array([[2.0, 1.0], [1.0, 3.0]])
    assert_raises_like_torch(lambda lib: op(lib, _bf16(lib, m)), error, "not implemented for 'BFloat16'")


# ---------------------------------------------------------------- bfloat16: kernels that tested the NumPy kind

@pytest.mark.parametrize("reduce", ["mean", "amax", "amin", "sum", "prod"])
def test_scatter_reduce_on_bfloat16_matches_torch(reduce):
    a, src = np.array([[1.5, -3.0, 2.0], [3.0, 0.25, 7.0]]), np.array([[0.5, 4.0, -1.0], [6.0, 0.5, 14.0]])
    index = [[0, 0, 1], [1, 1, 0]]
    for include_self in (True, False):
        ours, theirs = (_bf16(lib, a).scatter_reduce(1, lib.tensor(index), _bf16(lib, src), reduce,
                                                     include_self=include_self) for lib in (trainer, torch))
        _same_bf16(ours, theirs)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extremes_on_bfloat16_propagate_nan_like_torch(name):
    x = np.array([[1.5, np.nan, -2.0, 9.0], [3.0, 0.25, 7.0, -1.0]])
    ours, theirs = (getattr(lib, name)(_bf16(lib, x), 1) for lib in (trainer, torch))
    _same_bf16(ours.values, theirs.values)
    assert ours.indices.tolist() == theirs.indices.tolist()


def test_printing_bfloat16_matches_torch():
    for values in ([1.0, 2.0], [1.5, float("nan"), -2.0], [1e10, 1.0, -3e-5]):
        ours, theirs = (str(_bf16(lib, values)) for lib in (trainer, torch))
        assert ours.replace("trainer", "torch") == theirs


def test_assert_close_uses_bfloat16_tolerances():
    a, b = [1.0, 2.0, 300.0], [1.0, 2.01, 301.0]
    torch.testing.assert_close(_bf16(torch, a), _bf16(torch, b))
    trainer.testing.assert_close(_bf16(trainer, a), _bf16(trainer, b))
    messages = []
    for lib in (torch, trainer):
        with pytest.raises(AssertionError) as failure:
            lib.testing.assert_close(_bf16(lib, [1.0, 2.0, 300.0]), _bf16(lib, [1.0, 2.0, 308.0]))
        messages.append(str(failure.value))
    assert messages[1] == messages[0]


# ---------------------------------------------------------------- bfloat16: export

class _Bfloat16Ops(trainer.nn.Module):
    def forward(self, x, y, z):
        index = trainer.tensor([[0, 0, 1, 1], [1, 1, 0, 0]])
        return (x.nansum(1), x.nanmean(1), x.isnan(), z.isfinite(), z.isinf(), z.isnan(), trainer.floor_divide(x, y),
                trainer.remainder(x, y), trainer.div(x, y, rounding_mode="trunc"), x.trunc(), x.round(), x.frac(),
                z.nan_to_num(), x.scatter_reduce(1, index, y, "mean"), z.clamp(-1.0, 1.0),
                trainer.isin(x, trainer.tensor([0.75, 3.0])))


def test_bfloat16_model_exports_with_bfloat16_types_and_runs_like_trainer():
    x = _bf16(trainer, [[1.5, float("nan"), -2.25, 5.0], [3.0, 0.75, -7.5, -2.5]])
    y = _bf16(trainer, [[2.0, 1.0, 0.5, 3.0], [-2.0, 0.25, 3.0, 1.5]])
    z = _bf16(trainer, [[1.5, float("nan"), -2.25, float("inf")], [3.0, 0.75, -7.5, float("-inf")]])
    model = exporter.export(_Bfloat16Ops().eval(), (x, y, z), io.BytesIO(), input_names=["x", "y", "z"])
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.BFLOAT16
    got = ReferenceEvaluator(model).run(None, {"x": x._data, "y": y._data, "z": z._data})
    for i, (want, have) in enumerate(zip(_Bfloat16Ops()(x, y, z), got)):
        assert have.dtype == want._data.dtype, f"output {i}"
        np.testing.assert_array_equal(have.astype(np.float32), want._data.astype(np.float32), err_msg=f"output {i}")


def test_bfloat16_op_without_an_onnx_bfloat16_kernel_names_the_op_and_type():
    class Sine(trainer.nn.Module):
        def forward(self, x):
            return x.sin()

    with pytest.raises(Exception, match=r"Sin.*bfloat16"):  # Sin has bfloat16 from opset 22
        exporter.export(Sine().eval(), (_bf16(trainer, [1.0, 2.0]),), io.BytesIO(), opset_version=17)


# ---------------------------------------------------------------- complex: reductions and scans

@pytest.mark.parametrize("fn", [
    lambda lib, z: lib.cumsum(z, 0),
    lambda lib, z: lib.cumprod(z, 0),
    lambda lib, z: z.mean(1, keepdim=True),
    lambda lib, z: z.prod(),
], ids=["cumsum", "cumprod", "mean_dim", "prod"])
def test_complex_reductions_and_scans_match_torch(fn):
    assert_complex_parity(fn, [_complex(3, 4)])


def test_complex_nanmean_and_running_extremes_are_refused_like_torch():
    assert_raises_like_torch(lambda lib: lib.tensor(_complex(3)).nanmean(), RuntimeError,
                             "nansum on CPU does not support complex inputs")
    for name in ("cummax", "cummin"):
        assert_raises_like_torch(lambda lib, name=name: getattr(lib, name)(lib.tensor(_complex(3)), 0),
                                 NotImplementedError, f'"{name}_cpu" not implemented for \'ComplexDouble\'')


def test_inplace_abs_of_complex_is_refused_like_torch():
    for call in (lambda lib: lib.tensor(_complex(3)).abs_(), lambda lib: lib.tensor(_complex(3)).absolute_(),
                 lambda lib: lib.abs_(lib.tensor(_complex(3)))):
        assert_raises_like_torch(call, RuntimeError, "In-place abs is not supported for complex tensors")
    real = trainer.tensor([-1.5, 2.0])
    assert real.abs_() is real and real.tolist() == [1.5, 2.0]


# ---------------------------------------------------------------- complex: layers and losses

@pytest.mark.parametrize("fn, shapes", [
    (lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, padding=1), [(2, 3, 7), (4, 3, 3), (4,)]),
    (lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, stride=2, groups=3, dilation=2), [(2, 3, 9), (6, 1, 2),
                                                                                               (6,)]),
    (lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=(1, 0)), [(2, 2, 5, 4), (3, 2, 3, 2), (3,)]),
    (lambda lib, x, w, b: lib.nn.functional.conv2d(x[0], w, b, stride=2), [(1, 2, 5, 5), (3, 2, 2, 2), (3,)]),
    (lambda lib, x, w, b: lib.nn.functional.conv_transpose1d(x, w, b, stride=2), [(2, 3, 4), (3, 2, 3), (2,)]),
    (lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), [(2, 5), (3, 5), (3,)]),
], ids=["conv1d", "conv1d_groups", "conv2d", "conv2d_unbatched", "conv_transpose1d", "linear"])
def test_complex_layers_match_torch(fn, shapes):
    assert_complex_parity(fn, [_complex(*s) for s in shapes])


def test_complex_conv_module_and_second_order_gradient():
    w = _complex(2, 1, 3)
    x = _complex(1, 1, 6)
    grads = []
    for lib in (torch, trainer):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        loss = lib.nn.functional.conv1d(xt, wt).abs().pow(2).sum()
        (gx,) = lib.autograd.grad(loss, xt, create_graph=True)
        (gw,) = lib.autograd.grad(gx.abs().pow(2).sum(), wt)
        grads.append(gw.detach().numpy())
    np.testing.assert_allclose(grads[1], grads[0], atol=1e-10)


@pytest.mark.parametrize("name", ["mse_loss", "huber_loss", "smooth_l1_loss"])
def test_real_only_losses_refuse_complex_like_torch(name):
    kernel = {"mse_loss": "mse", "huber_loss": "huber", "smooth_l1_loss": "smooth_l1"}[name]
    assert_raises_like_torch(lambda lib: getattr(lib.nn.functional, name)(lib.tensor(_complex(3)),
                                                                          lib.tensor(_complex(3))),
                             NotImplementedError, f'"{kernel}_cpu" not implemented for \'ComplexDouble\'')


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss_on_complex_matches_torch(reduction):
    assert_complex_parity(
        lambda lib, a, b: lib.nn.functional.l1_loss(a, b, reduction=reduction), [_complex(2, 3), _complex(2, 3)])


# ---------------------------------------------------------------- complex: comparisons and testing

def test_isclose_and_allclose_on_complex_match_torch():
    z = _complex(6)
    near = z + np.array([0, 1e-9j, 1e-3, 1e-3j, 0, 0])
    near[4] = np.nan + 1j
    z[4] = np.nan + 1j
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0, "atol": 1e-2}):
        ours, theirs = ((lib.isclose(lib.tensor(z), lib.tensor(near), **kwargs),
                         lib.allclose(lib.tensor(z), lib.tensor(near), **kwargs)) for lib in (trainer, torch))
        assert ours[0].tolist() == theirs[0].tolist() and ours[1] == theirs[1], kwargs


def test_assert_close_on_complex_matches_torch():
    z = _complex(3)
    off = z.copy()
    off[1] += 1e-3j
    for lib in (torch, trainer):
        lib.testing.assert_close(lib.tensor(z), lib.tensor(z + 1e-9))
        with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 3 .*\n.*at index \(1,\)"):
            lib.testing.assert_close(lib.tensor(z), lib.tensor(off))


def test_make_tensor_draws_complex_tensors():
    t = trainer.testing.make_tensor(200, dtype=trainer.complex64, device="cpu", low=-2, high=3)
    theirs = torch.testing.make_tensor(200, dtype=torch.complex64, device="cpu", low=-2, high=3)
    assert t.dtype == trainer.complex64 and tuple(t.shape) == tuple(theirs.shape)
    for part in (t.real, t.imag):
        assert -2 <= part.min().item() and part.max().item() < 3 and part.std().item() > 0.5


# ---------------------------------------------------------------- autocast: recurrent layers and padding

def _copy_module(theirs, ours):
    ours.load_state_dict({k: trainer.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours


def _flat(out):
    return [t for o in out for t in _flat(o)] if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("name, kwargs, cell", [
    ("RNN", {}, False), ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}, False),
    ("LSTM", {}, False), ("LSTM", {"bidirectional": True}, False), ("GRU", {}, False),
    ("RNNCell", {}, True), ("LSTMCell", {}, True), ("GRUCell", {}, True),
])
def test_recurrent_layers_under_cpu_autocast_match_torch(name, kwargs, cell):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(3, 4, **kwargs)
    ours = _copy_module(theirs, getattr(trainer.nn, name)(3, 4, **kwargs))
    x = RNG.standard_normal((4, 3) if cell else (5, 2, 3)).astype(np.float32)
    outs = []
    for lib, module in ((torch, theirs), (trainer, ours)):
        inp = lib.tensor(x, requires_grad=True)
        with lib.autocast("cpu"):
            out = _flat(module(inp))
        sum(o.float().sum() for o in out).backward()
        outs.append((out, inp.grad))
    (theirs_out, theirs_grad), (ours_out, ours_grad) = outs
    assert [o.dtype.name for o in ours_out] == [str(t.dtype).removeprefix("torch.") for t in theirs_out]
    for o, t in zip(ours_out, theirs_out):  # bfloat16 rounds differently along the way: a few of its ulps
        np.testing.assert_allclose(o.float().detach().numpy(), t.float().detach().numpy(), atol=6e-2)
    assert ours_grad.dtype == trainer.float32
    np.testing.assert_allclose(ours_grad.numpy(), theirs_grad.numpy(), atol=0.1)


def test_recurrent_layers_outside_autocast_and_in_float64_are_not_cast():
    trainer.manual_seed(0)
    lstm = trainer.nn.LSTM(3, 4).double()
    with trainer.autocast("cpu"):
        assert lstm(trainer.randn(5, 2, 3, dtype=trainer.float64))[0].dtype == trainer.float64
    assert trainer.nn.RNN(3, 4)(trainer.randn(5, 2, 3))[0].dtype == trainer.float32


def test_packed_sequences_under_cpu_autocast_match_torch():
    x = RNG.standard_normal((5, 2, 3)).astype(np.float32)
    for name in ("RNN", "LSTM", "GRU"):
        dtypes = []
        for lib in (torch, trainer):
            lib.manual_seed(0)
            packed = lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(x), [5, 3])
            with lib.autocast("cpu"):
                out, _ = getattr(lib.nn, name)(3, 4)(packed)
            dtypes.append(str(out.data.dtype).split(".")[-1])
        assert dtypes[0] == dtypes[1], name


def test_bfloat16_elman_rnn_outputs_bfloat16_like_torch():
    torch.manual_seed(0)
    theirs = torch.nn.RNN(3, 4)
    ours = _copy_module(theirs, trainer.nn.RNN(3, 4)).to(trainer.bfloat16)
    theirs = theirs.to(torch.bfloat16)
    x = RNG.standard_normal((5, 2, 3))
    for o, t in zip(_flat(ours(_bf16(trainer, x))), _flat(theirs(_bf16(torch, x)))):
        _same_bf16(o, t, atol=3e-2)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_under_cpu_autocast_uses_torch_dtype_per_mode(mode):
    x = RNG.standard_normal((1, 2, 5))
    results = []
    for lib in (torch, trainer):
        inp = _bf16(lib, x)
        with lib.autocast("cpu"):
            results.append(lib.nn.functional.pad(inp, (2, 1), mode=mode))
    ours, theirs = results[1], results[0]
    _same_bf16(ours, theirs)


def test_matrix_exp_on_bfloat16_is_torch_float32_result_rounded():
    # PyTorch 2.13 accepts bfloat16 here but its bfloat16 series overflows to inf on these inputs, so the reference is
    # its float32 result (value and gradient) rounded to bfloat16, which is what trainer computes
    m = RNG.standard_normal((2, 3, 3)) * 0.5
    a = _bf16(trainer, m).requires_grad_()
    out = trainer.linalg.matrix_exp(a)
    out.float().sum().backward()
    value, vjp = torch.func.vjp(torch.linalg.matrix_exp, torch.tensor(m, dtype=torch.float32))
    _same_bf16(out, value.bfloat16(), atol=1e-2)
    _same_bf16(a.grad, vjp(torch.ones(2, 3, 3))[0].bfloat16(), atol=2e-2)


@pytest.mark.parametrize("make, shape", [
    (lambda lib: lib.nn.Linear(3, 2, dtype=lib.complex128), (4, 3)),
    (lambda lib: lib.nn.Conv2d(2, 3, 2, padding=1, dtype=lib.complex128), (1, 2, 4, 4)),
], ids=["Linear", "Conv2d"])
def test_complex_modules_match_torch_with_parameter_gradients(make, shape):
    torch.manual_seed(0)
    theirs = make(torch)
    ours = make(trainer)
    ours.load_state_dict({k: trainer.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = _complex(*shape)
    outs = []
    for lib, module in ((torch, theirs), (trainer, ours)):
        out = module(lib.tensor(x))
        out.abs().sum().backward()
        outs.append((out.detach().numpy(), [p.grad.numpy() for p in module.parameters()]))
    np.testing.assert_allclose(outs[1][0], outs[0][0], atol=1e-12)
    for o, t in zip(outs[1][1], outs[0][1]):
        np.testing.assert_allclose(o, t, atol=1e-12)
