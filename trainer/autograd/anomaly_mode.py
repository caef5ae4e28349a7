"""Anomaly detection: ``detect_anomaly``, ``set_detect_anomaly``, ``is_anomaly_enabled``.

While it is on, each op recorded in the forward pass keeps the stack it was called from (``op.Function._link``),
and the backward pass runs every node through ``checked``: an error raised by a node's backward, or NaN in a
gradient it returns (with ``check_nan``), is preceded by a warning that shows where that op was called in the
forward pass. While it is off, the cost is one flag check per recorded op and one per backward pass.

As in PyTorch the switch is global to the process, not per thread.
"""

from __future__ import annotations

import functools
import os
import traceback
import warnings

enabled = False
check_nan = True

_TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_anomaly_enabled() -> bool:
    return enabled


def is_anomaly_check_nan_enabled() -> bool:
    return check_nan


def _set(mode: bool, nan: bool) -> None:
    global enabled, check_nan
    enabled, check_nan = bool(mode), bool(nan)


class detect_anomaly:  # noqa: N801 - PyTorch's public name
    """Turn anomaly detection on inside the block (or the decorated function); ``check_nan`` also makes a NaN
    gradient an error. It slows every op down, so it is for debugging only, and says so when made."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev, self.prev_check_nan = is_anomaly_enabled(), is_anomaly_check_nan_enabled()
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        _set(True, self.check_nan)

    def __exit__(self, *exc) -> None:
        _set(self.prev, self.prev_check_nan)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:  # noqa: N801 - PyTorch's public name
    """Switch anomaly detection on or off at once; as a context manager, the previous setting returns on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev, self.prev_check_nan = is_anomaly_enabled(), is_anomaly_check_nan_enabled()
        _set(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _set(self.prev, self.prev_check_nan)


def forward_stack() -> list:
    """Where the op being recorded was called from: the current stack without trainer's own frames at its end."""
    frames = traceback.extract_stack()
    while frames and frames[-1].filename.startswith(_TRAINER_DIR):
        frames.pop()
    return traceback.format_list(frames)


def checked(run_node, nan: bool):
    """``run_node(node, grads)`` that warns with the forward stack of ``node`` when its backward fails and, with
    ``nan``, raises PyTorch's error for a NaN in any gradient it returns."""

    def run(node, grads):
        try:
            results = run_node(node, grads)
            if nan:
                _raise_on_nan(node, results if type(results) is tuple else (results,))
        except Exception:
            _warn_forward_stack(node)
            raise
        return results

    return run


def _raise_on_nan(node, results) -> None:
    from trainer.backend import xp_of
    from trainer.dtypes import is_inexact
    from trainer.tensor import Tensor

    for i, g in enumerate(results):
        if g is None:
            continue
        array = g._data if isinstance(g, Tensor) else g
        if is_inexact(array.dtype) and bool(xp_of(array).isnan(array).any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _warn_forward_stack(node) -> None:
    stack = node.__dict__.get("_forward_stack")
    if stack is None:
        detail = ("No forward pass information available. Enable detect anomaly during forward pass for more "
                  "information.")
    else:
        detail = "Traceback of forward call that caused the error:\n" + "".join(stack)
    warnings.warn(f"Error detected in {node.name()}. {detail}", stacklevel=2)
