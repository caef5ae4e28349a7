"""``convert_conv2d_weight_memory_format`` and ``convert_conv3d_weight_memory_format``: lay out the weights of a
model's convolutions (plain and transposed) as a memory format says, the rest of the model untouched."""

from __future__ import annotations

from trainer.memory_formats import check_memory_format
from trainer.nn.modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d


def _convert(module, memory_format, conv_types, where: str):
    check_memory_format(memory_format, where)
    if isinstance(module, conv_types):
        # .data keeps the Parameter (and an optimizer's reference to it); only its array changes
        module.weight.data = module.weight.detach().clone(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, conv_types, where)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """``module`` with the weight of every ``Conv2d`` and ``ConvTranspose2d`` in it (itself included) laid out as
    ``memory_format`` says; values do not change."""
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d), "convert_conv2d_weight_memory_format")


def convert_conv3d_weight_memory_format(module, memory_format):
    """``module`` with the weight of every ``Conv3d`` and ``ConvTranspose3d`` in it (itself included) laid out as
    ``memory_format`` says; values do not change."""
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d), "convert_conv3d_weight_memory_format")
