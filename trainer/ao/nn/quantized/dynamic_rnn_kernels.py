"""The recurrences of PyTorch's dynamically quantized LSTM, GRU and Elman cells on its CPU engine (ATen's
``quantized_lstm``/``quantized_gru`` and the ``quantized_*_cell_dynamic`` ops over fbgemm):

- each projection is a dynamic linear layer (``dynamic_kernels``) with its bias packed in: int8 weights with the
  input quantized on its own range at each call, or float16-rounded weights;
- over a sequence, the input projection runs once for the whole sequence of a layer and direction (so the input
  grid comes from the whole sequence's range), the hidden projection once per step (on that step's rows only,
  which matters for packed sequences, whose later steps hold fewer rows);
- the gates are float32 tensor ops in ATen's order: LSTM ``c' = f * c + i * g``, ``h' = o * tanh(c')``; GRU
  ``n = tanh(x_n + r * h_n)``, ``h' = (h - n) * z + n``. Sigmoid and tanh are evaluated in float64 and rounded once
  (ATen's float32 versions are within an ulp of that).

Everything here is inference only, as in PyTorch (the quantized ops have no autograd)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trainer.ao.nn.quantized.dynamic_kernels import dynamic_linear_fp16, dynamic_linear_int8
from trainer.backend import xp_of
from trainer.ops.packed_rnn import _packed_steps
from trainer.tensor import Tensor

__all__ = ["CellParams", "dynamic_projection", "gru_cell", "lstm_cell", "relu_cell", "run_layers", "tanh_cell"]


class CellParams(NamedTuple):
    """One layer and direction's packed weights, as PyTorch's ``CellParamsBase``: ``ih`` and ``hh`` are
    ``(weight, bias)`` pairs (a qint8 weight, or a float16-rounded float32 one), ``reduce_range`` says whether int8
    inputs are quantized over 7 bits (the version-2 layers) or 8."""

    ih: tuple
    hh: tuple
    reduce_range: bool


def dynamic_projection(x, weight_bias: tuple, reduce_range: bool):
    """``x @ W.T + b`` (x a float32 array with at least 2 dimensions) on fbgemm's dynamic int8 or float16 path."""
    weight, bias = weight_bias
    if weight.is_quantized:
        return dynamic_linear_int8(Tensor._wrap(x), weight, bias, reduce_range)._data
    return dynamic_linear_fp16(Tensor._wrap(x), weight, bias)._data


def _sigmoid(a):
    xp = xp_of(a)
    return (1.0 / (1.0 + xp.exp(-a.astype(np.float64)))).astype(np.float32)


def _tanh(a):
    return xp_of(a).tanh(a.astype(np.float64)).astype(np.float32)


def lstm_cell(x_gates, states: tuple, params: CellParams) -> tuple:
    """One LSTM step from the input's projection ``x_gates`` (N, 4H); ``states`` is ``(h, c)``."""
    h, c = states
    gates = dynamic_projection(h, params.hh, params.reduce_range) + x_gates
    i, f, g, o = (gates[:, k * h.shape[1]:(k + 1) * h.shape[1]] for k in range(4))
    c = _sigmoid(f) * c + _sigmoid(i) * _tanh(g)
    return _sigmoid(o) * _tanh(c), c


def gru_cell(x_gates, states: tuple, params: CellParams) -> tuple:
    """One GRU step (gate order r, z, n; ``b_hn`` inside the reset product) from the input's projection."""
    (h,) = states
    size = h.shape[1]
    h_gates = dynamic_projection(h, params.hh, params.reduce_range)
    r = _sigmoid(h_gates[:, :size] + x_gates[:, :size])
    z = _sigmoid(h_gates[:, size:2 * size] + x_gates[:, size:2 * size])
    n = _tanh(x_gates[:, 2 * size:] + h_gates[:, 2 * size:] * r)
    return ((h - n) * z + n,)


def tanh_cell(x_gates, states: tuple, params: CellParams) -> tuple:
    (h,) = states
    return (_tanh(dynamic_projection(h, params.hh, params.reduce_range) + x_gates),)


def relu_cell(x_gates, states: tuple, params: CellParams) -> tuple:
    (h,) = states
    pre = dynamic_projection(h, params.hh, params.reduce_range) + x_gates
    return (xp_of(pre).maximum(pre, np.float32(0)),)


def _direction(cell, x, states: tuple, params: CellParams, reverse: bool):
    """One direction of one layer over time-major ``x`` (T, N, I); the outputs (T, N, H) and final states."""
    x_gates = dynamic_projection(x, params.ih, params.reduce_range)
    outputs = [None] * x.shape[0]
    for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
        states = cell(x_gates[t], states, params)
        outputs[t] = states[0]
    return xp_of(x).stack(outputs), states


def _packed_direction(cell, data, batch_sizes: tuple, states: tuple, params: CellParams, reverse: bool):
    """One direction over a packed sequence's data (total, I): step ``t`` updates the first ``batch_sizes[t]``
    rows of each (N, H) state, so a sequence keeps its state once it has ended (forward) or until it begins
    (reverse), as ATen's packed layers do by slicing and concatenating the state."""
    x_gates = dynamic_projection(data, params.ih, params.reduce_range)
    states = tuple(s.copy() for s in states)
    output = xp_of(data).empty((data.shape[0], states[0].shape[1]), dtype=np.float32)
    for rows, size in _packed_steps(batch_sizes, reverse):
        new = cell(x_gates[rows], tuple(s[:size] for s in states), params)
        for state, value in zip(states, new):
            state[:size] = value
        output[rows] = new[0]
    return output, states


def run_layers(cell, x, initial: list, all_params: list, num_layers: int, bidirectional: bool, dropout=None,
               batch_sizes: tuple | None = None):
    """Every layer and direction over time-major ``x`` (T, N, I), or a packed sequence's data when
    ``batch_sizes`` is given. ``initial`` holds each state as (layers * directions, N, H); ``dropout`` (a function
    of an array, or None) runs between layers. Returns the last layer's output and the final states, stacked like
    ``initial``."""
    xp = xp_of(x)
    if batch_sizes is None and x.shape[0] == 0:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    directions = 2 if bidirectional else 1
    finals = [[] for _ in initial]
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            states = tuple(state[k] for state in initial)
            if batch_sizes is None:
                out, last = _direction(cell, x, states, all_params[k], direction == 1)
            else:
                out, last = _packed_direction(cell, x, batch_sizes, states, all_params[k], direction == 1)
            outputs.append(out)
            for stacked, state in zip(finals, last):
                stacked.append(state)
        x = xp.concatenate(outputs, axis=-1) if directions == 2 else outputs[0]
        if dropout is not None and layer < num_layers - 1:
            x = dropout(x)
    return x, [xp.stack(s) for s in finals]
