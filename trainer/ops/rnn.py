"""Recurrent layers over a whole sequence: ``RnnTanh``, ``RnnRelu``, ``Lstm``, ``Gru``.

One op runs one layer in one direction over all time steps, so a layer is one graph node (and one
ONNX ``RNN``/``LSTM``/``GRU`` node when exported). Inputs are ``x`` (T, N, I), the initial state(s)
(N, H), ``w_ih`` (G, I), ``w_hh`` (G, H) and optionally ``b_ih``, ``b_hh`` (G,); outputs are the
hidden state of every step (T, N, H) and the final state(s) (N, H). ``reverse=True`` walks time
backwards (the second direction of a bidirectional layer) while the output stays in time order.

Gate layouts are PyTorch's: LSTM rows (i, f, g, o), GRU rows (r, z, n) with ``b_hn`` inside the
``r *`` term. The input projection of all steps is one GEMM before the loop; each step then costs
one (N, H) @ (H, G) product and a few elementwise ops. Backward through time is written by hand:
the loop only carries the recurrent gradient, everything that can be is computed for all steps at
once, and the weight gradients are one GEMM each over the whole sequence. A recorded backward
(``create_graph=True``) instead re-runs the layer with differentiable ops (``trainer.ops.rnn_composite``)
and differentiates that, so gradient penalties and Hessian-vector products reach any order.

Sigmoids are taken as ``0.5 * tanh(0.5 * a) + 0.5``, which never overflows and lets one ``tanh``
call cover every gate of a step; the 0.5 is folded into the projections (exact, a power of two).

The step functions (``_*_step`` and ``_*_step_back``) take the step as an index ``k`` into arrays
whose leading axis is time, so ``trainer.ops.packed_rnn`` runs the same maths with ``k`` the rows of
one step of a packed sequence.
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.autograd.recompute import recompute_backward
from trainer.backend import xp_of
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.rnn_composite import elman_cell, gru_cell, lstm_cell, recurrence


def _steps(length: int, reverse: bool) -> range:
    return range(length - 1, -1, -1) if reverse else range(length)


def _transposed(w):
    """``w.T`` laid out row-major: BLAS runs the products with it several times faster than with the view."""
    return xp_of(w).ascontiguousarray(w.T)


def _input_projection(x, w_ih, bias, scale=None):
    """``x @ w_ih.T + bias`` for every row of ``x`` (any leading shape) in one GEMM, optionally scaled per
    gate row: (..., G)."""
    out = x.reshape(-1, x.shape[-1]) @ _transposed(w_ih)
    if bias is not None:
        out += bias
    if scale is not None:
        out *= scale
    return out.reshape(*x.shape[:-1], -1)


def _previous(states, initial, reverse: bool):
    """The state each step started from, in time order: (T, N, H)."""
    xp = xp_of(states)
    if reverse:
        return xp.concatenate((states[1:], initial[None]))
    return xp.concatenate((initial[None], states[:-1]))


def _sigmoid_rows(xp, hidden: int, blocks: str, dtype):
    """Per-row factors for the gate blocks (``s`` sigmoid, ``t`` tanh): scale and offset so that
    ``tanh(scale * a) * scale + offset`` is each gate's activation."""
    scale = xp.concatenate([xp.full(hidden, 0.5 if b == "s" else 1.0, dtype=dtype) for b in blocks])
    return scale, xp.where(scale == 0.5, scale, 0).astype(dtype)


def _save(ctx, inputs, out, reverse):
    """What every recurrence's backward needs, from forward's ``inputs`` ``(x, *states, w_ih, w_hh, b_ih, b_hh)``;
    the arrays a caller could edit in place are checked. All inputs are kept: a recorded backward recomputes."""
    ctx.save_for_backward(*inputs, out)
    x, h0, w_ih, w_hh = inputs[0], inputs[1], inputs[-4], inputs[-3]
    ctx.inputs, ctx.x, ctx.h0, ctx.w_ih, ctx.w_hh, ctx.states, ctx.reverse = inputs, x, h0, w_ih, w_hh, out, reverse


