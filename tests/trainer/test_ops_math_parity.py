"""Elementwise math, reductions, scans and sorting against PyTorch: forward values, dtypes, requires_grad and the
gradients of every input (float64, <= 1e-8), plus the errors PyTorch raises for bad arguments.

Each case is ``fn(lib, *inputs)``, run once with ``lib = torch`` and once with ``lib = trainer`` on identical data.
"""

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, output_tuple

NAN, INF = math.nan, math.inf


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable
    shapes: tuple
    domain: str
    data: Callable | None

    def arrays(self):
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        if self.data is not None:
            return [np.asarray(a, dtype=np.float64) for a in self.data()]
        if self.domain == "pos":
            return [rng.uniform(0.5, 2.0, s) for s in self.shapes]
        if self.domain == "nonzero":
            return [rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s) for s in self.shapes]
        if self.domain == "wide":  # away from the rounding points, so that the rounding is the same in both
            return [np.round(rng.uniform(-20, 20, s)) + rng.uniform(0.05, 0.45, s) * rng.choice([-1, 1], s)
                    for s in self.shapes]
        return [rng.standard_normal(s) for s in self.shapes]


def C(id, fn, *shapes, domain="real", data=None):  # noqa: N802 - a table row, read like a constructor
    return Case(id, fn, shapes or ((3, 4),), domain, data)


def _specials():
    return [[[1.5, NAN, -INF, 0.0], [INF, -2.0, NAN, 3.0], [0.25, -0.5, 4.0, -INF]]]


def _with_nans():
    return [[[1.5, NAN, -1.0, 0.0], [2.0, -2.0, 0.5, 3.0], [NAN, NAN, 4.0, -1.0]]]


def _with_zeros():
    return [[[1.5, 0.0, -1.0, 2.0], [0.0, -2.0, 0.0, 3.0], [0.5, 2.0, -1.5, 0.0]]]


def _ties():
    return [[[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, -1.0, 0.5], [2.0, -4.0, 2.0, 2.0]]]


def _halves():
    return [[[0.5, 1.5, 2.5, -0.5], [-1.5, -2.5, 3.5, 0.125], [1.25, -1.75, 12.0, 0.0]]]


UNARY = [
    C("isnan", lambda lib, a: (lib.isnan(a), a.isnan()), data=_specials),
    C("isinf", lambda lib, a: (lib.isinf(a), a.isinf()), data=_specials),
    C("isfinite", lambda lib, a: (lib.isfinite(a), a.isfinite()), data=_specials),
    C("nan_to_num", lambda lib, a: lib.nan_to_num(a) * 1e-300, data=_specials),
    C("nan_to_num_values", lambda lib, a: a.nan_to_num(nan=-1.0, posinf=9.0, neginf=-9.0), data=_specials),
    C("sign", lambda lib, a: lib.sign(a) * a, data=_with_zeros),
    C("floor", lambda lib, a: lib.floor(a) + a.floor(), domain="wide"),
    C("ceil", lambda lib, a: lib.ceil(a) * a.ceil(), domain="wide"),
    C("trunc", lambda lib, a: lib.trunc(a) + a.trunc() + lib.fix(a), domain="wide"),
    C("round", lambda lib, a: lib.round(a), domain="wide"),
    C("round_half_to_even", lambda lib, a: a.round() + 0 * a, data=_halves),
    C("round_decimals", lambda lib, a: lib.round(a * 100, decimals=-1) + a.round(decimals=2), domain="wide"),
    C("frac", lambda lib, a: lib.frac(a) + a.frac(), domain="wide"),
    C("erf", lambda lib, a: lib.erf(a) + a.erf(), (2, 3, 4)),
]

BINARY = [
    C("atan2", lambda lib, a, b: lib.atan2(a, b), (3, 4), (3, 4)),
    C("atan2_broadcast", lambda lib, a, b: a.atan2(b) + lib.arctan2(b, a), (3, 1), (4,)),
    C("hypot", lambda lib, a, b: lib.hypot(a, b), (3, 4), (4,)),
    C("hypot_method", lambda lib, a, b: a.hypot(b), (2, 1, 4), (3, 1)),
    C("fmod", lambda lib, a, b: lib.fmod(a * 3, b), (3, 4), (3, 4), domain="nonzero"),
    C("fmod_broadcast", lambda lib, a, b: a.fmod(b) * 2, (3, 4), (3, 1), domain="nonzero"),
    C("fmod_scalar", lambda lib, a: lib.fmod(a * 3, -1.3), domain="nonzero"),
    C("lerp_scalar", lambda lib, a, b: lib.lerp(a, b, 0.3), (3, 4), (3, 4)),
    C("lerp_scalar_high", lambda lib, a, b: a.lerp(b, 0.8), (3, 4), (4,)),
    C("lerp_tensor", lambda lib, a, b, w: lib.lerp(a, b, w), (3, 4), (3, 1), (4,)),
    C("lerp_tensor_method", lambda lib, a, b, w: a.lerp(b, w.sigmoid()), (2, 3, 4), (3, 4), (2, 1, 1)),
]

