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
once, and the weight gradients are one GEMM each over the whole sequence.

Sigmoids are taken as ``0.5 * tanh(0.5 * a) + 0.5``, which never overflows and lets one ``tanh``
call cover every gate of a step; the 0.5 is folded into the projections (exact, a power of two).
"""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of


def _steps(length: int, reverse: bool) -> range:
    return range(length - 1, -1, -1) if reverse else range(length)


def _transposed(w):
    """``w.T`` laid out row-major: BLAS runs the products with it several times faster than with the view."""
    return xp_of(w).ascontiguousarray(w.T)


def _input_projection(x, w_ih, bias, scale=None):
    """``x @ w_ih.T + bias`` for every step in one GEMM, optionally scaled per gate row: (T, N, G)."""
    steps, batch, features = x.shape
    out = x.reshape(steps * batch, features) @ _transposed(w_ih)
    if bias is not None:
        out += bias
    if scale is not None:
        out *= scale
    return out.reshape(steps, batch, -1)


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


def _save(ctx, x, h0, w_ih, w_hh, out, reverse):
    """What every recurrence's backward needs; the arrays a caller could edit in place are checked."""
    ctx.save_for_backward(x, h0, w_ih, w_hh, out)
    ctx.x, ctx.h0, ctx.w_ih, ctx.w_hh, ctx.states, ctx.reverse = x, h0, w_ih, w_hh, out, reverse


def _grads(ctx, dx_gates, dh_gates, dstates, hprev=None):
    """The input grads from the pre-activation grads of the input side ``dx_gates`` and of the
    recurrent side ``dh_gates`` (both (T, N, G)) and the initial states' grads: one GEMM per weight,
    one for ``dx``, all steps at once."""
    x, w_ih, needs = ctx.x, ctx.w_ih, ctx.needs_input_grad
    steps, batch, features = x.shape
    gi = dx_gates.reshape(steps * batch, -1)
    gh = dh_gates.reshape(steps * batch, -1)
    k = 1 + len(dstates)  # index of w_ih among the inputs
    dx = (gi @ w_ih).reshape(x.shape) if needs[0] else None
    dw_ih = gi.T @ x.reshape(steps * batch, features) if needs[k] else None
    if needs[k + 1]:
        if hprev is None:
            hprev = _previous(ctx.states, ctx.h0, ctx.reverse)
        dw_hh = gh.T @ hprev.reshape(steps * batch, -1)
    else:
        dw_hh = None
    grads = [dx, *(d if need else None for d, need in zip(dstates, needs[1:k])), dw_ih, dw_hh]
    if len(needs) > k + 2:
        grads.append(gi.sum(axis=0) if needs[k + 2] else None)
        grads.append(gh.sum(axis=0) if needs[k + 3] else None)
    return tuple(grads)


def _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, relu):
    """``h_t = act(x_t @ w_ih.T + b_ih + h_{t-1} @ w_hh.T + b_hh)``."""
    xp = xp_of(x)
    bias = None if b_ih is None else b_ih + b_hh
    pre = _input_projection(x, w_ih, bias)
    whh_t = _transposed(w_hh)
    out = xp.empty(pre.shape, dtype=pre.dtype)
    h = h0
    for t in _steps(x.shape[0], reverse):
        a = h @ whh_t
        a += pre[t]
        h = xp.maximum(a, 0, out=out[t]) if relu else xp.tanh(a, out=out[t])
    _save(ctx, x, h0, w_ih, w_hh, out, reverse)
    return out, h.copy()


def _elman_backward(ctx, gy, gh, relu):
    xp = xp_of(gy)
    out, w_hh, reverse = ctx.states, ctx.w_hh, ctx.reverse
    deriv = (out > 0).astype(out.dtype) if relu else 1 - out * out
    da = xp.empty_like(out)
    dh = gh
    for t in _steps(out.shape[0], not reverse):
        xp.add(gy[t], dh, out=da[t])
        da[t] *= deriv[t]
        dh = da[t] @ w_hh
    return _grads(ctx, da, da, (dh,))


class RnnTanh(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        return _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, relu=False)

    @staticmethod
    def backward(ctx, gy, gh):
        return _elman_backward(ctx, gy, gh, relu=False)


class RnnRelu(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        return _elman_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, relu=True)

    @staticmethod
    def backward(ctx, gy, gh):
        return _elman_backward(ctx, gy, gh, relu=True)


