"""``trainer.quantization``: the older name PyTorch keeps for ``torch.ao.quantization``."""

from trainer.ao.quantization import *  # noqa: F403 - the alias re-exports that namespace as it is
from trainer.ao.quantization import __all__  # noqa: F401
