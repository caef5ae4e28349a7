"""Weight averaging, as ``torch.optim.swa_utils``: ``AveragedModel`` (SWA, or EMA through the averaging functions),
the ``SWALR`` schedule that anneals to a constant SWA rate, and ``update_bn`` to recompute BatchNorm statistics
for averaged weights.

The averaging arithmetic is PyTorch's, case for case: ``AveragedModel``'s default equal-weight average is
``avg + (p - avg) / (n + 1)`` on the CPU and a ``lerp`` by ``1 / (n + 1)`` on CUDA, as PyTorch picks its
per-tensor and its foreach kernels, so the averaged weights agree with PyTorch's to the last bit.
"""

from __future__ import annotations

import copy
import itertools
import math

from trainer import creation, dtypes
from trainer.autograd.grad_mode import no_grad
from trainer.nn.modules.batchnorm import _BatchNorm
from trainer.nn.modules.module import Module
from trainer.optim.lr_scheduler import LRScheduler, _per_group
from trainer.tensor import Tensor

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay: float = 0.999):
    """An in-place averaging function over lists of tensors: ``ema = decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _num_averaged) -> None:
        if ema_param_list[0].is_floating_point() or ema_param_list[0].is_complex():
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.lerp_(p_model, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """An in-place averaging function over lists of tensors: the running mean of every model seen so far."""

    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged) -> None:
        if averaged_param_list[0].is_floating_point() or averaged_param_list[0].is_complex():
            # a count tensor makes the weight a float32 tensor, as it does in PyTorch, so the weight rounds alike
            weight = float(1 / (num_averaged + 1))
            for p_averaged, p_model in zip(averaged_param_list, current_param_list, strict=True):
                p_averaged.lerp_(p_model, weight)
            return
        for p_averaged, p_model in zip(averaged_param_list, current_param_list, strict=True):
            diff = p_model - p_averaged
            if isinstance(num_averaged, Tensor):
                p_averaged.addcdiv_(diff, num_averaged + 1)
            else:
                p_averaged.add_(diff, alpha=1.0 / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999):
    """An averaging function of one tensor, returning ``decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param, current_param, _num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """An averaging function of one tensor, returning the running mean ``avg + (current - avg) / (n + 1)``."""

    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (on ``device`` if given) whose parameters are a running average of ``model``'s.

    ``update_parameters(model)`` first copies ``model``'s parameters, then averages them in with ``avg_fn`` (one
    tensor at a time) or ``multi_avg_fn`` (lists of tensors sharing a device and dtype, updated in place), by
    default with equal weights (SWA). ``use_buffers=True`` averages the buffers too; otherwise they are copied.
    The count of models averaged is the buffer ``n_averaged``; the state dict holds ``module.*`` and it.
    """

    def __init__(self, model: Module, device=None, avg_fn=None, multi_avg_fn=None, use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", creation.tensor(0, dtype=dtypes.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @no_grad()
    def update_parameters(self, model: Module) -> None:
        """Average ``model``'s current parameters (and buffers, with ``use_buffers``) into this model's."""
        if self.use_buffers:
            own = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            own, theirs = self.parameters(), model.parameters()
        first = int(self.n_averaged.item()) == 0
        pairs = []
        for p_averaged, p_model in zip(own, theirs, strict=False):
            p_averaged, p_model = p_averaged.detach(), p_model.detach().to(p_averaged.device)
            pairs.append((p_averaged, p_model))
            if first:
                p_averaged.copy_(p_model)

        if not first:
            if self.multi_avg_fn is not None or self.avg_fn is None:
                self._average_by_device_and_dtype(pairs)
            else:
                for p_averaged, p_model in pairs:
                    p_averaged.copy_(self.avg_fn(p_averaged, p_model, self.n_averaged.to(p_averaged.device)))

        if not self.use_buffers:
            for b_swa, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        self.n_averaged += 1

    def _average_by_device_and_dtype(self, pairs) -> None:
        """Apply ``multi_avg_fn`` (or the default average) to the tensors grouped by device and dtype, in order."""
        groups: dict[tuple, list] = {}
        for pair in pairs:
            groups.setdefault((str(pair[0].device), pair[0].dtype), []).append(pair)
        for members in groups.values():
            averaged, current = [p for p, _ in members], [q for _, q in members]
            device = averaged[0].device
            n_averaged = self.n_averaged.to(device)
            if self.multi_avg_fn is not None:
                self.multi_avg_fn(averaged, current, n_averaged)
            elif device.type == "cuda":  # where PyTorch has foreach kernels, its default average is a lerp
                get_swa_multi_avg_fn()(averaged, current, n_averaged)
            else:
                avg_fn = get_swa_avg_fn()
                for p_averaged, p_model in members:
                    p_averaged.copy_(avg_fn(p_averaged, p_model, n_averaged))


@no_grad()
def update_bn(loader, model: Module, device=None) -> None:
    """Recompute every BatchNorm layer's running statistics in one pass over ``loader``, as plain averages.

    Each batch is a tensor, or a list or tuple whose first element is the model's input.
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None  # a cumulative average over the pass
    for input in loader:
        if isinstance(input, (list, tuple)):
            input = input[0]
        if device is not None:
            input = input.to(device)
        model(input)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's rate from its current value to ``swa_lr`` over ``anneal_epochs`` epochs (along a cosine,
    or linearly), then hold it there. ``swa_lr`` is one rate for every group, or a list with one per group."""

    def __init__(self, optimizer, swa_lr, anneal_epochs: int = 10, anneal_strategy: str = "cos",
                 last_epoch: int = -1):
        for rate, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups, strict=True):
            group["swa_lr"] = rate
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The rate the annealing started from, recovered from the rate ``lr`` it reached at fraction ``alpha``."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        # PyTorch's recursive form: recover last step's starting rate, then move on to this step's fraction, so
        # that SWALR follows whatever rate another scheduler left in the group
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs, strict=True)]

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def state_dict(self) -> dict:
        """Every attribute but the optimizer and the annealing function (restored from its name on load)."""
        return {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
