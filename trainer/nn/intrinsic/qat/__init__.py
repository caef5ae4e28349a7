"""``trainer.nn.intrinsic.qat``: the older name PyTorch keeps for ``torch.ao.nn.intrinsic.qat``."""

from trainer.ao.nn.intrinsic.qat import *  # noqa: F403 - the alias re-exports that namespace as it is
from trainer.ao.nn.intrinsic.qat import __all__  # noqa: F401
