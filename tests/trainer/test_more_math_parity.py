"""The transcendental functions, composed elementwise functions, scans (cummax, cummin, logcumsumexp),
quantiles, cov/corrcoef and the atleast/rot90/flip helpers against PyTorch: values and input gradients on
identical float64 data, edge values included, plus PyTorch's errors."""

import math
import zlib

import numpy as np
import pytest
import torch

import trainer

TOL = 1e-9


def _in(lo, hi):
    """A map from standard-normal data into the open interval (lo, hi)."""
    return lambda lib, x: lo + (hi - lo) * lib.sigmoid(x)


CASES = {
    "log1p": (lambda lib, x: lib.log1p(x.abs() * 1e-9) * 1e9 + x.exp().log1p(), [(3, 4)]),
    "expm1": (lambda lib, x: lib.expm1(x) + (x * 1e-10).expm1() * 1e10, [(3, 4)]),
    "log2_log10_exp2": (lambda lib, x: lib.log2(x.abs() + 0.1) + x.abs().add(0.1).log10() + lib.exp2(x), [(3, 4)]),
    "trig": (lambda lib, x: [lib.tan(x), x.tan(), lib.atan(x * 3), lib.arctan(x)], [(3, 4)]),
    "inverse_trig": (lambda lib, x: [lib.asin(_in(-1, 1)(lib, x)), lib.acos(_in(-1, 1)(lib, x)),
                                     lib.arcsin(_in(-0.5, 0.5)(lib, x))], [(3, 4)]),
    "hyperbolic": (lambda lib, x: [lib.sinh(x), lib.cosh(x), lib.asinh(x * 4), lib.acosh(x.abs() + 1.5),
                                   lib.atanh(_in(-1, 1)(lib, x)), x.arccosh().nan_to_num()], [(3, 4)]),
    "reciprocal_erfc": (lambda lib, x: [lib.reciprocal(x), x.erfc() + lib.erfc(x * 3)], [(3, 4)]),
    "logaddexp": (lambda lib, a, b: [lib.logaddexp(a * 300, b), lib.logaddexp2(a, b * 50), a.logaddexp(a)],
                  [(3, 4), (4,)]),
    "xlogy": (lambda lib, x, y: [lib.xlogy(x, y.abs() + 0.1), lib.xlogy(x.clamp(min=0), y.abs() + 0.1),
                                 x.xlogy(2.0)], [(3, 4), (3, 4)]),
    "logit": (lambda lib, x: [lib.logit(_in(0, 1)(lib, x)), lib.logit(_in(-0.5, 1.5)(lib, x), eps=1e-3)], [(3, 4)]),
    "sinc": (lambda lib, x: lib.sinc(x.round()) + lib.sinc(x * 3), [(3, 4)]),
    "degrees": (lambda lib, x: lib.deg2rad(x * 90) + lib.rad2deg(x).sin(), [(3, 4)]),
    "copysign_heaviside": (lambda lib, a, b: [lib.copysign(a, b), a.copysign(-1.5),
                                              lib.heaviside(a.detach().round(), b.detach())], [(3, 4), (3, 4)]),
    "float_power_floor_divide": (lambda lib, a, b: [lib.float_power(a.abs() + 0.5, b), a.float_power(2),
                                                    lib.floor_divide(a.detach() * 5, b.detach().abs() + 0.5)],
                                 [(3, 4), (3, 4)]),
    "cummax_cummin": (lambda lib, x: [*lib.cummax(x.round(), 1), *x.cummin(0)], [(4, 5)]),
    "logcumsumexp": (lambda lib, x: [lib.logcumsumexp(x * 400, 1), x.logcumsumexp(0)], [(4, 5)]),
    "quantile": (lambda lib, x: [lib.quantile(x, 0.3), lib.quantile(x, 0.5, dim=1, keepdim=True),
                                 x.quantile(lib.tensor([0.0, 0.25, 0.9, 1.0], dtype=x.dtype), dim=0)], [(5, 7)]),
    "quantile_interpolations": (lambda lib, x: [lib.quantile(x, q, dim=-1, interpolation=i) for q in (0.3, 0.5, 0.75)
                                                for i in ("lower", "higher", "midpoint", "nearest")], [(3, 5)]),
    "nanquantile": (lambda lib, x: [lib.nanquantile(x.masked_fill(x > 0.8, math.nan), 0.4, dim=1),
                                    x.masked_fill(x > 1.0, math.nan).nanquantile(0.5, keepdim=True)], [(6, 5)]),
    "cov_corrcoef": (lambda lib, x: [lib.cov(x), lib.cov(x, correction=0), x[0].cov(), lib.corrcoef(x)], [(3, 6)]),
    "cov_weights": (lambda lib, x: [lib.cov(x, fweights=lib.tensor([1, 2, 1, 3, 1, 2]),
                                            aweights=lib.linspace(0.5, 2, 6, dtype=x.dtype)),
                                    lib.cov(x, correction=0, aweights=lib.linspace(0.5, 2, 6, dtype=x.dtype))],
                    [(3, 6)]),
    "shapes": (lambda lib, x: [*lib.atleast_1d(x[0, 0], x[0]), lib.atleast_2d(x[0]), lib.atleast_3d(x),
                               lib.atleast_3d(x[0]), *lib.broadcast_tensors(x, x[:1, :1]),
                               lib.rot90(x), lib.rot90(x, 2), x.rot90(-1, [1, 0]), lib.fliplr(x), x.flipud()],
               [(3, 4)]),
}


