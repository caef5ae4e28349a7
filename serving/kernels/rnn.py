"""Recurrent layers: RNN, GRU and LSTM over a whole sequence.

All directions run together: the input projection for every time step and direction is one matmul,
and the time loop does one batched ``(directions, batch, hidden) @ (directions, hidden, gates)``
matmul per step. A reverse direction reads each batch entry's own valid prefix backwards (its
``sequence_lens``), which is a per-entry index that is its own inverse, so the same gather maps
the outputs back into time order.
"""

# Names follow the ONNX operator spec's equations (X, W, R, B, P, H, Y), so a reader can check one against the other.
# ruff: noqa: N803, N806

from __future__ import annotations

import numpy as np

from serving.kernels.registry import kernel

# name -> (function of (xp, x, alpha, beta), default alpha, default beta); names match case-insensitively.
_ACTIVATIONS = {
    "relu": (lambda xp, x, a, b: xp.maximum(x, 0), None, None),
    "tanh": (lambda xp, x, a, b: xp.tanh(x), None, None),
    # The same function as 1 / (1 + exp(-x)), several times faster and without overflow for large -x.
    "sigmoid": (lambda xp, x, a, b: 0.5 * xp.tanh(0.5 * x) + 0.5, None, None),
    "affine": (lambda xp, x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda xp, x, a, b: xp.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda xp, x, a, b: xp.where(x >= a, x, 0), 1.0, None),
    "scaledtanh": (lambda xp, x, a, b: a * xp.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda xp, x, a, b: xp.clip(a * x + b, 0, 1), 0.2, 0.5),
    "elu": (lambda xp, x, a, b: xp.where(x >= 0, x, a * (xp.exp(xp.minimum(x, 0)) - 1)), 1.0, None),
    "softsign": (lambda xp, x, a, b: x / (1 + xp.abs(x)), None, None),
    "softplus": (lambda xp, x, a, b: xp.logaddexp(x, 0), None, None),
}

_DIRECTIONS = {"forward": (False,), "foward": (False,), "reverse": (True,), "bidirectional": (False, True)}


class _Activation:
    """One activation per direction, applied to a ``(directions, ...)`` array."""

    def __init__(self, xp, per_direction):
        self.xp = xp
        self.per_direction = per_direction

    def __call__(self, x):
        xp = self.xp
        first = self.per_direction[0]
        if all(entry == first for entry in self.per_direction):
            fn, alpha, beta = first
            return fn(xp, x, alpha, beta)
        return xp.stack([fn(xp, x[d], alpha, beta) for d, (fn, alpha, beta) in enumerate(self.per_direction)])


def _activations(xp, op, names, alphas, betas, defaults, n_dirs, dtype):
    """The node's activation list as one ``_Activation`` per gate function (f, g, h)."""
    per_dir = len(defaults)
    names = list(names) if names else defaults * n_dirs
    if len(names) == per_dir and n_dirs == 2:
        names = names * 2
    if len(names) < per_dir * n_dirs:
        raise ValueError(f"{op}: activations {names} has {len(names)} entries, expected {per_dir * n_dirs} "
                         f"({per_dir} per direction)")
    alphas, betas = list(alphas or []), list(betas or [])
    resolved = []
    for name in names[: per_dir * n_dirs]:
        entry = _ACTIVATIONS.get(name.lower())
        if entry is None:
            raise ValueError(f"{op}: unknown activation {name!r}, expected one of {sorted(_ACTIVATIONS)}")
        fn, alpha, beta = entry
        # Alphas and betas are consumed in order, each only by the functions that take one.
        if alpha is not None:
            alpha = dtype.type(alphas.pop(0) if alphas else alpha)
        if beta is not None:
            beta = dtype.type(betas.pop(0) if betas else beta)
        resolved.append((fn, alpha, beta))
    return [_Activation(xp, [resolved[d * per_dir + g] for d in range(n_dirs)]) for g in range(per_dir)]


