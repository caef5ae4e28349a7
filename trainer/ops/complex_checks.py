"""PyTorch's errors for ops that have no meaning on complex numbers (ordering, rounding, clamping): NumPy would
order complex numbers lexicographically or round their real part, which PyTorch refuses to do."""

from __future__ import annotations

from trainer import dtypes
from trainer.backend import device_of
from trainer.ops._dtype_errors import scalar_type_name


def reject_complex(tensor, message: str, error: type[Exception] = NotImplementedError) -> None:
    """Raise ``error(message)`` when ``tensor`` is complex."""
    if tensor._data.dtype.kind == "c":
        raise error(message)


def reject_complex_kernel(kernel: str, *arrays, hint: str = "complex numbers have no order; compare their .abs() or "
                                                           ".real instead") -> None:
    """PyTorch's ``"lt_cpu" not implemented for 'ComplexDouble'`` when one of ``arrays`` is complex."""
    for array in arrays:
        if array.dtype.kind == "c":
            name = scalar_type_name(dtypes.from_numpy(array.dtype))
            raise NotImplementedError(f'"{kernel}_{device_of(array).type}" not implemented for \'{name}\': {hint}')


def reject_complex_loss(kernel: str, input, target) -> None:  # noqa: A002 - PyTorch's name
    """PyTorch's ``"mse_cpu" not implemented for 'ComplexDouble'`` for a loss defined on real numbers only."""
    reject_complex_kernel(kernel, input._data, target._data, hint="this loss is defined on real numbers; apply it "
                          "to torch.view_as_real(input) and torch.view_as_real(target) instead")


# the ufuncs that order their operands, by the kernel name PyTorch's message gives them
ORDERING_KERNELS = {"less": "lt", "less_equal": "le", "greater": "gt", "greater_equal": "ge"}
