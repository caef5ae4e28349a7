"""``run_decompositions``: rewriting calls of an exported graph into the simpler calls that compute them.

A decomposition is a function with the signature of the call it replaces; it runs on the graph's proxies, so the
trainer calls it makes are recorded in its place. The default table splits ``linear`` and the piecewise activations
into the elementwise ops they are defined by (the formulas trainer's own kernels use, so values are unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trainer
import trainer.nn.functional as F  # noqa: N812
from trainer.fx import GraphModule, Transformer
from trainer.fx._patching import Patcher


def _linear(input, weight, bias=None):  # noqa: A002 - torch's parameter names
    out = trainer.matmul(input, trainer.t(weight))
    return out if bias is None else out + bias


def _silu(input, inplace=False):  # noqa: A002
    if inplace:
        return F.silu(input, inplace=True)
    return input * trainer.sigmoid(input)


def _hardsigmoid(input, inplace=False):  # noqa: A002
    if inplace:
        return F.hardsigmoid(input, inplace=True)
    return trainer.clamp(input / 6 + 0.5, 0, 1)


def _hardswish(input, inplace=False):  # noqa: A002
    if inplace:
        return F.hardswish(input, inplace=True)
    return input * trainer.clamp(input + 3, 0, 6) / 6


def _hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    if inplace:
        return F.hardtanh(input, min_val, max_val, inplace=True)
    return trainer.clamp(input, min_val, max_val)


def _relu6(input, inplace=False):  # noqa: A002
    if inplace:
        return F.relu6(input, inplace=True)
    return trainer.clamp(input, 0, 6)


def default_decompositions() -> dict[Callable, Callable]:
    """The table ``run_decompositions()`` uses: trainer function -> its decomposition (a new dict each call, so a
    caller may add or remove entries)."""
    return {F.linear: _linear, F.silu: _silu, F.hardsigmoid: _hardsigmoid, F.hardswish: _hardswish,
            F.hardtanh: _hardtanh, F.relu6: _relu6}


class _Decomposer(Transformer):
    def __init__(self, module: GraphModule, table: dict[Callable, Callable]) -> None:
        super().__init__(module)
        self.table = table

    def call_function(self, target: Any, args: tuple, kwargs: dict) -> Any:
        decomposition = self.table.get(target)
        if decomposition is None:
            return super().call_function(target, args, kwargs)
        return decomposition(*args, **kwargs)


def decompose(module: GraphModule, table: dict[Callable, Callable] | None = None) -> GraphModule:
    """``module`` with every call found in ``table`` (default: ``default_decompositions()``) decomposed."""
    table = default_decompositions() if table is None else table
    with Patcher() as patcher:  # trainer calls made by a decomposition on proxies are recorded
        patcher.patch_trainer_functions()
        patcher.patch_tensor_operators()
        return _Decomposer(module, table).transform()
