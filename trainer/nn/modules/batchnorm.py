"""``BatchNorm1d``, ``BatchNorm2d`` and ``BatchNorm3d``: batch statistics while training, running statistics in
evaluation. ``_NormBase`` is what they share with the instance norms, as in PyTorch."""

from __future__ import annotations

from trainer import creation, dtypes
from trainer.autograd import no_grad
from trainer.nn import init
from trainer.nn.modules.deferred_exports import deferred_exports
from trainer.nn.modules.module import Module
from trainer.nn.modules.normalization import register_affine, reset_affine
from trainer.ops.batch_norm import batch_norm


class _NormBase(Module):
    """Per-channel ``weight`` (ones) and, unless ``bias=False``, ``bias`` (zeros); buffers ``running_mean``,
    ``running_var`` and ``num_batches_tracked`` as in PyTorch. ``momentum=None`` makes the running statistics a
    cumulative average."""

    _expected_dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        register_affine(self, (num_features,), affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        reset_affine(self)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # checkpoints from before num_batches_tracked existed (PyTorch < 0.4.1) still load
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"expected {dims} input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"{self!r}: expected input with {self.num_features} channels in dim 1, got input of "
                               f"shape {list(input.shape)}")


class _BatchNorm(_NormBase):
    """Batch statistics while training (updating the running ones), running statistics in evaluation."""

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        # evaluation without running statistics falls back to the batch's, as in PyTorch
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Over ``(N, C)`` or ``(N, C, L)`` inputs."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over ``(N, C, H, W)`` inputs."""

    _expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Over ``(N, C, D, H, W)`` inputs."""

    _expected_dims = (5,)


__getattr__ = deferred_exports(__name__, {
    "SyncBatchNorm": "trainer.nn.modules.sync_batchnorm",
    **dict.fromkeys(["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "_LazyNormBase"],
                    "trainer.nn.modules.lazy"),
})
