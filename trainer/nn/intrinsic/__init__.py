"""``trainer.nn.intrinsic``: the older name PyTorch keeps for ``torch.ao.nn.intrinsic``."""

from trainer.ao.nn.intrinsic import *  # noqa: F403 - the alias re-exports that namespace as it is
from trainer.ao.nn.intrinsic import __all__  # noqa: F401
from trainer.ao.nn.intrinsic import _FusedModule as _FusedModule
from trainer.nn.intrinsic import qat  # noqa: E402, F401
