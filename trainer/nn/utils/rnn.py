"""Packed sequences, as ``torch.nn.utils.rnn``: ``PackedSequence`` and the functions that pack, pad and
unpad batches of variable-length sequences. ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` take and return a
``PackedSequence``.

A packed sequence holds the rows of every time step one after the other (``data``, (total, *)) and how
many sequences run at each step (``batch_sizes``, a CPU int64 tensor, non-increasing: the sequences are
sorted longest first). ``sorted_indices`` is the order that sort took from the caller's batch and
``unsorted_indices`` its inverse; both are None when the batch came sorted (``enforce_sorted=True``).

Lengths and batch sizes are host values, as PyTorch keeps them on the CPU: they decide shapes, so
they are read once per call. The data moves through one op each way (``trainer.ops.packed_sequence``),
so gradients flow through packing and unpacking.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from trainer import creation, dtypes
from trainer.ops.join import cat, stack
from trainer.ops.packed_sequence import PackPaddedSequence, PadPackedSequence
from trainer.ops.sort import sort
from trainer.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence_(NamedTuple):  # noqa: N801 - PyTorch's name
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)``; made by ``pack_padded_sequence`` and
    ``pack_sequence``. ``PackedSequence(data, batch_sizes, sorted_indices)`` fills in ``unsorted_indices``;
    ``PackedSequence((data, batch_sizes))`` is accepted too."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            if batch_sizes.device.type != "cpu":
                raise ValueError(
                    "batch_sizes should always be on CPU. Instances of PackedSequence should never be created "
                    "manually. They should be instantiated by functions like pack_sequence and "
                    "pack_padded_sequences in nn.utils.rnn. "
                    "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        if not (isinstance(data, (list, tuple)) and len(data) == 2):
            raise AssertionError("Expected data to be a list or tuple of length 2")
        return super().__new__(cls, data[0], data[1], sorted_indices, unsorted_indices)

    def _with_data(self, data):
        """This sequence around converted ``data`` (itself when nothing changed); the indices follow the
        data's device, ``batch_sizes`` stays on the CPU."""
        if data is self.data:
            return self

        def to_data_device(t):
            return None if t is None else t.to(data.device)

        return type(self)(data, self.batch_sizes, to_data_device(self.sorted_indices),
                          to_data_device(self.unsorted_indices))

    def to(self, *args, **kwargs):
        """``Tensor.to`` on ``data``."""
        return self._with_data(self.data.to(*args, **kwargs))

    def cuda(self, *args, **kwargs):
        return self._with_data(self.data.cuda(*args, **kwargs))

    def cpu(self):
        return self._with_data(self.data.cpu())

    def double(self):
        return self.to(dtype=dtypes.float64)

    def float(self):
        return self.to(dtype=dtypes.float32)

    def half(self):
        return self.to(dtype=dtypes.float16)

    def long(self):
        return self.to(dtype=dtypes.int64)

    def int(self):
        return self.to(dtype=dtypes.int32)

    def short(self):
        return self.to(dtype=dtypes.int16)

    def char(self):
        return self.to(dtype=dtypes.int8)

    def byte(self):
        return self.to(dtype=dtypes.uint8)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    # size(0), not numel(): a read size, which an exporter follows to the permutation's length at run time
    positions = creation.arange(permutation.size(0), device=permutation.device)
    return creation.empty_like(permutation).scatter_(0, permutation, positions)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,  # noqa: A002 - PyTorch's name
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack ``input`` (T, B, *), or (B, T, *) with ``batch_first``, holding sequences of ``lengths``
    (a list or a 1-D CPU tensor). With ``enforce_sorted`` the lengths must be non-increasing; otherwise the
    batch is sorted here and the order kept in ``sorted_indices``."""
    if isinstance(lengths, Tensor):
        lengths = lengths.to(dtype=dtypes.int64)
    else:
        lengths = creation.as_tensor(lengths, dtype=dtypes.int64, device="cpu")
    if enforce_sorted:
        sorted_indices = None
    else:
        lengths, sorted_indices = sort(lengths, descending=True)
        sorted_indices = sorted_indices.to(input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    padded = input.transpose(0, 1) if batch_first else input
    batch_sizes = _batch_sizes(padded, lengths)
    data = PackPaddedSequence.apply(padded, lengths, batch_sizes=batch_sizes)
    return PackedSequence(data, creation.tensor(batch_sizes, dtype=dtypes.int64), sorted_indices, None)


def _batch_sizes(padded: Tensor, lengths: Tensor) -> tuple:
    """How many sequences run at each step, from sorted ``lengths``; checked as PyTorch checks them, and
    against the padded length, which PyTorch reads past."""
    if lengths.dim() != 1 or lengths.device.type != "cpu":
        raise RuntimeError("'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{lengths.dim()}D {lengths.device} Long tensor")
    batch = padded.size(1)
    if padded.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    values = lengths.tolist()
    if len(values) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(values)} "
                           f"(batch_size={batch})")
    if values[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if any(later > earlier for earlier, later in zip(values, values[1:])):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                           "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                           "sidestep this requirement if you do not need ONNX exportability.")
    if values[0] > padded.size(0):
        raise RuntimeError(f"Expected every length to be at most the padded sequence length {padded.size(0)} of "
                           f"the input, but got a length of {values[0]}")
    lengths_host = np.asarray(values)  # host values that decide shapes, not tensor data
    return tuple(int(n) for n in (lengths_host > np.arange(values[0])[:, None]).sum(axis=1))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: the padded batch ((T, B, *), or (B, T, *) with
    ``batch_first``; T the longest length, or ``total_length``) in the caller's original order, and the
    lengths (a CPU int64 tensor)."""
    max_seq_length = sequence.batch_sizes.size(0)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {max_seq_length}")
        if not isinstance(total_length, int) or isinstance(total_length, bool):
            raise TypeError("pad_packed_sequence(): argument 'total_length' must be int, not "
                            f"{type(total_length).__name__}")
    batch_sizes = tuple(sequence.batch_sizes.tolist())
    padded, lengths = PadPackedSequence.apply(sequence.data, batch_sizes=batch_sizes, total_length=total_length,
                                              padding_value=padding_value)
    if batch_first:
        padded = padded.transpose(0, 1)
    if sequence.unsorted_indices is not None:
        return (padded.index_select(0 if batch_first else 1, sequence.unsorted_indices),
                lengths[sequence.unsorted_indices.cpu()])
    return padded, lengths


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shape (L_i, *) into (T, B, *), or (B, T, *) with ``batch_first``, T the longest
    L_i, filling with ``padding_value`` after each sequence (``padding_side="right"``) or before it. The
    result has the first sequence's dtype."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    first = sequences[0]
    if first.dim() == 0:
        raise RuntimeError("pad_sequence: expected sequences of shape (L, *), but sequence 0 is a 0-d tensor")
    trailing = tuple(first.shape[1:])
    for i, seq in enumerate(sequences):
        if tuple(seq.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: expected every sequence to have the trailing dimensions "
                               f"{list(trailing)} of sequence 0, but sequence {i} has shape {list(seq.shape)}")
    longest = max(seq.size(0) for seq in sequences)
    # ``cat`` skips 1-D empty tensors (PyTorch's legacy rule), which would leave an empty sequence without a
    # grad: 1-D sequences are padded as columns
    columns = not trailing
    padded = []
    for seq in sequences:
        seq = seq.to(first.dtype)
        if columns:
            seq = seq.unsqueeze(1)
        missing = longest - seq.size(0)
        if missing:
            fill = creation.full((missing, *seq.shape[1:]), padding_value, dtype=first.dtype, device=seq.device)
            seq = cat([seq, fill] if padding_side == "right" else [fill, seq])
        padded.append(seq)
    out = stack(padded, 0 if batch_first else 1)
    return out.squeeze(-1) if columns else out


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length. Unlike PyTorch's, it leaves
    ``padded_sequences`` as it was (PyTorch transposes it in place when ``batch_first`` is False)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    steps = creation.arange(padded_sequences.shape[1], device=lengths.device)
    return [seq[(steps < length).to(seq.device)] for seq, length in zip(padded_sequences, lengths, strict=True)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """``pack_padded_sequence(pad_sequence(sequences), lengths)`` for a list of (L_i, *) sequences."""
    lengths = creation.as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a ``PackedSequence`` holds, in their original order."""
    padded_sequences, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded_sequences, lengths, batch_first=True)
