"""Recurrent layers over a packed sequence: ``PackedRnnTanh``, ``PackedRnnRelu``, ``PackedLstm``, ``PackedGru``.

The recurrences of ``trainer.ops.rnn`` on the layout of a ``PackedSequence``: ``x`` is (total, I), the
rows of each time step one after the other, ``batch_sizes[t]`` of them at step ``t`` (a non-increasing
tuple of ints: the sequences are sorted longest first). The initial state(s) are (N, H) with
``N = batch_sizes[0]``; the output is packed like ``x``, (total, H); the final states are (N, H).

Step ``t`` updates only the first ``batch_sizes[t]`` rows of an (N, H) state and costs a
(batch_sizes[t], H) @ (H, G) product. A sequence that has ended keeps its state, so the forward
direction's final state is each sequence's own last step; one that has not begun yet keeps its initial
state, so the reverse direction (``reverse=True``) starts each sequence at its own end. Backward walks the
steps the other way with the same rule, which leaves the initial states' grads in the state buffer.

The state each step started from is recorded as the loop goes (a sequence's previous step is not the
previous row block's same row in the reverse direction); everything else is the unpacked ops' maths.
"""

from __future__ import annotations

import itertools

from trainer.autograd.op import Function
from trainer.autograd.recompute import recompute_backward
from trainer.backend import xp_of
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.rnn import (
    _elman_derivative,
    _elman_step,
    _elman_step_back,
    _grads,
    _gru_buffers,
    _gru_factors,
    _gru_input_side,
    _gru_projections,
    _gru_step,
    _gru_step_back,
    _input_projection,
    _lstm_buffers,
    _lstm_factors,
    _lstm_projections,
    _lstm_step,
    _lstm_step_back,
    _save,
    _summed_bias,
    _transposed,
)
from trainer.ops.rnn_composite import elman_cell, gru_cell, lstm_cell, recurrence


def _packed_steps(batch_sizes: tuple, reverse: bool) -> list:
    """``(rows of step t in the packed layout, batch_sizes[t])`` in the order the recurrence walks them."""
    bounds = list(itertools.accumulate(batch_sizes, initial=0))
    steps = [(slice(bounds[t], bounds[t + 1]), size) for t, size in enumerate(batch_sizes)]
    return steps[::-1] if reverse else steps


def _save_packed(ctx, inputs, out, batch_sizes, reverse, hprev):
    _save(ctx, inputs, out, reverse)
    ctx.batch_sizes, ctx.hprev = batch_sizes, hprev


def _recorded_backward(ctx, grads, cell, n_states):
    """The input grads as recorded tensors, by recomputing the layer with differentiable ops."""
    steps = _packed_steps(ctx.batch_sizes, ctx.reverse)
    return recompute_backward(ctx, grads, ctx.inputs, recurrence(cell, n_states, ctx.reverse, steps))


def _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse, relu):
    xp = xp_of(x)
    pre = _input_projection(x, w_ih, _summed_bias(b_ih, b_hh))
    whh_t = _transposed(w_hh)
    out = xp.empty_like(pre)
    hprev = xp.empty_like(pre)
    h = h0.copy()
    for rows, size in _packed_steps(batch_sizes, reverse):
        hprev[rows] = h[:size]
        h[:size] = _elman_step(xp, rows, h[:size], pre, whh_t, out, relu)
    _save_packed(ctx, (x, h0, w_ih, w_hh, b_ih, b_hh), out, batch_sizes, reverse, hprev)
    return out, h


def _elman_backward(ctx, gy, gh, relu):
    xp = xp_of(gy)
    derivative = _elman_derivative(ctx.states, relu)
    da = xp.empty_like(ctx.states)
    dh = gh.copy()
    for rows, size in _packed_steps(ctx.batch_sizes, not ctx.reverse):
        dh[:size] = _elman_step_back(xp, rows, dh[:size], gy, derivative, da, ctx.w_hh)
    return _grads(ctx, da, da, (dh,), ctx.hprev)


