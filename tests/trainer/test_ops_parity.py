"""Every core op against PyTorch: forward values and the gradients of all inputs (float64, <= 1e-8),
plus central finite-difference checks of trainer's own gradients on a representative subset.

Each case is ``fn(lib, *inputs)``, run once with ``lib = torch`` and once with ``lib = trainer`` on
identical float64 data; the same code works for both because trainer follows PyTorch's API.
"""

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import trainer

TOL = 1e-8


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable  # fn(lib, *inputs) -> a tensor or a tuple of tensors
    shapes: tuple = ((3, 4),)
    domain: str = "real"  # "real": standard normal; "pos": in [0.5, 2]; "nonzero": +-[0.5, 2]
    data: Callable | None = None  # rng -> list of arrays, for inputs that need exact values (ties)

    def arrays(self):
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        if self.data is not None:
            return [np.asarray(a, dtype=np.float64) for a in self.data(rng)]
        return [_draw(rng, shape, self.domain) for shape in self.shapes]


def _draw(rng, shape, domain):
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "nonzero":
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.standard_normal(shape)


def C(id, fn, *shapes, domain="real", data=None):  # noqa: N802 - a table row, read like a constructor
    return Case(id, fn, shapes or ((3, 4),), domain, data)


def _ties(rng):
    return [[[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, -1.0, 0.5], [2.0, -4.0, 1.0, 0.0]]]


def _maximum_ties(rng):
    return [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[1.0, 0.0, 3.0], [5.0, 5.0, 6.0]]]


def _setitem_slice(lib, a, b):
    out = a * 1
    out[1:3] = b
    return out


def _setitem_index_list(lib, a, b):
    out = a * 1
    out[[0, 2]] = b
    return out


def _setitem_scalar_mask(lib, a):
    out = a * 2
    out[out > 0] = 0.5
    return out


def _setitem_into_constant(lib, b):
    out = lib.zeros(3, 4, dtype=lib.float64)
    out[:, 1] = b
    return out


