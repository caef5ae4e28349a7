"""trainer: tensors, autograd, ``nn``, ``optim`` and ``data`` with PyTorch's API, on NumPy or CuPy.

Programs written for PyTorch run after changing ``import torch`` to ``import trainer as torch``.
"""

import trainer.backends as backends
import trainer.testing as testing
from trainer import (
    accelerator,
    amp,
    autograd,
    cpu,
    cuda,
    data,
    distributed,
    distributions,
    dtype_views,
    dtypes,
    fft,
    float_errors,  # NumPy's float warnings silenced where trainer raises them, as PyTorch is silent
    foreach,
    func,
    fx,
    hub,
    jit,
    linalg,
    multiprocessing,
    nested,
    nn,
    ops,
    optim,
    profiler,
    signal,
    sparse,
    special,
    utils,
)
from trainer._tensor_str import set_printoptions
from trainer.amp.autocast_mode import (  # noqa: E402
    autocast,
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from trainer.assertions import _assert
from trainer.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from trainer.autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled
from trainer.autograd.inference_mode import inference_mode, is_inference_mode_enabled
from trainer.backend import device
from trainer.compilation import compile  # noqa: E402
from trainer.compressed_sparse_tensor import (  # noqa: E402
    sparse_bsc_tensor,
    sparse_bsr_tensor,
    sparse_compressed_tensor,
    sparse_csc_tensor,
    sparse_csr_tensor,
)
from trainer.constants import e, inf, nan, newaxis, pi  # noqa: E402
from trainer.control_flow import cond, while_loop  # noqa: E402
from trainer.conversion import asarray, scalar_tensor  # noqa: E402
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
from trainer.default_device import get_default_device, set_default_device  # noqa: E402
from trainer.dlpack import from_dlpack  # noqa: E402
from trainer.dtypes import (
    bfloat16,
    bool,
    cdouble,
    cfloat,
    complex64,
    complex128,
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
from trainer.fixed_size_nonzero import nonzero_static
from trainer.from_file import from_file  # noqa: E402
from trainer.frombuffer import frombuffer  # noqa: E402
from trainer.func import vmap  # noqa: E402
from trainer.global_settings import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    get_deterministic_debug_mode,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    is_warn_always_enabled,
    set_deterministic_debug_mode,
    set_float32_matmul_precision,
    set_warn_always,
    use_deterministic_algorithms,
)
from trainer.layouts import jagged, layout, sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr, strided  # noqa: E402
from trainer.legacy_linalg import cholesky, eig, frobenius_norm, lstsq, lu, matrix_rank, nuclear_norm, qr, solve, symeig
from trainer.legacy_range import range  # noqa: E402
from trainer.legacy_storage_types import (  # noqa: E402
    BFloat16Storage,
    BoolStorage,
    ByteStorage,
    CharStorage,
    ComplexDoubleStorage,
    ComplexFloatStorage,
    DoubleStorage,
    FloatStorage,
    HalfStorage,
    IntStorage,
    LongStorage,
    ShortStorage,
)
from trainer.legacy_tensor_types import (  # noqa: E402
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    is_storage,
    set_default_tensor_type,
)
from trainer.linalg import cdist, det, kron, logdet, matrix_power, pinverse, slogdet, tensordot, trace  # noqa: E402
from trainer.linalg import inv as inverse  # noqa: E402
from trainer.linalg import legacy_svd as svd  # noqa: E402
from trainer.low_level_functions import (
    convolution,
    grid_sampler_2d,
    grid_sampler_3d,
    gru_cell,
    lstm_cell,
    native_batch_norm,
    native_dropout,
    native_group_norm,
    native_layer_norm,
    rnn_relu_cell,
    rnn_tanh_cell,
)
from trainer.lowrank import pca_lowrank, svd_lowrank  # noqa: E402
from trainer.memory_formats import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from trainer.memory_layout import empty_permuted
from trainer.ops.activation import log_softmax, softmax  # noqa: E402
from trainer.ops.aliases import (  # noqa: E402
    absolute,
    divide,
    greater,
    greater_equal,
    less,
    less_equal,
    multiply,
    negative,
    not_equal,
    sgn,
    subtract,
)
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
from trainer.ops.as_strided import as_strided, empty_strided  # noqa: E402
from trainer.ops.bitwise import (  # noqa: E402
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    gcd,
    lcm,
)
from trainer.ops.broadcast_shapes import broadcast_shapes  # noqa: E402
from trainer.ops.channel_shuffle import channel_shuffle  # noqa: E402
from trainer.ops.combinatorics import cartesian_prod, combinations, unravel_index  # noqa: E402
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
from trainer.ops.complex_ops import (  # noqa: E402
    angle,
    complex,
    conj,
    conj_physical,
    imag,
    is_conj,
    is_neg,
    polar,
    real,
    resolve_conj,
    resolve_neg,
    view_as_complex,
    view_as_real,
)
from trainer.ops.conjugate_transpose import adjoint  # noqa: E402
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
from trainer.ops.fake_quantize import fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine
from trainer.ops.fused_moving_avg_obs_fake_quant import fused_moving_avg_obs_fake_quant  # noqa: E402
from trainer.ops.gradient import gradient  # noqa: E402
from trainer.ops.histogram import histogram  # noqa: E402
from trainer.ops.histogramdd import histogramdd  # noqa: E402
from trainer.ops.householder_qr import geqrf, orgqr, ormqr  # noqa: E402
from trainer.ops.igamma import igamma, igammac  # noqa: E402
from trainer.ops.index_put import index_copy, index_put, index_put_, masked_scatter, put, take  # noqa: E402
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
from trainer.ops.inplace import (  # noqa: E402
    abs_,
    acos_,
    acosh_,
    arccos_,
    arccosh_,
    arcsin_,
    arcsinh_,
    arctan_,
    arctanh_,
    asin_,
    asinh_,
    atan_,
    atanh_,
    ceil_,
    clamp_,
    clamp_max_,
    clamp_min_,
    clip_,
    cos_,
    cosh_,
    deg2rad_,
    erf_,
    erfc_,
    exp2_,
    exp_,
    expm1_,
    fix_,
    floor_,
    frac_,
    gcd_,
    i0_,
    lcm_,
    ldexp_,
    log1p_,
    log2_,
    log10_,
    log_,
    logit_,
    nan_to_num_,
    neg_,
    negative_,
    rad2deg_,
    reciprocal_,
    relu_,
    round_,
    rsqrt_,
    sigmoid_,
    sin_,
    sinc_,
    sinh_,
    sqrt_,
    square_,
    tan_,
    tanh_,
    trunc_,
    xlogy_,
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
from trainer.ops.lu import legacy_lu_solve as lu_solve  # noqa: E402
from trainer.ops.lu import lu_unpack  # noqa: E402
from trainer.ops.matrix_exp import matrix_exp  # noqa: E402
from trainer.ops.order_statistics import mode, nanmedian  # noqa: E402
from trainer.ops.pdist import pdist  # noqa: E402
from trainer.ops.pointwise import (  # noqa: E402
    addcdiv,
    addcmul,
    clamp_max,
    clamp_min,
    fmax,
    fmin,
    positive,
)
from trainer.ops.predicates import (  # noqa: E402
    is_complex,
    is_floating_point,
    is_nonzero,
    is_same_size,
    is_signed,
    isneginf,
    isposinf,
    isreal,
)
from trainer.ops.products import (  # noqa: E402
    addbmm,
    addmv,
    addmv_,
    addr,
    chain_matmul,
    dist,
    inner,
    mv,
    renorm,
    vdot,
)
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
from trainer.ops.region_scatter import diag_embed, diagonal_scatter, select_scatter, slice_scatter  # noqa: E402
from trainer.ops.sampling import bernoulli, binomial, multinomial, normal, poisson, randint_like  # noqa: E402
from trainer.ops.scans import cummax, cummin, logcumsumexp  # noqa: E402
from trainer.ops.scatter_reduce import index_reduce, scatter_reduce  # noqa: E402
from trainer.ops.sets import isin, unique_consecutive  # noqa: E402
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
from trainer.ops.stft import istft, stft  # noqa: E402
from trainer.ops.strided_inverses import as_strided_scatter, slice_inverse  # noqa: E402
from trainer.ops.structured import block_diag, diagflat, vander  # noqa: E402
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
from trainer.ops.triangular import cholesky_inverse, cholesky_solve, triangular_solve  # noqa: E402
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
from trainer.ops.views import (  # noqa: E402
    dsplit,
    dstack,
    hsplit,
    ravel,
    split_with_sizes,
    swapaxes,
    swapdims,
    tile,
    unflatten,
    vsplit,
)
from trainer.out_argument import add_out_arguments  # noqa: E402
from trainer.quantized_tensor import (  # noqa: E402
    _make_per_channel_quantized_tensor,
    _make_per_tensor_quantized_tensor,
    dequantize,
    quantize_per_channel,
    quantize_per_tensor,
)
from trainer.quantized_types import (  # noqa: E402
    per_channel_affine,
    per_channel_affine_float_qparams,
    per_channel_symmetric,
    per_tensor_affine,
    per_tensor_symmetric,
    qint8,
    qint32,
    qscheme,
    quint8,
)
from trainer.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from trainer.sequences import logspace, tril_indices, triu_indices  # noqa: E402
from trainer.serialization import load, save  # noqa: E402
from trainer.sparse import mm as spmm  # noqa: E402
from trainer.sparse_tensor import sparse_coo_tensor  # noqa: E402
from trainer.storage import TypedStorage, UntypedStorage  # noqa: E402
from trainer.tensor import Size, Tensor
from trainer.threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads
from trainer.torch_functional_aliases import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    affine_grid_generator,
    alpha_dropout,
    alpha_dropout_,
    avg_pool1d,
    batch_norm,
    bilinear,
    binary_cross_entropy_with_logits,
    celu,
    celu_,
    constant_pad_nd,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    cosine_embedding_loss,
    cosine_similarity,
    ctc_loss,
    detach_,
    dropout,
    dropout_,
    embedding,
    feature_alpha_dropout,
    feature_alpha_dropout_,
    feature_dropout,
    feature_dropout_,
    fill,
    fill_,
    grid_sampler,
    group_norm,
    hardshrink,
    hinge_embedding_loss,
    instance_norm,
    kl_div,
    layer_norm,
    margin_ranking_loss,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool3d,
    pairwise_distance,
    pixel_shuffle,
    pixel_unshuffle,
    poisson_nll_loss,
    prelu,
    rms_norm,
    rrelu,
    rrelu_,
    rsub,
    selu,
    selu_,
    threshold,
    threshold_,
    triplet_margin_loss,
    zero_,
)
from trainer.type_info import finfo, iinfo  # noqa: E402
from trainer.type_promotion import can_cast, result_type
from trainer.unsafe_splits import unsafe_chunk, unsafe_split, unsafe_split_with_sizes
from trainer.view_copies import (
    alias_copy,
    as_strided_copy,
    detach_copy,
    diagonal_copy,
    expand_copy,
    indices_copy,
    narrow_copy,
    permute_copy,
    select_copy,
    slice_copy,
    split_copy,
    split_with_sizes_copy,
    squeeze_copy,
    t_copy,
    transpose_copy,
    unbind_copy,
    unfold_copy,
    unsqueeze_copy,
    values_copy,
    view_as_complex_copy,
    view_as_real_copy,
    view_copy,
)
from trainer.windows import bartlett_window, blackman_window, hamming_window, hann_window, kaiser_window

add_out_arguments(globals())  # PyTorch's out= keyword on the functions bound above
globals().update(foreach.FUNCTIONS)  # torch._foreach_add, _foreach_mul_, ...

from trainer.kept_elsewhere import __getattr__  # noqa: E402 - torch.onnx / torch.jit: where Sardonyx keeps them


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def clone(input: Tensor, *, memory_format=preserve_format) -> Tensor:  # noqa: F811 - PyTorch's keyword
    return input.clone(memory_format=memory_format)


def detach(input: Tensor) -> Tensor:
    return input.detach()


def get_device(input: Tensor) -> int:
    return input.get_device()


def is_inference(input: Tensor) -> bool:
    return input.is_inference()


# quantization-aware training reads nn and the ops above
from trainer import ao, compiler, export, futures, library, quantization  # noqa: E402

__version__ = "0.1.0"
