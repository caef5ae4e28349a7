"""Ops that move or copy a tensor as a whole: cast, to_device, clone."""

from __future__ import annotations

from trainer import dtypes
from trainer.autograd.op import Function
from trainer.backend import device_of
from trainer.backend import to_device as _array_to_device
from trainer.memory_formats import copy_in_format, preserve_format


class Cast(Function):
    @staticmethod
    def forward(ctx, a, to):
        ctx.from_dtype = a.dtype
        return a.astype(to.np)

    # A real tensor cast to complex gets the real part of the complex gradient, as in PyTorch.
    @staticmethod
    def backward(ctx, g):
        if not dtypes.is_inexact(ctx.from_dtype):
            return None
        return (g.real if g.dtype.kind == "c" and ctx.from_dtype.kind != "c" else g).astype(ctx.from_dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        if not dtypes.is_inexact(ctx.from_dtype):
            return None
        return (g.real if g.is_complex() and ctx.from_dtype.kind != "c" else g).to(dtypes.from_numpy(ctx.from_dtype))


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.source = device_of(a)
        return _array_to_device(a, device)

    @staticmethod
    def backward(ctx, g):
        return _array_to_device(g, ctx.source)

    @staticmethod
    def backward_graph(ctx, g):
        return g.to(ctx.source)


class Clone(Function):
    @staticmethod
    def forward(ctx, a, memory_format=preserve_format):
        return copy_in_format(a, memory_format)

    @staticmethod
    def backward(ctx, g):
        return g

    backward_graph = backward


def cast(a, dtype: dtypes.dtype):
    return Cast.apply(a, to=dtype)


def to_device(a, device):
    return ToDevice.apply(a, device=device)


def clone(a, memory_format=preserve_format):
    return Clone.apply(a, memory_format=memory_format)