ARITHMETIC = [
    C("add", lambda lib, a, b: a + b, (3, 4), (3, 4)),
    C("add_broadcast_row", lambda lib, a, b: a + b, (2, 3, 4), (4,)),
    C("add_broadcast_both", lambda lib, a, b: a + b, (3, 1), (1, 4)),
    C("add_0d", lambda lib, a, b: a + b, (), (3,)),
    C("add_scalar_right", lambda lib, a: a + 2.5),
    C("add_scalar_left", lambda lib, a: 2.5 + a),
    C("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=2), (3, 4), (4,)),
    C("add_method_alpha", lambda lib, a, b: a.add(b, alpha=-0.5), (3, 4), (3, 1)),
    C("add_scalar_alpha", lambda lib, a: a.add(2, alpha=3)),
    C("sub", lambda lib, a, b: a - b, (3, 4), (3, 1)),
    C("sub_scalar_right", lambda lib, a: a - 2),
    C("sub_scalar_left", lambda lib, a: 1.5 - a),
    C("sub_alpha", lambda lib, a, b: lib.sub(a, b, alpha=3), (3, 4), (4,)),
    C("sub_method", lambda lib, a, b: a.sub(b), (2, 1, 4), (3, 1)),
    C("mul", lambda lib, a, b: a * b, (3, 4), (3, 4)),
    C("mul_broadcast", lambda lib, a, b: a * b, (2, 1, 4), (3, 1)),
    C("mul_scalar_left", lambda lib, a: 3 * a),
    C("mul_scalar_right", lambda lib, a: a * -0.25),
    C("mul_method", lambda lib, a, b: a.mul(b), (4,), (3, 4)),
    C("div", lambda lib, a, b: a / b, (3, 4), (3, 4), domain="nonzero"),
    C("div_broadcast", lambda lib, a, b: a / b, (3, 4), (4,), domain="nonzero"),
    C("div_scalar_left", lambda lib, a: 2 / a, domain="nonzero"),
    C("div_scalar_right", lambda lib, a: a / 4),
    C("div_method", lambda lib, a, b: lib.div(a, b), (3, 1), (4,), domain="nonzero"),
    C("div_floor", lambda lib, a, b: a.div(b, rounding_mode="floor") + a, (3, 4), (4,), domain="nonzero"),
    C("div_trunc", lambda lib, a, b: a.div(b, rounding_mode="trunc") + a * b, (3, 4), (4,), domain="nonzero"),
    C("remainder", lambda lib, a, b: a % b, (3, 4), (3, 4), domain="nonzero"),
    C("remainder_broadcast", lambda lib, a, b: a % b, (3, 4), (3, 1), domain="nonzero"),
    C("remainder_scalar_right", lambda lib, a: a % 1.3),
    C("remainder_scalar_left", lambda lib, a: 5.0 % a.detach() + a, domain="nonzero"),  # torch: no grad here
    C("pow", lambda lib, a, b: a ** b, (3, 4), (3, 4), domain="pos"),
    C("pow_broadcast", lambda lib, a, b: a ** b, (3, 4), (4,), domain="pos"),
    C("pow_int_scalar", lambda lib, a: a ** 3),
    C("pow_square", lambda lib, a: a ** 2),
    C("pow_zero", lambda lib, a: a ** 0),
    C("pow_sqrt", lambda lib, a: a ** 0.5, domain="pos"),
    C("pow_scalar_base", lambda lib, a: 2 ** a),
    C("pow_function", lambda lib, a: lib.pow(a, 3)),
    C("pow_method", lambda lib, a, b: a.pow(b), (3, 1), (4,), domain="pos"),
    C("neg", lambda lib, a: -a),
    C("neg_method", lambda lib, a: a.neg()),
]

UNARY = [
    C("abs", lambda lib, a: a.abs(), domain="nonzero"),
    C("abs_builtin", lambda lib, a: abs(a), domain="nonzero"),
    C("exp", lambda lib, a: a.exp()),
    C("log", lambda lib, a: a.log(), domain="pos"),
    C("sqrt", lambda lib, a: a.sqrt(), domain="pos"),
    C("rsqrt", lambda lib, a: lib.rsqrt(a), domain="pos"),
    C("sin", lambda lib, a: lib.sin(a)),
    C("cos", lambda lib, a: a.cos()),
    C("tanh", lambda lib, a: a.tanh()),
    C("sigmoid", lambda lib, a: lib.sigmoid(a * 10)),
    C("relu", lambda lib, a: lib.relu(a)),
    C("clamp", lambda lib, a: a.clamp(-0.5, 0.5)),
    C("clamp_min", lambda lib, a: a.clamp(min=-0.2)),
    C("clamp_max", lambda lib, a: lib.clamp(a, max=0.3)),
    C("clamp_tensor_bounds", lambda lib, a, lo, hi: a.clamp(lo, hi + 1), (3, 4), (4,), (3, 1)),
    C("maximum", lambda lib, a, b: lib.maximum(a, b), (3, 4), (4,)),
    C("minimum", lambda lib, a, b: a.minimum(b), (3, 1), (3, 4)),
    C("maximum_ties", lambda lib, a, b: lib.maximum(a, b), data=_maximum_ties),
    C("minimum_ties", lambda lib, a, b: lib.minimum(a, b), data=_maximum_ties),
    # ties with a bound pass the whole gradient to the input; min > max gives max; NaN stays NaN
    C("clamp_tensor_bounds_at_ties", lambda lib, a, lo, hi: lib.clamp(a, lo, hi), data=lambda rng: [
        [-2.0, 0.0, 0.5, 1.0, 3.0, math.nan], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.2, 1.0, 2.0, 1.0]]),
    # selected, not multiplied: sqrt's infinite gradient at 0 does not reach inputs that lost to a 0
    C("inf_gradients_stay_behind_where_clamp_maximum", lambda lib, a: lib.where(a > 0, a, 0.0).sqrt()
      + a.clamp(0.0, 2.0).sqrt() + lib.maximum(a, lib.zeros_like(a)).sqrt()
      + lib.minimum(-a, lib.zeros_like(a)).neg().sqrt(),
      data=lambda rng: [[-1.0, -0.5, 0.25, 4.0, 1.0]]),
    # x = 0 gives 0, and x's gradient there is still log(y) where that is finite
    C("xlogy_xlog1py_at_zero", lambda lib, x, y: lib.xlogy(x, y) + lib.special.xlog1py(x, y),
      data=lambda rng: [[0.0, 0.0, 0.0, 1.0, 2.0], [0.5, 2.0, -0.5, 0.0, 3.0]]),
    C("where", lambda lib, a, b: lib.where(a > 0, a, b), (3, 4), (4,)),
    C("where_scalar", lambda lib, a: lib.where(a > 0, a, 0.0)),
    C("where_method", lambda lib, a, b: a.where(b > 0, b * 2), (3, 1), (3, 4)),
    C("softmax", lambda lib, a: a.softmax(1), (3, 4)),
    C("softmax_neg_dim", lambda lib, a: lib.softmax(a, dim=-1), (2, 3, 4)),
    C("log_softmax", lambda lib, a: a.log_softmax(0), (3, 4)),
    C("log_softmax_3d", lambda lib, a: lib.log_softmax(a * 5, dim=1), (2, 3, 4)),
]

