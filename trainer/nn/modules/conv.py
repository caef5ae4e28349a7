"""``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``: PyTorch's arguments, weight shapes, initialisation and repr."""

from __future__ import annotations

import math

from trainer import creation
from trainer.nn import init
from trainer.nn.modules.deferred_exports import deferred_exports
from trainer.nn.modules.module import Module
from trainer.nn.parameter import Parameter
from trainer.ops import conv as _conv
from trainer.ops._operands import int_tuple

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution layer shares: argument checks, parameters, ``reset_parameters``, repr."""

    _n: int
    _function: staticmethod  # the functional form for this layer's rank
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, groups: int,
                 bias: bool, padding_mode: str, output_padding=0, device=None, dtype=None):
        super().__init__()
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{type(self).__name__}: padding_mode='{padding_mode}' is not supported; "
                                      "only 'zeros' is. Pad the input explicitly before the layer instead.")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = int_tuple(kernel_size, n, "kernel_size")
        self.stride = int_tuple(stride, n, "stride")
        self.dilation = int_tuple(dilation, n, "dilation")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {['valid', 'same']}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = int_tuple(padding, n, "padding")
        self.output_padding = int_tuple(output_padding, n, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(creation.empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _named_errors(self, run):
        """Run the functional form, naming this layer in a shape error."""
        try:
            return run()
        except RuntimeError as exc:
            raise RuntimeError(f"{self!r}: {exc}") from None

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        n = self._n
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        return self._named_errors(lambda: self._function(input, self.weight, self.bias, self.stride, self.padding,
                                                         self.dilation, self.groups))


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)``; weight ``(C_out, C_in/groups, k)``."""

    _n, _function = 1, staticmethod(_conv.conv1d)


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)``; weight ``(C_out, C_in/groups, kh, kw)``."""

    _n, _function = 2, staticmethod(_conv.conv2d)


class Conv3d(_Conv):
    """3-D convolution over ``(N, C_in, D, H, W)``; weight ``(C_out, C_in/groups, kd, kh, kw)``."""

    _n, _function = 3, staticmethod(_conv.conv3d)


class _ConvTransposeNd(_ConvNd):
    """Transposed convolution; weight ``(C_in, C_out/groups, *kernel)``.

    ``forward(input, output_size)`` picks the output padding that gives ``output_size``, as PyTorch does.
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding=output_padding, device=device, dtype=dtype)

    def _output_padding(self, input, output_size) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = list(output_size)
        leading = input.ndim - n
        if len(output_size) == leading + n:
            output_size = output_size[leading:]
        if len(output_size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or "
                             f"{leading + n} elements (got {len(output_size)})")
        spatial = input.shape[leading:]
        min_sizes = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d] + self.dilation[d]
                     * (self.kernel_size[d] - 1) + 1 for d in range(n)]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if not lo <= size <= hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from {min_sizes} "
                                 f"to {max_sizes} (for an input of {list(spatial)})")
        return tuple(size - lo for size, lo in zip(output_size, min_sizes))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return self._named_errors(lambda: self._function(input, self.weight, self.bias, self.stride, self.padding,
                                                         output_padding, self.groups, self.dilation))


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over ``(N, C_in, L)``."""

    _n, _function = 1, staticmethod(_conv.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution over ``(N, C_in, H, W)``."""

    _n, _function = 2, staticmethod(_conv.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution over ``(N, C_in, D, H, W)``."""

    _n, _function = 3, staticmethod(_conv.conv_transpose3d)


__getattr__ = deferred_exports(__name__, dict.fromkeys(
    ["LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
     "_LazyConvXdMixin"], "trainer.nn.modules.lazy"))
