"""Following quantized computations that run outside trainer's ops: the quantized layers (``exporter.quantized_layers``,
lowered from each module's forward hook) and the quantized functions of ``trainer.ao.nn.quantized.functional``
(``F.relu`` on a quantized tensor, ``QFunctional.add``, ...), which ``observed`` wraps for the length of a trace so
that each call is lowered after it ran. A quantized tensor that reaches the graph by any other path is refused where
it is used (``Tracer.name_of``), and a module that returns one is named in the refusal.

The functions reproduce trainer's arithmetic step by step (see ``trainer.ao.nn.quantized.functional``): ``relu`` and
``relu6`` clamp the integers, the pools run trainer's float pooling lowerings on the integers, the others dequantize
as PyTorch's vector kernels do, compute in float32 and requantize as ``quantize_val`` does.
"""

from __future__ import annotations

import contextlib
import functools
import inspect

import numpy as np
from onnx import TensorProto

from exporter import quantized_layers
from exporter.errors import UnsupportedOpError
from exporter.lowerings.quantized_tensors import (
    dequantized,
    dequantized_fused,
    integer_type,
    onto_grid,
    quantized_exactly,
    zero_point_of,
)
from trainer.ao.nn.quantized import functional as quantized_functional
from trainer.autograd import no_grad
from trainer.ops import pool
from trainer.quantized_array import QuantizedArray, quantize_per_tensor_array
from trainer.tensor import Tensor

SUPPORTED = ("Quantize/QuantStub, DeQuantize/DeQuantStub, quantized Conv1d/2d/3d, ConvReLU1d/2d/3d, Linear, "
             "LinearReLU, BatchNorm2d/3d, BNReLU2d/3d, ReLU6, Hardswish, ELU, LeakyReLU, QFunctional "
             "(add, add_relu, mul, add_scalar, mul_scalar, cat), dynamic Linear (qint8 and float16), F.relu, "
             "max_pool2d and adaptive_avg_pool2d on quantized tensors, reshape/view/flatten, int_repr, dequantize")


@contextlib.contextmanager
def observed(tracer):
    """Inside the block, lower each quantized layer and quantized function as it runs."""
    handles = [module.register_forward_hook(functools.partial(_after_module, tracer, path))
               for path, module in tracer.model.named_modules()]
    originals = {name: getattr(quantized_functional, name) for name in _FUNCTIONS}
    running = []  # the observed function calls in progress: one made inside another is part of it
    for name, original in originals.items():
        setattr(quantized_functional, name, _observed_function(tracer, name, original, running))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(quantized_functional, name, original)
        for handle in handles:
            handle.remove()


def _after_module(tracer, path, module, args, output):
    lowering = quantized_layers.lowering_of(module)
    if lowering is not None:
        tensors = [a for a in args if isinstance(a, Tensor)][:1]
        tracer.lower_untraced(type(module).__name__, tensors, [output],
                              lambda g, name: lowering(g, module, tensors[0], name), scope=path)
    for tensor in _tensors_in(output):
        if isinstance(tensor._data, QuantizedArray) and not tracer.is_followed(tensor):
            raise UnsupportedOpError(f"module '{path or '<root>'}' ({type(module).__name__}) returned a quantized "
                                     "tensor the exporter did not see being computed: trainer computes it outside "
                                     "its ops, and the exporter follows only the quantized layers and functions it "
                                     f"lowers ({SUPPORTED}). Dequantize before that module, or export without it.")


def _tensors_in(value):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item)


def _observed_function(tracer, name, original, running):
    signature = inspect.signature(original)
    lowering = _FUNCTIONS[name]

    @functools.wraps(original)
    def call(*args, **kwargs):
        running.append(name)
        try:
            result = original(*args, **kwargs)
        finally:
            running.pop()
        if not running:
            arguments = signature.bind(*args, **kwargs)
            arguments.apply_defaults()
            values = dict(arguments.arguments)
            tensors = list(values.pop("tensors")) if name == "cat" else [values.pop("input" if "input" in values
                                                                                    else "a")]
            if "b" in values:
                tensors.append(values.pop("b"))
            tracer.lower_untraced(f"quantized::{name}", tensors, [result],
                                  lambda g, *names: lowering(g, tracer, tensors, list(names), result, **values))
        return result

    return call


# ----------------------------------------------------------------- the functions
def _relu(g, tracer, tensors, names, result):
    data = tensors[0]._data
    return g.op("Max", names[0], zero_point_of(g, data.zero_point, data.qdtype))


def _relu6(g, tracer, tensors, names, result, inplace):
    data = tensors[0]._data
    six = quantize_per_tensor_array(np.array([6.0], dtype=np.float32), float(data.scale), data.zero_point,
                                    data.qdtype)
    return g.op("Clip", names[0], zero_point_of(g, data.zero_point, data.qdtype),
                zero_point_of(g, six[0], data.qdtype))


def _hardswish(g, tracer, tensors, names, result, scale, zero_point):
    data = tensors[0]._data
    x = dequantized_fused(g, names[0], data.scale, data.zero_point)
    gate = g.op("Min", g.op("Max", g.op("Add", x, g.const(np.float32(3))), g.const(np.float32(0))),
                g.const(np.float32(6)))
    return _requantized(g, g.op("Div", g.op("Mul", x, gate), g.const(np.float32(6))), result)


