"""Kernels for the nodes the planner's fusion pass makes; they exist in no ONNX file.

They live in the runtime's private domain so that no model can name them by accident.
"""

from serving.kernels.activation import relu
from serving.kernels.conv import Conv
from serving.kernels.pool import WindowMax
from serving.kernels.registry import kernel

FUSED_DOMAIN = "ai.sardonyx.fused"


@kernel("MatMulAdd", domain=FUSED_DOMAIN)
def MatMulAdd(ctx, a, b, bias):
    """``a @ b + bias`` with the bias added in place: one output buffer instead of two."""
    y = ctx.xp.matmul(a, b)
    y += bias
    return y


@kernel("ConvRelu", domain=FUSED_DOMAIN)
def ConvRelu(ctx, x, w, b=None, **conv_attributes):
    """Conv then Relu, the Relu applied to each chunk of the convolution while it is in cache."""
    return Conv(ctx, x, w, b, _relu=True, **conv_attributes)


@kernel("ConvMaxPool", domain=FUSED_DOMAIN)
def ConvMaxPool(ctx, x, w, b=None, *, relu=0, pool_kernel_shape, pool_strides, pool_dilations, **conv_attributes):
    """Conv (then Relu when ``relu``) then a MaxPool whose windows all lie inside the convolution's output:
    each chunk of the convolution is pooled while it is in cache, and the full-size activation is never
    written."""
    axes = x.ndim - 2
    if not len(pool_kernel_shape) == len(pool_strides) == len(pool_dilations) == axes:
        raise ValueError(f"MaxPool kernel_shape {pool_kernel_shape}, strides {pool_strides} and dilations "
                         f"{pool_dilations} must each have one value per spatial axis of its input ({axes})")
    pool = WindowMax(pool_kernel_shape, pool_strides, pool_dilations)
    return Conv(ctx, x, w, b, _relu=bool(relu), _pool=pool, **conv_attributes)


@kernel("ReluInPlace", domain=FUSED_DOMAIN)
def ReluInPlace(ctx, x):
    """Relu written over its input, which the planner guarantees is a fresh buffer nothing else reads."""
    return relu(ctx.xp, x, out=x)