def _grads(ctx, dx_gates, dh_gates, dstates, hprev=None):
    """The input grads from the pre-activation grads of the input side ``dx_gates`` and of the
    recurrent side ``dh_gates`` (both (..., G), laid out as ``x``'s rows) and the initial states' grads:
    one GEMM per weight, one for ``dx``, all steps at once."""
    x, w_ih, needs = ctx.x, ctx.w_ih, ctx.needs_input_grad
    rows = x.reshape(-1, x.shape[-1])
    gi = dx_gates.reshape(len(rows), -1)
    gh = dh_gates.reshape(len(rows), -1)
    k = 1 + len(dstates)  # index of w_ih among the inputs
    dx = (gi @ w_ih).reshape(x.shape) if needs[0] else None
    dw_ih = gi.T @ rows if needs[k] else None
    if needs[k + 1]:
        if hprev is None:
            hprev = _previous(ctx.states, ctx.h0, ctx.reverse)
        dw_hh = gh.T @ hprev.reshape(len(rows), -1)
    else:
        dw_hh = None
    grads = [dx, *(d if need else None for d, need in zip(dstates, needs[1:k])), dw_ih, dw_hh]
    if len(needs) > k + 2:
        grads.append(gi.sum(axis=0) if needs[k + 2] else None)
        grads.append(gh.sum(axis=0) if needs[k + 3] else None)
    return tuple(grads)


def _summed_bias(b_ih, b_hh):
    """``b_ih + b_hh``, or None for a layer without biases."""
    return None if b_ih is None else b_ih + b_hh


def _elman_step(xp, k, h, pre, whh_t, out, relu):
    """Step ``k``: ``out[k] = act(h @ w_hh.T + pre[k])``, returned as the next state."""
    a = h @ whh_t
    a += pre[k]
    return xp.maximum(a, 0, out=out[k]) if relu else xp.tanh(a, out=out[k])


def _elman_derivative(out, relu):
    """The activation's derivative at every step, from its outputs."""
    return (out > 0).astype(out.dtype) if relu else 1 - out * out


def _elman_step_back(xp, k, dh, gy, derivative, da, w_hh):
    """Step ``k`` backwards: its pre-activation grad into ``da[k]``; returns the grad of the state it started from."""
    xp.add(gy[k], dh, out=da[k])
    da[k] *= derivative[k]
    return da[k] @ w_hh


def _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, relu):
    """``h_t = act(x_t @ w_ih.T + b_ih + h_{t-1} @ w_hh.T + b_hh)``."""
    xp = xp_of(x)
    pre = _input_projection(x, w_ih, _summed_bias(b_ih, b_hh))
    whh_t = _transposed(w_hh)
    out = xp.empty(pre.shape, dtype=pre.dtype)
    h = h0
    for t in _steps(x.shape[0], reverse):
        h = _elman_step(xp, t, h, pre, whh_t, out, relu)
    _save(ctx, (x, h0, w_ih, w_hh, b_ih, b_hh), out, reverse)
    return out, h.copy()


def _elman_backward(ctx, gy, gh, relu):
    xp = xp_of(gy)
    out = ctx.states
    derivative = _elman_derivative(out, relu)
    da = xp.empty_like(out)
    dh = gh
    for t in _steps(out.shape[0], not ctx.reverse):
        dh = _elman_step_back(xp, t, dh, gy, derivative, da, ctx.w_hh)
    return _grads(ctx, da, da, (dh,))


@bfloat16_opmath  # the projection of the inputs is float32 for bfloat16 ones: round the outputs once
class RnnTanh(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        return _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, relu=False)

    @staticmethod
    def backward(ctx, gy, gh):
        return _elman_backward(ctx, gy, gh, relu=False)

    @staticmethod
    def backward_graph(ctx, gy, gh):
        return recompute_backward(ctx, (gy, gh), ctx.inputs, recurrence(elman_cell(relu=False), 1, ctx.reverse))


@bfloat16_opmath
class RnnRelu(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        return _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, relu=True)

    @staticmethod
    def backward(ctx, gy, gh):
        return _elman_backward(ctx, gy, gh, relu=True)

    @staticmethod
    def backward_graph(ctx, gy, gh):
        return recompute_backward(ctx, (gy, gh), ctx.inputs, recurrence(elman_cell(relu=True), 1, ctx.reverse))


def _lstm_projections(xp, x, w_ih, w_hh, b_ih, b_hh):
    """The scaled input projection, the scaled ``w_hh.T`` and the gate rows' scale and offset."""
    scale, offset = _sigmoid_rows(xp, w_hh.shape[1], "ssts", x.dtype)
    pre = _input_projection(x, w_ih, _summed_bias(b_ih, b_hh), scale)
    return pre, _transposed(w_hh * scale[:, None]), scale, offset


def _lstm_buffers(xp, x, hidden):
    """Per step: the gate activations (..., 4H), the cell, tanh(cell) and the output (..., H)."""
    lead = x.shape[:-1]
    cells = xp.empty((*lead, hidden), dtype=x.dtype)
    return xp.empty((*lead, 4 * hidden), dtype=x.dtype), cells, xp.empty_like(cells), xp.empty_like(cells)


