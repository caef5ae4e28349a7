"""RNN, LSTM and GRU: each trainer op (one layer, one direction) becomes one ONNX RNN/LSTM/GRU node.

ONNX orders the gates differently: LSTM i, o, f, c where PyTorch has i, f, g, o; GRU z, r, h where
PyTorch has r, z, n (and PyTorch's ``b_hn`` inside the reset product is ``linear_before_reset=1``).
The weight rows are regrouped by Split/Concat nodes, which constant folding turns into initializers.
An all-zero initial state made inside ``forward`` is left out: it is ONNX's default, at any batch size.
The packed layers (``exporter.lowerings.packed_sequence``) are the same nodes with a ``sequence_lens`` input.
"""

from exporter.lowerings import lowering


def _regroup(g, w, order):
    if order == tuple(range(len(order))):
        return w
    rows = g.shape(w)[0] // len(order)
    parts = g.op("Split", w, g.ints([rows] * len(order)), axis=0, outputs=len(order))
    return g.op("Concat", *(parts[i] for i in order), axis=0)


def _initial_state(g, state):
    array = g.array(state)
    if array is not None and not array.any():
        return ""
    return g.op("Unsqueeze", state, g.ints([0]))


def _recurrent(g, op_type, order, x, states, w_ih, w_hh, biases, reverse, sequence_lens, **attrs):
    hidden = g.shape(w_hh)[1]
    first = g.ints([0])
    w = g.op("Unsqueeze", _regroup(g, w_ih, order), first)
    r = g.op("Unsqueeze", _regroup(g, w_hh, order), first)
    b = ""
    if biases:
        b = g.op("Unsqueeze", g.op("Concat", *(_regroup(g, v, order) for v in biases), axis=0), first)
    initial = [_initial_state(g, s) for s in states]
    outputs = g.op(op_type, x, w, r, b, sequence_lens, *initial, outputs=1 + len(states), hidden_size=hidden,
                   direction="reverse" if reverse else "forward", **attrs)
    y, *finals = outputs
    # Y is (T, directions, N, H) and each final state (directions, N, H); this node has one direction
    return (g.op("Squeeze", y, g.ints([1])), *(g.op("Squeeze", s, first) for s in finals))


@lowering("RnnTanh", "RnnRelu")
def rnn(g, x, h0, w_ih, w_hh, *biases, reverse=False, sequence_lens=""):
    activation = "Relu" if g.op_name in ("RnnRelu", "PackedRnnRelu") else "Tanh"
    return _recurrent(g, "RNN", (0,), x, [h0], w_ih, w_hh, biases, reverse, sequence_lens, activations=[activation])


@lowering("Lstm")
def lstm(g, x, h0, c0, w_ih, w_hh, *biases, reverse=False, sequence_lens=""):
    return _recurrent(g, "LSTM", (0, 3, 1, 2), x, [h0, c0], w_ih, w_hh, biases, reverse, sequence_lens)


@lowering("Gru")
def gru(g, x, h0, w_ih, w_hh, *biases, reverse=False, sequence_lens=""):
    return _recurrent(g, "GRU", (1, 0, 2), x, [h0], w_ih, w_hh, biases, reverse, sequence_lens,
                      linear_before_reset=1)