MATMUL = [
    C("matmul_2d", lambda lib, a, b: a @ b, (3, 4), (4, 5)),
    C("matmul_batched", lambda lib, a, b: lib.matmul(a, b), (2, 3, 4), (2, 4, 5)),
    C("matmul_broadcast_batch", lambda lib, a, b: a @ b, (2, 1, 3, 4), (3, 4, 5)),
    C("matmul_batch_by_2d", lambda lib, a, b: a @ b, (2, 3, 4), (4, 5)),
    C("matmul_1d_1d", lambda lib, a, b: a @ b, (4,), (4,)),
    C("matmul_1d_2d", lambda lib, a, b: a @ b, (4,), (4, 5)),
    C("matmul_2d_1d", lambda lib, a, b: a @ b, (3, 4), (4,)),
    C("matmul_nd_1d", lambda lib, a, b: a.matmul(b), (2, 3, 4), (4,)),
    C("matmul_1d_nd", lambda lib, a, b: a @ b, (4,), (2, 4, 5)),
    C("mm", lambda lib, a, b: lib.mm(a, b), (3, 4), (4, 2)),
    C("mm_method", lambda lib, a, b: a.mm(b.t()), (3, 4), (2, 4)),
    C("bmm", lambda lib, a, b: lib.bmm(a, b), (2, 3, 4), (2, 4, 5)),
]

