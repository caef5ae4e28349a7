"""Elementwise math, reductions, scans and sorting exported to ONNX and run at other batch sizes, and the ops
without an ONNX lowering (cummax, histc) reported clearly."""

import math

import pytest

import trainer
from exporter import MIN_OPSET, export, newest_opset
from exporter.errors import UnsupportedOpError
from tests.exporter.function_module import Fn

BATCHES = ({0: 1}, {0: 5})


def _with_specials(x):
    """nan where x > 0.8, inf where 0.5 < x <= 0.8, -inf where -0.3 < x < 0, x elsewhere."""
    x = trainer.where((x < 0) & (x > -0.3), -math.inf, x)
    return trainer.where(x > 0.8, math.nan, trainer.where(x > 0.5, math.inf, x))


FUNCTIONS = {
    "checks": lambda x: (_with_specials(x).isnan(), trainer.isinf(_with_specials(x)), _with_specials(x).isfinite()),
    "integer_checks": lambda x: ((x * 10).long().isnan(), (x * 10).long().isfinite()),
    "nan_to_num": lambda x: _with_specials(x).nan_to_num(nan=0.5, posinf=7.0, neginf=-7.0)
    + trainer.nan_to_num(_with_specials(x)).clamp(-9.0, 9.0),
    "rounding": lambda x: (x * 5).floor() + (x * 5).ceil() + (x * 5).round() + (x * 5).trunc() + (x * 5).frac()
    + x.sign() + (x * 10).long().floor().float(),
    "round_decimals": lambda x: (x * 7).round(decimals=2) + (x * 700).round(decimals=-2),
    "erf": lambda x: trainer.erf(x) * x.erf(),
    "atan2": lambda x: trainer.atan2(x[:, :2], x[:, 2:]) + trainer.atan2(x[:, :2], -x[:, 2:].abs()),
    "atan2_zeros": lambda x: trainer.atan2(trainer.where(x[:, :2].abs() > 0.5, x[:, :2], 0.0),
                                           trainer.where(x[:, 2:] < 0, x[:, 2:], 0.0)),
    "hypot_fmod": lambda x: trainer.hypot(x, x * 2 - 1) + trainer.fmod(x * 5, 1.5) + x.fmod(x.abs() + 0.5),
    "lerp": lambda x: trainer.lerp(x, x * 2 + 1, 0.3) + x.lerp(-x, x.sigmoid()) + x.lerp(x * 3, 0.75),
    "logsumexp": lambda x: (x.logsumexp(1), trainer.logsumexp(x * 20, dim=(1, 2), keepdim=True)),
    "norms": lambda x: (x.norm(), x.norm(dim=1), x.norm(1, dim=-1, keepdim=True), x.norm(float("inf"), dim=2),
                        x.norm(-float("inf"), dim=1), x.norm(3, dim=(1, 2)), x.norm(p="fro", dim=(1, 2))),
    "norm_0": lambda x: (x * (x > 0).float()).norm(0, dim=1),
    "cumsum": lambda x: (x.cumsum(1), trainer.cumsum(x, dim=-1), (x * 10).long().cumsum(2),
                         x.cumsum(1, dtype=trainer.float64).float(), x.cumsum(0)),
    "count_nonzero": lambda x: ((x > 0).count_nonzero(1), trainer.count_nonzero(x * (x > 0).float()),
                                (x * 3).long().count_nonzero((0, 2))),
    "nansum_nanmean": lambda x: (_with_specials(x).nan_to_num(posinf=1.0, neginf=-1.0, nan=math.nan).nansum(1),
                                 trainer.nanmean(trainer.where(x > 0.5, math.nan, x), dim=2, keepdim=True),
                                 trainer.nansum(trainer.where(x > 0.5, math.nan, x)),
                                 (x * 10).long().nansum(1)),
    "std_var_mean_aminmax": lambda x: (*trainer.std_mean(x, 1), *trainer.var_mean(x, dim=(1, 2), correction=0),
                                       *x.aminmax(dim=1), *trainer.aminmax(x)),
    "diff": lambda x: (x.diff(), trainer.diff(x, n=2, dim=1), x.diff(dim=0),
                       x.diff(dim=1, prepend=x[:, :1] * 0, append=x[:, -1:])),
    "sort": lambda x: (*x.sort(1), *trainer.sort(x, dim=-1, descending=True), *x.sort(0)),
    "argsort_msort": lambda x: (x.argsort(2), trainer.argsort(x, dim=0, descending=True), trainer.msort(x)),
    "topk": lambda x: (*x.topk(2, dim=1), *trainer.topk(x, 1, dim=-1, largest=False), *x.topk(1, dim=0)),
    "kthvalue": lambda x: (*x.kthvalue(2, 1), *trainer.kthvalue(x, 3, dim=2, keepdim=True)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FUNCTIONS[name]), trainer.randn(3, 4, 3), runtime, dynamic=[0], variants=BATCHES)


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 18, newest_opset()}))
def test_reductions_across_the_opset_range(opset, runtime, roundtrip):
    trainer.manual_seed(0)
    fn = Fn(lambda x: (x.logsumexp(1), x.norm(dim=2), x.norm(1, dim=1), x.nansum(1), x.count_nonzero(2)))
    roundtrip(fn, trainer.randn(2, 4, 6), runtime, dynamic=[0], variants=BATCHES, opset=opset)


@pytest.mark.parametrize("name,fn", [("CumExtreme", lambda x: x.cummax(1).values),
                                     ("Histc", lambda x: trainer.histc(x, bins=3))])
def test_ops_without_an_onnx_lowering_are_reported(name, fn, tmp_path):
    with pytest.raises(UnsupportedOpError, match=f"trainer op {name} .* has no ONNX lowering"):
        export(Fn(fn).eval(), trainer.randn(2, 3), tmp_path / "model.onnx")