class Lstm(Function):
    """``i, f, g, o`` gates; ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        xp = xp_of(x)
        hidden = w_hh.shape[1]
        scale, offset = _sigmoid_rows(xp, hidden, "ssts", x.dtype)
        bias = None if b_ih is None else b_ih + b_hh
        pre = _input_projection(x, w_ih, bias, scale)
        whh_t = _transposed(w_hh * scale[:, None])
        steps, batch = x.shape[:2]
        gates = xp.empty((steps, batch, 4 * hidden), dtype=x.dtype)
        cells = xp.empty((steps, batch, hidden), dtype=x.dtype)
        tanh_cells = xp.empty_like(cells)
        out = xp.empty_like(cells)
        h, c = h0, c0
        for t in _steps(steps, reverse):
            a = h @ whh_t
            a += pre[t]
            g = xp.tanh(a, out=gates[t])
            g *= scale
            g += offset
            c_new = xp.multiply(g[:, hidden:2 * hidden], c, out=cells[t])
            c_new += g[:, :hidden] * g[:, 2 * hidden:3 * hidden]
            c = c_new
            tc = xp.tanh(c, out=tanh_cells[t])
            h = xp.multiply(g[:, 3 * hidden:], tc, out=out[t])
        _save(ctx, x, h0, w_ih, w_hh, out, reverse)
        ctx.c0, ctx.gates, ctx.cells, ctx.tanh_cells = c0, gates, cells, tanh_cells
        return out, h.copy(), c.copy()

    @staticmethod
    def backward(ctx, gy, gh, gc):
        xp = xp_of(gy)
        gates, tanh_cells, w_hh, reverse = ctx.gates, ctx.tanh_cells, ctx.w_hh, ctx.reverse
        steps, batch, hidden = tanh_cells.shape
        g4 = gates.reshape(steps, batch, 4, hidden)
        i, f, g, o = g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3]
        cprev = _previous(ctx.cells, ctx.c0, reverse)
        # every pre-activation grad is dc (i, f, g) or dh (o) times a factor known before the loop
        factor = xp.empty_like(g4)
        xp.multiply(g, i * (1 - i), out=factor[:, :, 0])
        xp.multiply(cprev, f * (1 - f), out=factor[:, :, 1])
        xp.multiply(i, 1 - g * g, out=factor[:, :, 2])
        xp.multiply(tanh_cells, o * (1 - o), out=factor[:, :, 3])
        dh_to_dc = o * (1 - tanh_cells * tanh_cells)
        da = xp.empty_like(g4)
        dh, dc = gh, gc
        for t in _steps(steps, not reverse):
            dh = gy[t] + dh
            dc = dh * dh_to_dc[t] + dc
            xp.multiply(dc[:, None, :], factor[t, :, :3], out=da[t, :, :3])
            xp.multiply(dh, factor[t, :, 3], out=da[t, :, 3])
            dc = dc * f[t]
            dh = da[t].reshape(batch, 4 * hidden) @ w_hh
        da = da.reshape(steps, batch, 4 * hidden)
        return _grads(ctx, da, da, (dh, dc))


class Gru(Function):
    """``r, z, n`` gates; ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        xp = xp_of(x)
        hidden = w_hh.shape[1]
        scale, _ = _sigmoid_rows(xp, hidden, "sst", x.dtype)
        rz, n_rows = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        if b_ih is None:
            bias, b_hn = None, None
        else:  # b_hh's r and z parts add like b_ih's; b_hn stays inside r * (...)
            bias = b_ih.copy()
            bias[rz] += b_hh[rz]
            b_hn = b_hh[n_rows]
        pre = _input_projection(x, w_ih, bias, scale)
        whh_t = _transposed(w_hh * scale[:, None])
        steps, batch = x.shape[:2]
        rz_gates = xp.empty((steps, batch, 2 * hidden), dtype=x.dtype)
        hn = xp.empty((steps, batch, hidden), dtype=x.dtype)
        n = xp.empty_like(hn)
        out = xp.empty_like(hn)
        h = h0
        for t in _steps(steps, reverse):
            a = h @ whh_t
            s = xp.add(a[:, rz], pre[t, :, rz], out=rz_gates[t])
            xp.tanh(s, out=s)
            s *= 0.5
            s += 0.5
            if b_hn is None:
                hn[t] = a[:, n_rows]
            else:
                xp.add(a[:, n_rows], b_hn, out=hn[t])
            nt = xp.multiply(s[:, :hidden], hn[t], out=n[t])
            nt += pre[t, :, n_rows]
            xp.tanh(nt, out=nt)
            h_new = xp.subtract(h, nt, out=out[t])
            h_new *= s[:, hidden:]
            h_new += nt
            h = h_new
        _save(ctx, x, h0, w_ih, w_hh, out, reverse)
        ctx.rz_gates, ctx.hn, ctx.n = rz_gates, hn, n
        return out, h.copy()

    @staticmethod
    def backward(ctx, gy, gh):
        xp = xp_of(gy)
        rz_gates, hn, n, w_hh, reverse = ctx.rz_gates, ctx.hn, ctx.n, ctx.w_hh, ctx.reverse
        steps, batch, hidden = n.shape
        r, z = rz_gates[:, :, :hidden], rz_gates[:, :, hidden:]
        hprev = _previous(ctx.states, ctx.h0, reverse)
        # the recurrent side's pre-activation grads are dh times these factors, known before the loop
        dn_in = (1 - z) * (1 - n * n)
        factor = xp.empty((steps, batch, 3, hidden), dtype=n.dtype)
        xp.multiply(dn_in * hn, r * (1 - r), out=factor[:, :, 0])
        xp.multiply(hprev - n, z * (1 - z), out=factor[:, :, 1])
        xp.multiply(dn_in, r, out=factor[:, :, 2])
        dh_all = xp.empty_like(n)
        dgh = xp.empty_like(factor)
        dh = gh
        for t in _steps(steps, not reverse):
            d = xp.add(gy[t], dh, out=dh_all[t])
            xp.multiply(d[:, None, :], factor[t], out=dgh[t])
            dh = dgh[t].reshape(batch, 3 * hidden) @ w_hh
            dh += d * z[t]
        dgh = dgh.reshape(steps, batch, 3 * hidden)
        dgi = dgh.copy()
        xp.multiply(dh_all, dn_in, out=dgi[:, :, 2 * hidden:])
        return _grads(ctx, dgi, dgh, (dh,), hprev)
