"""``embedding_bag``: bags of embedding rows, each reduced to one vector by sum, mean or max, in one op.

Every index belongs to one bag: a row of a 2-D input, or the stretch between two offsets of a 1-D input. The
reductions are scatters over the bag of each index, so a bag of any length costs the same as its indices.
"""

from __future__ import annotations

import warnings

import numpy as np

from trainer import dtypes
from trainer.autograd.higher_order import LinearMap, graph_tensors, linear_backward
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops.embedding import _renorm_
from trainer.ops.indexing import Index, _scatter_add
from trainer.ops.scatter_reduce import _reduce_at
from trainer.tensor import Tensor

MODES = ("sum", "mean", "max")


def _bags(xp, indices, offsets, include_last_offset):
    """The bag of each index (flattened) and the number of bags. With ``include_last_offset`` the last offset
    only ends the count of bags: the last bag runs to the end of the input, as PyTorch's kernels read it."""
    if offsets is None:  # 2-D: one bag per row
        n_bags, length = indices.shape
        return xp.arange(indices.size) // max(length, 1), n_bags
    starts = offsets[:-1] if include_last_offset else offsets
    n_bags = starts.shape[0]
    position = xp.arange(indices.shape[0])
    return xp.searchsorted(starts, position, side="right") - 1, n_bags


class EmbeddingBag(Function):
    """``indices`` 2-D ``(B, L)``, or 1-D followed by ``offsets`` among the inputs; ``per_sample_weights`` (the
    last input when ``weighted``) scale each index's row before a ``sum``. Indices equal to ``padding_idx`` are in
    no bag; an empty bag gives zeros."""

    @staticmethod
    def forward(ctx, indices, weight, *optional, mode, padding_idx, include_last_offset, scale_grad_by_freq,
                weighted):
        xp = xp_of(weight)
        offsets = optional[0] if indices.ndim == 1 else None
        flat = indices.reshape(-1).astype(np.int64, copy=False)
        bag, n_bags = _bags(xp, indices, offsets, include_last_offset)
        keep = (bag >= 0) & (bag < n_bags)
        if padding_idx is not None:
            keep &= flat != padding_idx
        bag = xp.where(keep, bag, 0)
        coefficient = keep.astype(weight.dtype)
        if weighted:
            coefficient = coefficient * optional[-1].reshape(-1)
        out = xp.zeros((n_bags, weight.shape[1]), dtype=weight.dtype)
        chosen = count = None
        if n_bags and mode == "max":
            out, chosen = _bag_max(xp, weight[flat], bag, keep, n_bags)
        elif n_bags:
            _scatter_add(xp, out, bag, weight[flat] * coefficient[:, None])
            if mode == "mean":
                count = xp.zeros(n_bags, dtype=weight.dtype)
                _scatter_add(xp, count, bag, keep.astype(weight.dtype))
                count = xp.maximum(count, 1)
                out /= count[:, None]
        ctx.save_for_backward(weight, *(optional[-1:] if weighted else ()))
        ctx.meta = flat, bag, keep, coefficient, count, chosen, scale_grad_by_freq
        return out

    @staticmethod
    def backward(ctx, g):
        weight = ctx.saved_tensors[0]
        flat, bag, keep, coefficient, count, chosen, scale_grad_by_freq = ctx.meta
        xp = xp_of(g)
        grads = [None] * len(ctx.needs_input_grad)
        if ctx.needs_input_grad[1]:
            grad_weight = xp.zeros_like(weight)
            if chosen is not None:  # max: each output element came from one index's row
                found = chosen < flat.shape[0]
                rows = flat[xp.where(found, chosen, 0)]
                columns = xp.broadcast_to(xp.arange(weight.shape[1]), rows.shape)
                _scatter_add(xp, grad_weight, (rows, columns), xp.where(found, g, 0))
            elif g.shape[0]:
                scale = coefficient if count is None else coefficient / count[bag]
                if scale_grad_by_freq:  # each row's gradient divided by how often its index occurs in the input
                    scale = scale / xp.bincount(flat, minlength=weight.shape[0])[flat]
                _scatter_add(xp, grad_weight, flat, g[bag] * scale[:, None].astype(g.dtype))
            grads[1] = grad_weight
        if len(ctx.saved_tensors) > 1 and ctx.needs_input_grad[-1]:
            per_sample = ctx.saved_tensors[1]
            picked = (g[bag] * weight[flat]).sum(axis=1) if g.shape[0] else xp.zeros(flat.shape, g.dtype)
            grads[-1] = (picked * keep).astype(per_sample.dtype).reshape(per_sample.shape)
        return tuple(grads)

    @staticmethod
    def backward_graph(ctx, g):
        flat, bag, keep, coefficient, count, chosen, scale_grad_by_freq = ctx.meta
        saved = graph_tensors(ctx)
        weight, xp = saved[0], xp_of(g._data)
        grads = [None] * len(ctx.needs_input_grad)
        if chosen is not None:  # max: linear in g, each output element picked from one row
            found = chosen < flat.shape[0]
            rows, columns = flat[xp.where(found, chosen, 0)], xp.arange(weight.shape[1])
            grads[1] = linear_backward(ctx, g, lambda v: xp.where(found, v[rows, columns], 0), position=1)
            return tuple(grads)
        # sum and mean: each index's row of the gradient is its bag's row of g times its (graph) coefficient
        picked = Index.apply(g, key=bag) if g.shape[0] else g.new_zeros((flat.shape[0], weight.shape[1]))
        if ctx.needs_input_grad[1]:
            scale = Tensor._wrap(keep.astype(g._data.dtype))
            if len(saved) > 1:
                scale = scale * saved[-1].reshape(-1)
            if count is not None:
                scale = scale / Tensor._wrap(count[bag])
            if scale_grad_by_freq:
                scale = scale / Tensor._wrap(xp.bincount(flat, minlength=weight.shape[0])[flat].astype(g._data.dtype))

            def scatter_rows(v):
                out = xp.zeros(weight.shape, v.dtype)
                _scatter_add(xp, out, flat, v)
                return out

            grads[1] = LinearMap.apply(picked * scale[:, None], apply=scatter_rows, adjoint=lambda v: v[flat])
        if len(saved) > 1 and ctx.needs_input_grad[-1]:
            chosen_rows = (picked * Index.apply(weight, key=flat)).sum(1) * Tensor._wrap(keep.astype(g._data.dtype))
            grads[-1] = chosen_rows.reshape(saved[-1].shape)
        return tuple(grads)


