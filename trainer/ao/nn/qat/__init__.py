"""``torch.ao.nn.qat``: float layers whose weights are fake-quantized during training (quantization-aware
training); ``prepare_qat`` swaps them in."""

from trainer.ao.nn.qat.conv import Conv1d, Conv2d, Conv3d
from trainer.ao.nn.qat.linear import Linear

__all__ = ["Conv1d", "Conv2d", "Conv3d", "Linear"]
