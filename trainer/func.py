"""``torch.func``: the functional API over modules; here ``functional_call``."""

from trainer.nn.utils.stateless import functional_call

__all__ = ["functional_call"]