def _clipper(xp, clip):
    """The ``clip`` attribute: bounds every gate's pre-activation to [-clip, clip] (identity when unset)."""
    if clip is None:
        return lambda x: x
    return lambda x: xp.clip(x, -clip, clip)


def _outputs(ctx, *values):
    values = values[: ctx.n_outputs]
    return values if len(values) > 1 else values[0]


class _Layout:
    """Shapes, direction handling and the sequence_lens gather shared by the three layers."""

    def __init__(self, xp, op, X, W, R, sequence_lens, direction, layout, hidden_size):
        if direction not in _DIRECTIONS:
            raise ValueError(f"{op}: direction {direction!r}, expected forward, reverse or bidirectional")
        self.xp = xp
        self.reverse = _DIRECTIONS[direction]
        self.layout = layout
        if X.ndim != 3:
            raise ValueError(f"{op}: X must be 3-D, got shape {X.shape}")
        if W.shape[0] != len(self.reverse):
            raise ValueError(f"{op}: W has {W.shape[0]} directions, direction={direction!r} "
                             f"expects {len(self.reverse)}")
        if hidden_size is not None and hidden_size != R.shape[-1]:
            raise ValueError(f"{op}: hidden_size={hidden_size} but R has shape {R.shape}, whose last axis is the "
                             "hidden size")
        self.X = xp.swapaxes(X, 0, 1) if layout else X  # (seq, batch, input)
        self.T, self.B = self.X.shape[:2]
        self.mask = None
        self.index = None
        if sequence_lens is not None:
            lens = xp.asarray(sequence_lens).astype(np.int64)
            steps = xp.arange(self.T)[:, None]
            if lens.shape != (self.B,) or bool(((lens < 0) | (lens > self.T)).any()):
                raise ValueError(f"{op}: sequence_lens must hold one length in 0..{self.T} per batch entry "
                                 f"({self.B}), got {lens.tolist()}")
            if not bool((lens == self.T).all()):
                self.mask = (steps < lens[None, :])[:, :, None]  # (seq, batch, 1)
                # Reversed valid prefix for each batch entry; padded steps stay in place.
                self.index = xp.where(steps < lens[None, :], lens[None, :] - 1 - steps, steps)[:, :, None]

    def state(self, value, hidden, dtype):
        """An initial state as ``(directions, batch, hidden)``."""
        xp = self.xp
        if value is None:
            return xp.zeros((len(self.reverse), self.B, hidden), dtype=dtype)
        value = xp.swapaxes(value, 0, 1) if self.layout else value
        return value.astype(dtype, copy=False)

    def project(self, W, bias, dtype):
        """``X @ W^T + bias`` for every step and direction, in each direction's processing order."""
        xp = self.xp
        D, G = W.shape[0], W.shape[1]
        X = self.X.astype(dtype, copy=False)
        flat = X.reshape(self.T * self.B, X.shape[2]) @ W.reshape(D * G, W.shape[2]).astype(dtype, copy=False).T
        proj = xp.moveaxis(flat.reshape(self.T, self.B, D, G), 2, 0)
        if bias is not None:
            proj = proj + bias[:, None, None, :]
        return xp.stack([self.order(proj[d], rev) for d, rev in enumerate(self.reverse)])

    def order(self, seq, reverse):
        """Reorders a ``(seq, batch, ...)`` array between time order and processing order (an involution)."""
        if not reverse:
            return seq
        if self.index is None:
            return seq[::-1]
        return self.xp.take_along_axis(seq, self.index, axis=0)

    def run(self, step, proj, states, want_y):
        """Runs ``step(x_t, states) -> new states`` (hidden first) over time, masking padded steps."""
        xp = self.xp
        ys = []
        for t in range(self.T):
            new = step(proj[:, t], states)
            if self.mask is not None:
                keep = self.mask[t][None]
                new = tuple(xp.where(keep, n, s) for n, s in zip(new, states, strict=True))
                if want_y:
                    ys.append(xp.where(keep, new[0], 0))
            elif want_y:
                ys.append(new[0])
            states = new
        Y = None
        if want_y:
            stacked = xp.stack(ys, axis=1)  # (directions, seq, batch, hidden)
            Y = xp.stack([self.order(stacked[d], rev) for d, rev in enumerate(self.reverse)], axis=1)
            Y = xp.moveaxis(Y, 2, 0) if self.layout else Y  # layout 1: (batch, seq, dirs, hidden)
        return Y, states

    def final(self, state, dtype):
        xp = self.xp
        return (xp.swapaxes(state, 0, 1) if self.layout else state).astype(dtype, copy=False)


