"""Complex parameters in elementwise update rules: PyTorch's optimizers update a complex parameter as
``torch.view_as_real`` of it, so that rules built on squares and square roots (Adam's second moment) treat the
real and imaginary parts as two separate real numbers."""

from __future__ import annotations


def as_real(array):
    """A complex array as a flat real one sharing its memory (real and imaginary parts side by side); a
    real array itself. The update writes through the view, so a complex array must be C-contiguous (parameters and
    optimizer state are created so; pass a gradient through ``xp.ascontiguousarray`` first)."""
    if array.dtype.kind != "c":
        return array
    if not array.flags.c_contiguous:
        raise RuntimeError("an optimizer can only update a complex parameter held in C-contiguous memory; got an "
                           f"array of shape {array.shape} and strides {array.strides} (make it .contiguous())")
    return array.reshape(-1).view(array.real.dtype)  # flat first: NumPy cannot change a 0-d array's itemsize


def grad_as_real(xp, grad):
    """``as_real`` of a gradient, copied to C-contiguous memory first when it is a complex array that is not."""
    if grad.dtype.kind != "c":
        return grad
    return as_real(xp.ascontiguousarray(grad))
