"""``trainer.nested``: batches of tensors of different lengths (``torch.nested``).

``nested_tensor([a, b], layout=trainer.jagged)`` packs copies of ``a`` and ``b``; ``as_nested_tensor`` packs them
keeping autograd (gradients reach ``a`` and ``b``); ``nested_tensor_from_jagged(values, offsets)`` wraps packed
values. See ``trainer.nested.nested_tensor`` for how the two layouts are stored.
"""

from __future__ import annotations

import itertools

import trainer
from trainer.layouts import jagged, strided
from trainer.nested.nested_tensor import NestedInt, NestedTensor
from trainer.tensor import Tensor

__all__ = ["to_padded_tensor", "as_nested_tensor", "nested_tensor", "nested_tensor_from_jagged", "narrow",
           "masked_select", "NestedTensor", "NestedInt"]


def nested_tensor(tensor_list, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
                  pin_memory: bool = False) -> NestedTensor:
    """A new leaf nested tensor holding copies of ``tensor_list`` (tensors, or nested lists of numbers)."""
    components = [trainer.tensor(t.detach() if isinstance(t, Tensor) else t, dtype=dtype, device=device)
                  for t in tensor_list]
    nt = _packed(components, layout)
    return nt.requires_grad_() if requires_grad else nt


def as_nested_tensor(ts, dtype=None, device=None, layout=None) -> NestedTensor:
    """``ts`` (a list of tensors, or a dense tensor read along dim 0) packed into a nested tensor; the packing
    is differentiable, so gradients reach the tensors in ``ts``."""
    if isinstance(ts, NestedTensor):
        if layout not in (None, ts.layout):
            raise RuntimeError(f"as_nested_tensor: converting a nested tensor from {ts.layout} to {layout} is not "
                               f"supported")
        return ts.to(device=device, dtype=dtype) if dtype is not None or device is not None else ts
    if isinstance(ts, Tensor):
        if ts.ndim < 2:
            raise RuntimeError(f"as_nested_tensor: a dense tensor needs at least 2 dims (batch, ...), got shape "
                               f"{list(ts.shape)}")
        ts = ts.unbind(0)
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, Tensor) for t in ts):
        raise TypeError("as_nested_tensor(): expected a list of tensors or a tensor, got "
                        f"{type(ts).__name__}")
    if dtype is not None or device is not None:
        ts = [t.to(device=device, dtype=dtype) for t in ts]
    return _packed(list(ts), layout)


def _packed(components, layout) -> NestedTensor:
    layout = strided if layout is None else layout
    if layout not in (strided, jagged):
        raise RuntimeError(f"Specified layout is unsupported for nested tensors: {layout}")
    if len({c.ndim for c in components}) > 1:
        raise RuntimeError(f"All tensors given to a nested tensor must have the same number of dims, got "
                           f"{[c.ndim for c in components]}")
    if len({(c.dtype, c.device) for c in components}) > 1:
        raise RuntimeError("All tensors given to a nested tensor must have the same dtype and device, got "
                           f"{sorted({f'{c.dtype} on {c.device}' for c in components})}")
    if layout is strided:
        flat = [c.reshape(-1) for c in components]
        values = trainer.cat(flat) if flat else trainer.zeros(0)
        return NestedTensor._strided(values, [c.shape for c in components])
    if not components:
        raise RuntimeError("a nested tensor with the jagged layout needs at least one tensor")
    if components[0].ndim == 0:
        raise RuntimeError("Cannot construct a nested tensor from a list of zero-dim tensors")
    if len({tuple(c.shape[1:]) for c in components}) > 1:
        raise RuntimeError(f"Cannot represent tensors of shapes {[list(c.shape) for c in components]} as a nested "
                           f"tensor with the jagged layout: it allows one ragged dim, the first (B, *, D_0, ...)")
    offsets = itertools.accumulate((c.shape[0] for c in components), initial=0)
    return NestedTensor._jagged(trainer.cat(components), list(offsets))


