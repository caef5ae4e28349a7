"""``PlaceholderObserver``: an observer that records nothing and only carries a dtype (and, for dynamic quantization,
``is_dynamic``) to the quantized module's ``from_float``, as PyTorch's; and ``default_dynamic_quant_observer``, the
activation entry of the dynamic qconfigs (inputs quantized to quint8 at run time)."""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer import quantized_types as qt
from trainer.ao.quantization.observer import ObserverBase

__all__ = ["PlaceholderObserver", "default_dynamic_quant_observer"]


class PlaceholderObserver(ObserverBase):
    """Passes its input through; ``calculate_qparams`` is an error (there is nothing to compute from)."""

    def __init__(self, dtype=dtypes.float32, custom_op_name="", compute_dtype=None, quant_min=None, quant_max=None,
                 qscheme=None, eps=None, is_dynamic=False):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic or bool(compute_dtype))
        self.qscheme = qt.per_tensor_affine if qscheme is None else qscheme
        self.quant_min = quant_min
        self.quant_max = quant_max
        self.eps = float(np.finfo(np.float32).eps) if eps is None else eps
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def extra_repr(self):
        return f"dtype={self.dtype}, is_dynamic={self.is_dynamic}"

    def calculate_qparams(self):
        raise RuntimeError("calculate_qparams should not be called for PlaceholderObserver: it observes nothing")


default_dynamic_quant_observer = PlaceholderObserver.with_args(dtype=qt.quint8, quant_min=0, quant_max=255,
                                                               is_dynamic=True)
