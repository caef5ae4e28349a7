"""Weight initialisation, as ``torch.nn.init``: every function fills a tensor in place, without grad."""

from __future__ import annotations

import math
import warnings

from trainer.backend import xp_of
from trainer.random import device_generator


def calculate_gain(nonlinearity: str, param=None) -> float:
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
              "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write ``values`` into the tensor's storage and record the change."""
    tensor._data[...] = values
    tensor._version_counter.value += 1
    return tensor


def _rng(tensor, generator):
    return (generator or device_generator(tensor.device)).rng


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    return _fill(tensor, _rng(tensor, generator).uniform(a, b, tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    return _fill(tensor, _rng(tensor, generator).normal(mean, std, tensor.shape))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None):
    """Normal samples redrawn until they fall in [a, b]."""
    if tensor.is_meta:  # no values to fill, as in PyTorch
        return tensor
    rng = _rng(tensor, generator)
    xp = xp_of(tensor._data)
    values = rng.normal(mean, std, tensor.shape)
    outside = (values < a) | (values > b)
    while bool(outside.any()):
        values = xp.where(outside, rng.normal(mean, std, tensor.shape), values)
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor, val: float):
    return _fill(tensor, val)


def ones_(tensor):
    return _fill(tensor, 1)


def zeros_(tensor):
    return _fill(tensor, 0)


def eye_(tensor):
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, xp_of(tensor._data).eye(*tensor.shape))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _zero_element_no_op(tensor):
    """A layer with a zero-sized dimension (``Linear(8, 0)``) has no weights to draw, and no fan to scale them by."""
    warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
    return tensor


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    if 0 in tensor.shape:
        return _zero_element_no_op(tensor)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    if 0 in tensor.shape:
        return _zero_element_no_op(tensor)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)), generator)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.is_meta:  # no values to fill, as in PyTorch
        return tensor
    xp = xp_of(tensor._data)
    rows, cols = tensor.shape[0], tensor.numel() // tensor.shape[0]
    flat = _rng(tensor, generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q *= xp.sign(xp.diagonal(r))  # make the decomposition unique, as PyTorch does
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def dirac_(tensor, groups: int = 1):
    """The identity of a 3-, 4- or 5-D convolution weight: each group's output channel ``d`` passes input channel
    ``d`` through at the kernel's centre, so the layer keeps as many input channels as it can."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"Only tensors with 3, 4, or 5 dimensions are supported, got {tensor.ndim} dimensions")
    if tensor.is_meta:  # no values to fill, as in PyTorch
        return tensor
    out_channels, in_channels = tensor.shape[:2]
    if out_channels % groups != 0:
        raise ValueError(f"dim 0 must be divisible by groups, got size {out_channels} and groups={groups}")
    per_group = out_channels // groups
    xp = xp_of(tensor._data)
    values = xp.zeros(tensor.shape, dtype=tensor._data.dtype)
    channel = xp.arange(min(per_group, in_channels))
    outputs = (xp.arange(groups)[:, None] * per_group + channel).reshape(-1)
    inputs = xp.tile(channel, groups)
    values[(outputs, inputs) + tuple(size // 2 for size in tensor.shape[2:])] = 1
    return _fill(tensor, values)


def sparse_(tensor, sparsity: float, std: float = 0.01, generator=None):
    """Normal(0, ``std``) values with ``ceil(sparsity * rows)`` of each column's entries, chosen at random, zeroed."""
    if tensor.ndim != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got {tensor.ndim} dimensions")
    if tensor.is_meta:  # no values to fill, as in PyTorch
        return tensor
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    rng = _rng(tensor, generator)
    xp = xp_of(tensor._data)
    values = rng.normal(0.0, std, tensor.shape)
    # an independent random order of the rows for every column: the first ``num_zeros`` rows of each are zeroed
    zero_rows = rng.uniform(0.0, 1.0, tensor.shape).argsort(axis=0)[:num_zeros]
    values[zero_rows, xp.arange(cols)] = 0
    return _fill(tensor, values)


def _deprecated(initializer):
    """PyTorch's pre-0.4 name for ``initializer`` (``xavier_uniform`` for ``xavier_uniform_``): warns, then calls
    it."""
    new_name = initializer.__name__
    old_name = new_name[:-1]

    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.", FutureWarning,
                      stacklevel=2)
        return initializer(*args, **kwargs)

    deprecated.__name__ = deprecated.__qualname__ = old_name
    deprecated.__doc__ = f"Deprecated: ``{new_name}``."
    return deprecated


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