def nested_tensor_from_jagged(values: Tensor, offsets=None, lengths=None, jagged_dim=None, min_seqlen=None,
                              max_seqlen=None) -> NestedTensor:
    """A jagged nested tensor on ``values`` (differentiably): component ``i`` is ``values[offsets[i]:offsets[i+1]]``
    along dim ``jagged_dim - 1`` (default 0), or ``lengths[i]`` long from ``offsets[i]`` when both are given."""
    if offsets is None and lengths is None:
        raise RuntimeError("nested_tensor_from_jagged(): At least one of offsets or lengths is required.")
    ragged_idx = 1 if jagged_dim is None else int(jagged_dim)
    if not 1 <= ragged_idx <= values.ndim:
        raise RuntimeError(f"nested_tensor_from_jagged(): jagged_dim {jagged_dim} is out of range for values of "
                           f"{values.ndim} dims (expected 1 to {values.ndim})")
    r = ragged_idx - 1
    if offsets is None:
        offset_list = list(itertools.accumulate((int(n) for n in lengths.tolist()), initial=0))
    else:
        offset_list = [int(o) for o in (offsets.tolist() if isinstance(offsets, Tensor) else offsets)]
    if lengths is not None and offsets is not None:  # components with gaps between them: pack them
        pieces = [values.narrow(r, start, int(n)) for start, n in zip(offset_list, lengths.tolist())]
        return _from_pieces(pieces, ragged_idx)
    total = values.shape[r]
    if any(b < a for a, b in itertools.pairwise(offset_list)) or offset_list[0] != 0 or offset_list[-1] != total:
        raise RuntimeError(f"nested_tensor_from_jagged(): offsets {offset_list} must rise from 0 to the size "
                           f"{total} of values along dim {r}")
    return NestedTensor._jagged(values, offset_list, ragged_idx)


def _from_pieces(pieces, ragged_idx) -> NestedTensor:
    offsets = itertools.accumulate((p.shape[ragged_idx - 1] for p in pieces), initial=0)
    return NestedTensor._jagged(trainer.cat(pieces, dim=ragged_idx - 1), list(offsets), ragged_idx)


def narrow(tensor: Tensor, dim: int, start, length, layout=strided) -> NestedTensor:
    """Row ``i`` of ``tensor`` narrowed along ``dim`` (1) from ``start[i]`` for ``length[i]`` (ints or tensors):
    a jagged nested tensor holding a differentiable packed copy of those pieces."""
    if layout is not jagged:
        raise NotImplementedError(f"trainer.nested.narrow supports layout=trainer.jagged only, got {layout}")
    if dim != 1:
        raise RuntimeError(f"narrow(): jagged layout only supports dim=1, got dim={dim}")
    rows = tensor.shape[0]
    starts = start.tolist() if isinstance(start, Tensor) else [int(start)] * rows
    lengths = length.tolist() if isinstance(length, Tensor) else [int(length)] * rows
    if len(starts) != rows or len(lengths) != rows:
        raise RuntimeError(f"narrow(): start and length need one entry per row ({rows}), got {len(starts)} "
                           f"and {len(lengths)}")
    return _from_pieces([tensor[i].narrow(0, int(s), int(n)) for i, (s, n) in enumerate(zip(starts, lengths))], 1)


def masked_select(tensor: Tensor, mask: Tensor) -> NestedTensor:
    """The entries of ``tensor`` where ``mask`` is True, one component per row (per index of all dims but the last)."""
    if isinstance(tensor, NestedTensor) or isinstance(mask, NestedTensor):
        raise RuntimeError("trainer.nested.masked_select requires a strided tensor and a strided mask")
    values = tensor.masked_select(mask)
    lengths = mask.expand(tensor.shape).sum(dim=tensor.ndim - 1).reshape(-1).tolist()
    return NestedTensor._jagged(values, list(itertools.accumulate(lengths, initial=0)))


def to_padded_tensor(input, padding: float, output_size=None, out=None) -> Tensor:
    """``input`` as a dense tensor padded with ``padding`` (see ``NestedTensor.to_padded_tensor``)."""
    if not isinstance(input, NestedTensor):
        raise NotImplementedError("to_padded_tensor: the input must be a nested tensor, got a dense tensor")
    result = input.to_padded_tensor(padding, output_size)
    return result if out is None else out.copy_(result)
