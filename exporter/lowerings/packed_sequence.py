"""Packed sequences are refused at export, with a message that says why and what to do instead.

A ``PackedSequence``'s layout (how many rows each time step holds) is computed from the values of the
sequence lengths, on the host. A traced graph would keep that layout as constants: the packing and
unpacking ops and the packed recurrent layers would then give wrong results, silently, for any other
lengths. So every op that makes, reads or runs on a packed layout has this refusing lowering.
"""

from exporter.errors import UnsupportedOpError
from exporter.lowerings import lowering


@lowering("PackPaddedSequence", "PadPackedSequence", "PackedRnnTanh", "PackedRnnRelu", "PackedLstm", "PackedGru")
def packed_sequence(g, *inputs, **attrs):
    where = f" in module '{g.scope}'" if g.scope else ""
    raise UnsupportedOpError(
        f"trainer op {g.op_name}{where} works on a packed sequence (trainer.nn.utils.rnn.PackedSequence), which "
        "does not export: its batch sizes come from the values of the sequence lengths and would be baked into the "
        "graph as constants, wrong for any other lengths. Export a model that runs its recurrent layers on the "
        "padded batch instead (pack only in code that is not exported).")