def _transposed(xp, R, dtype):
    """``R^T`` per direction as a contiguous array: matmul on a strided stack skips BLAS and is many times slower."""
    return xp.ascontiguousarray(xp.swapaxes(R.astype(dtype, copy=False), 1, 2))


def _compute_dtype(X):
    # Half precision accumulates badly over long sequences; run it in float32.
    return np.dtype(np.float32) if X.dtype == np.float16 else X.dtype


def _wanted(ctx, index):
    return index < ctx.n_outputs and ctx.outputs_wanted[index]


@kernel("RNN")
def RNN(ctx, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=("Tanh", "Tanh"), clip=None, direction="forward", hidden_size=None, layout=0, output_sequence=0):
    xp = ctx.xp
    dtype = _compute_dtype(X)
    lay = _Layout(xp, "RNN", X, W, R, sequence_lens, direction, layout, hidden_size)
    H = R.shape[-1]
    (f,) = _activations(xp, "RNN", activations, activation_alpha, activation_beta, ["Tanh"], W.shape[0], dtype)
    bias = None if B is None else (B[:, :H] + B[:, H:]).astype(dtype, copy=False)
    proj = lay.project(W, bias, dtype)
    RT = _transposed(xp, R, dtype)

    clipped = _clipper(xp, clip)

    def step(x, states):
        return (f(clipped(x + xp.matmul(states[0], RT))),)

    Y, (h,) = lay.run(step, proj, (lay.state(initial_h, H, dtype),), _wanted(ctx, 0))
    return _outputs(ctx, None if Y is None else Y.astype(X.dtype, copy=False), lay.final(h, X.dtype))


@kernel("GRU")
def GRU(ctx, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=None, clip=None, direction="forward", hidden_size=None, layout=0, linear_before_reset=0,
        output_sequence=0):
    xp = ctx.xp
    dtype = _compute_dtype(X)
    lay = _Layout(xp, "GRU", X, W, R, sequence_lens, direction, layout, hidden_size)
    H = R.shape[-1]
    f, g = _activations(xp, "GRU", activations, activation_alpha, activation_beta, ["Sigmoid", "Tanh"],
                        W.shape[0], dtype)
    R = R.astype(dtype, copy=False)
    bias, rb_h = None, None
    if B is not None:
        B = B.astype(dtype, copy=False)
        wb, rb = B[:, : 3 * H], B[:, 3 * H:]
        if linear_before_reset:
            # Rbh sits inside the reset product, so it cannot be folded into the input projection.
            bias = wb + xp.concatenate([rb[:, : 2 * H], xp.zeros_like(rb[:, 2 * H:])], axis=1)
            rb_h = rb[:, None, 2 * H:]
        else:
            bias = wb + rb
    proj = lay.project(W, bias, dtype)
    RT = _transposed(xp, R, dtype)  # (dirs, hidden, 3*hidden) in z, r, h order
    RT_zr, RT_h = xp.ascontiguousarray(RT[:, :, : 2 * H]), xp.ascontiguousarray(RT[:, :, 2 * H:])
    clipped = _clipper(xp, clip)

    def step(x, states):
        h = states[0]
        if linear_before_reset:
            rec = xp.matmul(h, RT)
            zr = f(clipped(x[..., : 2 * H] + rec[..., : 2 * H]))
            z, r = zr[..., :H], zr[..., H:]
            rec_h = rec[..., 2 * H:] if rb_h is None else rec[..., 2 * H:] + rb_h
            candidate = g(clipped(x[..., 2 * H:] + r * rec_h))
        else:
            zr = f(clipped(x[..., : 2 * H] + xp.matmul(h, RT_zr)))
            z, r = zr[..., :H], zr[..., H:]
            candidate = g(clipped(x[..., 2 * H:] + xp.matmul(r * h, RT_h)))
        return ((1 - z) * candidate + z * h,)

    Y, (h,) = lay.run(step, proj, (lay.state(initial_h, H, dtype),), _wanted(ctx, 0))
    return _outputs(ctx, None if Y is None else Y.astype(X.dtype, copy=False), lay.final(h, X.dtype))


