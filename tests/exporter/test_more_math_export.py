"""The transcendental functions, the composed elementwise functions, quantiles, cov/corrcoef and the rot90/flip
helpers exported to ONNX and run at other batch sizes; the scans without an ONNX form reported clearly."""

import math

import pytest

import trainer
from tests.exporter.function_module import Fn

BATCHES = ({0: 1}, {0: 5})


def _unit(x):
    return x.sigmoid() * 1.8 - 0.9  # inside (-1, 1)


FUNCTIONS = {
    "log_exp_family": lambda x: (x.abs().log1p(), x.expm1(), (x.abs() + 0.1).log2(), (x.abs() + 0.1).log10(),
                                 x.exp2(), x.erfc()),
    "trig": lambda x: (x.tan(), _unit(x).asin(), _unit(x).acos(), x.atan(), x.sinh(), x.cosh(), x.asinh(),
                       (x.abs() + 1.5).acosh(), _unit(x).atanh(), (x.abs() + 0.5).reciprocal()),
    "composed": lambda x: (trainer.logaddexp(x * 30, x.flip(1)), trainer.logaddexp2(x, -x), trainer.xlogy(x, x.abs()),
                           trainer.logit(x.sigmoid()), trainer.sinc(x.round()), trainer.deg2rad(x),
                           trainer.rad2deg(x), trainer.copysign(x, x.flip(2)), trainer.heaviside(x.round(), x),
                           trainer.floor_divide(x * 4, 1.5), trainer.signbit(x)),
    "quantile": lambda x: (trainer.quantile(x, 0.3, dim=1), x.quantile(0.5, dim=2, keepdim=True,
                                                                        interpolation="midpoint"),
                           trainer.nanquantile(x.masked_fill(x > 0.9, math.nan), 0.75, dim=1)),
    "cov_corrcoef_shapes": lambda x: (trainer.cov(x[0]), trainer.corrcoef(x[0]), trainer.rot90(x, 1, (1, 2)),
                                      x.fliplr(), x.flipud(), trainer.atleast_3d(x[0, 0])),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_exports_and_matches(name, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(FUNCTIONS[name]), trainer.randn(3, 4, 5), runtime, dynamic=[0], variants=BATCHES)