@bfloat16_opmath  # as RnnTanh
class PackedRnnTanh(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, batch_sizes, reverse=False):
        return _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse, relu=False)

    @staticmethod
    def backward(ctx, gy, gh):
        return _elman_backward(ctx, gy, gh, relu=False)

    @staticmethod
    def backward_graph(ctx, gy, gh):
        return _recorded_backward(ctx, (gy, gh), elman_cell(relu=False), 1)


@bfloat16_opmath
class PackedRnnRelu(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, batch_sizes, reverse=False):
        return _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse, relu=True)

    @staticmethod
    def backward(ctx, gy, gh):
        return _elman_backward(ctx, gy, gh, relu=True)

    @staticmethod
    def backward_graph(ctx, gy, gh):
        return _recorded_backward(ctx, (gy, gh), elman_cell(relu=True), 1)


class PackedLstm(Function):
    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, batch_sizes, reverse=False):
        xp = xp_of(x)
        pre, whh_t, scale, offset = _lstm_projections(xp, x, w_ih, w_hh, b_ih, b_hh)
        saved = _lstm_buffers(xp, x, w_hh.shape[1])
        gates, cells, tanh_cells, out = saved
        hprev, cprev = xp.empty_like(out), xp.empty_like(out)
        h, c = h0.copy(), c0.copy()
        for rows, size in _packed_steps(batch_sizes, reverse):
            hprev[rows], cprev[rows] = h[:size], c[:size]
            h[:size], c[:size] = _lstm_step(xp, rows, h[:size], c[:size], pre, whh_t, scale, offset, saved)
        _save_packed(ctx, (x, h0, c0, w_ih, w_hh, b_ih, b_hh), out, batch_sizes, reverse, hprev)
        ctx.cprev, ctx.gates, ctx.tanh_cells = cprev, gates, tanh_cells
        return out, h, c

    @staticmethod
    def backward(ctx, gy, gh, gc):
        xp = xp_of(gy)
        factors = _lstm_factors(xp, ctx.gates, ctx.cprev, ctx.tanh_cells)
        da = xp.empty_like(factors[0])
        dh, dc = gh.copy(), gc.copy()
        for rows, size in _packed_steps(ctx.batch_sizes, not ctx.reverse):
            dh[:size], dc[:size] = _lstm_step_back(xp, rows, dh[:size], dc[:size], gy, factors, da, ctx.w_hh)
        da = da.reshape(len(da), -1)
        return _grads(ctx, da, da, (dh, dc), ctx.hprev)

    @staticmethod
    def backward_graph(ctx, gy, gh, gc):
        return _recorded_backward(ctx, (gy, gh, gc), lstm_cell, 2)


class PackedGru(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, batch_sizes, reverse=False):
        xp = xp_of(x)
        pre, whh_t, b_hn = _gru_projections(xp, x, w_ih, w_hh, b_ih, b_hh)
        saved = _gru_buffers(xp, x, w_hh.shape[1])
        rz_gates, hn, n, out = saved
        hprev = xp.empty_like(out)
        h = h0.copy()
        for rows, size in _packed_steps(batch_sizes, reverse):
            hprev[rows] = h[:size]
            h[:size] = _gru_step(xp, rows, h[:size], pre, whh_t, b_hn, saved)
        _save_packed(ctx, (x, h0, w_ih, w_hh, b_ih, b_hh), out, batch_sizes, reverse, hprev)
        ctx.rz_gates, ctx.hn, ctx.n = rz_gates, hn, n
        return out, h

    @staticmethod
    def backward(ctx, gy, gh):
        xp = xp_of(gy)
        factor, dn_in, update = _gru_factors(xp, ctx.rz_gates, ctx.hn, ctx.n, ctx.hprev)
        dh_all = xp.empty_like(dn_in)
        dgh = xp.empty_like(factor)
        dh = gh.copy()
        for rows, size in _packed_steps(ctx.batch_sizes, not ctx.reverse):
            dh[:size] = _gru_step_back(xp, rows, dh[:size], gy, factor, update, dh_all, dgh, ctx.w_hh)
        dgh = dgh.reshape(len(dgh), -1)
        return _grads(ctx, _gru_input_side(dgh, dh_all, dn_in), dgh, (dh,), ctx.hprev)

    @staticmethod
    def backward_graph(ctx, gy, gh):
        return _recorded_backward(ctx, (gy, gh), gru_cell, 1)