REDUCTIONS = [
    C("sum_all", lambda lib, a: a.sum(), (2, 3, 4)),
    C("sum_dim", lambda lib, a: a.sum(1), (2, 3, 4)),
    C("sum_tuple", lambda lib, a: lib.sum(a, dim=(0, 2)), (2, 3, 4)),
    C("sum_neg_keepdim", lambda lib, a: a.sum(-1, keepdim=True), (2, 3, 4)),
    C("mean_all", lambda lib, a: a.mean(), (2, 3, 4)),
    C("mean_dim", lambda lib, a: lib.mean(a, 0), (2, 3, 4)),
    C("mean_tuple_keepdim", lambda lib, a: a.mean((-1, 0), keepdim=True), (2, 3, 4)),
    C("prod_all", lambda lib, a: a.prod(), (2, 3), domain="nonzero"),
    C("prod_dim", lambda lib, a: lib.prod(a, 1), (2, 3, 4), domain="nonzero"),
    C("prod_neg_keepdim", lambda lib, a: a.prod(-1, keepdim=True), (3, 4)),
    C("prod_with_zero", lambda lib, a: a.prod(1), data=lambda rng: [[[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]]),
    C("max_all", lambda lib, a: a.max(), (3, 4)),
    C("min_all", lambda lib, a: lib.min(a), (3, 4)),
    C("max_all_ties", lambda lib, a: a.max(), data=_ties),
    C("min_all_ties", lambda lib, a: a.min(), data=lambda rng: [[[1.0, -3.0], [-3.0, -3.0]]]),
    C("max_dim", lambda lib, a: a.max(1), (3, 4)),
    C("max_dim_keepdim", lambda lib, a: lib.max(a, dim=-1, keepdim=True), (2, 3, 4)),
    C("max_dim_ties", lambda lib, a: a.max(1), data=_ties),
    C("min_dim", lambda lib, a: a.min(0), (3, 4)),
    C("min_dim_ties", lambda lib, a: lib.min(a, 1, keepdim=True), data=_ties),
    C("max_binary", lambda lib, a, b: lib.max(a, b), (3, 4), (4,)),
    C("amax_ties", lambda lib, a: a.amax(1), data=_ties),
    C("amin_tuple", lambda lib, a: lib.amin(a, (0, 1)), data=_ties),
    C("argmax", lambda lib, a: (a.argmax(), a.argmax(1), a.argmax(-1, keepdim=True)), (3, 4)),
    C("argmin", lambda lib, a: (lib.argmin(a), a.argmin(0), a.argmin(0, keepdim=True)), (3, 4)),
    C("argmax_ties", lambda lib, a: (a.argmax(), a.argmax(1), a.argmin(1)), data=_ties),
    C("var_all", lambda lib, a: a.var(), (3, 4)),
    C("var_dim", lambda lib, a: a.var(1), (3, 4)),
    C("var_tuple_keepdim", lambda lib, a: lib.var(a, (0, 2), keepdim=True), (2, 3, 4)),
    C("var_biased", lambda lib, a: a.var(-1, unbiased=False), (3, 4)),
    C("var_correction", lambda lib, a: a.var(0, correction=0), (3, 4)),
    C("std_all", lambda lib, a: a.std(), (3, 4)),
    C("std_dim", lambda lib, a: lib.std(a, 0), (3, 4)),
    C("std_tuple_keepdim", lambda lib, a: a.std((1, 2), keepdim=True), (2, 3, 4)),
    C("std_biased", lambda lib, a: a.std(1, unbiased=False), (3, 4)),
    C("std_constant_row", lambda lib, a: a.std(1), data=lambda rng: [[[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]]),
    C("reductions_of_0d", lambda lib, a: (a.sum(0), a.mean(-1), a.prod(0), a.amax(0), *a.max(0), a.std(0, False)), ()),
]

SHAPE = [
    C("reshape", lambda lib, a: a.reshape(4, 3)),
    C("reshape_infer", lambda lib, a: lib.reshape(a, (-1,)) * 2),
    C("reshape_tuple", lambda lib, a: a.reshape((2, -1, 2))),
    C("view", lambda lib, a: a.view(2, -1) * 3),
    C("view_as", lambda lib, a, b: a.view_as(b), (3, 4), (6, 2)),
    C("flatten", lambda lib, a: a.flatten(), (2, 3, 4)),
    C("flatten_from_1", lambda lib, a: lib.flatten(a, 1), (2, 3, 4)),
    C("flatten_range", lambda lib, a: a.flatten(0, -2), (2, 3, 4)),
    C("transpose", lambda lib, a: a.transpose(0, 2), (2, 3, 4)),
    C("transpose_neg", lambda lib, a: lib.transpose(a, -1, -2) * 2, (2, 3, 4)),
    C("permute", lambda lib, a: a.permute(2, 0, 1), (2, 3, 4)),
    C("permute_tuple", lambda lib, a: a.permute((1, 2, 0)), (2, 3, 4)),
    C("T", lambda lib, a: a.T, (3, 4)),
    C("mT", lambda lib, a: a.mT * 2, (2, 3, 4)),
    C("t", lambda lib, a: a.t(), (3, 4)),
    C("t_1d", lambda lib, a: a.t() * 2, (4,)),
    C("squeeze_all", lambda lib, a: a.squeeze(), (3, 1, 4, 1)),
    C("squeeze_dim", lambda lib, a: a.squeeze(1), (3, 1, 4, 1)),
    C("squeeze_neg_dim", lambda lib, a: lib.squeeze(a, -1), (3, 1, 4, 1)),
    C("squeeze_non_one", lambda lib, a: a.squeeze(0) * 2, (3, 1, 4, 1)),
    C("unsqueeze", lambda lib, a: a.unsqueeze(0), (3, 4)),
    C("unsqueeze_neg", lambda lib, a: lib.unsqueeze(a, -1), (3, 4)),
    C("unsqueeze_mid", lambda lib, a: a.unsqueeze(1), (3, 4)),
    C("expand", lambda lib, a: a.expand(3, 4, 5), (4, 1)),
    C("expand_keep", lambda lib, a: a.expand(2, -1, 4), (3, 1)),
    C("expand_as", lambda lib, a, b: a.expand_as(b) * b, (1, 4), (3, 4)),
    C("repeat", lambda lib, a: a.repeat(2, 1, 3), (3, 4)),
    C("repeat_same_rank", lambda lib, a: a.repeat(2, 2), (3, 4)),
]

JOIN = [
    C("cat", lambda lib, a, b: lib.cat([a, b]), (2, 4), (3, 4)),
    C("cat_dim1", lambda lib, a, b: lib.cat([a, b, a], dim=1), (3, 2), (3, 4)),
    C("cat_neg_dim", lambda lib, a, b: lib.cat((a, b), -1), (2, 3, 1), (2, 3, 2)),
    C("stack", lambda lib, a, b: lib.stack([a, b]), (3, 4), (3, 4)),
    C("stack_last", lambda lib, a, b: lib.stack([a, b, a], dim=-1), (3, 4), (3, 4)),
    C("split", lambda lib, a: a.split(2, dim=1), (3, 5)),
    C("split_sizes", lambda lib, a: lib.split(a, [1, 3], dim=1), (3, 4)),
    C("split_some_used", lambda lib, a: a.split(1)[1] * 2, (3, 4)),
    C("chunk", lambda lib, a: a.chunk(3, 0), (5, 4)),
    C("chunk_some_used", lambda lib, a: lib.chunk(a, 2, -1)[0].exp(), (3, 4)),
]

INDEXING = [
    C("index_int", lambda lib, a: a[1]),
    C("index_neg_int", lambda lib, a: a[-1]),
    C("index_slice", lambda lib, a: a[1:3]),
    C("index_step", lambda lib, a: a[::2, 1::2]),
    C("index_neg_slice", lambda lib, a: a[-2:, :-1]),
    C("index_none_ellipsis", lambda lib, a: a[None, ..., 1], (2, 3, 4)),
    C("index_ellipsis_none", lambda lib, a: a[..., None] * 2),
    C("index_mixed", lambda lib, a: a[0, :, -1], (2, 3, 4)),
    C("index_list_repeated", lambda lib, a: a[[0, 2, 0, 0]]),
    C("index_tensor_repeated", lambda lib, a: a[lib.tensor([1, 1, 0])]),
    C("index_pairs", lambda lib, a: a[[0, 1, 0], [1, 2, 1]]),
    C("index_slice_then_list", lambda lib, a: a[:, [0, 0, 3]]),
    C("index_tensor_2d", lambda lib, a: a[lib.tensor([[0, 1], [1, 1]])]),
    C("index_mask", lambda lib, a: a[a > 0]),
    C("index_mask_rows", lambda lib, a: a[lib.tensor([True, False, True])]),
    C("setitem_slice", _setitem_slice, (4, 3), (2, 3)),
    C("setitem_broadcast", _setitem_slice, (4, 3), (3,)),
    C("setitem_index_list", _setitem_index_list, (4, 3), (2, 3)),
    C("setitem_mask_scalar", _setitem_scalar_mask),
    C("setitem_into_constant", _setitem_into_constant, (3,)),
    C("gather", lambda lib, a: a.gather(1, lib.tensor([[0, 0], [3, 1], [2, 2]])), (3, 4)),
    C("gather_dim0", lambda lib, a: lib.gather(a, 0, lib.tensor([[2, 0, 1, 2]])), (3, 4)),
    C("index_select", lambda lib, a: a.index_select(0, lib.tensor([2, 0, 2])), (3, 4)),
    C("index_select_neg_dim", lambda lib, a: lib.index_select(a, -1, lib.tensor([1, 1])), (3, 4)),
    C("masked_fill", lambda lib, a: a.masked_fill(a > 0, 0.5)),
    C("masked_fill_broadcast_mask", lambda lib, a, b: a.masked_fill(b > 0, -1.0), (3, 4), (4,)),
    C("masked_fill_tensor_value", lambda lib, a, v: lib.masked_fill(a, a < 0, v), (3, 4), ()),
]

COPY_AND_CAST = [
    C("clone", lambda lib, a: a.clone() * 2),
    C("detach", lambda lib, a, b: a.detach() * b, (3, 4), (3, 4)),
    C("float_double", lambda lib, a: a.float().double() * 2),
    C("to_dtype", lambda lib, a: a.to(lib.float32).to(lib.float64)),
    C("half_roundtrip", lambda lib, a: a.half().double()),
    C("cast_int_is_constant", lambda lib, a: a * a.long() + a.int().double()),
]

CASES = ARITHMETIC + UNARY + MATMUL + REDUCTIONS + SHAPE + JOIN + INDEXING + COPY_AND_CAST


def output_tuple(out):
    """An op's result as a tuple of tensors, one element for a single tensor."""
    return tuple(out) if isinstance(out, tuple) else (out,)


def _assert_same(ours, theirs, what):
    assert theirs is not None, f"{what}: torch has none, trainer has {ours}"
    assert ours is not None, f"{what}: trainer has none, torch has {theirs}"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {list(ours.shape)} != {list(theirs.shape)}"
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), f"{what}: {ours.dtype} != {theirs.dtype}"
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=TOL, rtol=0, err_msg=what)


