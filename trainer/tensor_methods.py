"""The op methods of ``Tensor`` (``x.sum()``, ``x.view(...)``, ...), each delegating to ``trainer.ops``."""

from __future__ import annotations

import trainer  # trainer.ops is looked up at call time: it loads after this module


class TensorMethods:
    __slots__ = ()

    # elementwise
    def add(self, other, *, alpha=1):
        return trainer.ops.arithmetic.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return trainer.ops.arithmetic.sub(self, other, alpha=alpha)

    def mul(self, other):
        return trainer.ops.arithmetic.mul(self, other)

    def div(self, other, *, rounding_mode=None):
        return trainer.ops.arithmetic.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent):
        return trainer.ops.arithmetic.pow(self, exponent)

    def neg(self):
        return trainer.ops.arithmetic.neg(self)

    def square(self):
        return trainer.ops.arithmetic.square(self)

    def abs(self):
        return trainer.ops.unary.abs(self)

    def exp(self):
        return trainer.ops.unary.exp(self)

    def log(self):
        return trainer.ops.unary.log(self)

    def sqrt(self):
        return trainer.ops.unary.sqrt(self)

    def rsqrt(self):
        return trainer.ops.unary.rsqrt(self)

    def sin(self):
        return trainer.ops.unary.sin(self)

    def cos(self):
        return trainer.ops.unary.cos(self)

    def tanh(self):
        return trainer.ops.unary.tanh(self)

    def sigmoid(self):
        return trainer.ops.unary.sigmoid(self)

    def relu(self):
        return trainer.ops.unary.relu(self)

    def clamp(self, min=None, max=None):
        return trainer.ops.unary.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return trainer.ops.compare.maximum(self, other)

    def minimum(self, other):
        return trainer.ops.compare.minimum(self, other)

    def where(self, condition, other):
        return trainer.ops.compare.where(condition, self, other)

    def softmax(self, dim, dtype=None):
        return trainer.ops.activation.softmax(self, dim, dtype)

    def log_softmax(self, dim, dtype=None):
        return trainer.ops.activation.log_softmax(self, dim, dtype)

    # comparison and logic
    def eq(self, other):
        return trainer.ops.compare.eq(self, other)

    def ne(self, other):
        return trainer.ops.compare.ne(self, other)

    def lt(self, other):
        return trainer.ops.compare.lt(self, other)

    def le(self, other):
        return trainer.ops.compare.le(self, other)

    def gt(self, other):
        return trainer.ops.compare.gt(self, other)

    def ge(self, other):
        return trainer.ops.compare.ge(self, other)

    def logical_not(self):
        return trainer.ops.compare.logical_not(self)

    def equal(self, other):
        return trainer.ops.compare.equal(self, other)

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return trainer.ops.compare.allclose(self, other, rtol, atol, equal_nan)

    # products
    def matmul(self, other):
        return trainer.ops.linalg.matmul(self, other)

    def mm(self, other):
        return trainer.ops.linalg.mm(self, other)

    def bmm(self, other):
        return trainer.ops.linalg.bmm(self, other)

    # reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        return trainer.ops.reduce.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        return trainer.ops.reduce.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim=None, keepdim=False):
        return trainer.ops.reduce.prod(self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        return trainer.ops.reduce.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return trainer.ops.reduce.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return trainer.ops.reduce.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return trainer.ops.reduce.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return trainer.ops.reduce.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return trainer.ops.reduce.argmin(self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return trainer.ops.reduce.all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return trainer.ops.reduce.any(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return trainer.ops.reduce.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return trainer.ops.reduce.std(self, dim, unbiased, keepdim, correction=correction)

    # shape
    def reshape(self, *shape):
        return trainer.ops.shape.reshape(self, *shape)

    def view(self, *shape):
        return trainer.ops.shape.view(self, *shape)

    def view_as(self, other):
        return trainer.ops.shape.view(self, *other.shape)

    def reshape_as(self, other):
        return trainer.ops.shape.reshape(self, *other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return trainer.ops.shape.flatten(self, start_dim, end_dim)

    def transpose(self, dim0, dim1):
        return trainer.ops.shape.transpose(self, dim0, dim1)

    def t(self):
        return trainer.ops.shape.t(self)

    def permute(self, *dims):
        return trainer.ops.shape.permute(self, *dims)

    def squeeze(self, dim=None):
        return trainer.ops.shape.squeeze(self, dim)

    def unsqueeze(self, dim):
        return trainer.ops.shape.unsqueeze(self, dim)

    def expand(self, *sizes):
        return trainer.ops.shape.expand(self, *sizes)

    def expand_as(self, other):
        return trainer.ops.shape.expand_as(self, other)

    def repeat(self, *sizes):
        return trainer.ops.shape.repeat(self, *sizes)

    def split(self, split_size, dim=0):
        return trainer.ops.join.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return trainer.ops.join.chunk(self, chunks, dim)

    # indexing
    def gather(self, dim, index):
        return trainer.ops.indexing.gather(self, dim, index)

    def index_select(self, dim, index):
        return trainer.ops.indexing.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return trainer.ops.indexing.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        self._check_inplace()
        return self._assign(trainer.ops.indexing.masked_fill(self, mask, value))