REDUCTIONS = [
    C("logsumexp", lambda lib, a: lib.logsumexp(a, 1), (3, 4)),
    C("logsumexp_keepdim", lambda lib, a: a.logsumexp(dim=(0, 2), keepdim=True), (2, 3, 4)),
    C("logsumexp_neg_dim", lambda lib, a: lib.logsumexp(a * 30, -1), (2, 3, 4)),
    C("logsumexp_infinite", lambda lib, a: lib.logsumexp(a, 1),
      data=lambda: [[[-INF, -INF, -INF], [INF, 1.0, 2.0], [0.5, -INF, 1.5]]]),
    C("norm_default", lambda lib, a: lib.norm(a), (3, 4)),
    C("norm_fro_dim", lambda lib, a: a.norm(p="fro", dim=1, keepdim=True), (3, 4)),
    C("norm_2_dims", lambda lib, a: a.norm(2, dim=(0, 2)), (2, 3, 4)),
    C("norm_1", lambda lib, a: a.norm(1, dim=-1), (3, 4), domain="nonzero"),
    C("norm_inf", lambda lib, a: lib.norm(a, float("inf"), dim=1), (3, 4)),
    C("norm_inf_ties", lambda lib, a: a.norm(float("inf")), data=_ties),
    C("norm_neg_inf", lambda lib, a: lib.norm(a, -float("inf"), dim=0), (3, 4)),
    C("norm_3", lambda lib, a: a.norm(3, dim=0), (3, 4), domain="nonzero"),
    C("norm_zero_rows", lambda lib, a: a.norm(dim=1) + a.norm(0.5, dim=1).nan_to_num(),
      data=lambda: [[[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]]]),
    C("norm_0", lambda lib, a: a.norm(0, dim=1), data=_with_zeros),
    C("cumsum", lambda lib, a: lib.cumsum(a, 1), (3, 4)),
    C("cumsum_neg_dim", lambda lib, a: a.cumsum(dim=-3), (2, 3, 4)),
    C("cumsum_0d", lambda lib, a: a.cumsum(0), ()),
    C("cumprod", lambda lib, a: lib.cumprod(a, 1), (3, 4), domain="nonzero"),
    C("cumprod_zeros", lambda lib, a: a.cumprod(1), data=_with_zeros),
    C("cumprod_zeros_dim0", lambda lib, a: a.cumprod(0), data=_with_zeros),
    C("cumprod_3d", lambda lib, a: a.cumprod(1), (2, 3, 4)),
    C("count_nonzero", lambda lib, a: (lib.count_nonzero(a), a.count_nonzero(1), a.count_nonzero((0, 1))),
      data=_with_zeros),
    C("nansum", lambda lib, a: lib.nansum(a) + a.nansum(1).sum(), data=_with_nans),
    C("nansum_keepdim", lambda lib, a: a.nansum(dim=0, keepdim=True), data=_with_nans),
    C("nanmean", lambda lib, a: (lib.nanmean(a), a.nanmean(1), a.nanmean(0, keepdim=True)), data=_with_nans),
    C("std_mean", lambda lib, a: lib.std_mean(a, 1), (3, 4)),
    C("std_mean_correction", lambda lib, a: lib.std_mean(a, dim=(0, 2), correction=0, keepdim=True), (2, 3, 4)),
    C("std_mean_unbiased", lambda lib, a: lib.std_mean(a, False), (3, 4)),
    C("var_mean", lambda lib, a: lib.var_mean(a), (3, 4)),
    C("var_mean_dim", lambda lib, a: lib.var_mean(a, -1, unbiased=False), (3, 4)),
    C("aminmax", lambda lib, a: tuple(lib.aminmax(a)), (3, 4)),
    C("aminmax_dim", lambda lib, a: tuple(a.aminmax(dim=1, keepdim=True)), (3, 4)),
    C("aminmax_keepdim_all", lambda lib, a: tuple(lib.aminmax(a, keepdim=True)), (3, 4)),
    C("aminmax_ties", lambda lib, a: tuple(a.aminmax(dim=0)), data=_ties),
    C("median", lambda lib, a: lib.median(a), (3, 4)),
    C("median_ties", lambda lib, a: a.median(), data=_ties),
    C("median_nan", lambda lib, a: a.median(), data=_with_nans),
    C("median_dim", lambda lib, a: tuple(lib.median(a, 1)), (3, 5)),
    C("median_dim_even_keepdim", lambda lib, a: tuple(a.median(dim=0, keepdim=True)), (4, 3)),
    C("median_dim_nan", lambda lib, a: tuple(a.median(1)), data=_with_nans),
    C("median_0d", lambda lib, a: tuple(a.median(0)), ()),
    C("diff", lambda lib, a: lib.diff(a), (3, 4)),
    C("diff_n2_dim0", lambda lib, a: a.diff(n=2, dim=0), (4, 3)),
    C("diff_n0", lambda lib, a: a.diff(0), (3, 4)),
    C("diff_prepend_append", lambda lib, a, p, q: lib.diff(a, dim=1, prepend=p, append=q), (3, 4), (3, 1), (3, 2)),
]

