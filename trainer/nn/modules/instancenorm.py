"""``InstanceNorm1d``, ``InstanceNorm2d`` and ``InstanceNorm3d``: per-sample, per-channel statistics over the
spatial dims.

As in PyTorch, ``affine`` and ``track_running_stats`` default to ``False``; with running statistics,
evaluation normalises with them instead of the input's.
"""

from __future__ import annotations

from trainer.nn.modules.batchnorm import _NormBase
from trainer.nn.modules.deferred_exports import deferred_exports
from trainer.ops.layer_norm import instance_norm


class _InstanceNorm(_NormBase):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"expected {dims} input (got {input.ndim}D input)")
        channel_dim = 0 if input.ndim == self._expected_dims[0] else 1  # unbatched input has channels first
        if self.affine and input.shape[channel_dim] != self.num_features:
            raise ValueError(f"expected input's size at dim={channel_dim} to match num_features "
                             f"({self.num_features}), but got: {input.shape[channel_dim]}.")

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.ndim == self._expected_dims[0]
        if unbatched:
            input = input.unsqueeze(0)
        use_input_stats = self.training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        out = instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                            momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Over ``(N, C, L)`` or unbatched ``(C, L)`` inputs."""

    _expected_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Over ``(N, C, H, W)`` or unbatched ``(C, H, W)`` inputs."""

    _expected_dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Over ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` inputs."""

    _expected_dims = (4, 5)


__getattr__ = deferred_exports(__name__, dict.fromkeys(
    ["LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "_LazyNormBase"], "trainer.nn.modules.lazy"))
