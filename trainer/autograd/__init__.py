"""Define-by-run autograd: op nodes, one reverse pass, grad-mode switches, op and size observers, and the
user-facing ``Function`` (custom differentiable ops) and ``grad``."""

from trainer.autograd import forward_ad, functional, graph, profiler
from trainer.autograd.anomaly_mode import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from trainer.autograd.backward_pass import backward
from trainer.autograd.engine_modes import (
    enforce_grad_layout_policy,
    is_multithreading_enabled,
    is_view_replay_enabled,
    set_multithreading_enabled,
)
from trainer.autograd.function import Function, FunctionCtx, once_differentiable
from trainer.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from trainer.autograd.gradcheck import gradcheck, gradgradcheck
from trainer.autograd.gradients import grad
from trainer.autograd.inference_mode import inference_mode, is_inference_mode_enabled
from trainer.autograd.observe import OpEvent, observe_ops, observe_sizes


def Variable(tensor, requires_grad: bool = False):  # noqa: N802 - PyTorch's legacy public name
    """The pre-0.4 PyTorch wrapper, kept so that old programs run: it returns the tensor itself."""
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


from trainer.autograd.variable import variable  # noqa: E402 - needs Variable; the function takes the submodule's name

__all__ = ["Function", "FunctionCtx", "OpEvent", "Variable", "enable_grad", "grad", "is_grad_enabled", "no_grad",
           "observe_ops", "observe_sizes", "once_differentiable", "set_grad_enabled"]
__all__ += ["backward", "detect_anomaly", "functional", "gradcheck", "gradgradcheck", "inference_mode",
            "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "is_inference_mode_enabled", "set_detect_anomaly"]
__all__ += ["forward_ad", "graph", "profiler"]
__all__ += ["enforce_grad_layout_policy", "is_multithreading_enabled", "is_view_replay_enabled",
            "set_multithreading_enabled", "variable"]