SORTING = [
    C("sort", lambda lib, a: tuple(lib.sort(a)), (3, 5)),
    C("sort_descending_dim0", lambda lib, a: tuple(a.sort(0, descending=True)), (4, 3)),
    C("sort_stable_ties", lambda lib, a: tuple(lib.sort(a, dim=1, stable=True)), data=_ties),
    C("sort_stable_ties_descending", lambda lib, a: tuple(a.sort(dim=1, descending=True, stable=True)), data=_ties),
    C("sort_nan", lambda lib, a: tuple(a.sort(1)) + tuple(a.sort(1, descending=True)), data=_with_nans),
    C("sort_3d", lambda lib, a: tuple(a.sort(dim=1)), (2, 3, 4)),
    C("sort_0d", lambda lib, a: tuple(a.sort()), ()),
    C("argsort", lambda lib, a: (lib.argsort(a), a.argsort(0, descending=True)), (3, 5)),
    C("argsort_stable", lambda lib, a: lib.argsort(a, stable=True), data=_ties),
    C("msort", lambda lib, a: lib.msort(a), (4, 3)),
    C("topk", lambda lib, a: tuple(lib.topk(a, 2)), (3, 5)),
    C("topk_smallest_dim0", lambda lib, a: tuple(a.topk(3, dim=0, largest=False)), (4, 3)),
    C("topk_all", lambda lib, a: tuple(a.topk(4, -1)), (2, 3, 4)),
    C("topk_0d", lambda lib, a: tuple(a.topk(1)), ()),
    C("kthvalue", lambda lib, a: tuple(lib.kthvalue(a, 2)), (3, 5)),
    C("kthvalue_keepdim_dim0", lambda lib, a: tuple(a.kthvalue(4, 0, keepdim=True)), (4, 3)),
    C("kthvalue_0d", lambda lib, a: tuple(a.kthvalue(1)), ()),
]

CASES = UNARY + BINARY + REDUCTIONS + SORTING


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forward_and_gradients_match_torch(case):
    assert_forward_and_gradients_match_torch(case.fn, case.arrays())


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


INTEGER_AND_DTYPE = {
    "floor_int": lambda lib, i: lib.floor(i),
    "round_int": lambda lib, i: i.round(),
    "sign_int": lambda lib, i: lib.sign(i - 2),
    "isnan_int": lambda lib, i: lib.isnan(i),
    "nan_to_num_int": lambda lib, i: lib.nan_to_num(i),
    "fmod_int": lambda lib, i: lib.fmod(i - 3, 2),
    "atan2_int": lambda lib, i: lib.atan2(i, i + 1),
    "erf_int": lambda lib, i: lib.erf(i),
    "cumsum_int32": lambda lib, i: lib.cumsum(i.int(), 0),
    "cumsum_bool": lambda lib, i: (i > 2).cumsum(0),
    "cumsum_dtype": lambda lib, i: i.cumsum(0, dtype=lib.float32),
    "cumprod_int": lambda lib, i: lib.cumprod(i, 0),
    "nansum_int32": lambda lib, i: lib.nansum(i.int()),
    "logsumexp_int": lambda lib, i: lib.logsumexp(i, 0),
    "count_nonzero_bool": lambda lib, i: lib.count_nonzero(i > 2),
    "sort_int": lambda lib, i: tuple(lib.sort(i, descending=True)),
    "topk_int": lambda lib, i: tuple(i.topk(2)),
    "median_int": lambda lib, i: i.median(),
    "diff_bool": lambda lib, i: lib.diff(i > 2),
    "diff_int": lambda lib, i: i.diff(),
    "norm_dtype": lambda lib, i: i.float().norm(dtype=lib.float64),
    "round_float32": lambda lib, i: (i.float() / 3).round(decimals=2),
}