def _standard(activations, defaults) -> bool:
    """Whether the node uses the schema's default activations (given or not), whatever the directions."""
    if not activations:
        return True
    per_dir = len(defaults)
    return all(name.lower() == defaults[k % per_dir].lower() for k, name in enumerate(activations))


def _lstm_weights(xp, W, R, B, dtype):
    """``[R W b]`` per direction, ``(D, 4H, H + I + 1)`` with b the two biases summed, its i, o, f rows halved
    (see ``_lstm_standard``)."""
    D, G, H = W.shape[0], W.shape[1], R.shape[-1]
    b = xp.zeros((D, G), dtype=dtype) if B is None else B[:, :G].astype(dtype) + B[:, G:]
    weights = xp.concatenate([R.astype(dtype, copy=False), W.astype(dtype, copy=False), b[..., None]], axis=2)
    weights[:, : 3 * H] *= 0.5
    return weights


def _lstm_standard(xp, lay, weights, H, h, c, dtype):
    """The common LSTM (sigmoid, tanh, tanh; no peepholes, clip, input_forget or padding) on preallocated buffers.

    sigmoid(z) = (1 + tanh(z / 2)) / 2: halving the i, o, f rows of W, R and the bias (exact in binary floating
    point) lets one tanh call cover all four gates of a step. The state is kept transposed, ``(D, H, B)``, so
    each step's product is ``[R W b] @ [h; x_t; 1]``, ``(4H, H + I + 1) x (H + I + 1, B)``: the orientation
    OpenBLAS runs fastest for a small batch (nearly twice ``h @ R^T``), with the input projection and the bias
    in the same GEMM rather than in one over the whole sequence whose result each step reads back as strided
    rows. h is the top rows of that right-hand operand, so each step writes it in place. A step is then the
    matmul into the gate buffer, a few in-place ufuncs and a contiguous copy of h into Y. Returns Y in time
    order (a transposed view), the last h and c.
    """
    D, G, n_in = weights.shape[0], weights.shape[1], weights.shape[2] - H - 1
    T, B = lay.T, lay.B
    XT = xp.ascontiguousarray(xp.swapaxes(lay.X, 1, 2), dtype=dtype)  # each step's input as (input, batch)
    operand = xp.empty((D, H + n_in + 1, B), dtype=dtype)
    operand[:, H + n_in] = 1
    state, inputs = operand[:, :H], operand[:, H: H + n_in]
    state[...] = xp.swapaxes(h, -1, -2)
    gates = xp.empty((D, G, B), dtype=dtype)
    iof, i, o, f, g = gates[:, : 3 * H], gates[:, :H], gates[:, H: 2 * H], gates[:, 2 * H: 3 * H], gates[:, 3 * H:]
    # c is updated in place, so it is one fresh contiguous copy (layout=1 hands in strided views).
    c = xp.array(xp.swapaxes(c, -1, -2), dtype=dtype, order="C", copy=True)
    tmp = xp.empty_like(c)
    Y = xp.empty((T, D, H, B), dtype=dtype)  # h as the steps hold it; handed out transposed, as a view
    for t in range(T):
        for d, rev in enumerate(lay.reverse):  # 2-D products: NumPy's stacked matmul costs a fifth more here
            inputs[d] = XT[T - 1 - t if rev else t]
            xp.matmul(weights[d], operand[d], out=gates[d])
        xp.tanh(gates, out=gates)
        iof *= 0.5
        iof += 0.5
        c *= f
        xp.multiply(i, g, out=tmp)
        c += tmp
        xp.tanh(c, out=tmp)
        xp.multiply(o, tmp, out=state)
        Y[t] = state
    Y = xp.swapaxes(Y, -1, -2)
    for d, rev in enumerate(lay.reverse):
        if rev:
            Y[:, d] = Y[::-1, d].copy()
    h_last, c_last = xp.ascontiguousarray(xp.swapaxes(state, -1, -2)), xp.ascontiguousarray(xp.swapaxes(c, -1, -2))
    return (xp.moveaxis(Y, 2, 0) if lay.layout else Y), h_last, c_last


