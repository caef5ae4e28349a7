"""``trainer.utils.tensorboard``: TensorBoard event files, as ``torch.utils.tensorboard`` writes them.

The writer is tensorboardX's (the ``train`` extra installs it), loaded when a ``SummaryWriter`` is made, so that
importing this package never needs it.
"""

from trainer.utils.tensorboard.writer import SummaryWriter

__all__ = ["SummaryWriter"]
