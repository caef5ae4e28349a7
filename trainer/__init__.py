"""trainer: tensors, autograd, ``nn``, ``optim`` and ``data`` with PyTorch's API, on NumPy or CuPy.

Programs written for PyTorch run after changing ``import torch`` to ``import trainer as torch``.
"""

from trainer import autograd, cuda, data, dtypes, linalg, nn, ops, optim, special, utils
from trainer.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from trainer.backend import device
from trainer.creation import (  # noqa: E402
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from trainer.dtypes import (
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    set_default_dtype,
    short,
    uint8,
)
from trainer.linalg import cdist, det, kron, logdet, matrix_power, pinverse, slogdet, tensordot, trace  # noqa: E402
from trainer.linalg import inv as inverse  # noqa: E402
from trainer.linalg import legacy_svd as svd  # noqa: E402
from trainer.ops.activation import log_softmax, softmax  # noqa: E402
from trainer.ops.arithmetic import (  # noqa: E402
    add,
    arctan2,
    atan2,
    div,
    fmod,
    hypot,
    lerp,
    mul,
    neg,
    pow,
    remainder,
    square,
    sub,
    true_divide,
)
from trainer.ops.compare import (  # noqa: E402
    allclose,
    eq,
    equal,
    ge,
    gt,
    isclose,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    ne,
    where,
)
from trainer.ops.counting import bincount, bucketize, histc, searchsorted, unique  # noqa: E402
from trainer.ops.elementwise import (  # noqa: E402
    copysign,
    deg2rad,
    float_power,
    floor_divide,
    heaviside,
    logaddexp,
    logaddexp2,
    logit,
    rad2deg,
    signbit,
    sinc,
    xlogy,
)
from trainer.ops.indexing import (  # noqa: E402
    argwhere,
    gather,
    index_add,
    index_fill,
    index_select,
    masked_fill,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    take_along_dim,
)
from trainer.ops.integration import cumulative_trapezoid, trapezoid, trapz  # noqa: E402
from trainer.ops.join import (  # noqa: E402
    cat,
    chunk,
    column_stack,
    concat,
    concatenate,
    hstack,
    row_stack,
    split,
    stack,
    vstack,
)
from trainer.ops.linalg import addmm, baddbmm, bmm, cross, dot, einsum, ger, matmul, mm, outer  # noqa: E402
from trainer.ops.order_statistics import mode, nanmedian  # noqa: E402
from trainer.ops.reduce import (  # noqa: E402
    all,
    amax,
    amin,
    aminmax,
    any,
    argmax,
    argmin,
    count_nonzero,
    cumprod,
    cumsum,
    diff,
    logsumexp,
    max,
    mean,
    median,
    min,
    nanmean,
    nansum,
    norm,
    prod,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from trainer.ops.scans import cummax, cummin, logcumsumexp  # noqa: E402
from trainer.ops.shape import (  # noqa: E402
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_tensors,
    broadcast_to,
    diag,
    diagonal,
    expand_as,
    flatten,
    flip,
    fliplr,
    flipud,
    meshgrid,
    moveaxis,
    movedim,
    narrow,
    permute,
    repeat_interleave,
    reshape,
    roll,
    rot90,
    select,
    squeeze,
    t,
    tensor_split,
    transpose,
    tril,
    triu,
    unbind,
    unsqueeze,
)
from trainer.ops.sort import argsort, kthvalue, msort, sort, topk  # noqa: E402
from trainer.ops.special import digamma, erfinv, frexp, i0, ldexp, lgamma, mvlgamma, nextafter, polygamma  # noqa: E402
from trainer.ops.statistics import corrcoef, cov, nanquantile, quantile  # noqa: E402
from trainer.ops.transcendental import (  # noqa: E402
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctanh,
    asin,
    asinh,
    atan,
    atanh,
    cosh,
    erfc,
    exp2,
    expm1,
    log1p,
    log2,
    log10,
    reciprocal,
    sinh,
    tan,
)
from trainer.ops.unary import (  # noqa: E402
    abs,
    ceil,
    clamp,
    clip,
    cos,
    erf,
    exp,
    fix,
    floor,
    frac,
    isfinite,
    isinf,
    isnan,
    log,
    nan_to_num,
    relu,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    tanh,
    trunc,
)
from trainer.random import Generator, initial_seed, manual_seed, seed
from trainer.serialization import load, save  # noqa: E402
from trainer.tensor import Size, Tensor


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


__version__ = "0.1.0"
