"""``torch.nn.grad``: the gradients of ``conv1d/2d/3d`` with respect to their input and to their weight, given the
gradient of their output, without a forward pass to keep.

Each is computed as autograd's backward of the convolution (the gradient is linear in ``grad_output`` and does not
depend on the value it is taken at), so it equals what ``backward`` gives, and stays differentiable with respect
to ``weight``/``input`` and ``grad_output`` when they require grad.
"""

from __future__ import annotations

from trainer import creation
from trainer.autograd import enable_grad, grad, is_grad_enabled
from trainer.nn.modules.utils import _pair, _single, _triple
from trainer.ops import conv as _conv

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input", "conv3d_weight"]


def _convolution_grad(conv, as_tuple, wrt_input: bool, input, weight, grad_output, stride, padding, dilation,
                      groups):
    """The gradient of ``conv(input, weight)`` with respect to ``input`` (``wrt_input``) or ``weight``, whichever
    is given as a shape, for the output gradient ``grad_output``."""
    differentiable = is_grad_enabled() and any(
        t.requires_grad for t in (grad_output, weight if wrt_input else input))
    with enable_grad():
        size = input if wrt_input else weight
        target = creation.zeros(tuple(size), dtype=grad_output.dtype, device=grad_output.device, requires_grad=True)
        if wrt_input:
            input = target
        else:
            weight = target
        output = conv(input, weight, None, as_tuple(stride), as_tuple(padding), as_tuple(dilation), groups)
        if tuple(output.shape) != tuple(grad_output.shape):
            raise RuntimeError(f"grad_output has shape {list(grad_output.shape)}, but a convolution with these "
                               f"arguments gives an output of shape {list(output.shape)}")
        (result,) = grad(output, target, grad_output, create_graph=differentiable)
    return result if differentiable else result.detach()


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv1d`` with respect to an input of shape ``input_size``."""
    return _convolution_grad(_conv.conv1d, _single, True, input_size, weight, grad_output, stride, padding,
                             dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv1d`` with respect to a weight of shape ``weight_size``."""
    return _convolution_grad(_conv.conv1d, _single, False, input, weight_size, grad_output, stride, padding,
                             dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` with respect to an input of shape ``input_size``."""
    return _convolution_grad(_conv.conv2d, _pair, True, input_size, weight, grad_output, stride, padding,
                             dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` with respect to a weight of shape ``weight_size``."""
    return _convolution_grad(_conv.conv2d, _pair, False, input, weight_size, grad_output, stride, padding,
                             dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv3d`` with respect to an input of shape ``input_size``."""
    return _convolution_grad(_conv.conv3d, _triple, True, input_size, weight, grad_output, stride, padding,
                             dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv3d`` with respect to a weight of shape ``weight_size``."""
    return _convolution_grad(_conv.conv3d, _triple, False, input, weight_size, grad_output, stride, padding,
                             dilation, groups)
