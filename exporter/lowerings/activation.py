"""Softmax, LogSoftmax, Gelu (the ONNX op from opset 20, its erf or tanh form before), LeakyRelu, Dropout."""

import math

from exporter.lowerings import lowering


@lowering("Softmax", "LogSoftmax")
def softmax(g, a, axis):
    return g.op(g.op_name, a, axis=axis)


@lowering("Gelu")
def gelu(g, a, approximate="none"):
    if g.opset >= 20:
        return g.op("Gelu", a, approximate=approximate)
    if approximate == "tanh":
        cube = g.op("Mul", g.op("Mul", a, a), a)
        inner = g.op("Mul", g.op("Add", a, g.op("Mul", cube, g.like(0.044715, a))), g.like(math.sqrt(2 / math.pi), a))
        cdf = g.op("Add", g.op("Tanh", inner), g.like(1.0, a))
    else:
        cdf = g.op("Add", g.op("Erf", g.op("Div", a, g.like(math.sqrt(2), a))), g.like(1.0, a))
    return g.op("Mul", g.op("Mul", a, cdf), g.like(0.5, a))


@lowering("LeakyRelu")
def leaky_relu(g, a, negative_slope=0.01):
    return g.op("LeakyRelu", a, alpha=float(negative_slope))


@lowering("Dropout")
def dropout(g, a, **_):
    # inference keeps every element: an Identity, which the identity pass removes
    return g.op("Identity", a)