def _outputs(result):
    if isinstance(result, (list, tuple)):
        return [o for r in result for o in _outputs(r)]
    return [result]


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [trainer.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = _outputs(fn(trainer, *ours)), _outputs(fn(torch, *theirs))
    assert len(out) == len(tout)
    for o, t in zip(out, tout):
        assert tuple(o.shape) == tuple(t.shape) and o.dtype.name == str(t.dtype).removeprefix("torch.")
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=TOL, atol=TOL)
    floating = [(o, t) for o, t in zip(out, tout) if t.dtype.is_floating_point and t.requires_grad]
    if not floating:
        return
    weights = [rng.standard_normal(tuple(t.shape)) for _, t in floating]
    sum((o * trainer.tensor(w)).nan_to_num().sum() for (o, _), w in zip(floating, weights)).backward()
    sum((t * torch.tensor(w)).nan_to_num().sum() for (_, t), w in zip(floating, weights)).backward()
    for ours_input, theirs_input in zip(ours, theirs):
        if theirs_input.grad is not None:  # where PyTorch's gradient is all zeros, none reaching ours is the same
            got = np.zeros(ours_input.shape) if ours_input.grad is None else ours_input.grad.numpy()
            np.testing.assert_allclose(got, theirs_input.grad.numpy(), rtol=1e-7, atol=1e-8)


def test_edge_values_match_torch():
    values = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 1e-300, -1e300]
    ours, theirs = trainer.tensor(values, dtype=trainer.float64), torch.tensor(values, dtype=torch.float64)
    for name in ("log1p", "expm1", "tan", "atan", "sinh", "asinh", "reciprocal", "erfc", "signbit", "sinc",
                 "deg2rad"):
        np.testing.assert_allclose(getattr(trainer, name)(ours).numpy(), getattr(torch, name)(theirs).numpy(),
                                   rtol=1e-15, atol=0, err_msg=name)
    for a, b in ((-math.inf, -math.inf), (math.inf, math.inf), (0.0, -math.inf), (-1e4, 1e4)):
        assert float(trainer.logaddexp(trainer.tensor(a), trainer.tensor(b))) == float(
            torch.logaddexp(torch.tensor(a), torch.tensor(b)))
    assert math.isnan(float(trainer.xlogy(trainer.tensor(0.0), trainer.tensor(math.nan))))
    assert float(trainer.xlogy(trainer.tensor(0.0), trainer.tensor(0.0))) == 0.0
    np.testing.assert_array_equal(trainer.copysign(trainer.tensor([2.0, 2.0]), trainer.tensor([0.0, -0.0])).numpy(),
                                  [2.0, -2.0])


def test_quantile_of_a_slice_with_nan_is_nan_and_nanquantile_of_all_nan_is_nan():
    x = trainer.tensor([[1.0, math.nan, 3.0], [math.nan, math.nan, math.nan], [1.0, 2.0, 3.0]])
    assert np.isnan(trainer.quantile(x, 0.5, dim=1).numpy()).tolist() == [True, True, False]
    assert np.isnan(trainer.nanquantile(x, 0.5, dim=1).numpy()).tolist() == [False, True, False]
    assert float(trainer.nanquantile(x[0], 0.5)) == 2.0


def test_integer_inputs_compute_in_the_default_float_dtype_as_in_torch():
    ints = [1, 2, 3]
    for name in ("log1p", "atan", "reciprocal", "sinc", "deg2rad"):
        assert getattr(trainer, name)(trainer.tensor(ints)).dtype == trainer.float32, name
    assert trainer.float_power(trainer.tensor(ints), 2).dtype == trainer.float64
    assert trainer.floor_divide(trainer.tensor([7, -7]), 2).tolist() == [3, -4]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: trainer.quantile(trainer.randn(4), 1.5), r"q values must be in the range \[0, 1\]"),
    (lambda: trainer.quantile(trainer.tensor([1, 2]), 0.5), "input tensor must be either float or double"),
    (lambda: trainer.quantile(trainer.randn(4), 0.5, interpolation="cubic"), "interpolation must be one of"),
    (lambda: trainer.quantile(trainer.randn(4), trainer.rand(2, 2)), "q must be a scalar or 1D tensor"),
    (lambda: trainer.cov(trainer.randn(2, 2, 2)), "expected input to have two or fewer dimensions"),
    (lambda: trainer.cov(trainer.randn(2, 3), fweights=trainer.tensor([1.0, 2.0, 1.0])),
     "expected fweights to have integral dtype"),
    (lambda: trainer.cov(trainer.randn(2, 3), aweights=trainer.tensor([1.0, -2.0, 1.0])),
     "aweights cannot be negative"),
    (lambda: trainer.rot90(trainer.randn(2, 2), dims=[0, 0]), "expected rotation dims to be different"),
    (lambda: trainer.fliplr(trainer.randn(3)), "Input must be >= 2-d"),
])
def test_bad_input_raises_torchs_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()
