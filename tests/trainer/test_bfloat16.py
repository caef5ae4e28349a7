"""bfloat16 tensors against PyTorch's bfloat16 on the CPU: the same inputs, the same dtype out, the same values.

PyTorch computes most bfloat16 ops in float32 and rounds once, and accumulates reductions in float32; trainer
does the same, so values are equal, or within one bfloat16 ulp where PyTorch's vectorised float32 kernel
(Sleef exp/log/tanh/erf, fused softmax and normalisation kernels) rounds its float32 result differently
before the final rounding to bfloat16. Those cases say ``ulp=1``.

Where PyTorch rounds an intermediate to bfloat16 and trainer does not, results that come from cancellation
(small differences of larger terms) differ by a few ulps of the larger terms, not of the small result; those
cases say ``of_max=True``: the tolerance is ``ulp`` ulps of the largest magnitude in the output. They are:
addcmul (PyTorch rounds ``value * t1 * t2`` before adding), log_softmax over the last dim (PyTorch's kernel
rounds ``log(sum(exp))`` before subtracting), batch norm (PyTorch's kernel rounds the per-channel scale and
shift), and the gradients of div, mse_loss, gelu, cross_entropy and layer_norm, whose PyTorch backward
formulas are chains of bfloat16 ops, or (layer_norm) use the row mean and 1/std saved rounded to bfloat16.
"""

import io
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import ml_dtypes
import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch, output_tuple

BF16 = np.dtype(ml_dtypes.bfloat16)


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable  # fn(lib, *inputs)
    shapes: tuple
    domain: str = "real"
    ulp: int = 0  # how many bfloat16 ulps trainer may differ from PyTorch
    grad: bool = False  # also compare the inputs' gradients (bfloat16)
    grad_ulp: int = 0
    of_max: bool = False  # ulps of the output's largest magnitude (cancellation, see above)
    grad_of_max: bool = False


def C(id, fn, *shapes, domain="real", ulp=0, grad=False, grad_ulp=None, of_max=False, grad_of_max=False):  # noqa: N802
    return Case(id, fn, shapes or ((3, 4),), domain, ulp, grad, ulp if grad_ulp is None else grad_ulp, of_max,
                grad_of_max)


def _bf16_arrays(case):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    out = []
    for shape in case.shapes:
        if case.domain == "pos":
            a = rng.uniform(0.5, 2.0, shape)
        elif case.domain == "nonzero":
            a = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        elif case.domain == "unit":
            a = rng.uniform(-0.9, 0.9, shape)
        else:
            a = rng.standard_normal(shape) * 2
        out.append(np.asarray(a).astype(BF16))
    return out


