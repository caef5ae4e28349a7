"""PyTorch's optimizer options that pick an implementation: ``foreach``, ``fused``, ``capturable``, ``differentiable``.

In PyTorch, ``foreach`` (multi-tensor kernels) and ``fused`` (one kernel per step) pick a faster implementation of
the same update rule; ``capturable`` keeps the step counters on the device so a CUDA graph can capture the step.
trainer has one implementation of each rule, so it takes these options where PyTorch's optimizer has them, keeps
them in ``defaults`` and every param group (so ``state_dict()`` has PyTorch's keys), and applies PyTorch's checks:
the combinations PyTorch refuses, ``fused`` on parameters that are not floating point, ``capturable`` on parameters
off the GPU. The update is the same whichever is chosen, with two differences from PyTorch: its fused kernels do
half-precision (float16, bfloat16) parameters' arithmetic in float32, trainer in the parameter's dtype; and the
``step`` count stays a CPU float32 scalar, where PyTorch puts it on the parameter's device under ``fused`` or
``capturable``.

``differentiable=True`` asks for a step that autograd can differentiate through (for meta-learning); trainer's
steps update parameters in place outside autograd, so it is refused rather than silently ignored.
"""

from __future__ import annotations

from trainer.tensor import Tensor

FUSED_DEVICES = ["cpu", "cuda"]
CAPTURABLE_DEVICES = ["cuda"]


def check_implementation_flags(group: dict) -> None:
    """PyTorch's refusals of a param group's ``fused``/``foreach``/``differentiable`` combination, and trainer's of
    ``differentiable=True``."""
    fused, foreach, differentiable = group.get("fused"), group.get("foreach"), group.get("differentiable")
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable:
        raise NotImplementedError("differentiable=True is not supported: trainer's optimizers update parameters in "
                                  "place outside autograd, so a step cannot be differentiated through; pass "
                                  "differentiable=False (the default)")


def check_param_for_flags(param: Tensor, group: dict) -> None:
    """The checks PyTorch makes on each parameter it steps under ``fused`` or ``capturable``."""
    if group.get("fused") and not (param.device.type in FUSED_DEVICES and param.dtype.is_floating_point):
        raise RuntimeError(f"`fused=True` requires all the params to be floating point Tensors of supported devices: "
                           f"{FUSED_DEVICES} but {param.dtype} and {param.device.type}")
    if group.get("capturable") and param.device.type not in CAPTURABLE_DEVICES:
        raise AssertionError(f"If capturable=True, params and state_steps must be on supported devices: "
                             f"{CAPTURABLE_DEVICES}.")
