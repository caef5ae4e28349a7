"""``trainer.nn.quantized``: the older name PyTorch keeps for ``torch.ao.nn.quantized``."""

from trainer.ao.nn.quantized import *  # noqa: F403 - the alias re-exports that namespace as it is
from trainer.ao.nn.quantized import __all__  # noqa: F401
from trainer.nn.quantized import dynamic  # noqa: E402 - trainer.nn.quantized.dynamic, as torch.nn's
