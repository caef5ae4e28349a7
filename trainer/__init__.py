"""trainer: tensors, autograd, ``nn``, ``optim`` and ``data`` with PyTorch's API, on NumPy or CuPy.

Programs written for PyTorch run after changing ``import torch`` to ``import trainer as torch``.
"""

from trainer import (  # noqa: E402  # noqa: E402
    autograd,
    cuda,
    data,  # noqa: E402
    dtypes,
    nn,
    ops,  # noqa: E402,I001 - needs Tensor defined first
    optim,
    utils,
)
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
from trainer.ops.activation import log_softmax, softmax  # noqa: E402
from trainer.ops.arithmetic import add, div, mul, neg, pow, remainder, square, sub, true_divide  # noqa: E402
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
from trainer.ops.indexing import gather, index_select, masked_fill  # noqa: E402
from trainer.ops.join import cat, chunk, concat, concatenate, split, stack  # noqa: E402
from trainer.ops.linalg import bmm, matmul, mm  # noqa: E402
from trainer.ops.reduce import all, amax, amin, any, argmax, argmin, max, mean, min, prod, std, sum, var  # noqa: E402
from trainer.ops.shape import (  # noqa: E402
    expand_as,
    flatten,
    permute,
    reshape,
    squeeze,
    t,
    transpose,
    unsqueeze,
)
from trainer.ops.unary import abs, clamp, clip, cos, exp, log, relu, rsqrt, sigmoid, sin, sqrt, tanh  # noqa: E402
from trainer.random import Generator, initial_seed, manual_seed, seed
from trainer.serialization import load, save  # noqa: E402
from trainer.tensor import Size, Tensor


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


__version__ = "0.1.0"
