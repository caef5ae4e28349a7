"""``trainer.nn.qat``: the older name PyTorch keeps for ``torch.ao.nn.qat``."""

from trainer.ao.nn.qat import *  # noqa: F403 - the alias re-exports that namespace as it is
from trainer.ao.nn.qat import __all__  # noqa: F401
