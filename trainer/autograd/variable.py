"""``torch.autograd.variable``: the module that held the pre-0.4 ``Variable`` wrapper (``from
torch.autograd.variable import Variable`` still works), and the ``variable(...)`` function that now only says to
use ``tensor(...)``."""

from __future__ import annotations

from trainer.autograd import Variable

__all__ = ["Variable"]


def variable(*args, **kwargs):
    raise RuntimeError("torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead")