@kernel("LSTM")
def LSTM(ctx, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
         activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
         hidden_size=None, input_forget=0, layout=0, output_sequence=0):
    xp = ctx.xp
    dtype = _compute_dtype(X)
    lay = _Layout(xp, "LSTM", X, W, R, sequence_lens, direction, layout, hidden_size)
    H = R.shape[-1]
    f, g, h_act = _activations(xp, "LSTM", activations, activation_alpha, activation_beta,
                               ["Sigmoid", "Tanh", "Tanh"], W.shape[0], dtype)
    if xp is np and lay.mask is None and P is None and clip is None and not input_forget and \
            _standard(activations, ("Sigmoid", "Tanh", "Tanh")):
        weights = ctx.prepare("lstm_weights", lambda: _lstm_weights(xp, W, R, B, dtype), inputs=(1, 2, 3))
        Y, h, c = _lstm_standard(xp, lay, weights, H, lay.state(initial_h, H, dtype),
                                 lay.state(initial_c, H, dtype), dtype)
        return _outputs(ctx, Y.astype(X.dtype, copy=False), lay.final(h, X.dtype), lay.final(c, X.dtype))
    bias = None
    if B is not None:
        B = B.astype(dtype, copy=False)
        bias = B[:, : 4 * H] + B[:, 4 * H:]
    proj = lay.project(W, bias, dtype)
    RT = _transposed(xp, R, dtype)  # gates in i, o, f, c order
    if P is not None:
        P = P.astype(dtype, copy=False)[:, None, :]
        p_i, p_o, p_f = P[..., :H], P[..., H: 2 * H], P[..., 2 * H:]
    clipped = _clipper(xp, clip)

    def step(x, states):
        h, c = states
        gates = x + xp.matmul(h, RT)
        if P is None:
            # Without peepholes the i, o, f gates are one contiguous block: one activation call for all three.
            iof = f(clipped(gates[..., : 3 * H]))
            i, o, forget = iof[..., :H], iof[..., H: 2 * H], iof[..., 2 * H:]
            if input_forget:
                forget = 1 - i
            c_new = forget * c + i * g(clipped(gates[..., 3 * H:]))
            return o * h_act(c_new), c_new
        gi, go, gf, gc = gates[..., :H], gates[..., H: 2 * H], gates[..., 2 * H: 3 * H], gates[..., 3 * H:]
        i = f(clipped(gi + p_i * c))
        forget = 1 - i if input_forget else f(clipped(gf + p_f * c))
        c_new = forget * c + i * g(clipped(gc))
        return f(clipped(go + p_o * c_new)) * h_act(c_new), c_new

    initial = (lay.state(initial_h, H, dtype), lay.state(initial_c, H, dtype))
    Y, (h, c) = lay.run(step, proj, initial, _wanted(ctx, 0))
    Y = None if Y is None else Y.astype(X.dtype, copy=False)
    return _outputs(ctx, Y, lay.final(h, X.dtype), lay.final(c, X.dtype))
