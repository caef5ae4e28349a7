"""``LBFGS``: limited-memory BFGS over all parameters as one flat vector, with an optional strong-Wolfe line
search, following PyTorch's ``torch.optim.LBFGS`` (itself after minFunc) step for step.

Scalars that PyTorch keeps as 0-d tensors (directional derivatives, curvature pairs' ``1 / y.s``) stay 0-d
arrays of the parameters' dtype here too, so float32 runs round as PyTorch's do.
"""

from __future__ import annotations

from trainer.autograd.grad_mode import enable_grad, no_grad
from trainer.backend import xp_of
from trainer.optim.complex_params import as_real, grad_as_real
from trainer.optim.optimizer import Optimizer, _require_non_negative
from trainer.tensor import Tensor

LINE_SEARCHES = (None, "strong_wolfe")


class LBFGS(Optimizer):
    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval, "tolerance_grad": tolerance_grad,
                    "tolerance_change": tolerance_change, "history_size": history_size,
                    "line_search_fn": line_search_fn}
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def _check_hyperparameters(self, group: dict) -> None:
        _require_non_negative(group, "lr", "learning rate")
        if group["line_search_fn"] not in LINE_SEARCHES:
            raise ValueError(f"only 'strong_wolfe' is supported as line_search_fn, got {group['line_search_fn']!r}")
        if len({p.device for p in group["params"]}) > 1:
            raise ValueError("LBFGS needs all parameters on one device")

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ------------------------------------------------------------- the parameters as one vector
    def _flat_grad(self):
        """Complex parameters count as their real and imaginary parts, as in PyTorch (``view_as_real``)."""
        xp = xp_of(self._params[0]._data)
        return xp.concatenate([xp.zeros(as_real(p._data).size, p._data.real.dtype) if p.grad is None
                               else grad_as_real(xp, p.grad._data).reshape(-1) for p in self._params])

    def _move(self, step_size, direction) -> None:
        """``params += step_size * direction``."""
        offset = 0
        for p in self._params:
            target = as_real(p._data)
            size = target.size
            target += (step_size * direction[offset:offset + size]).reshape(target.shape)
            p._version_counter.value += 1
            offset += size

    def _evaluate_at(self, closure, start, t, direction):
        """Loss and flat gradient at ``start + t * direction``; the parameters are put back to ``start``."""
        self._move(t, direction)
        loss = float(closure())
        grad = self._flat_grad()
        for p, saved in zip(self._params, start):
            p._data[...] = saved
        return loss, grad

    @no_grad()
    def step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` must zero the gradients, compute the loss, call
        ``backward()`` and return the loss. Returns the loss from the first evaluation, as PyTorch does."""
        if closure is None:
            raise RuntimeError("LBFGS.step() needs a closure that reevaluates the model and returns the loss")
        closure = enable_grad()(closure)
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        xp = xp_of(flat_grad)
        if xp.abs(flat_grad).max() <= tolerance_grad:
            return first_loss

        direction, t = _array(state.get("d")), _array(state.get("t"))
        old_dirs = [_array(v) for v in state.get("old_dirs", [])]
        old_steps = [_array(v) for v in state.get("old_stps", [])]
        rho = [_array(v) for v in state.get("ro", [])]
        h_diag = _array(state.get("H_diag"))
        prev_flat_grad, prev_loss = _array(state.get("prev_flat_grad")), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                direction = -flat_grad
                old_dirs, old_steps, rho, h_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = direction * t
                ys = xp.dot(y, s)
                if ys > 1e-10:  # keep only pairs that keep the Hessian estimate positive definite
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_steps.pop(0)
                        rho.pop(0)
                    old_dirs.append(y)
                    old_steps.append(s)
                    rho.append(1.0 / ys)
                    h_diag = ys / xp.dot(y, y)
                direction = _two_loop(xp, -flat_grad, old_dirs, old_steps, rho, h_diag)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            slope = xp.dot(flat_grad, direction)
            if slope > -tolerance_change:  # not a descent direction (any more)
                break

            if group["line_search_fn"] == "strong_wolfe":
                start = [p._data.copy() for p in self._params]

                def along(t_, d_, start=start):
                    return self._evaluate_at(closure, start, t_, d_)

                loss, flat_grad, t, searched = _strong_wolfe(along, t, direction, loss, flat_grad, slope,
                                                             max_ls=max_eval - evals)
                self._move(t, direction)
                converged = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                self._move(t, direction)
                searched, converged = 0, False
                if n_iter != max_iter:  # the last iteration's loss is the next step's first evaluation
                    loss = float(closure())
                    flat_grad = self._flat_grad()
                    converged = xp.abs(flat_grad).max() <= tolerance_grad
                    searched = 1
            evals += searched
            state["func_evals"] += searched

            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if xp.abs(direction * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=_tensor(direction), t=_tensor(t), old_dirs=[_tensor(v) for v in old_dirs],
                     old_stps=[_tensor(v) for v in old_steps], ro=[_tensor(v) for v in rho], H_diag=_tensor(h_diag),
                     prev_flat_grad=_tensor(prev_flat_grad), prev_loss=prev_loss)
        return first_loss


def _two_loop(xp, q, old_dirs, old_steps, rho, h_diag):
    """The L-BFGS two-loop recursion: the inverse-Hessian estimate applied to ``q`` (the negative gradient)."""
    alphas = [None] * len(old_dirs)
    for i in range(len(old_dirs) - 1, -1, -1):
        alphas[i] = xp.dot(old_steps[i], q) * rho[i]
        q -= alphas[i] * old_dirs[i]
    r = q * h_diag
    for i in range(len(old_dirs)):
        beta = xp.dot(old_dirs[i], r) * rho[i]
        r += (alphas[i] - beta) * old_steps[i]
    return r


def _tensor(value):
    """State values are tensors (or plain numbers), so that state dicts move between devices like PyTorch's."""
    if value is None or isinstance(value, (int, float)):
        return value
    return Tensor._wrap(xp_of(value).asarray(value))


def _array(value):
    return value._data if isinstance(value, Tensor) else value


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through ``(x1, f1)`` and ``(x2, f2)`` with slopes ``g1``, ``g2``, clamped to
    ``bounds`` (default: between the two points); their midpoint where the cubic has no minimum."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if not d2_square >= 0:
        return (low + high) / 2.0
    d2 = d2_square ** 0.5
    if x1 <= x2:
        position = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        position = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(position, low), high)


def _strong_wolfe(evaluate, t, d, f, g, slope, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions (sufficient decrease, small slope):
    bracketing by cubic extrapolation, then zooming in by cubic interpolation. Returns the loss and
    gradient there, ``t`` and the number of evaluations."""
    xp = xp_of(d)
    d_norm = xp.abs(d).max()
    f_new, g_new = evaluate(t, d)
    evals = 1
    slope_new = xp.dot(g_new, d)
    t_prev, f_prev, g_prev, slope_prev = 0, f, g, slope
    done = False
    iteration = 0
    while iteration < max_ls:
        if f_new > f + c1 * t * slope or (iteration > 1 and f_new >= f_prev):
            bracket = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [slope_prev, slope_new]
            break
        if abs(slope_new) <= -c2 * slope:
            bracket, done = ([t], [f_new], [g_new], None), True
            break
        if slope_new >= 0:
            bracket = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [slope_prev, slope_new]
            break
        # extrapolate: the cubic's minimum, at least 1% past t and at most 10 t
        t_prev, t = t, _cubic_minimum(t_prev, f_prev, slope_prev, t, f_new, slope_new,
                                      bounds=(t + 0.01 * (t - t_prev), t * 10))
        f_prev, g_prev, slope_prev = f_new, g_new, slope_new
        f_new, g_new = evaluate(t, d)
        evals += 1
        slope_new = xp.dot(g_new, d)
        iteration += 1
    if iteration == max_ls:
        bracket = [0, t], [f, f_new], [g, g_new], None
    steps, losses, grads, slopes = bracket

    stalled = False
    low, high = (0, 1) if losses[0] <= losses[-1] else (1, 0)
    while not done and iteration < max_ls:
        if abs(steps[1] - steps[0]) * d_norm < tolerance_change:  # the bracket is too small to matter
            break
        t = _cubic_minimum(steps[0], losses[0], slopes[0], steps[1], losses[1], slopes[1])
        # Keep t away from the bracket's ends unless the previous step made too little progress there.
        margin = 0.1 * (max(steps) - min(steps))
        if min(max(steps) - t, t - min(steps)) < margin:
            if stalled or t >= max(steps) or t <= min(steps):
                t = max(steps) - margin if abs(t - max(steps)) < abs(t - min(steps)) else min(steps) + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(t, d)
        evals += 1
        slope_new = xp.dot(g_new, d)
        iteration += 1
        if f_new > f + c1 * t * slope or f_new >= losses[low]:
            steps[high], losses[high], grads[high], slopes[high] = t, f_new, g_new, slope_new
            low, high = (0, 1) if losses[0] <= losses[1] else (1, 0)
        else:
            if abs(slope_new) <= -c2 * slope:
                done = True
            elif slope_new * (steps[high] - steps[low]) >= 0:
                steps[high], losses[high], grads[high], slopes[high] = (steps[low], losses[low], grads[low],
                                                                        slopes[low])
            steps[low], losses[low], grads[low], slopes[low] = t, f_new, g_new, slope_new
    return losses[low], grads[low], steps[low], evals
