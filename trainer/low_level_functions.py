"""Low-level ``torch.*`` entry points that some programs call directly, with PyTorch's positional signatures:
the recurrent cells (``torch.lstm_cell``, ...), ``torch.convolution``, ``torch.grid_sampler_2d/3d`` and the
``native_*`` forms of the normalisations and dropout, which also return the statistics (or mask) they saved.

Each wraps trainer's own implementation of the op, so values and gradients are those of ``nn.functional``.
"""

from __future__ import annotations

from trainer import dtypes
from trainer.amp.recurrent_policy import recurrent_apply
from trainer.autograd import no_grad
from trainer.creation import full_like, zeros
from trainer.nn import functional as F
from trainer.ops import rnn
from trainer.ops.sampling import bernoulli
from trainer.torch_functional_aliases import grid_sampler


# ----------------------------------------------------------------- recurrent cells
def _cell(op, lower_precision, input, states, w_ih, w_hh, b_ih, b_hh):
    """One step of the sequence op ``op``, with PyTorch's checks of the cell's operands; the final states."""
    if input.size(1) != w_ih.size(1):
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {w_ih.size(1)}")
    for i, state in enumerate(states):
        if state.size(0) != input.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{i} batch size {state.size(0)}")
        if state.size(1) != w_hh.size(1):
            raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {state.size(1)}, expected "
                               f"{w_hh.size(1)}")
    weights = [w_ih, w_hh]
    if b_ih is not None or b_hh is not None:  # the ops take both biases or neither; a missing one adds nothing
        gates = w_ih.size(0)
        weights += [b if b is not None else zeros(gates, dtype=w_ih.dtype, device=w_ih.device) for b in (b_ih, b_hh)]
    _, *last = recurrent_apply(op, lower_precision, input.unsqueeze(0), states, weights, reverse=False)
    return last


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``(h', c')`` of one LSTM step from ``hx = (h, c)``."""
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    h, c = _cell(rnn.Lstm, False, input, tuple(hx), w_ih, w_hh, b_ih, b_hh)
    return h, c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    (h,) = _cell(rnn.Gru, False, input, (hx,), w_ih, w_hh, b_ih, b_hh)
    return h


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    (h,) = _cell(rnn.RnnTanh, True, input, (hx,), w_ih, w_hh, b_ih, b_hh)
    return h


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    (h,) = _cell(rnn.RnnRelu, True, input, (hx,), w_ih, w_hh, b_ih, b_hh)
    return h


# ----------------------------------------------------------------- convolution
def _per_dim(values, name: str, dims: int) -> tuple[int, ...]:
    values = [int(v) for v in values]
    if len(values) == 1:
        return tuple(values * dims)
    if len(values) != dims:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {dims} values to match the "
                           f"convolution dimensions, but got {name}={values}")
    return tuple(values)


_CONVOLUTIONS = {1: (F.conv1d, F.conv_transpose1d), 2: (F.conv2d, F.conv_transpose2d),
                 3: (F.conv3d, F.conv_transpose3d)}


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """Any of ``conv{1,2,3}d`` / ``conv_transpose{1,2,3}d``, picked by the weight's rank and ``transposed``."""
    dims = weight.ndim - 2
    if dims not in _CONVOLUTIONS:
        raise RuntimeError(f"Expected 3D, 4D or 5D weight for convolution (1, 2 or 3 spatial dims), but got weight "
                           f"of size {list(weight.shape)}")
    stride, padding, dilation = (_per_dim(v, name, dims) for v, name in
                                 ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    forward, transpose = _CONVOLUTIONS[dims]
    if transposed:
        output_padding = _per_dim(output_padding, "output_padding", dims)
        return transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)
    return forward(input, weight, bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------- grid sampling
def _grid_sampler_nd(rank: int, input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != rank or grid.ndim != rank:
        raise RuntimeError(f"grid_sampler(): expected {rank}D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    """``grid_sample`` of ``(N, C, H, W)`` input with integer modes (0 bilinear, 1 nearest, 2 bicubic; padding 0
    zeros, 1 border, 2 reflection)."""
    return _grid_sampler_nd(4, input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    return _grid_sampler_nd(5, input, grid, interpolation_mode, padding_mode, align_corners)


# ----------------------------------------------------------------- normalisation with saved statistics
def _statistics(x, dims, eps, keepdim):
    """Mean and ``1 / sqrt(biased variance + eps)`` over ``dims``, computed in at least float32 and returned in
    ``x``'s dtype, as PyTorch's kernels save them."""
    wide = x.to(dtypes.promote_types(x.dtype, dtypes.float32))
    mean = wide.mean(dims, keepdim=keepdim)
    rstd = (wide.var(dims, keepdim=keepdim, correction=0) + eps).rsqrt()
    return mean.to(x.dtype), rstd.to(x.dtype)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """``(output, mean, rstd)``; ``mean`` and ``rstd`` keep size-1 normalised dims and carry no gradient."""
    out = F.layer_norm(input, list(normalized_shape), weight, bias, eps)
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    with no_grad():
        mean, rstd = _statistics(input, dims, eps, keepdim=True)
    return out, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """``(output, save_mean, save_invstd)``: the batch statistics per channel when ``training`` (after which
    the running ones are updated in place), empty tensors otherwise."""
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        return out, input.new_empty(0), input.new_empty(0)
    with no_grad():
        mean, invstd = _statistics(input, tuple(d for d in range(input.ndim) if d != 1), eps, keepdim=False)
    return out, mean, invstd


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):  # noqa: N803 - PyTorch's names
    """``(output, mean, rstd)`` of ``input`` read as ``(N, C, HxW)``; ``mean`` and ``rstd`` are ``(N, group)``
    and differentiable, as in PyTorch."""
    if input.numel() != N * C * HxW:
        raise RuntimeError("Expected X.numel() == N * C * HxW to be true, but got false.")
    if group <= 0 or C % group:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={group}")
    out = F.group_norm(input.reshape(N, C, HxW), group, weight, bias, eps).reshape(input.shape)
    mean, rstd = _statistics(input.reshape(N, group, -1), -1, eps, keepdim=False)
    return out, mean, rstd


def native_dropout(input, p, train):
    """``(output, mask)``: ``mask`` (bool) keeps each element with probability ``1 - p`` and ``output`` is
    ``input * mask / (1 - p)`` (zeros when ``p == 1``). ``train=None`` counts as training, as in PyTorch."""
    if train is not None and not train:
        return input.clone(), full_like(input, True, dtype=dtypes.bool)
    keep = 1 - p
    if not 0 <= keep <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={keep}")
    with no_grad():
        mask = bernoulli(full_like(input, keep)).to(dtypes.bool)
    scale = 0.0 if keep == 0 else 1 / keep
    return input * mask * scale, mask

