"""Special, cumulative and statistics functions exported to ONNX and run at other batch sizes (against ONNX Runtime
and serving), and the special functions ONNX has no operator for reported clearly."""

import pytest

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from tests.exporter.function_module import Fn

BATCHES = ({0: 1}, {0: 5})

FUNCTIONS = {
    # x * 300 spans far more than float32's exp range: each prefix needs its own shift
    "logcumsumexp": lambda x: (x.logcumsumexp(1), trainer.logcumsumexp(x * 300, dim=-1), x.logcumsumexp(0)),
    "elementwise": lambda x: (trainer.logaddexp(x, x * 2), trainer.logaddexp2(x, -x), trainer.hypot(x, x + 1),
                              trainer.copysign(x, -x), trainer.heaviside(x, x * 0 + 0.5), x.sigmoid().logit(),
                              trainer.sinc(x), x.deg2rad() + x.rad2deg(), trainer.floor_divide(x * 5, 1.5)),
    "xlogy_signbit": lambda x: (trainer.xlogy(x, x.abs() + 0.1), x.signbit(), trainer.special.xlog1py(x, x.abs())),
    "ldexp": lambda x: trainer.ldexp(x, (x * 3).round()),
    "quantile": lambda x: (x.quantile(0.3, dim=1), trainer.quantile(x, 0.75, dim=-1, keepdim=True)),
    "shape": lambda x: (x.rot90(1, (1, 2)), x[0].fliplr(), x[0].flipud(), *trainer.atleast_3d(x[0, 0])),
    "diff_trapezoid": lambda x: (x.diff(dim=1), trainer.trapezoid(x, dim=1), trainer.cumulative_trapezoid(x, dx=0.5)),
    "cov": lambda x: (trainer.cov(x[0]), trainer.corrcoef(x[0])),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FUNCTIONS[name]), trainer.randn(3, 4, 3), runtime, dynamic=[0], variants=BATCHES)


@pytest.mark.parametrize("name,fn", [("LGamma", trainer.lgamma), ("Digamma", trainer.digamma),
                                     ("ErfInv", lambda x: (x.tanh()).erfinv()), ("I0", trainer.i0),
                                     ("Ndtri", lambda x: trainer.special.ndtri(x.sigmoid())),
                                     ("CumExtreme", lambda x: x.cummax(1).values)])
def test_ops_without_an_onnx_lowering_are_reported(name, fn, tmp_path):
    with pytest.raises(UnsupportedOpError, match=f"trainer op {name} .* has no ONNX lowering"):
        export(Fn(fn).eval(), trainer.randn(2, 3), tmp_path / "model.onnx")