def _ordered_bits(values: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns as integers in value order, so neighbouring values differ by 1."""
    bits = values.astype(BF16).view(np.uint16).astype(np.int64)
    return np.where(bits & 0x8000, 0x8000 - bits, bits)


def assert_bf16_like_torch(ours, theirs, ulp, what, of_max=False):
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {list(ours.shape)} != {list(theirs.shape)}"
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), f"{what}: {ours.dtype} != {theirs.dtype}"
    if not theirs.dtype.is_floating_point:
        np.testing.assert_array_equal(ours.detach().tolist(), theirs.detach().tolist(), err_msg=what)
        return
    mine = ours.detach().float().numpy()
    ref = theirs.detach().float().numpy()
    if theirs.dtype != torch.bfloat16:
        np.testing.assert_allclose(mine, ref, rtol=1e-6, atol=1e-6, err_msg=what)
        return
    nan = np.isnan(ref)
    assert (np.isnan(mine) == nan).all(), f"{what}: nan positions differ\n{mine}\n{ref}"
    if of_max:
        largest = np.abs(ref[~nan]).max(initial=0.0)
        allowed = ulp * 2.0 ** (np.floor(np.log2(largest)) - 7) if largest else 0.0
        assert np.abs(mine - ref)[~nan].max(initial=0.0) <= allowed, f"{what}: beyond {ulp} ulps of {largest}"
        return
    gap = np.abs(_ordered_bits(mine[~nan]) - _ordered_bits(ref[~nan]))
    assert gap.size == 0 or gap.max() <= ulp, f"{what}: {gap.max()} ulps apart (allowed {ulp})\n{mine}\n{ref}"


F = "torch.nn.functional"

ELEMENTWISE = [
    C("add", lambda lib, a, b: a + b, (3, 4), (4,), grad=True),
    C("add_scalar", lambda lib, a: a + 0.3, grad=True),
    C("sub_alpha", lambda lib, a, b: lib.sub(a, b, alpha=3), (3, 4), (3, 4), grad=True),
    C("mul", lambda lib, a, b: a * b, (3, 4), (3, 1), grad=True),
    C("div", lambda lib, a, b: a / b, (3, 4), (3, 4), domain="nonzero", grad=True, grad_ulp=2, grad_of_max=True),
    C("div_floor", lambda lib, a, b: a.div(b, rounding_mode="floor"), (3, 4), (3, 4), domain="nonzero"),
    C("div_trunc", lambda lib, a, b: a.div(b, rounding_mode="trunc"), (3, 4), (3, 4), domain="nonzero"),
    C("remainder", lambda lib, a, b: a % b, (3, 4), (3, 4), domain="nonzero"),
    C("fmod", lambda lib, a, b: lib.fmod(a, b), (3, 4), (3, 4), domain="nonzero"),
    C("pow", lambda lib, a, b: a ** b, (3, 4), (3, 4), domain="pos", ulp=1),
    C("pow_scalar", lambda lib, a: a ** 2, grad=True),
    C("neg", lambda lib, a: -a, grad=True),
    C("abs", lambda lib, a: a.abs(), grad=True),
    C("exp", lambda lib, a: a.exp(), ulp=1, grad=True),
    C("log", lambda lib, a: a.log(), domain="pos", ulp=1, grad=True),
    C("log1p", lambda lib, a: a.log1p(), domain="pos", ulp=1),
    C("expm1", lambda lib, a: a.expm1(), ulp=1),
    C("sqrt", lambda lib, a: a.sqrt(), domain="pos", grad=True),
    C("rsqrt", lambda lib, a: a.rsqrt(), domain="pos", ulp=1),
    C("reciprocal", lambda lib, a: a.reciprocal(), domain="nonzero"),
    C("sin", lambda lib, a: a.sin(), ulp=1),
    C("cos", lambda lib, a: a.cos(), ulp=1),
    C("tan", lambda lib, a: a.tan(), domain="unit", ulp=1),
    C("atan2", lambda lib, a, b: lib.atan2(a, b), (3, 4), (3, 4), ulp=1),
    C("erf", lambda lib, a: a.erf(), ulp=1),
    C("tanh", lambda lib, a: a.tanh(), ulp=1, grad=True),
    C("sigmoid", lambda lib, a: a.sigmoid(), ulp=1, grad=True),
    C("relu", lambda lib, a: lib.relu(a), grad=True),
    C("gelu", lambda lib, a: lib.nn.functional.gelu(a), ulp=1, grad=True, grad_ulp=2, grad_of_max=True),
    C("gelu_tanh", lambda lib, a: lib.nn.functional.gelu(a, approximate="tanh"), ulp=1),
    C("silu", lambda lib, a: lib.nn.functional.silu(a), ulp=1, grad=True),
    C("softplus", lambda lib, a: lib.nn.functional.softplus(a), ulp=1),
    C("elu", lambda lib, a: lib.nn.functional.elu(a), ulp=1),
    C("leaky_relu", lambda lib, a: lib.nn.functional.leaky_relu(a, 0.1)),
    C("hardtanh", lambda lib, a: lib.nn.functional.hardtanh(a)),
    C("hardswish", lambda lib, a: lib.nn.functional.hardswish(a), ulp=1),
    C("mish", lambda lib, a: lib.nn.functional.mish(a), ulp=1),
    C("softmax", lambda lib, a: a.softmax(-1), ulp=1, grad=True),
    C("log_softmax", lambda lib, a: lib.log_softmax(a, 0), ulp=1, grad=True, grad_ulp=2, grad_of_max=True),
    C("log_softmax_last_dim", lambda lib, a: lib.log_softmax(a, -1), (4, 40), ulp=2, of_max=True),
    C("floor", lambda lib, a: a.floor()),
    C("ceil", lambda lib, a: a.ceil()),
    C("round", lambda lib, a: (a * 3).round()),
    C("round_decimals", lambda lib, a: a.round(decimals=1), ulp=1),
    C("trunc", lambda lib, a: a.trunc()),
    C("frac", lambda lib, a: a.frac()),
    C("sign", lambda lib, a: a.sign()),
    C("clamp", lambda lib, a: a.clamp(-0.5, 0.5), grad=True),
    C("clamp_min_tensor", lambda lib, a, b: a.clamp(min=b), (3, 4), (4,)),
    C("maximum", lambda lib, a, b: lib.maximum(a, b), (3, 4), (3, 4), grad=True),
    C("minimum", lambda lib, a, b: lib.minimum(a, b), (3, 4), (3, 4)),
    C("where", lambda lib, a, b: lib.where(a > 0, a, b), (3, 4), (3, 4), grad=True),
    C("where_scalar", lambda lib, a: lib.where(a > 0, a, 0.5)),
    C("lerp", lambda lib, a, b: lib.lerp(a, b, 0.3), (3, 4), (3, 4), ulp=1),
    C("addcmul", lambda lib, a, b, c: lib.addcmul(a, b, c, value=0.5), (3, 4), (3, 4), (3, 4), ulp=1, of_max=True),
    C("compare", lambda lib, a, b: (a < b, a <= b, a == b, a != b, a > 0, a >= b), (3, 4), (3, 4)),
    C("isnan_isinf", lambda lib, a: ((a / 0).isnan(), (a / 0).isinf(), (a / 0).isfinite(), a.signbit())),
    C("nan_to_num", lambda lib, a: (a / 0).nan_to_num()),
    C("mixed_float32", lambda lib, a, b: a + b.float(), (3, 4), (3, 4)),
    C("mixed_float16", lambda lib, a, b: a * b.half(), (3, 4), (3, 4)),
    C("mixed_int", lambda lib, a: a + lib.arange(4)),
    C("mixed_0d_float32", lambda lib, a, b: a * b.float(), (3, 4), ()),
]

REDUCTIONS = [
    C("sum", lambda lib, a: a.sum(), (40, 30), grad=True),
    C("sum_dim", lambda lib, a: a.sum(1), (4, 300)),
    C("nansum", lambda lib, a: a.nansum(0), (50, 3)),
    C("mean", lambda lib, a: a.mean(), (40, 30), grad=True),
    C("mean_dim", lambda lib, a: a.mean(-1, keepdim=True), (4, 300)),
    C("var", lambda lib, a: a.var(1), (4, 100)),
    C("std", lambda lib, a: a.std(), (30, 20)),
    C("var_mean", lambda lib, a: lib.var_mean(a, 0, correction=0), (50, 3)),
    C("norm", lambda lib, a: a.norm(), (40, 30)),
    C("norm_dim", lambda lib, a: lib.linalg.vector_norm(a, 1, dim=1), (4, 200)),
    C("prod", lambda lib, a: a.prod(1), (4, 10), domain="pos"),
    C("logsumexp", lambda lib, a: a.logsumexp(1), (4, 100), ulp=1),
    C("cumsum", lambda lib, a: a.cumsum(1), (3, 200)),
    C("cumprod", lambda lib, a: a.cumprod(1), (3, 20), domain="pos"),
    C("max_min", lambda lib, a: (a.max(), a.min(), a.amax(0), a.amin(1))),
    C("max_dim", lambda lib, a: a.max(1), grad=True),
    C("argmax", lambda lib, a: (a.argmax(), a.argmin(1))),
    C("sort", lambda lib, a: a.sort(1)),
    C("topk", lambda lib, a: a.topk(2)),
    C("median", lambda lib, a: a.median()),
]

INDEXING_SHAPES = [
    C("getitem", lambda lib, a: a[1:, lib.tensor([0, 2])], grad=True),
    C("getitem_mask", lambda lib, a: a[a > 0]),
    C("gather", lambda lib, a: a.gather(1, lib.tensor([[0, 1], [2, 3], [1, 1]]))),
    C("scatter", lambda lib, a, b: a.scatter(1, lib.tensor([[0], [2], [1]]), b), (3, 4), (3, 1)),
    C("scatter_add", lambda lib, a, b: a.scatter_add(0, lib.tensor([[0, 1, 2, 0]]), b), (3, 4), (1, 4)),
    C("index_select", lambda lib, a: a.index_select(0, lib.tensor([2, 0]))),
    C("index_put", lambda lib, a, b: a.index_put((lib.tensor([0, 2]),), b), (3, 4), (4,)),
    C("index_add", lambda lib, a, b: a.index_add(0, lib.tensor([0, 0]), b), (3, 4), (2, 4)),
    C("masked_fill", lambda lib, a: a.masked_fill(a < 0, -1.5), grad=True),
    C("masked_select", lambda lib, a: a.masked_select(a > 0.5)),
    C("shape_ops", lambda lib, a: (a.reshape(4, 3), a.t(), a.flip(0), a.roll(1, 1), a.unsqueeze(0).expand(2, 3, 4),
                                   a.repeat(2, 1), a.tril(), lib.cat([a, a]), lib.stack([a, a], 1),
                                   a.chunk(2, 1)[1], a.permute(1, 0).contiguous())),
    C("pad", lambda lib, a: lib.nn.functional.pad(a, (1, 2), value=0.5)),
]

NN = [
    C("layer_norm", lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (8,), w, b), (4, 8), (8,), (8,), ulp=1,
      grad=True, grad_ulp=4, grad_of_max=True),
    C("batch_norm_train", lambda lib, x, w, b: lib.nn.functional.batch_norm(
        x, None, None, w, b, training=True), (6, 3), (3,), (3,), ulp=1, of_max=True),
    C("group_norm", lambda lib, x: lib.nn.functional.group_norm(x, 2), (2, 4, 3), ulp=1),
    C("embedding", lambda lib, w: lib.nn.functional.embedding(lib.tensor([[0, 2], [1, 0]]), w), (3, 4), grad=True),
    C("max_pool2d", lambda lib, x: lib.nn.functional.max_pool2d(x, 2), (1, 2, 4, 4), grad=True),
    C("avg_pool2d", lambda lib, x: lib.nn.functional.avg_pool2d(x, 2), (1, 2, 4, 4)),
    C("adaptive_avg_pool2d", lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 1), (1, 2, 6, 6)),
    C("max_pool1d", lambda lib, x: lib.nn.functional.max_pool1d(x, 3), (2, 2, 9)),
    C("dropout_eval", lambda lib, x: lib.nn.functional.dropout(x, 0.5, training=False)),
    C("mse_loss", lambda lib, a, b: lib.nn.functional.mse_loss(a, b), (8, 30), (8, 30), grad=True, grad_ulp=1,
      grad_of_max=True),
    C("l1_loss", lambda lib, a, b: lib.nn.functional.l1_loss(a, b), (8, 30), (8, 30)),
    C("smooth_l1_loss", lambda lib, a, b: lib.nn.functional.smooth_l1_loss(a, b), (8, 30), (8, 30)),
    C("cross_entropy", lambda lib, a: lib.nn.functional.cross_entropy(a, lib.tensor([0, 3, 1])), ulp=1,
      grad=True, grad_ulp=2, grad_of_max=True),
    C("nll_loss", lambda lib, a: lib.nn.functional.nll_loss(a, lib.tensor([0, 3, 1]))),
    C("bce_with_logits", lambda lib, a, b: lib.nn.functional.binary_cross_entropy_with_logits(a, b.sigmoid()),
      (3, 4), (3, 4), ulp=1),
]

CASES = ELEMENTWISE + REDUCTIONS + INDEXING_SHAPES + NN


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_op_matches_torch_on_bfloat16(case):
    arrays = _bf16_arrays(case)
    theirs_in = [torch.tensor(a.astype(np.float32)).bfloat16().requires_grad_(case.grad) for a in arrays]
    ours_in = [trainer.tensor(a, requires_grad=case.grad) for a in arrays]
    theirs = output_tuple(case.fn(torch, *theirs_in))
    ours = output_tuple(case.fn(trainer, *ours_in))
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert_bf16_like_torch(o, t, case.ulp, f"output {i}", case.of_max)
    if not case.grad:
        return
    out_t, out_o = theirs[0], ours[0]
    upstream = np.random.default_rng(0).standard_normal(tuple(out_t.shape)).astype(BF16)
    out_t.backward(torch.tensor(upstream.astype(np.float32)).bfloat16())
    out_o.backward(trainer.tensor(upstream))
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        assert_bf16_like_torch(o.grad, t.grad, case.grad_ulp, f"grad of input {i}", case.grad_of_max)


# --- creation and conversion -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda lib: lib.zeros(2, 3, dtype=lib.bfloat16),
    lambda lib: lib.ones(4, dtype=lib.bfloat16),
    lambda lib: lib.full((2,), 1.1, dtype=lib.bfloat16),
    lambda lib: lib.arange(0, 3, 0.3, dtype=lib.bfloat16),
    lambda lib: lib.arange(250, 270, dtype=lib.bfloat16),
    lambda lib: lib.tensor([0.1, 1e30, -3.3, 257.0], dtype=lib.bfloat16),
    lambda lib: lib.tensor([1.7, -2.5]).to(lib.bfloat16),
    lambda lib: lib.tensor([1.7, -2.5], dtype=lib.float64).bfloat16(),
    lambda lib: lib.tensor([3, 300, 70000]).bfloat16(),
    lambda lib: lib.tensor([1.5, -2.7], dtype=lib.bfloat16).long(),
    lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.bfloat16)),
    lambda lib: lib.eye(2, dtype=lib.bfloat16),
], ids=["zeros", "ones", "full", "arange_float_step", "arange_above_256", "tensor", "to", "method",
        "from_int", "to_long", "zeros_like", "eye"])
def test_creation_and_conversion_match_torch(make):
    assert_bf16_like_torch(make(trainer), make(torch), 0, "created")


def test_linspace_within_one_ulp_of_the_ends_of_torch():
    # trainer rounds each exact point once; PyTorch's kernel works from a step rounded to bfloat16, so its points
    # drift from the exact ones by up to an ulp of the ends (many ulps of the points near zero)
    for start, end, steps in [(-1, 1, 7), (0.1, 3.7, 23), (2, -3.3, 17)]:
        ours = trainer.linspace(start, end, steps, dtype=trainer.bfloat16)
        theirs = torch.linspace(start, end, steps, dtype=torch.bfloat16)
        assert_bf16_like_torch(ours, theirs, 1, f"linspace({start}, {end}, {steps})", of_max=True)


@pytest.mark.parametrize("make", [
    lambda lib: lib.rand(1000, dtype=lib.bfloat16),
    lambda lib: lib.randn(1000, dtype=lib.bfloat16),
    lambda lib: lib.randint(0, 5, (1000,), dtype=lib.bfloat16),
    lambda lib: lib.empty(1000, dtype=lib.bfloat16).normal_(2.0, 0.5),
    lambda lib: lib.empty(1000, dtype=lib.bfloat16).uniform_(-1, 3),
    lambda lib: lib.empty(1000, dtype=lib.bfloat16).fill_(0.3),
    lambda lib: lib.normal(1.0, 2.0, (1000,), dtype=lib.bfloat16),
], ids=["rand", "randn", "randint", "normal_", "uniform_", "fill_", "normal"])
def test_random_creation_gives_bfloat16_with_the_same_distribution(make):
    ours, theirs = make(trainer), make(torch)
    assert ours.dtype is trainer.bfloat16 and ours.shape == (1000,)
    assert abs(ours.float().mean().item() - theirs.float().mean().item()) < 0.25
    assert abs(ours.float().std().item() - theirs.float().std().item()) < 0.25


def test_python_values_and_properties():
    x = trainer.tensor([1.1, -2.0, 3.3], dtype=trainer.bfloat16)
    t = torch.tensor([1.1, -2.0, 3.3], dtype=torch.bfloat16)
    assert x.tolist() == t.tolist() and all(type(v) is float for v in x.tolist())
    assert x[0].item() == t[0].item() and type(x[0].item()) is float
    assert float(x[2]) == float(t[2])
    assert x.is_floating_point() and x.element_size() == 2 and x.dtype.itemsize == 2
    assert trainer.is_floating_point(x) and not x.is_complex()
    assert trainer.promote_types(trainer.bfloat16, trainer.float16) is trainer.float32
    assert repr(trainer.tensor([0.5], dtype=trainer.bfloat16)) == "tensor([0.5000], dtype=trainer.bfloat16)"


def test_numpy_raises_like_torch():
    # NumPy has no bfloat16 of its own: PyTorch refuses, and so does trainer (ml_dtypes arrays stay internal)
    assert_raises_like_torch(lambda lib: lib.ones(2, dtype=lib.bfloat16).numpy(), TypeError,
                             "Got unsupported ScalarType BFloat16")


def test_finfo_matches_torch():
    ours, theirs = trainer.finfo(trainer.bfloat16), torch.finfo(torch.bfloat16)
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.dtype == theirs.dtype == "bfloat16"


# --- training ---------------------------------------------------------------------------------------------------

def _elementwise_model(lib):
    """A model without matmul (another task owns bfloat16 matmul): scale, shift, activation, layer norm."""
    class Model(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = lib.nn.Parameter(lib.linspace(0.5, 1.5, 8))
            self.shift = lib.nn.Parameter(lib.linspace(-0.2, 0.2, 8))
            self.norm = lib.nn.LayerNorm(8)
            self.embed = lib.nn.Embedding(5, 8)
            lib.nn.init.constant_(self.embed.weight, 0.1)

        def forward(self, x, ids):
            h = lib.nn.functional.gelu(x * self.scale + self.shift) + self.embed(ids)
            return self.norm(h).sum(-1)

    return Model()


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_training_a_bfloat16_model_follows_torch(optimizer):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 8)).astype(BF16)
    y = rng.standard_normal(16).astype(BF16)
    ids = rng.integers(0, 5, 16)
    losses = {}
    for lib in (torch, trainer):
        model = _elementwise_model(lib).to(lib.bfloat16)
        opt = (lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "SGD"
               else lib.optim.Adam(model.parameters(), lr=0.01))
        xs = lib.tensor(x.astype(np.float32)).bfloat16()
        ys = lib.tensor(y.astype(np.float32)).bfloat16()
        history = []
        for _ in range(4):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(model(xs, lib.tensor(ids)), ys)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            history.append(loss.item())
        assert all(p.dtype == lib.bfloat16 for p in model.parameters())
        losses[lib.__name__] = history
    np.testing.assert_allclose(losses["trainer"], losses["torch"], rtol=2e-2)
    assert losses["trainer"][-1] < losses["trainer"][0]


def test_batch_norm_module_in_bfloat16_updates_running_stats_like_torch():
    x = np.random.default_rng(4).standard_normal((8, 3)).astype(BF16)
    outs = {}
    for lib in (torch, trainer):
        bn = lib.nn.BatchNorm1d(3).to(lib.bfloat16)
        out = bn(lib.tensor(x.astype(np.float32)).bfloat16())
        outs[lib.__name__] = (out, bn.running_mean, bn.running_var)
    for o, t in zip(outs["trainer"], outs["torch"]):
        assert_bf16_like_torch(o, t, 1, "batch norm")


# --- saving -----------------------------------------------------------------------------------------------------

def test_save_load_round_trip_keeps_bfloat16():
    x = trainer.randn(3, 5).bfloat16()
    buffer = io.BytesIO()
    trainer.save({"x": x}, buffer)
    buffer.seek(0)
    back = trainer.load(buffer)["x"]
    assert back.dtype is trainer.bfloat16 and back.tolist() == x.tolist()


def test_safetensors_files_in_bf16_read_by_and_from_torch(tmp_path):
    # trainer.save writes safetensors: the tensor is stored as BF16, which safetensors.torch reads and writes
    from safetensors.torch import load_file, save_file

    x = trainer.tensor([[1.5, -0.1], [math.pi, 1e20]], dtype=trainer.bfloat16)
    trainer.save({"w": x}, tmp_path / "ours.safetensors")
    theirs = load_file(tmp_path / "ours.safetensors")["w"]
    assert theirs.dtype == torch.bfloat16 and theirs.tolist() == x.tolist()
    save_file({"w": theirs * 2}, tmp_path / "theirs.safetensors")
    back = trainer.load(tmp_path / "theirs.safetensors")["w"]
    assert back.dtype is trainer.bfloat16 and back.tolist() == (theirs * 2).tolist()


def test_bfloat16_model_exports_to_onnx_bfloat16():
    import onnx

    import exporter
    import serving

    model = trainer.nn.Sequential(trainer.nn.LayerNorm(4), trainer.nn.GELU()).to(trainer.bfloat16).eval()
    x = trainer.randn(2, 4).bfloat16()
    buffer = io.BytesIO()
    exporter.export(model, (x,), buffer)
    graph = onnx.load_from_string(buffer.getvalue()).graph
    assert {i.data_type for i in graph.initializer} == {onnx.TensorProto.BFLOAT16}
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.BFLOAT16
    (out,) = serving.InferenceSession(buffer.getvalue()).run(None, {graph.input[0].name: x.numpy(force=True)})
    assert out.dtype == BF16 and out.astype(np.float32).tolist() == model(x).float().tolist()
