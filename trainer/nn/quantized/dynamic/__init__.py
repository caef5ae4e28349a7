"""``trainer.nn.quantized.dynamic``: the older name PyTorch keeps for ``torch.ao.nn.quantized.dynamic``."""

from trainer.ao.nn.quantized.dynamic import *  # noqa: F403 - the alias re-exports that namespace as it is
from trainer.ao.nn.quantized.dynamic import __all__  # noqa: F401