def _lstm_step(xp, k, h, c, pre, whh_t, scale, offset, saved):
    """Step ``k``: gates, cell, tanh(cell) and output go to ``saved``'s arrays at ``k``; returns (h, c)."""
    gates, cells, tanh_cells, out = saved
    hidden = c.shape[-1]
    a = h @ whh_t
    a += pre[k]
    g = xp.tanh(a, out=gates[k])
    g *= scale
    g += offset
    c_new = xp.multiply(g[:, hidden:2 * hidden], c, out=cells[k])
    c_new += g[:, :hidden] * g[:, 2 * hidden:3 * hidden]
    tc = xp.tanh(c_new, out=tanh_cells[k])
    return xp.multiply(g[:, 3 * hidden:], tc, out=out[k]), c_new


def _lstm_factors(xp, gates, cprev, tanh_cells):
    """Known before backward's loop: every pre-activation grad is ``dc`` (gates i, f, g) or ``dh`` (gate o)
    times ``factor`` (..., 4, H); also the factor from ``dh`` to ``dc`` and the forget gate."""
    hidden = tanh_cells.shape[-1]
    g4 = gates.reshape(*tanh_cells.shape[:-1], 4, hidden)
    i, f, g, o = g4[..., 0, :], g4[..., 1, :], g4[..., 2, :], g4[..., 3, :]
    factor = xp.empty_like(g4)
    xp.multiply(g, i * (1 - i), out=factor[..., 0, :])
    xp.multiply(cprev, f * (1 - f), out=factor[..., 1, :])
    xp.multiply(i, 1 - g * g, out=factor[..., 2, :])
    xp.multiply(tanh_cells, o * (1 - o), out=factor[..., 3, :])
    return factor, o * (1 - tanh_cells * tanh_cells), f


def _lstm_step_back(xp, k, dh, dc, gy, factors, da, w_hh):
    """Step ``k`` backwards: its pre-activation grads into ``da[k]`` (rows, 4, H); returns the grads of the
    states it started from."""
    factor, dh_to_dc, forget = factors
    dh = gy[k] + dh
    dc = dh * dh_to_dc[k] + dc
    da_k, factor_k = da[k], factor[k]
    xp.multiply(dc[:, None, :], factor_k[:, :3], out=da_k[:, :3])
    xp.multiply(dh, factor_k[:, 3], out=da_k[:, 3])
    return da_k.reshape(len(da_k), -1) @ w_hh, dc * forget[k]


