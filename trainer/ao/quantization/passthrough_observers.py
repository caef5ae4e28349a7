"""Observers that compute no quantization grid, as ``torch.ao.quantization.observer`` has them: ``NoopObserver``
(only carries a dtype, e.g. float16, to ``from_float``), ``RecordingObserver`` (keeps a copy of every tensor seen,
for debugging) and ``ReuseInputObserver`` (marks an op whose output reuses its input's observer). Each passes its
input through unchanged, and ``calculate_qparams`` is an error, as in PyTorch.
"""

from __future__ import annotations

from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.quantization.observer import ObserverBase
from trainer.ao.quantization.placeholder_observer import PlaceholderObserver

__all__ = [
    "NoopObserver",
    "RecordingObserver",
    "ReuseInputObserver",
    "default_debug_observer",
    "default_placeholder_observer",
    "default_reuse_input_observer",
]


def _no_qparams(observer) -> Exception:
    """PyTorch raises a bare ``Exception`` here; so does trainer, so that the same ``except`` clauses catch it."""
    name = type(observer).__name__
    return Exception(f"calculate_qparams should not be called for {name}: it computes no scale or zero point")


class RecordingObserver(ObserverBase):
    """Keeps a copy of every tensor passed through it in ``tensor_val`` (``get_tensor_value()``)."""

    def __init__(self, dtype=qt.quint8):
        super().__init__(dtype=dtype, is_dynamic=False)
        self.tensor_val = []

    def forward(self, x):
        self.tensor_val.append(x.clone())
        return x

    def calculate_qparams(self):
        raise _no_qparams(self)

    def get_tensor_value(self):
        return self.tensor_val


class NoopObserver(ObserverBase):
    """Records nothing; its ``dtype`` (float16 by default) tells ``from_float`` what to convert to."""

    def __init__(self, dtype=dtypes.float16, custom_op_name=""):
        super().__init__(dtype=dtype, is_dynamic=False)
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise _no_qparams(self)


class ReuseInputObserver(ObserverBase):
    """For ops like ``reshape`` whose output shares the observer of their input (used by graph-mode flows)."""

    def __init__(self):
        super().__init__(qt.quint8, is_dynamic=False)

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise _no_qparams(self)


default_placeholder_observer = PlaceholderObserver
default_debug_observer = RecordingObserver
default_reuse_input_observer = ReuseInputObserver