@pytest.mark.parametrize("name", list(INTEGER_AND_DTYPE))
def test_integer_inputs_and_result_dtypes_match_torch(name):
    values = [4, 0, 3, 1, 5]
    outs = [output_tuple(INTEGER_AND_DTYPE[name](lib, lib.tensor(values))) for lib in (torch, trainer)]
    for i, (t, o) in enumerate(zip(*outs)):
        assert o.dtype.name == str(t.dtype).removeprefix("torch."), f"output {i}"
        np.testing.assert_allclose(np.asarray(o), t.numpy(), rtol=1e-6, err_msg=f"output {i}")


def test_named_tuples_have_pytorch_fields():
    x = trainer.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert x.sort(1).values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]]
    assert x.sort(1).indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert x.topk(1).indices.tolist() == [[0], [1]]
    assert x.kthvalue(2, 1).values.tolist() == [2.0, 4.0]
    assert x.median(1).indices.tolist() == [2, 2]
    assert x.aminmax().min.item() == 0.0 and x.aminmax().max.item() == 5.0
    values, indices = trainer.topk(x, 2, dim=0)
    assert values.shape == (2, 3) and indices.dtype == trainer.int64


def test_inplace_methods_update_the_tensor():
    x = trainer.tensor([1.25, -2.5, float("nan"), 3.75])
    x.nan_to_num_(nan=9.0)
    x.floor_()
    assert x.tolist() == [1.0, -3.0, 9.0, 3.0]
    y = trainer.tensor([0.0, 2.0])
    assert y.lerp_(trainer.tensor([2.0, 4.0]), 0.5) is y and y.tolist() == [1.0, 3.0]


ERRORS = {
    "topk_k_too_large": (lambda lib, x: lib.topk(x, 5), RuntimeError, "k out of range"),
    "kthvalue_k_zero": (lambda lib, x: lib.kthvalue(x, 0), RuntimeError, "k out of range"),
    "sort_dim_out_of_range": (lambda lib, x: lib.sort(x, 2), IndexError, "Dimension out of range"),
    "cumsum_dim_out_of_range": (lambda lib, x: lib.cumsum(x, 5), IndexError, "Dimension out of range"),
    "logsumexp_dim_out_of_range": (lambda lib, x: lib.logsumexp(x, -3), IndexError, "Dimension out of range"),
    "diff_negative_order": (lambda lib, x: lib.diff(x, n=-1), RuntimeError, "non-negative"),
    "diff_0d": (lambda lib, x: lib.diff(x.sum()), RuntimeError, "at least one-dimensional"),
    "nanmean_int": (lambda lib, x: lib.nanmean(x.long()), RuntimeError, "floating point"),
    "norm_int": (lambda lib, x: lib.norm(x.long()), RuntimeError, "floating point"),
    "fmod_int_by_zero": (lambda lib, x: lib.fmod(x.long(), 0), RuntimeError, "ZeroDivisionError"),
    "hypot_number": (lambda lib, x: lib.hypot(x, 2), TypeError, "must be Tensor"),
    "lerp_dtypes": (lambda lib, x: lib.lerp(x, x.double(), 0.5), RuntimeError, "expected dtype float"),
    "frac_int": (lambda lib, x: lib.frac(x.long()), NotImplementedError, "not implemented for"),
    "round_int_decimals": (lambda lib, x: lib.round(x.long(), decimals=1), NotImplementedError, "not implemented"),
    "aminmax_empty": (lambda lib, x: lib.aminmax(x[:0]), RuntimeError, "empty dimension"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_bad_arguments_raise_like_torch(name):
    fn, error, message = ERRORS[name]
    for lib in (torch, trainer):
        with pytest.raises(error, match=message):
            fn(lib, lib.ones(3, 4))


def test_norm_rejects_the_nuclear_norm_clearly():
    with pytest.raises(ValueError, match="p='nuc' is not supported"):
        trainer.ones(3, 3).norm(p="nuc")
