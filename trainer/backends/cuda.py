"""``trainer.backends.cuda``: PyTorch's CUDA matmul switch, tied to ``float32_matmul_precision`` as there.

``matmul.allow_tf32`` is True exactly when the precision is not ``"highest"``; setting it moves the precision to
``"high"`` or ``"highest"``. trainer's CuPy matmuls do not switch to TF32 (see ``trainer.global_settings``).
"""

from trainer import global_settings
from trainer.backend import cupy_available


class _MatmulSettings:
    __slots__ = ()

    @property
    def allow_tf32(self) -> bool:
        return global_settings.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        global_settings.set_float32_matmul_precision("high" if value else "highest")


matmul = _MatmulSettings()


def is_built() -> bool:
    """True when CUDA tensors can be made: CuPy is installed and sees a device."""
    return cupy_available()
