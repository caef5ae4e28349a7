"""The recurrences of ``trainer.ops.rnn`` and ``trainer.ops.packed_rnn`` composed of differentiable tensor ops.

The fused ops differentiate once by hand; their ``backward_graph`` re-runs the layer with these (matmul, sigmoid,
tanh, slicing, cat/stack: each differentiable to any order) and differentiates that. ``recurrence(cell, ...)``
returns a function of the fused op's inputs ``(x, *states, w_ih, w_hh, b_ih=None, b_hh=None)`` giving its
outputs ``(out, *final_states)``, in the padded (T, N, I) or the packed (total, I) layout. Gate orders are
PyTorch's: LSTM (i, f, g, o), GRU (r, z, n) with ``b_hn`` inside the ``r *`` term.
"""

from __future__ import annotations

from trainer.ops.join import cat, stack


def _affine(x, w, b):
    y = x @ w.mT
    return y if b is None else y + b


def elman_cell(relu: bool):
    """``h = act(gi + h W_hh^T + b_hh)``, with ``gi`` the input side's projection of the step."""
    def cell(gi, states, w_hh, b_hh):
        a = gi + _affine(states[0], w_hh, b_hh)
        return (a.relu() if relu else a.tanh(),)

    return cell


def lstm_cell(gi, states, w_hh, b_hh):
    h, c = states
    gates = gi + _affine(h, w_hh, b_hh)
    hidden = h.shape[-1]
    i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_cell(gi, states, w_hh, b_hh):
    (h,) = states
    gh = _affine(h, w_hh, b_hh)
    hidden = h.shape[-1]
    r = (gi[..., :hidden] + gh[..., :hidden]).sigmoid()
    z = (gi[..., hidden:2 * hidden] + gh[..., hidden:2 * hidden]).sigmoid()
    n = (gi[..., 2 * hidden:] + r * gh[..., 2 * hidden:]).tanh()
    return ((1 - z) * n + z * h,)


def recurrence(cell, n_states: int, reverse: bool, packed_steps=None):
    """The layer of ``cell`` over a whole sequence: padded, or packed when ``packed_steps`` (``(rows, batch size)``
    of each step, in the order the recurrence walks them) is given."""
    def run(x, *rest):
        states = tuple(rest[:n_states])
        w_ih, w_hh, b_ih, b_hh = (*rest[n_states:], None, None)[:4]
        gi = _affine(x, w_ih, b_ih)  # every step's input side in one product
        if packed_steps is None:
            return _run_padded(cell, gi, states, w_hh, b_hh, reverse)
        return _run_packed(cell, gi, states, w_hh, b_hh, packed_steps, reverse)

    return run


def _run_padded(cell, gi, states, w_hh, b_hh, reverse):
    steps = range(gi.shape[0] - 1, -1, -1) if reverse else range(gi.shape[0])
    outputs = {}
    for t in steps:
        states = cell(gi[t], states, w_hh, b_hh)
        outputs[t] = states[0]
    return (stack([outputs[t] for t in range(gi.shape[0])]), *states)


def _run_packed(cell, gi, states, w_hh, b_hh, packed_steps, reverse):
    """A step of ``size`` rows updates the first ``size`` rows of each state; the other rows keep theirs."""
    outputs = []
    for rows, size in packed_steps:
        new = cell(gi[rows], tuple(s[:size] for s in states), w_hh, b_hh)
        outputs.append(new[0])
        states = tuple(n if size == s.shape[0] else cat([n, s[size:]]) for n, s in zip(new, states))
    return (cat(outputs[::-1] if reverse else outputs), *states)