class Lstm(Function):
    """``i, f, g, o`` gates; ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        xp = xp_of(x)
        pre, whh_t, scale, offset = _lstm_projections(xp, x, w_ih, w_hh, b_ih, b_hh)
        saved = _lstm_buffers(xp, x, w_hh.shape[1])
        h, c = h0, c0
        for t in _steps(x.shape[0], reverse):
            h, c = _lstm_step(xp, t, h, c, pre, whh_t, scale, offset, saved)
        gates, cells, tanh_cells, out = saved
        _save(ctx, (x, h0, c0, w_ih, w_hh, b_ih, b_hh), out, reverse)
        ctx.c0, ctx.gates, ctx.cells, ctx.tanh_cells = c0, gates, cells, tanh_cells
        return out, h.copy(), c.copy()

    @staticmethod
    def backward(ctx, gy, gh, gc):
        xp = xp_of(gy)
        cprev = _previous(ctx.cells, ctx.c0, ctx.reverse)
        factors = _lstm_factors(xp, ctx.gates, cprev, ctx.tanh_cells)
        da = xp.empty_like(factors[0])
        dh, dc = gh, gc
        for t in _steps(len(da), not ctx.reverse):
            dh, dc = _lstm_step_back(xp, t, dh, dc, gy, factors, da, ctx.w_hh)
        da = da.reshape(*da.shape[:-2], -1)
        return _grads(ctx, da, da, (dh, dc))

    @staticmethod
    def backward_graph(ctx, gy, gh, gc):
        return recompute_backward(ctx, (gy, gh, gc), ctx.inputs, recurrence(lstm_cell, 2, ctx.reverse))


def _gru_projections(xp, x, w_ih, w_hh, b_ih, b_hh):
    """The scaled input projection, the scaled ``w_hh.T`` and ``b_hn``, which stays inside ``r * (...)``
    (the r and z parts of ``b_hh`` add like ``b_ih``'s)."""
    hidden = w_hh.shape[1]
    scale, _ = _sigmoid_rows(xp, hidden, "sst", x.dtype)
    if b_ih is None:
        bias, b_hn = None, None
    else:
        bias = b_ih.copy()
        bias[:2 * hidden] += b_hh[:2 * hidden]
        b_hn = b_hh[2 * hidden:]
    pre = _input_projection(x, w_ih, bias, scale)
    return pre, _transposed(w_hh * scale[:, None]), b_hn


def _gru_buffers(xp, x, hidden):
    """Per step: the r and z gates (..., 2H), ``h W_hn + b_hn``, ``n`` and the output (..., H)."""
    lead = x.shape[:-1]
    hn = xp.empty((*lead, hidden), dtype=x.dtype)
    return xp.empty((*lead, 2 * hidden), dtype=x.dtype), hn, xp.empty_like(hn), xp.empty_like(hn)


def _gru_step(xp, k, h, pre, whh_t, b_hn, saved):
    """Step ``k``: gates, ``hn``, ``n`` and output go to ``saved``'s arrays at ``k``; returns the new state."""
    rz_gates, hn, n, out = saved
    hidden = h.shape[-1]
    rz, n_rows = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
    a = h @ whh_t
    pre_k = pre[k]
    s = xp.add(a[:, rz], pre_k[:, rz], out=rz_gates[k])
    xp.tanh(s, out=s)
    s *= 0.5
    s += 0.5
    if b_hn is None:
        hn[k] = a[:, n_rows]
    else:
        xp.add(a[:, n_rows], b_hn, out=hn[k])
    nt = xp.multiply(s[:, :hidden], hn[k], out=n[k])
    nt += pre_k[:, n_rows]
    xp.tanh(nt, out=nt)
    h_new = xp.subtract(h, nt, out=out[k])
    h_new *= s[:, hidden:]
    h_new += nt
    return h_new


def _gru_factors(xp, rz_gates, hn, n, hprev):
    """Known before backward's loop: the recurrent side's pre-activation grads are ``dh`` times ``factor``
    (..., 3, H); also ``dn``'s factor on the input side and the update gate."""
    hidden = n.shape[-1]
    r, z = rz_gates[..., :hidden], rz_gates[..., hidden:]
    dn_in = (1 - z) * (1 - n * n)
    factor = xp.empty((*n.shape[:-1], 3, hidden), dtype=n.dtype)
    xp.multiply(dn_in * hn, r * (1 - r), out=factor[..., 0, :])
    xp.multiply(hprev - n, z * (1 - z), out=factor[..., 1, :])
    xp.multiply(dn_in, r, out=factor[..., 2, :])
    return factor, dn_in, z


def _gru_step_back(xp, k, dh, gy, factor, update, dh_all, dgh, w_hh):
    """Step ``k`` backwards: the state's grad into ``dh_all[k]``, the recurrent side's pre-activation grads
    into ``dgh[k]`` (rows, 3, H); returns the grad of the state it started from."""
    d = xp.add(gy[k], dh, out=dh_all[k])
    dgh_k = dgh[k]
    xp.multiply(d[:, None, :], factor[k], out=dgh_k)
    dh = dgh_k.reshape(len(dgh_k), -1) @ w_hh
    dh += d * update[k]
    return dh


def _gru_input_side(dgh, dh_all, dn_in):
    """The input side's pre-activation grads: the recurrent side's for r and z, ``dh * dn_in`` for n."""
    hidden = dn_in.shape[-1]
    dgi = dgh.copy()
    xp_of(dgh).multiply(dh_all, dn_in, out=dgi[..., 2 * hidden:])
    return dgi


class Gru(Function):
    """``r, z, n`` gates; ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        xp = xp_of(x)
        pre, whh_t, b_hn = _gru_projections(xp, x, w_ih, w_hh, b_ih, b_hh)
        saved = _gru_buffers(xp, x, w_hh.shape[1])
        h = h0
        for t in _steps(x.shape[0], reverse):
            h = _gru_step(xp, t, h, pre, whh_t, b_hn, saved)
        rz_gates, hn, n, out = saved
        _save(ctx, (x, h0, w_ih, w_hh, b_ih, b_hh), out, reverse)
        ctx.rz_gates, ctx.hn, ctx.n = rz_gates, hn, n
        return out, h.copy()

    @staticmethod
    def backward(ctx, gy, gh):
        xp = xp_of(gy)
        hprev = _previous(ctx.states, ctx.h0, ctx.reverse)
        factor, dn_in, update = _gru_factors(xp, ctx.rz_gates, ctx.hn, ctx.n, hprev)
        dh_all = xp.empty_like(dn_in)
        dgh = xp.empty_like(factor)
        dh = gh
        for t in _steps(len(dgh), not ctx.reverse):
            dh = _gru_step_back(xp, t, dh, gy, factor, update, dh_all, dgh, ctx.w_hh)
        dgh = dgh.reshape(*dgh.shape[:-2], -1)
        return _grads(ctx, _gru_input_side(dgh, dh_all, dn_in), dgh, (dh,), hprev)

    @staticmethod
    def backward_graph(ctx, gy, gh):
        return recompute_backward(ctx, (gy, gh), ctx.inputs, recurrence(gru_cell, 1, ctx.reverse))
