"""PyTorch's import path ``torch.distributions.studentT`` for ``StudentT``, which trainer keeps in
``trainer.distributions.student_t``."""
# ruff: noqa: N999 - PyTorch's module name

from trainer.distributions.student_t import StudentT

__all__ = ["StudentT"]