def _elu(g, tracer, tensors, names, result, scale, zero_point, alpha):
    x = _dequantized(g, tensors[0], names[0])
    negative = g.op("Mul", g.const(np.float32(alpha)), g.op("Sub", g.op("Exp", x), g.const(np.float32(1))))
    return _requantized(g, g.op("Where", g.op("Greater", x, g.const(np.float32(0))), x, negative), result)


def _leaky_relu(g, tracer, tensors, names, result, negative_slope, inplace, scale, zero_point):
    x = _dequantized(g, tensors[0], names[0])
    negative = g.op("Mul", x, g.const(np.float32(negative_slope)))
    return _requantized(g, g.op("Where", g.op("Greater", x, g.const(np.float32(0))), x, negative), result)


def _add(g, tracer, tensors, names, result, scale, zero_point, relu):
    a, b = (dequantized_fused(g, name, t._data.scale, t._data.zero_point) for t, name in zip(tensors, names))
    total = g.op("Add", a, b)
    if relu:
        total = g.op("Max", total, g.const(np.float32(0)))
    return _requantized(g, total, result)


def _mul(g, tracer, tensors, names, result, scale, zero_point, relu):
    x, y = (t._data for t in tensors)
    a, b = (g.op("Sub", g.op("Cast", name, to=TensorProto.DOUBLE), g.const(np.float64(t._data.zero_point)))
            for t, name in zip(tensors, names))
    product = g.op("Cast", g.op("Mul", a, b), to=TensorProto.FLOAT)
    multiplier = np.float32(np.float32(x.scale) * np.float32(y.scale)) * (np.float32(1) / np.float32(scale))
    low = zero_point if relu else x.qdtype.min
    return onto_grid(g, product, np.float32(multiplier), zero_point, low, x.qdtype.max, integer_type(g, x.qdtype))


def _add_scalar(g, tracer, tensors, names, result, other):
    data = tensors[0]._data
    if result._data.scale == data.scale:  # the zero point moved, the integers stayed
        return g.op("Identity", names[0])
    values = g.op("Add", _dequantized(g, tensors[0], names[0]), g.const(np.float32(other)))
    return _requantized(g, values, result)


def _mul_scalar(g, tracer, tensors, names, result, other):
    if other >= 0:  # the grid widened, the integers stayed
        return g.op("Identity", names[0])
    data = tensors[0]._data
    wide = g.op("Cast", names[0], to=TensorProto.INT32)
    mirrored = g.op("Sub", g.const(np.int32(data.qdtype.max + data.qdtype.min)), wide)
    return g.op("Cast", mirrored, to=TensorProto.UINT8 if data.qdtype.min == 0 else TensorProto.INT8)


def _cat(g, tracer, tensors, names, result, scale, zero_point, dim):
    values = [_dequantized(g, t, name) for t, name in zip(tensors, names)]
    axis = dim % tensors[0]._data.ndim
    return quantized_exactly(g, g.op("Concat", *values, axis=axis), scale, zero_point, result._data.qdtype)


def _max_pool2d(g, tracer, tensors, names, result, kernel_size, stride, padding, dilation, ceil_mode,
                return_indices):
    pooled = _pooled(g, tracer, tensors[0], names[0],
                     lambda t: pool.max_pool2d(t, kernel_size, stride, padding, dilation, ceil_mode))
    return g.op("Cast", pooled, to=_onnx_integer(g, result))


def _adaptive_avg_pool2d(g, tracer, tensors, names, result, output_size):
    mean = _pooled(g, tracer, tensors[0], names[0], lambda t: pool.adaptive_avg_pool2d(t, output_size))
    return g.op("Cast", g.op("Round", mean), to=_onnx_integer(g, result))


_FUNCTIONS = {"relu": _relu, "relu6": _relu6, "hardswish": _hardswish, "elu": _elu, "leaky_relu": _leaky_relu,
              "add": _add, "mul": _mul, "add_scalar": _add_scalar, "mul_scalar": _mul_scalar, "cat": _cat,
              "max_pool2d": _max_pool2d, "adaptive_avg_pool2d": _adaptive_avg_pool2d}


# ----------------------------------------------------------------- helpers
def _dequantized(g, tensor, name):
    data = tensor._data
    return dequantized(g, name, data.scale, data.zero_point, data.qdtype)


def _requantized(g, values, result):
    """ATen's ``quantize_val`` onto ``result``'s grid: ``nearbyint(float32(x * float32(1 / scale))) + zero_point``."""
    data = result._data
    inverse = np.float32(1) / np.float32(data.scale)
    return onto_grid(g, values, inverse, int(data.zero_point), data.qdtype.min, data.qdtype.max,
                     integer_type(g, data.qdtype))


def _onnx_integer(g, result):
    return TensorProto.UINT8 if integer_type(g, result._data.qdtype) == np.uint8 else TensorProto.INT8


def _pooled(g, tracer, tensor, name, pool_fn):
    """``pool_fn`` run on the integers as a float32 tensor (exact: window sums of 8-bit integers stay far below
    2**24), lowered by the float pooling's own lowering."""
    wide = Tensor._wrap(tensor._data.int_repr.astype(np.float32))
    tracer.follow(wide, g.op("Cast", name, to=TensorProto.FLOAT))
    with no_grad():
        pooled = pool_fn(wide)
    return tracer.name_of(pooled)
