"""The bit shifts, the bitwise ops and the composed elementwise functions (fmax, addcmul, isposinf, clamp_min, the
second names, ...) exported to ONNX and run in ONNX Runtime and serving at other batch sizes; gcd and lcm, which
ONNX has no operator for, and in-place ops, which export does not record, refused clearly."""

import math

import numpy as np
import pytest

import trainer
from exporter import export
from exporter.errors import UnsupportedOpError
from tests.exporter.function_module import Fn

BATCHES = ({0: 1}, {0: 5})
INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64")


def _example(dtype: str):
    """Rows of the dtype's interesting values: extremes, zero, small and middling values of both signs."""
    info = np.iinfo(dtype)
    row = [info.min, info.min + 1, -7, -1, 0, 1, 5, info.max // 3, info.max - 1, info.max]
    row = [v for v in row if info.min <= v <= info.max][:8]
    row += [2] * (8 - len(row))
    return trainer.tensor([row, row[::-1], row[2:] + row[:2]], dtype=getattr(trainer, dtype))


def _shift_amounts(x):
    """Shift amounts made inside forward, of the input's dtype: negative ones (where the dtype has them), 0, small
    ones, the sign bit, the width and past it."""
    bits = x.element_size() * 8
    amounts = [-1, 0, 1, 3, bits - 1, bits, bits + 2, -bits] if x.dtype.is_signed else [0, 1, 3, 5, 7, 8, 9, 200]
    return trainer.tensor(amounts, dtype=x.dtype)


def _shifts(x):
    s = _shift_amounts(x)
    # the input shifted by every amount, and shifted by amounts read from the input itself
    return (x << s, x >> s, x << 2, x >> 1, trainer.bitwise_left_shift(x, x.flip(-1)),
            x.bitwise_right_shift(x.flip(-1)))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_shifts_export_and_match_at_every_width(dtype, runtime, roundtrip):
    trainer.manual_seed(0)
    roundtrip(Fn(_shifts), _example(dtype), runtime, dynamic=[0], variants=BATCHES)


def test_shifts_need_only_opset_13(runtime, roundtrip):
    roundtrip(Fn(_shifts), _example("int32"), runtime, opset=13)


def test_shift_of_uint8_uses_bitshift_directly_on_its_bits(roundtrip):
    proto, _ = roundtrip(Fn(lambda x: x << 3), _example("uint8"), "onnxruntime")
    assert "BitShift" in {node.op_type for node in proto.graph.node}


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_bitwise_ops_export_and_match(dtype, runtime, roundtrip):
    trainer.manual_seed(0)
    fn = Fn(lambda x: (x & x.flip(-1), x | 6, x ^ x.flip(0), ~x, trainer.bitwise_and(x, 12), x.bitwise_not(),
                       trainer.bitwise_or(x, x.flip(-1)), x.bitwise_xor(3)))
    roundtrip(fn, _example(dtype), runtime, dynamic=[0], variants=BATCHES)


def test_bitwise_ops_on_bools_export_as_logic(runtime, roundtrip):
    fn = Fn(lambda x: (x & x.flip(-1), x | x.flip(0), x ^ True, ~x, trainer.bitwise_xor(x, x.flip(-1))))
    proto, _ = roundtrip(fn, _example("int64") > 0, runtime)
    assert {"And", "Or", "Xor", "Not"} <= {node.op_type for node in proto.graph.node}


def _nan_example():
    trainer.manual_seed(0)
    x = trainer.randn(3, 4, 5)
    return x.masked_fill(x > 1.0, math.nan).masked_fill(x < -1.5, -math.inf)


FUNCTIONS = {
    "fmax_fmin": lambda x: (trainer.fmax(x, x.flip(1)), x.fmin(x.flip(2)), trainer.fmin(x, x.nan_to_num(0.5))),
    "addcmul_addcdiv": lambda x: (trainer.addcmul(x, x.flip(1), x[:, :1], value=0.5), x.addcmul(x, x),
                                  trainer.addcdiv(x, x.flip(2), x.abs() + 1, value=-2)),
    "inf_checks": lambda x: (trainer.isposinf(x), x.isneginf(), trainer.isreal(x)),
    "clamp_min_max": lambda x: (trainer.clamp_min(x, -0.5), x.clamp_max(0.5), trainer.clamp_min(x, x.flip(1)),
                                x.clamp_max(x[:, :1])),
    "second_names": lambda x: (trainer.absolute(x), x.negative(), trainer.divide(x, 3),
                               x.divide(1.5, rounding_mode="floor"), trainer.multiply(x, x), x.subtract(x, alpha=2),
                               x.true_divide(4), trainer.sgn(x), trainer.positive(x) * 2, x.remainder(0.75),
                               trainer.greater(x, 0.1), x.less_equal(x.flip(1)), trainer.not_equal(x, x.flip(2))),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_composed_functions_export_and_match(name, runtime, roundtrip):
    example = _nan_example() if name in ("fmax_fmin", "inf_checks") else trainer.randn(3, 4, 5)
    roundtrip(Fn(FUNCTIONS[name]), example, runtime, dynamic=[0], variants=BATCHES)


@pytest.mark.parametrize("name, fn", [("Gcd", lambda x: trainer.gcd(x, x.flip(0))), ("Lcm", lambda x: x.lcm(x))])
def test_gcd_and_lcm_have_no_onnx_lowering(name, fn, tmp_path):
    with pytest.raises(UnsupportedOpError, match=f"trainer op {name} .* has no ONNX lowering"):
        export(Fn(fn).eval(), _example("int64"), tmp_path / "model.onnx")


@pytest.mark.parametrize("fn", [lambda x: (x * 2).exp_(), lambda x: (x + 1).clamp_min_(0.5),
                                lambda x: (x * 1).lt_(0.0)])
def test_inplace_ops_export_as_their_new_values(fn, runtime, roundtrip):
    roundtrip(Fn(fn), trainer.randn(2, 3), runtime, dynamic=[0], variants=BATCHES)