def assert_untracked_outputs_match_torch(make):
    """``make(lib)``'s outputs (indices, counts, masks) are the same in both libraries, and none requires grad."""
    theirs, ours = make(torch), make(trainer)
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same(o, t, f"output {i}")
        assert not o.requires_grad


def assert_raises_like_torch(call, error, message):
    """``call(lib)`` raises ``error`` in PyTorch, and in trainer too, with a message matching ``message``."""
    with pytest.raises(error):
        call(torch)
    with pytest.raises(error, match=message):
        call(trainer)


def _run_backward(lib, outs, upstream):
    """``out.backward(gradient)`` for one differentiable output, one summed loss for several."""
    pairs = [(o, lib.tensor(g)) for o, g in zip(outs, upstream) if g is not None]
    if len(pairs) == 1:
        pairs[0][0].backward(pairs[0][1])
    elif pairs:
        sum((o * g).sum() for o, g in pairs).backward()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forward_and_gradients_match_torch(case):
    assert_forward_and_gradients_match_torch(case.fn, case.arrays())


def assert_forward_and_gradients_match_torch(fn, arrays):
    """``fn(lib, *inputs)`` on ``arrays`` in both libraries: the same outputs (values, dtypes, requires_grad) and,
    for random upstream gradients, the same gradient of every input."""
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_in = [trainer.tensor(a, requires_grad=True) for a in arrays]
    theirs_out = output_tuple(fn(torch, *theirs_in))
    ours_out = output_tuple(fn(trainer, *ours_in))
    assert len(ours_out) == len(theirs_out)
    for i, (o, t) in enumerate(zip(ours_out, theirs_out)):
        _assert_same(o, t, f"output {i}")
        assert o.requires_grad == t.requires_grad, f"output {i}: requires_grad"

    rng = np.random.default_rng(1)
    # nan upstream stays out of the way: outputs that are nan get a zero upstream in both libraries
    upstream = [np.where(np.isnan(t.detach().numpy()), 0, rng.standard_normal(tuple(t.shape)))
                if t.requires_grad else None for t in theirs_out]
    _run_backward(torch, theirs_out, upstream)
    _run_backward(trainer, ours_out, upstream)
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if t.grad is None:
            assert o.grad is None, f"input {i}: torch has no grad, trainer has {o.grad}"
        else:
            _assert_same(o.grad, t.grad, f"grad of input {i}")


