"""Softmax, LogSoftmax, Gelu (the ONNX op from opset 20, its erf or tanh form before), LeakyRelu, Dropout, and
the ELU family, Softplus, Softsign, the hard activations (Clip, HardSigmoid, HardSwish), SiLU, Mish (the ONNX op
from opset 18, ``x * tanh(softplus(x))`` before), LogSigmoid, Threshold and PRelu."""

import math

import numpy as np

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


@lowering("Elu")
def elu(g, a, alpha=1.0, scale=1.0):
    return g.op("Elu", a, alpha=float(alpha))


@lowering("Selu")
def selu(g, a, alpha, scale):
    return g.op("Selu", a, alpha=float(alpha), gamma=float(scale))


@lowering("Celu")
def celu(g, a, alpha=1.0):
    if g.dtype(a) == np.float32:  # ONNX defines Celu for float32 only
        return g.op("Celu", a, alpha=float(alpha))
    negative = g.op("Mul", g.op("Sub", g.op("Exp", g.op("Div", a, g.like(alpha, a))), g.like(1.0, a)), g.like(alpha, a))
    return g.op("Add", g.op("Max", a, g.like(0.0, a)), g.op("Min", negative, g.like(0.0, a)))


@lowering("Softplus")
def softplus(g, a, beta=1.0, threshold=20.0):
    scaled = a if beta == 1 else g.op("Mul", a, g.like(beta, a))
    smooth = g.op("Softplus", scaled)
    if beta != 1:
        smooth = g.op("Div", smooth, g.like(beta, a))
    # above the threshold PyTorch returns the input itself
    return g.op("Where", g.op("Greater", scaled, g.like(threshold, a)), a, smooth)


@lowering("Softsign")
def softsign(g, a):
    return g.op("Softsign", a)


@lowering("Hardtanh")
def hardtanh(g, a, min_val=-1.0, max_val=1.0):
    return g.op("Clip", a, g.like(min_val, a), g.like(max_val, a))


@lowering("HardSigmoid")
def hard_sigmoid(g, a):
    return g.op("HardSigmoid", a, alpha=1 / 6, beta=0.5)


@lowering("HardSwish")
def hard_swish(g, a):
    if g.opset >= 14:
        return g.op("HardSwish", a)
    return g.op("Mul", a, g.op("HardSigmoid", a, alpha=1 / 6, beta=0.5))


@lowering("Silu")
def silu(g, a):
    return g.op("Mul", a, g.op("Sigmoid", a))


@lowering("Mish")
def mish(g, a):
    if g.opset >= 18:
        return g.op("Mish", a)
    return g.op("Mul", a, g.op("Tanh", g.op("Softplus", a)))


@lowering("LogSigmoid")
def log_sigmoid(g, a):
    return g.op("Neg", g.op("Softplus", g.op("Neg", a)))


@lowering("Threshold")
def threshold(g, a, threshold, value):
    return g.op("Where", g.op("Greater", a, g.like(threshold, a)), a, g.like(value, a))


@lowering("PRelu")
def prelu(g, a, weight):
    rank = g.rank(a)
    if g.shape(weight) != (1,) and rank > 2:
        # one slope per channel (dim 1): shaped (C, 1, ..., 1) to broadcast against (N, C, *)
        weight = g.op("Reshape", weight, g.ints([-1] + [1] * (rank - 2)))
    return g.op("PRelu", a, weight)
