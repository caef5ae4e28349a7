"""The op methods of ``Tensor`` (``x.sum()``, ``x.view(...)``, ...), each delegating to ``trainer.ops``."""

from __future__ import annotations

import numpy as np

import trainer  # trainer.ops is looked up at call time: it loads after this module
from trainer import tensor_complex_extras, tensor_geometry_methods, tensor_state_loading, tensor_storage
from trainer.backend import cuda_context, to_device, xp_of
from trainer.tensor_compat_methods import CompatMethods
from trainer.type_info import array_finfo


class TensorMethods(CompatMethods):
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

    def isnan(self):
        return trainer.ops.unary.isnan(self)

    def isinf(self):
        return trainer.ops.unary.isinf(self)

    def isfinite(self):
        return trainer.ops.unary.isfinite(self)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return trainer.ops.unary.nan_to_num(self, nan, posinf, neginf)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        self._check_inplace()
        return self._assign(trainer.ops.unary.nan_to_num(self, nan, posinf, neginf))

    def sign(self):
        return trainer.ops.unary.sign(self)

    def floor(self):
        return trainer.ops.unary.floor(self)

    def floor_(self):
        self._check_inplace()
        return self._assign(trainer.ops.unary.floor(self))

    def ceil(self):
        return trainer.ops.unary.ceil(self)

    def ceil_(self):
        self._check_inplace()
        return self._assign(trainer.ops.unary.ceil(self))

    def round(self, *, decimals=0):
        return trainer.ops.unary.round(self, decimals=decimals)

    def round_(self, *, decimals=0):
        self._check_inplace()
        return self._assign(trainer.ops.unary.round(self, decimals=decimals))

    def trunc(self):
        return trainer.ops.unary.trunc(self)

    def trunc_(self):
        self._check_inplace()
        return self._assign(trainer.ops.unary.trunc(self))

    fix = trunc

    def frac(self):
        return trainer.ops.unary.frac(self)

    def erf(self):
        return trainer.ops.unary.erf(self)

    def atan2(self, other):
        return trainer.ops.arithmetic.atan2(self, other)

    arctan2 = atan2

    def hypot(self, other):
        return trainer.ops.arithmetic.hypot(self, other)

    def fmod(self, other):
        return trainer.ops.arithmetic.fmod(self, other)

    def lerp(self, end, weight):
        return trainer.ops.arithmetic.lerp(self, end, weight)

    def lerp_(self, end, weight):
        self._check_inplace()
        return self._assign(trainer.ops.arithmetic.lerp(self, end, weight))

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

    def outer(self, vec2):
        return trainer.ops.linalg.outer(self, vec2)

    # more elementwise functions, scans and statistics
    def log1p(self):
        return trainer.ops.transcendental.log1p(self)

    def expm1(self):
        return trainer.ops.transcendental.expm1(self)

    def log2(self):
        return trainer.ops.transcendental.log2(self)

    def log10(self):
        return trainer.ops.transcendental.log10(self)

    def exp2(self):
        return trainer.ops.transcendental.exp2(self)

    def tan(self):
        return trainer.ops.transcendental.tan(self)

    def asin(self):
        return trainer.ops.transcendental.asin(self)

    def acos(self):
        return trainer.ops.transcendental.acos(self)

    def atan(self):
        return trainer.ops.transcendental.atan(self)

    def sinh(self):
        return trainer.ops.transcendental.sinh(self)

    def cosh(self):
        return trainer.ops.transcendental.cosh(self)

    def asinh(self):
        return trainer.ops.transcendental.asinh(self)

    def acosh(self):
        return trainer.ops.transcendental.acosh(self)

    def atanh(self):
        return trainer.ops.transcendental.atanh(self)

    def reciprocal(self):
        return trainer.ops.transcendental.reciprocal(self)

    def erfc(self):
        return trainer.ops.transcendental.erfc(self)

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh

    def logaddexp(self, other):
        return trainer.ops.elementwise.logaddexp(self, other)

    def logaddexp2(self, other):
        return trainer.ops.elementwise.logaddexp2(self, other)

    def xlogy(self, other):
        return trainer.ops.elementwise.xlogy(self, other)

    def copysign(self, other):
        return trainer.ops.elementwise.copysign(self, other)

    def heaviside(self, values):
        return trainer.ops.elementwise.heaviside(self, values)

    def float_power(self, exponent):
        return trainer.ops.elementwise.float_power(self, exponent)

    def floor_divide(self, other):
        return trainer.ops.elementwise.floor_divide(self, other)

    def logit(self, eps=None):
        return trainer.ops.elementwise.logit(self, eps)

    def sinc(self):
        return trainer.ops.elementwise.sinc(self)

    def deg2rad(self):
        return trainer.ops.elementwise.deg2rad(self)

    def rad2deg(self):
        return trainer.ops.elementwise.rad2deg(self)

    def signbit(self):
        return trainer.ops.elementwise.signbit(self)

    def cummax(self, dim):
        return trainer.ops.scans.cummax(self, dim)

    def cummin(self, dim):
        return trainer.ops.scans.cummin(self, dim)

    def logcumsumexp(self, dim):
        return trainer.ops.scans.logcumsumexp(self, dim)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return trainer.ops.statistics.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return trainer.ops.statistics.nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def cov(self, *, correction=1, fweights=None, aweights=None):
        return trainer.ops.statistics.cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self):
        return trainer.ops.statistics.corrcoef(self)

    def rot90(self, k=1, dims=(0, 1)):
        return trainer.ops.shape.rot90(self, k, dims)

    def lgamma(self):
        return trainer.ops.special.lgamma(self)

    def digamma(self):
        return trainer.ops.special.digamma(self)

    def polygamma(self, n):
        return trainer.ops.special.polygamma(n, self)

    def mvlgamma(self, p):
        return trainer.ops.special.mvlgamma(self, p)

    def erfinv(self):
        return trainer.ops.special.erfinv(self)

    def i0(self):
        return trainer.ops.special.i0(self)

    def frexp(self):
        return trainer.ops.special.frexp(self)

    def ldexp(self, other):
        return trainer.ops.special.ldexp(self, other)

    def nextafter(self, other):
        return trainer.ops.special.nextafter(self, other)

    def igamma(self, other):
        return trainer.ops.igamma.igamma(self, other)

    def igammac(self, other):
        return trainer.ops.igamma.igammac(self, other)

    def nanmedian(self, dim=None, keepdim=False):
        return trainer.ops.order_statistics.nanmedian(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return trainer.ops.order_statistics.mode(self, dim, keepdim)

    def fliplr(self):
        return trainer.ops.shape.fliplr(self)

    def flipud(self):
        return trainer.ops.shape.flipud(self)

    def det(self):
        return trainer.linalg.det(self)

    def logdet(self):
        return trainer.linalg.logdet(self)

    def slogdet(self):
        return trainer.linalg.slogdet(self)

    def inverse(self):
        return trainer.linalg.inv(self)

    def pinverse(self, rcond=1e-15):
        return trainer.linalg.pinverse(self, rcond)

    def cholesky(self, upper=False):
        return trainer.legacy_linalg.cholesky(self, upper)

    def qr(self, some=True):
        return trainer.legacy_linalg.qr(self, some)

    # deprecated and removed linear algebra, view copies and layout queries (trainer/legacy_linalg.py, ...)
    def lu(self, pivot=True, get_infos=False):
        return trainer.legacy_linalg.lu(self, pivot, get_infos)

    def symeig(self, eigenvectors=False, upper=True):
        return trainer.legacy_linalg.symeig(self, eigenvectors, upper)

    def eig(self, eigenvectors=False):
        return trainer.legacy_linalg.eig(self, eigenvectors)

    def lstsq(self, A):  # noqa: N803 - PyTorch's name
        return trainer.legacy_linalg.lstsq(self, A)

    def solve(self, A):  # noqa: N803 - PyTorch's name
        return trainer.legacy_linalg.solve(self, A)

    def narrow_copy(self, dim, start, length):
        return trainer.view_copies.narrow_copy(self, dim, start, length)

    def unsafe_chunk(self, chunks, dim=0):
        return trainer.unsafe_splits.unsafe_chunk(self, chunks, dim)

    def unsafe_split(self, split_size, dim=0):
        return trainer.unsafe_splits.unsafe_split(self, split_size, dim)

    def unsafe_split_with_sizes(self, split_sizes, dim=0):
        return trainer.unsafe_splits.unsafe_split_with_sizes(self, split_sizes, dim)

    def new_empty_strided(self, size, stride, **options):
        return trainer.memory_layout.new_empty_strided(self, size, stride, **options)

    def nonzero_static(self, *, size, fill_value=-1):
        return trainer.fixed_size_nonzero.nonzero_static(self, size=size, fill_value=fill_value)

    def dim_order(self, *, ambiguity_check=False):
        return trainer.memory_layout.dim_order(self, ambiguity_check=ambiguity_check)

    def svd(self, some=True, compute_uv=True):
        return trainer.linalg.legacy_svd(self, some, compute_uv)

    def trace(self):
        return trainer.linalg.trace(self)

    def matrix_power(self, n):
        return trainer.linalg.matrix_power(self, n)

    def dot(self, other):
        return trainer.ops.linalg.dot(self, other)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return trainer.ops.linalg.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return trainer.ops.linalg.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def cross(self, other, dim=None):
        return trainer.ops.linalg.cross(self, other, dim)

    def ger(self, vec2):
        return trainer.ops.linalg.ger(self, vec2)

    def kron(self, other):
        return trainer.linalg.kron(self, other)

    def cholesky_solve(self, input2, upper=False):
        return trainer.ops.triangular.cholesky_solve(self, input2, upper)

    def cholesky_inverse(self, upper=False):
        return trainer.ops.triangular.cholesky_inverse(self, upper)

    def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False):  # noqa: N803 - PyTorch's name
        return trainer.ops.triangular.triangular_solve(self, A, upper, transpose, unitriangular)

    def lu_solve(self, LU_data, LU_pivots):  # noqa: N803 - PyTorch's names
        return trainer.ops.lu.legacy_lu_solve(self, LU_data, LU_pivots)

    def geqrf(self):
        return trainer.ops.householder_qr.geqrf(self)

    def orgqr(self, input2):
        return trainer.ops.householder_qr.orgqr(self, input2)

    def ormqr(self, input2, input3, left=True, transpose=False):
        return trainer.ops.householder_qr.ormqr(self, input2, input3, left, transpose)

    def matrix_exp(self):
        return trainer.ops.matrix_exp.matrix_exp(self)

    def adjoint(self):
        return trainer.ops.conjugate_transpose.adjoint(self)

    @property
    def mH(self):  # noqa: N802 - PyTorch's name
        return trainer.ops.conjugate_transpose.adjoint(self, "tensor.mH")

    @property
    def H(self):  # noqa: N802 - PyTorch's name
        return trainer.ops.conjugate_transpose.matrix_h(self)

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

    def logsumexp(self, dim, keepdim=False):
        return trainer.ops.reduce.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return trainer.ops.reduce.norm(self, p, dim, keepdim, dtype)

    def cumsum(self, dim, *, dtype=None):
        return trainer.ops.reduce.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        return trainer.ops.reduce.cumprod(self, dim, dtype=dtype)

    def count_nonzero(self, dim=None):
        return trainer.ops.reduce.count_nonzero(self, dim)

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        return trainer.ops.reduce.nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        return trainer.ops.reduce.nanmean(self, dim, keepdim, dtype=dtype)

    def aminmax(self, *, dim=None, keepdim=False):
        return trainer.ops.reduce.aminmax(self, dim=dim, keepdim=keepdim)

    def median(self, dim=None, keepdim=False):
        return trainer.ops.reduce.median(self, dim, keepdim)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return trainer.ops.reduce.diff(self, n, dim, prepend, append)

    # sorting
    def sort(self, dim=-1, descending=False, *, stable=False):
        return trainer.ops.sort.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, *, stable=False):
        return trainer.ops.sort.argsort(self, dim, descending, stable=stable)

    def msort(self):
        return trainer.ops.sort.msort(self)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
        return trainer.ops.sort.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return trainer.ops.sort.kthvalue(self, k, dim, keepdim)

    # shape
    def reshape(self, *shape, **kwargs):
        if kwargs:  # PyTorch also takes ``t.reshape(shape=(...))`` (DiT's unpatchify calls it so)
            if shape or set(kwargs) != {"shape"}:
                raise TypeError(f"reshape() takes the sizes either positionally or as shape=(...), got sizes {shape} "
                                f"and keywords {sorted(kwargs)}")
            shape = (kwargs["shape"],)
        return trainer.ops.shape.reshape(self, *shape)

    def view(self, *shape, dtype=None):
        if dtype is None and len(shape) == 1 and isinstance(shape[0], trainer.dtype):
            dtype, shape = shape[0], ()
        if dtype is not None:
            return trainer.dtype_views.view_as_dtype(self, dtype)
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

    def tril(self, diagonal=0):
        return trainer.ops.shape.tril(self, diagonal)

    def triu(self, diagonal=0):
        return trainer.ops.shape.triu(self, diagonal)

    def flip(self, *dims):
        return trainer.ops.shape.flip(self, *dims)

    def roll(self, shifts, dims=None):
        return trainer.ops.shape.roll(self, shifts, dims)

    def diag(self, diagonal=0):
        return trainer.ops.shape.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return trainer.ops.shape.diagonal(self, offset, dim1, dim2)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return trainer.ops.shape.repeat_interleave(self, repeats, dim, output_size=output_size)

    def broadcast_to(self, size):
        return trainer.ops.shape.broadcast_to(self, size)

    def narrow(self, dim, start, length):
        return trainer.ops.shape.narrow(self, dim, start, length)

    def select(self, dim, index):
        return trainer.ops.shape.select(self, dim, index)

    def unbind(self, dim=0):
        return trainer.ops.shape.unbind(self, dim)

    def tensor_split(self, indices_or_sections, dim=0):
        return trainer.ops.shape.tensor_split(self, indices_or_sections, dim)

    def movedim(self, source, destination):
        return trainer.ops.shape.movedim(self, source, destination)

    moveaxis = movedim

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

    def take_along_dim(self, indices, dim=None):
        return trainer.ops.indexing.take_along_dim(self, indices, dim)

    def scatter(self, dim, index, src=None, *, value=None):
        return trainer.ops.indexing.scatter(self, dim, index, src, value=value)

    def scatter_add(self, dim, index, src):
        return trainer.ops.indexing.scatter_add(self, dim, index, src)

    def index_add(self, dim, index, source, *, alpha=1):
        return trainer.ops.indexing.index_add(self, dim, index, source, alpha=alpha)

    def index_fill(self, dim, index, value):
        return trainer.ops.indexing.index_fill(self, dim, index, value)

    def masked_select(self, mask):
        return trainer.ops.indexing.masked_select(self, mask)

    def nonzero(self, *, as_tuple=False):
        return trainer.ops.indexing.nonzero(self, as_tuple=as_tuple)

    def argwhere(self):
        return trainer.ops.indexing.argwhere(self)

    # counting
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        return trainer.ops.counting.unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return trainer.ops.counting.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):  # noqa: A002 - PyTorch's names
        return trainer.ops.counting.histc(self, bins, min, max)

    # more shape functions, and the in-place view ops (the tensor takes the view's shape)
    def tile(self, *dims):
        return trainer.ops.views.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def ravel(self):
        return trainer.ops.views.ravel(self)

    def swapaxes(self, axis0, axis1):
        return trainer.ops.views.swapaxes(self, axis0, axis1)

    def swapdims(self, dim0, dim1):
        return trainer.ops.views.swapdims(self, dim0, dim1)

    def unflatten(self, dim, sizes):
        return trainer.ops.views.unflatten(self, dim, sizes)

    def unfold(self, dimension, size, step):
        return trainer.ops.views.unfold(self, dimension, size, step)

    def stft(self, *args, **kwargs):
        return trainer.ops.stft.stft(self, *args, **kwargs)

    def istft(self, *args, **kwargs):
        return trainer.ops.stft.istft(self, *args, **kwargs)

    def split_with_sizes(self, split_sizes, dim=0):
        return trainer.ops.views.split_with_sizes(self, split_sizes, dim)

    def hsplit(self, indices_or_sections):
        return trainer.ops.views.hsplit(self, indices_or_sections)

    def vsplit(self, indices_or_sections):
        return trainer.ops.views.vsplit(self, indices_or_sections)

    def dsplit(self, indices_or_sections):
        return trainer.ops.views.dsplit(self, indices_or_sections)

    def sum_to_size(self, *size):
        return trainer.ops.views.sum_to_size(self, *size)

    def squeeze_(self, dim=None):
        self._check_inplace()
        return self._assign_view(trainer.ops.shape.squeeze(self, dim))

    def unsqueeze_(self, dim):
        self._check_inplace()
        return self._assign_view(trainer.ops.shape.unsqueeze(self, dim))

    def t_(self):
        if self.ndim > 2:
            raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        self._check_inplace()
        return self._assign_view(trainer.ops.shape.t(self))

    def transpose_(self, dim0, dim1):
        self._check_inplace()
        return self._assign_view(trainer.ops.shape.transpose(self, dim0, dim1))

    def swapaxes_(self, axis0, axis1):
        return self.transpose_(axis0, axis1)

    def swapdims_(self, dim0, dim1):
        return self.transpose_(dim0, dim1)

    # writing at indices, and scattering with a reduction
    def take(self, index):
        return trainer.ops.index_put.take(self, index)

    def put(self, index, source, accumulate=False):
        return trainer.ops.index_put.put(self, index, source, accumulate)

    def put_(self, index, source, accumulate=False):
        self._check_inplace()
        return self._assign(trainer.ops.index_put.put(self, index, source, accumulate))

    def index_copy(self, dim, index, source):
        return trainer.ops.index_put.index_copy(self, dim, index, source)

    def index_copy_(self, dim, index, source):
        self._check_inplace()
        return self._assign(trainer.ops.index_put.index_copy(self, dim, index, source))

    def index_put(self, indices, values, accumulate=False):
        return trainer.ops.index_put.index_put(self, indices, values, accumulate)

    def index_put_(self, indices, values, accumulate=False):
        self._check_inplace()
        return self._assign(trainer.ops.index_put.index_put(self, indices, values, accumulate))

    def masked_scatter(self, mask, source):
        return trainer.ops.index_put.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source):
        self._check_inplace()
        return self._assign(trainer.ops.index_put.masked_scatter(self, mask, source))

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return trainer.ops.scatter_reduce.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        self._check_inplace()
        return self._assign(trainer.ops.scatter_reduce.scatter_reduce(self, dim, index, src, reduce,
                                                                      include_self=include_self))

    def index_reduce(self, dim, index, source, reduce, *, include_self=True):
        return trainer.ops.scatter_reduce.index_reduce(self, dim, index, source, reduce, include_self=include_self)

    def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
        self._check_inplace()
        return self._assign(trainer.ops.scatter_reduce.index_reduce(self, dim, index, source, reduce,
                                                                    include_self=include_self))

    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        return trainer.ops.region_scatter.slice_scatter(self, src, dim, start, end, step)

    def select_scatter(self, src, dim, index):
        return trainer.ops.region_scatter.select_scatter(self, src, dim, index)

    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        return trainer.ops.region_scatter.diagonal_scatter(self, src, offset, dim1, dim2)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return trainer.ops.region_scatter.diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset=0):
        return trainer.ops.structured.diagflat(self, offset)

    def fill_diagonal_(self, fill_value, wrap=False):
        self._check_inplace()
        return self._assign(trainer.ops.region_scatter.fill_diagonal(self, fill_value, wrap))

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return trainer.ops.sets.unique_consecutive(self, return_inverse, return_counts, dim)

    def histogram(self, bins, *, range=None, weight=None, density=False):  # noqa: A002 - PyTorch's name
        return trainer.ops.histogram.histogram(self, bins, range=range, weight=weight, density=density)

    # more products
    def mv(self, vec):
        return trainer.ops.products.mv(self, vec)

    def inner(self, other):
        return trainer.ops.products.inner(self, other)

    def vdot(self, other):
        return trainer.ops.products.vdot(self, other)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return trainer.ops.products.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addmv_(self, mat, vec, *, beta=1, alpha=1):
        self._check_inplace()
        return self._assign(trainer.ops.products.addmv(self._own_version_alias(), mat, vec, beta=beta, alpha=alpha))

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return trainer.ops.products.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def addr_(self, vec1, vec2, *, beta=1, alpha=1):
        self._check_inplace()
        return self._assign(trainer.ops.products.addr(self._own_version_alias(), vec1, vec2, beta=beta, alpha=alpha))

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return trainer.ops.products.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        self._check_inplace()
        return self._assign(trainer.ops.products.addbmm(self._own_version_alias(), batch1, batch2, beta=beta,
                                                                alpha=alpha))

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        self._check_inplace()
        return self._assign(trainer.ops.linalg.addmm(self._own_version_alias(), mat1, mat2, beta=beta, alpha=alpha))

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        self._check_inplace()
        return self._assign(trainer.ops.linalg.baddbmm(self._own_version_alias(), batch1, batch2, beta=beta,
                                                                alpha=alpha))

    def dist(self, other, p=2):
        return trainer.ops.products.dist(self, other, p)

    def renorm(self, p, dim, maxnorm):
        return trainer.ops.products.renorm(self, p, dim, maxnorm)

    def renorm_(self, p, dim, maxnorm):
        self._check_inplace()
        return self._assign(trainer.ops.products.renorm(self._own_version_alias(), p, dim, maxnorm))

    # storage facts
    def ndimension(self) -> int:
        return self._data.ndim

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def is_cpu(self) -> bool:
        return xp_of(self._data) is np

    def get_device(self) -> int:
        """The CUDA device's index, or -1 on the CPU."""
        return -1 if xp_of(self._data) is np else self._data.device.id

    def is_inference(self) -> bool:
        """Always False: ``inference_mode`` records nothing but does not mark the tensors made inside it."""
        return False

    # dtype conversions and storage
    def byte(self):
        return self.to(trainer.uint8)

    def char(self):
        return self.to(trainer.int8)

    def stride(self, dim=None):
        """Steps between elements, in elements rather than NumPy's bytes."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        if dim is None:
            return strides
        return strides[trainer.ops._operands.normalize_dim(dim, self.ndim)]

    untyped_storage, storage, _typed_storage = (tensor_storage.untyped_storage, tensor_storage.storage,
                                                tensor_storage._typed_storage)
    set_, is_set_to = tensor_storage.set_, tensor_storage.is_set_to

    def data_ptr(self) -> int:
        """The address of the first element."""
        if xp_of(self._data) is np:
            return self._data.ctypes.data
        return self._data.data.ptr

    const_data_ptr = data_ptr  # PyTorch's read-only form; trainer has no copy-on-write storages to materialise
    as_strided_, slice_inverse = tensor_geometry_methods.as_strided_, tensor_geometry_methods.slice_inverse
    as_strided_scatter = tensor_geometry_methods.as_strided_scatter
    resize, resize_as = tensor_geometry_methods.resize, tensor_geometry_methods.resize_as
    conj_physical_, chalf = tensor_complex_extras.conj_physical_, tensor_complex_extras.chalf
    module_load = tensor_state_loading.module_load

    def __dlpack__(self, **protocol):  # stream, max_version, dl_device, copy
        return trainer.dlpack.tensor_dlpack(self, **protocol)

    def __dlpack_device__(self):
        return trainer.dlpack.tensor_dlpack_device(self)

    # in-place random fills, drawn from the tensor's device generator (or ``generator``)
    def uniform_(self, a=0, b=1, *, generator=None):
        _require_floating(self, "check_uniform_bounds")
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
        return _random_fill(self, generator, lambda rng, shape, kind: rng.random(shape, dtype=kind) * (b - a) + a)

    def normal_(self, mean=0, std=1, *, generator=None):
        _require_floating(self, "normal_kernel_cpu")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        return _random_fill(self, generator, lambda rng, shape, kind: rng.standard_normal(shape, dtype=kind) * std
                            + mean)

    def log_normal_(self, mean=1, std=2, *, generator=None):
        _require_floating(self, "log_normal_cpu")
        if std <= 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
        xp = xp_of(self._data)
        return _random_fill(self, generator, lambda rng, shape, kind: xp.exp(rng.standard_normal(shape, dtype=kind)
                                                                             * std + mean))

    def exponential_(self, lambd=1, *, generator=None):
        if not self.dtype.is_floating_point:
            raise RuntimeError("Exponential distribution is a continuous probability distribution. dtype must be a "
                               f"floating point but you specified {self.dtype.name}")
        if lambd <= 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        return _random_fill(self, generator, lambda rng, shape, kind: rng.standard_exponential(shape, dtype=kind)
                            / lambd)

    def cauchy_(self, median=0, sigma=1, *, generator=None):
        if not self.dtype.is_floating_point:
            raise RuntimeError("Cauchy distribution is a continuous probability distribution. dtype must be a "
                               f"floating point but you specified {self.dtype.name}")
        if not sigma > 0:
            raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
        xp = xp_of(self._data)
        # the inverse CDF at a uniform draw
        return _random_fill(self, generator, lambda rng, shape, kind: median + sigma * xp.tan(
            np.pi * (rng.random(shape, dtype=kind) - 0.5)))

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return trainer.ops.sampling.multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, p=None, *, generator=None):
        return trainer.ops.sampling.bernoulli(self, p, generator=generator)

    def geometric_(self, p, *, generator=None):
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
        return _random_fill(self, generator, lambda rng, shape, kind: rng.geometric(p, shape))

    def bernoulli_(self, p=0.5, *, generator=None):
        """Ones with probability ``p`` (a number, or a tensor broadcast to this one's shape), zeros elsewhere."""
        if isinstance(p, trainer.Tensor):
            p = to_device(p._data, self.device)
        elif not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        return _random_fill(self, generator, lambda rng, shape, kind: rng.random(shape) < p)

    def random_(self, from_or_to=None, to=None, *, generator=None):
        """Integers from [from, to); ``random_(to)`` draws from [0, to) and ``random_()`` from [0, the largest
        integer the dtype holds exactly]."""
        if from_or_to is None:
            low, high = 0, _largest_exact_integer(self.dtype) + 1
        elif to is None:
            low, high = 0, from_or_to
        else:
            low, high = from_or_to, to
        if low >= high:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        # endpoint=True keeps high - 1 inside int64 when the range is the whole of int64
        return _random_fill(self, generator, lambda rng, shape, kind: rng.integers(low, high - 1, shape,
                                                                                  dtype=np.int64, endpoint=True))


def _require_floating(t, kernel: str) -> None:
    if not t.dtype.is_floating_point:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{t.dtype.name}\'')


def _largest_exact_integer(dt) -> int:
    """The top of ``random_()``'s default range: 2**mantissa bits for floats, the maximum for integers."""
    if dt.is_floating_point:
        return 2 ** (array_finfo(dt.np).nmant + 1)
    if dt.np == np.bool_:
        return 1
    return int(np.iinfo(dt.np).max)


def _random_fill(t, generator, draw):
    """Overwrite ``t`` with ``draw(rng, shape, float_kind)`` through ``copy_``, which casts to ``t``'s dtype, bumps
    its version and refuses leaves that require grad. Floats are drawn in float64 only for float64 tensors."""
    if t.is_meta:  # no values to draw, as in PyTorch
        return t
    kind = np.float64 if t._data.dtype == np.float64 else np.float32
    with cuda_context(t.device):
        array = draw(trainer.creation._generator(generator, t.device).rng, t._data.shape, kind)
    return t.copy_(trainer.Tensor._wrap(xp_of(t._data).asarray(array)))
