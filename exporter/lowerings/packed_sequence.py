"""Packed sequences at export: ``pack_padded_sequence`` -> recurrent layers -> ``pad_packed_sequence`` become ONNX
RNN/LSTM/GRU nodes with a ``sequence_lens`` input, as ``torch.onnx.export`` writes them.

A ``PackedSequence``'s data (total, *) is laid out by batch sizes computed on the host from the values of the
lengths: as constants they would be wrong for any other lengths. So the graph never holds the packed layout. The
value standing for a packed sequence's data is the padded, time-major batch it was packed from (T, B, *), and its
``PackedLayout`` (the tracer's ``packed`` table, read through ``g.packed_layout``) names the sequences' lengths (B,);
what lies past a sequence's length is unspecified. ONNX's recurrent ops take exactly that: ``sequence_lens`` stops
each sequence at its length, starts the reverse direction at its end, leaves Y zero past it and gives each
sequence's own last state as Y_h. So:

- PackPaddedSequence(padded, lengths) is the padded batch itself. With ``enforce_sorted=False`` trainer sorts the
  batch before packing and unsorts the results after: those ops are in the graph like any other (ONNX's recurrent
  ops take lengths in any order, so the sort only reorders rows, as it does in trainer);
- a packed recurrent layer is one node over that batch with ``sequence_lens`` = Cast(lengths, int32); its Y is
  packed with the same lengths, so a next layer reads it the same way;
- Concat of the two directions' outputs (along features) is a Concat of the padded values;
- PadPackedSequence cuts time to ReduceMax(lengths) (or cuts and pads it to a fixed ``total_length``) and writes
  ``padding_value`` past each length; its lengths output is the packed sequence's lengths.

Any other op on a packed sequence's data (indexing ``.data``, returning it) is refused: that layout has no value in
the graph. So are recurrent ops and PadPackedSequence on data that was not packed in the graph (a ``PackedSequence``
built by hand from fixed batch sizes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from onnx import TensorProto

from exporter.errors import UnsupportedOpError
from exporter.lowerings import lowering, rnn

PACKED_LOWERINGS: dict[str, Callable] = {}  # trainer op -> its lowering when an input is a packed sequence's data

_BAKED = ("its batch sizes come from the values of the sequence lengths and would be baked into the graph as "
          "constants, wrong for any other lengths")


class PackedLayout(NamedTuple):
    """How a value stands for a packed sequence's data: it is the padded, time-major batch, whose sequences have
    ``lengths`` (int64, (B,)); ``sequence_lens`` is the same as ONNX's recurrent ops take it (int32)."""

    lengths: str
    sequence_lens: str


def on_packed(*ops: str):
    """Register the decorated function as the lowering of each trainer op in ``ops`` on a packed sequence's data."""

    def register(fn: Callable) -> Callable:
        for op in ops:
            PACKED_LOWERINGS[op] = fn
        return fn

    return register


def refusal(what: str, where: str) -> UnsupportedOpError:
    """The error for ``what`` (an op, a factory, a write, an output) using a packed sequence's data otherwise than
    the exported path does."""
    return UnsupportedOpError(
        f"{what} ({where}) uses the data of a packed sequence (trainer.nn.utils.rnn.PackedSequence), which does not "
        f"export: {_BAKED}. A packed sequence exports only along pack_padded_sequence -> nn.RNN/LSTM/GRU -> "
        "pad_packed_sequence; use the padded output of pad_packed_sequence (or the final states) instead of .data.")


def packed_lowering(op: str, where: str) -> Callable:
    """The lowering of trainer op ``op`` reading a packed sequence's data, or an UnsupportedOpError saying why not."""
    fn = PACKED_LOWERINGS.get(op)
    if fn is None:
        raise refusal(f"trainer op {op}", where)
    return fn


@lowering("PackPaddedSequence")
def pack_padded_sequence(g, padded, lengths, *, batch_sizes):
    data = g.op("Identity", padded)  # a value of its own: the tracer records the packed shape for it
    return g.mark_packed(data, PackedLayout(lengths, g.op("Cast", lengths, to=TensorProto.INT32)))