def test_max_with_dim_returns_named_values_and_indices():
    x = trainer.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    result = x.max(dim=1)
    assert result.values.tolist() == [5.0, 7.0]
    assert result.indices.tolist() == [1, 0]
    values, indices = x.min(1, keepdim=True)
    assert values.shape == (2, 1) and indices.dtype == trainer.int64
    assert not result.indices.requires_grad


# ---------------------------------------------------------------- non-differentiable ops

def _ints(lib):
    return lib.tensor([[0, 1, 2, 3], [5, -6, 7, 12], [-1, 9, 4, -8]])


def _bools(lib):
    return lib.tensor([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


LOGIC = {
    "eq": lambda lib, a, b: (a == b, a.eq(b), lib.eq(a, 0.5)),
    "ne": lambda lib, a, b: (a != b, a.ne(b), lib.ne(a, b)),
    "lt": lambda lib, a, b: (a < b, a.lt(0.0), 0.0 < a),
    "le": lambda lib, a, b: (a <= b, a.le(b), lib.le(a, b * 2)),
    "gt": lambda lib, a, b: (a > b, a.gt(0), 1 > a),
    "ge": lambda lib, a, b: (a >= b, a.ge(b), lib.ge(a, 0.25)),
    "bool_and_or_xor_not": lambda lib, a, b: ((a > 0) & (b > 0), (a > 0) | (b > 0), (a > 0) ^ (b > 0), ~(a > 0)),
    "bool_with_python_bool": lambda lib, a, b: ((a > 0) & True, (a > 0) | False, (a > 0) ^ True),
    "int_bitwise": lambda lib, a, b: (_ints(lib) & 6, _ints(lib) | 9, _ints(lib) ^ 5, ~_ints(lib)),
    "bool_mixed": lambda lib, a, b: (_bools(lib) & (a > 0), ~_bools(lib), _bools(lib) == (b > 0)),
    "floor_divide": lambda lib, a, b: (a // b, a // 0.7, 3.0 // b, _ints(lib) // 3, _ints(lib) // -5),
    "int_remainder": lambda lib, a, b: (_ints(lib) % 5, _ints(lib) % -5, -7 % (_ints(lib) + 20)),
    "int_div_rounding": lambda lib, a, b: (_ints(lib).div(-5, rounding_mode="trunc"),
                                           _ints(lib).div(4, rounding_mode="floor"), _ints(lib) / 4),
}


@pytest.mark.parametrize("name", list(LOGIC))
def test_comparisons_and_logic_match_torch(name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    a, b = rng.standard_normal((2, 3, 4)).round(1)
    b[0, 0] = a[0, 0]  # an equal pair, so == and <= see a tie
    b[b == 0] = 0.5
    theirs = LOGIC[name](torch, torch.tensor(a), torch.tensor(b))
    ours = LOGIC[name](trainer, trainer.tensor(a), trainer.tensor(b))
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same(o, t, f"output {i}")
        assert not o.requires_grad


# ---------------------------------------------------------------- finite differences

def assert_gradients_match_finite_differences(fn, arrays, eps=1e-6, tol=1e-6):
    """Autograd's gradient of ``sum(fn(inputs) * upstream)`` against central differences, per element."""
    inputs = [trainer.tensor(a, requires_grad=True) for a in arrays]
    outs = output_tuple(fn(trainer, *inputs))
    rng = np.random.default_rng(2)
    upstream = [rng.standard_normal(tuple(o.shape)) if o.requires_grad else None for o in outs]
    _run_backward(trainer, outs, upstream)

    def loss(values):
        with trainer.no_grad():
            results = output_tuple(fn(trainer, *[trainer.tensor(v) for v in values]))
        return sum(float((r.numpy() * g).sum()) for r, g in zip(results, upstream) if g is not None)

    for i, array in enumerate(arrays):
        numeric = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            shifted = [a.copy() for a in arrays]
            shifted[i][idx] = array[idx] + eps
            up = loss(shifted)
            shifted[i][idx] = array[idx] - eps
            numeric[idx] = (up - loss(shifted)) / (2 * eps)
        np.testing.assert_allclose(inputs[i].grad.numpy(), numeric, atol=tol, rtol=tol, err_msg=f"input {i}")


# smooth ops only: finite differences are meaningless at kinks (relu, clamp bounds, ties, floor)
FINITE_DIFFERENCE_CASES = [
    "add_broadcast_both", "sub_alpha", "mul_broadcast", "div_broadcast", "pow", "pow_scalar_base",
    "remainder_broadcast", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "sin", "where", "maximum",
    "softmax_neg_dim", "log_softmax", "matmul_broadcast_batch", "matmul_1d_2d", "matmul_nd_1d", "bmm",
    "sum_tuple", "mean_tuple_keepdim", "prod_dim", "prod_with_zero", "max_dim", "max_all", "var_tuple_keepdim",
    "std_dim", "expand", "repeat", "cat_dim1", "split", "index_step", "index_list_repeated", "index_mask",
    "setitem_slice", "gather", "index_select", "masked_fill_tensor_value",
]
_BY_ID = {c.id: c for c in CASES}


@pytest.mark.parametrize("case_id", FINITE_DIFFERENCE_CASES)
def test_gradients_match_finite_differences(case_id):
    case = _BY_ID[case_id]
    assert_gradients_match_finite_differences(case.fn, case.arrays())


def test_case_ids_are_unique():
    assert len(_BY_ID) == len(CASES)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 1), False)])
@pytest.mark.parametrize("name", ["all", "any"])
def test_all_and_any_match_torch(name, dim, keepdim):
    data = np.random.default_rng(7).random((3, 4)) > 0.3
    kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    ours = getattr(trainer.tensor(data), name)(**kwargs)
    theirs = getattr(torch.tensor(data), name)(**kwargs)
    assert ours.dtype == trainer.bool
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
