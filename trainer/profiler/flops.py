"""FLOP estimates for matrix products and 2-D convolutions, with PyTorch's formulas (torch/csrc/profiler/util.cpp).

A multiply-add counts as 2 FLOPs. As in PyTorch, only the GEMM-shaped products (mm, addmm, bmm: both operands at
least 2-D) and 2-D convolutions have a formula; every other op counts 0.
"""

from __future__ import annotations

import math


def of_op(op: str, input_shapes: list, output_shapes: list, attrs: dict) -> int:
    """The FLOPs of one run of trainer op ``op`` on inputs (and giving outputs) of the given shapes."""
    if op == "Linear":  # x @ weight.T (+ bias): PyTorch's addmm on the flattened rows
        x, weight = input_shapes[0], input_shapes[1]
        return 2 * math.prod(x[:-1]) * x[-1] * weight[0]
    if op == "MatMul":
        a, b = input_shapes
        if len(a) < 2 or len(b) < 2:  # PyTorch's mv and dot have no formula
            return 0
        return 2 * math.prod(output_shapes[0]) * a[-1]
    if op == "Conv" and len(input_shapes[0]) == 4:
        weight, out = input_shapes[1], output_shapes[0]
        # every output element takes C_in/groups * kernel multiply-adds
        return 2 * math.prod(out) * math.prod(weight[1:])
    return 0