@lowering("PadPackedSequence", "PackedRnnTanh", "PackedRnnRelu", "PackedLstm", "PackedGru")
def not_packed_in_graph(g, *inputs, **attrs):
    where = f" in module '{g.scope}'" if g.scope else ""
    raise UnsupportedOpError(
        f"trainer op {g.op_name}{where} works on a packed sequence (trainer.nn.utils.rnn.PackedSequence) that was "
        f"not packed in the exported graph, which does not export: {_BAKED}. Pack inside forward with "
        "pack_padded_sequence(x, lengths), the lengths being an input of the model.")


def _layout_of_data(g, data: str, others) -> PackedLayout:
    """The layout of ``data``, checking that no other input of the op is a packed sequence's data."""
    if any(g.packed_layout(v) is not None for v in others):
        where = f" in module '{g.scope}'" if g.scope else ""
        raise UnsupportedOpError(f"trainer op {g.op_name}{where} takes a packed sequence's data as an input other "
                                 f"than its sequence, which does not export: {_BAKED}")
    return g.packed_layout(data)


_RECURRENT = {"PackedRnnTanh": rnn.rnn, "PackedRnnRelu": rnn.rnn, "PackedLstm": rnn.lstm, "PackedGru": rnn.gru}


@on_packed(*_RECURRENT)
def packed_recurrent(g, x, *states_and_weights, batch_sizes, reverse=False):
    layout = _layout_of_data(g, x, states_and_weights)
    y, *finals = _RECURRENT[g.op_name](g, x, *states_and_weights, reverse=reverse,
                                       sequence_lens=layout.sequence_lens)
    return (g.mark_packed(y, layout), *finals)


@on_packed("Concat")
def concat(g, *parts, axis):
    """The two directions' outputs of a bidirectional layer, joined along features."""
    layout = g.packed_layout(parts[0])
    if axis == 0 or any(g.packed_layout(p) is None or g.packed_layout(p).lengths != layout.lengths for p in parts):
        where = f" in module '{g.scope}'" if g.scope else ""
        raise UnsupportedOpError(f"trainer op Concat{where} joins a packed sequence's data with other rows or with "
                                 f"another value, which does not export: {_BAKED}. Only the features (dim >= 1) of "
                                 "packed data of the same batch can be joined.")
    return g.mark_packed(g.op("Concat", *parts, axis=axis + 1), layout)


@on_packed("PadPackedSequence")
def pad_packed_sequence(g, data, *, batch_sizes, total_length, padding_value):
    layout = g.packed_layout(data)
    lengths = layout.lengths
    time_axis = g.ints([0])
    if total_length is None:
        steps = g.reduce("ReduceMax", lengths, None, keepdims=False)
        padded = g.op("Slice", data, time_axis, g.op("Unsqueeze", steps, time_axis), time_axis)
    else:
        # the batch that was packed may be shorter or longer than total_length: cut it, then pad its end
        steps = g.const(np.int64(total_length))
        cut = g.op("Slice", data, time_axis, g.ints([total_length]), time_axis)
        rank = g.rank(data) + 1
        missing = g.op("Sub", g.ints([total_length]), g.dims(cut, [0]))
        pads = g.op("Concat", g.ints([0] * rank), missing, g.ints([0] * (rank - 1)), axis=0)
        padded = g.op("Pad", cut, pads)
    positions = g.op("Range", g.const(np.int64(0)), steps, g.const(np.int64(1)))
    holds_data = g.op("Less", g.op("Unsqueeze", positions, g.ints([1])), g.op("Unsqueeze", lengths, time_axis))
    if g.rank(data) > 1:  # features after (time, batch)
        holds_data = g.op("Unsqueeze", holds_data, g.ints(range(2, g.rank(data) + 1)))
    out = g.op("Where", holds_data, padded, g.like(padding_value, data))
    return out, g.op("Identity", lengths)
