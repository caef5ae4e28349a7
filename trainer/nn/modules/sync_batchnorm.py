"""``SyncBatchNorm``: batch norm whose statistics are those of the whole batch spread over a process group.

While training with an initialised process group of more than one rank, the per-channel mean and variance are
computed over every rank's batch: the sums of ``x`` and of ``(x - mean)**2`` (two passes, for accuracy) go through
the differentiable ``all_reduce`` of ``trainer.distributed.nn``, so backward exchanges the gradients of the
statistics as PyTorch's does. The running statistics take the global mean and the unbiased global variance.
Otherwise (evaluation, no group, one rank) it is plain batch norm over the local batch, as in PyTorch, over inputs
of any rank from 2D up. ``convert_sync_batchnorm`` turns the batch norms of a model into SyncBatchNorm layers that
share their parameters and buffers, as scripts do before wrapping a model for distributed training.
"""

from __future__ import annotations

from trainer import creation, distributed
from trainer.autograd import no_grad
from trainer.distributed.nn.functional import all_reduce
from trainer.nn.modules.batchnorm import _BatchNorm
from trainer.ops.join import cat


class SyncBatchNorm(_BatchNorm):
    """Batch norm over ``(N, C, *)`` inputs; ``process_group`` is kept as the attribute PyTorch has."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def forward(self, input):
        self._check_input_dim(input)
        group = distributed.group_state.resolve(self.process_group) if distributed.is_initialized() else None
        if not self.training or group is None or group.size() == 1:
            return super().forward(input)
        return self._synchronised_forward(input, group)

    def _synchronised_forward(self, input, group):
        dims = [d for d in range(input.ndim) if d != 1]
        shape = [1, -1] + [1] * (input.ndim - 2)
        local_count = input.numel() // input.shape[1]
        counted = cat([input.sum(dims), creation.full((1,), float(local_count), dtype=input.dtype)])
        totals = all_reduce(counted, group=group)
        count = totals[-1].item()
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{list(input.shape)} summed over the process group")
        mean = totals[:-1] / count
        centred = input - mean.reshape(shape)
        var = all_reduce((centred * centred).sum(dims), group=group) / count
        output = centred * (var.reshape(shape) + self.eps).rsqrt()
        if self.weight is not None:
            output = output * self.weight.reshape(shape)
        if self.bias is not None:
            output = output + self.bias.reshape(shape)
        if self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - factor).add_(mean.detach().to(self.running_mean.dtype) * factor)
                unbiased = var.detach() * (count / (count - 1))
                self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype) * factor)
        return output

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