def _bag_max(xp, rows, bag, keep, n_bags):
    """Each bag's elementwise maximum of its rows (zeros for an empty bag), and the position among the indices
    of the first row reaching it (the number of indices where the bag is empty)."""
    n = rows.shape[0]
    out = xp.full((n_bags, rows.shape[1]), -np.inf, dtype=rows.dtype)
    _reduce_at(xp, "maximum", out, bag, xp.where(keep[:, None], rows, -np.inf))
    reaches = (rows == out[bag]) & keep[:, None]
    chosen = xp.full(out.shape, n, dtype=np.int64)
    _reduce_at(xp, "minimum", chosen, bag, xp.where(reaches, xp.arange(n)[:, None], n))
    return xp.where(chosen < n, out, 0).astype(rows.dtype), chosen


def _check_offsets(offsets, n_indices: int) -> None:
    values = np.asarray(offsets.detach().cpu()._data)
    if not values.size:
        return
    if values[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {int(values[0])}")
    if values[-1] > n_indices:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n_indices} but got offsets[-1] of "
                           f"{int(values[-1])}")
    if (np.diff(values) < 0).any():
        raise RuntimeError(f"embedding_bag: offsets must be non-decreasing (the start of each bag), got "
                           f"{values.tolist()}")


def _check_indices(input, num_embeddings: int) -> None:
    if input.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype.name} instead (while checking arguments for "
                           "embedding_bag)")
    values = np.asarray(input.detach().cpu()._data).reshape(-1)
    bad = np.flatnonzero((values < 0) | (values >= num_embeddings))
    if bad.size:
        raise RuntimeError(f"Index {int(bad[0])} of input takes value {int(values[bad[0]])} which is not in the "
                           f"valid range [0, {num_embeddings})")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type: float = 2, scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False, per_sample_weights=None, include_last_offset: bool = False,
                  padding_idx=None):
    """The ``sum``, ``mean`` or ``max`` of the ``weight`` rows of each bag of ``input``: the rows of a 2-D input,
    or the stretches of a 1-D input that start at ``offsets``; one output row per bag."""
    if weight.dtype is dtypes.int64 and input.dtype.is_floating_point:
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, "
                      "input, ...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.",
                      stacklevel=2)
        weight, input = input, weight
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        include_last_offset = False
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if mode not in MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, -{num_embeddings} through "
                               f"{num_embeddings - 1}, but got {padding_idx}")
        padding_idx = padding_idx + num_embeddings if padding_idx < 0 else padding_idx
    _check_indices(input, num_embeddings)
    if offsets is not None:
        if offsets.dtype not in (dtypes.int64, dtypes.int32):
            raise RuntimeError(f"Expected tensor for argument #3 'offsets' to have one of the following scalar types: "
                               f"Long, Int; but got {offsets.dtype.name} instead (while checking arguments for "
                               "embedding_bag)")
        _check_offsets(offsets, input.shape[0])
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      "on GitHub.")
        if per_sample_weights.dtype != weight.dtype:
            raise RuntimeError(f"Expected tensor for argument #1 'weight' to have the same type as tensor for "
                               f"argument #1 'per_sample_weights'; but type {weight.dtype.name} does not equal "
                               f"{per_sample_weights.dtype.name} (while checking arguments for embedding_bag)")
    inputs = [input, weight] + ([offsets] if offsets is not None else [])
    inputs += [per_sample_weights] if per_sample_weights is not None else []
    function = EmbeddingBag
    if sparse:  # the weight's gradient is a sparse COO tensor
        from trainer.ops.sparse_embedding import SparseEmbeddingBag  # it subclasses EmbeddingBag, defined above

        function = SparseEmbeddingBag
    return function.apply(*inputs, mode=mode, padding_idx=padding_idx, include_last_offset=include_last_offset,
                          scale_grad_by_freq=scale_grad_by_freq, weighted=per_sample_weights is not None)
