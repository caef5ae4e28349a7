"""``SyncBatchNorm``: batch norm whose statistics PyTorch averages over the processes of a process group.

trainer runs in one process and has no ``torch.distributed`` process group, which is PyTorch's case of a group
that is not initialised: there SyncBatchNorm falls back to plain batch norm over the local batch, and so it does
here, over inputs of any rank from 2D up. ``convert_sync_batchnorm`` turns the batch norms of a model into
SyncBatchNorm layers that share their parameters and buffers, as scripts do before wrapping a model for
distributed training.
"""

from __future__ import annotations

from trainer.autograd import no_grad
from trainer.nn.modules.batchnorm import _BatchNorm


class SyncBatchNorm(_BatchNorm):
    """Batch norm over ``(N, C, *)`` inputs; ``process_group`` is kept as the attribute PyTorch has."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input) -> None:
        # PyTorch checks only the rank and that there are channels; a channel count that differs from
        # num_features is reported by batch_norm itself
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every ``BatchNorm*d`` inside it replaced, recursively, by a SyncBatchNorm holding the same
        parameter and buffer tensors and the same ``training`` flag; a new layer when ``module`` itself is one."""
        converted = module
        if isinstance(module, _BatchNorm):
            converted = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                      module.track_running_stats, process_group, bias=module.bias is not None)
            if module.affine:
                with no_grad():
                    converted.weight = module.weight
                    converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
            if hasattr(module, "qconfig"):
                converted.qconfig = module.qconfig
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
