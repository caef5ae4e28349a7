"""The shape-aware ops of ``NestedTensor`` (a mixin, as ``Tensor``'s method groups are).

An op that works along dims every component shares runs once on the packed values; one that works along a ragged
dim (or any op on the strided layout whose components differ there) runs on each component and packs the results
again. Both are compositions of differentiable trainer ops, so gradients reach the components by themselves.
"""

from __future__ import annotations

import itertools

import trainer
from trainer.ops.activation import log_softmax as dense_log_softmax
from trainer.ops.activation import softmax as dense_softmax
from trainer.ops.attention import scaled_dot_product_attention as dense_attention
from trainer.ops.layer_norm import layer_norm as dense_layer_norm
from trainer.ops.linalg import linear as dense_linear
from trainer.ops.padding import pad


class NestedShapeOps:
    __slots__ = ()

    def _rebuilt(self, components, ragged_idx):
        """A nested tensor of this one's layout packing ``components`` (jagged: ragged along ``ragged_idx``)."""
        from trainer.nested.nested_tensor import NestedTensor

        if self._sizes is not None:
            flat = [c.reshape(-1) for c in components]
            return NestedTensor._strided(trainer.cat(flat) if flat else self._values[:0], [c.shape for c in components])
        r = ragged_idx - 1
        offsets = itertools.accumulate((c.shape[r] for c in components), initial=0)
        return NestedTensor._jagged(trainer.cat(components, dim=r), list(offsets), ragged_idx, like=self)

    def _per_component(self, fn):
        return self._rebuilt([fn(c) for c in self.unbind()], self._ragged_idx)

    def _regular_rows(self) -> int | None:
        """The last dim when every component shares it and it is not the ragged one (then trailing-dim ops run
        once on the packed values), else None."""
        if self._sizes is None:
            return None if self._ragged_idx == self.dim() - 1 else self._values.shape[-1]
        extents = {s[-1] for s in self._sizes if s}
        return extents.pop() if len(extents) == 1 and all(self._sizes) else None

    def _on_rows(self, fn):
        """``fn`` (an op on the trailing dim) on every component, once on the packed values where possible."""
        from trainer.nested.nested_tensor import NestedTensor

        last = self._regular_rows()
        if last is None:
            return self._per_component(fn)
        if self._sizes is None:
            return NestedTensor._jagged(fn(self._values), self._offset_list, self._ragged_idx, like=self)
        out = fn(self._values.reshape(-1, last))
        return NestedTensor._strided(out.reshape(-1), [s[:-1] + (out.shape[-1],) for s in self._sizes])

    def _component_dim(self, dim: int, op: str) -> int:
        """``dim`` of the nested tensor as a dim of its components; the batch dim is refused."""
        ndim = self.dim()
        if not -ndim <= dim < ndim:
            raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
                             f"but got {dim})")
        dim %= ndim
        if dim == 0:
            raise RuntimeError(f"{op}(): not supported along the batch dimension (dim 0) of a nested tensor")
        return dim - 1

    # ------------------------------------------------------------- layout
    def reshape(self, *shape):
        """Every component reshaped to ``shape[1:]``; ``shape[0]`` is the batch size, and a -1 keeps the component's
        own size at that dim (on a nested tensor -1 does not infer, as in PyTorch)."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        if not shape or shape[0] != self._batch_size():
            raise RuntimeError(f"reshape: For now nested reshape cannot change or infer the implicit batch dimension"
                               f" (the nested tensor holds {self._batch_size()} components, got shape {list(shape)})")

        def each(component):
            if any(size == -1 and i >= component.ndim for i, size in enumerate(shape[1:])):
                raise RuntimeError(f"reshape: -1 at a dim past the components' {component.ndim} dims has no size to "
                                   f"keep (shape {list(shape)})")
            return component.reshape([component.shape[i] if size == -1 else size for i, size in enumerate(shape[1:])])

        return self._per_component(each)

    def _ragged_component_dim(self) -> int | None:
        return None if self._sizes is not None else self._ragged_idx - 1

    def unflatten(self, dim: int, sizes):
        d, r = self._component_dim(dim, "unflatten"), self._ragged_component_dim()
        if d == r:
            raise RuntimeError("unflatten(): the ragged dim of a jagged nested tensor cannot be unflattened")
        moved = len(sizes) - 1 if r is not None and d < r else 0  # dims inserted before the ragged one
        return self._rebuilt([c.unflatten(d, sizes) for c in self.unbind()], r if r is None else r + 1 + moved)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        start, end = self._component_dim(start_dim, "flatten"), self._component_dim(end_dim, "flatten")
        r = self._ragged_component_dim()
        if r is not None and start <= r <= end and start != end:
            raise RuntimeError("flatten(): the ragged dim of a jagged nested tensor cannot be flattened with others")
        moved = end - start if r is not None and r > end else 0  # dims merged before the ragged one
        return self._rebuilt([c.flatten(start, end) for c in self.unbind()], r if r is None else r + 1 - moved)

    def transpose(self, dim0: int, dim1: int):
        from trainer.nested.nested_tensor import NestedTensor

        ndim = self.dim()
        d0, d1 = (d % ndim if -ndim <= d < ndim else d for d in (dim0, dim1))
        if 0 in (d0, d1):
            error = RuntimeError if self._sizes is not None else ValueError
            raise error(f"transpose(): the batch dimension (dim 0) of a nested tensor cannot be transposed, "
                        f"got dims {dim0} and {dim1}")
        a, b = self._component_dim(dim0, "transpose"), self._component_dim(dim1, "transpose")
        if self._sizes is not None:
            return self._per_component(lambda c: c.transpose(a, b))
        ragged = {d0: d1, d1: d0}.get(self._ragged_idx, self._ragged_idx)
        return NestedTensor._jagged(self._values.transpose(a, b), self._offset_list, ragged, like=self)

    def to_padded_tensor(self, padding, output_size=None):
        """A dense ``(B, *max sizes)`` tensor, each component padded with ``padding`` at the end of every dim;
        ``output_size`` asks for a bigger result (jagged: a longer or shorter ragged dim). Differentiable."""
        components = self.unbind()
        ndim = self.dim()
        target = [max(extents) for extents in zip(*(c.shape for c in components))] if components else []
        if output_size is not None:
            if len(output_size) != ndim:
                raise RuntimeError(f"to_padded_tensor: output_size {list(output_size)} must have {ndim} entries")
            if self._sizes is not None:
                target = list(output_size[1:])
            else:  # as PyTorch: the jagged layout reads only the ragged dim's entry
                target[self._ragged_idx - 1] = int(output_size[self._ragged_idx])
        padded = []
        for c in components:
            for d, extent in enumerate(target):
                if c.shape[d] > extent:
                    c = c.narrow(d, 0, extent)
            pairs = [(0, extent - n) for n, extent in zip(c.shape, target)]
            padded.append(pad(c, [p for pair in reversed(pairs) for p in pair], value=float(padding)))
        if not padded:
            return trainer.zeros([0, *target], dtype=self.dtype, device=self.device)
        return trainer.stack(padded)

    # ------------------------------------------------------------- reductions and normalisations
    def softmax(self, dim, dtype=None):
        return self._softmax_like(dense_softmax, "softmax", dim, dtype)

    def log_softmax(self, dim, dtype=None):
        return self._softmax_like(dense_log_softmax, "log_softmax", dim, dtype)

    def _softmax_like(self, fn, op, dim, dtype):
        from trainer.nested.nested_tensor import NestedTensor

        d = self._component_dim(dim, op)
        if self._sizes is None and d != self._ragged_idx - 1:
            return NestedTensor._jagged(fn(self._values, d, dtype=dtype), self._offset_list, self._ragged_idx,
                                        like=self)
        return self._per_component(lambda c: fn(c, d, dtype=dtype))

    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        return self._reduce("sum", dim, keepdim, dtype)

    def mean(self, dim=None, keepdim: bool = False, dtype=None):
        return self._reduce("mean", dim, keepdim, dtype)

    def _reduce(self, op, dim, keepdim, dtype):
        """Along one non-batch dim; over everything (jagged only) with ``dim=None``."""
        from trainer.nested.nested_tensor import NestedTensor

        def reduce(t, *args):
            return getattr(t, op)(*args, keepdim=keepdim, dtype=dtype) if args else getattr(t, op)(dtype=dtype)

        if isinstance(dim, (tuple, list)):
            raise RuntimeError(f"{op}(): nested tensors reduce along one dim at a time, got dims {tuple(dim)}")
        if self._sizes is not None:
            if dim is None or dim % self.dim() != self.dim() - 1 or not keepdim:
                raise RuntimeError(f"{op}(): nested tensors with the strided layout reduce only along the last dim "
                                   f"with keepdim=True, got dim={dim}, keepdim={keepdim}")
            return self._on_rows(lambda v: reduce(v, -1))
        if dim is None:
            return reduce(self._values)
        d = self._component_dim(dim, op)
        if d == self._ragged_idx - 1:  # each component reduces to one row: the result is dense, (B, ...)
            return trainer.stack([reduce(c, d) for c in self.unbind()])
        ragged = self._ragged_idx - (1 if d < self._ragged_idx - 1 and not keepdim else 0)
        return NestedTensor._jagged(reduce(self._values, d), self._offset_list, ragged, like=self)

    def _layer_norm(self, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if self._sizes is not None:
            if weight is None or bias is None:
                raise ValueError("layer_norm of a nested tensor with the strided layout needs weight and bias")
            return self._per_component(lambda c: dense_layer_norm(c, shape, weight, bias, eps))
        if self._ragged_idx > self.dim() - 1 - len(shape):
            raise RuntimeError(f"layer_norm(): normalized_shape {list(shape)} takes in the ragged dim "
                               f"{self._ragged_idx} of a nested tensor of {self.dim()} dims; it can only "
                               f"normalise over regular trailing dims")
        return self._with_values(dense_layer_norm(self._values, shape, weight, bias, eps))

    # ------------------------------------------------------------- products
    def _linear(self, weight, bias=None):
        if self._sizes is None and self._regular_rows() is None:
            raise RuntimeError("linear(): the last dim of the nested tensor is ragged; linear needs a regular one")
        return self._on_rows(lambda v: dense_linear(v, weight, bias))

    def matmul(self, other):
        from trainer.nested.nested_tensor import NestedTensor

        if isinstance(other, NestedTensor):
            if self._sizes is None or other._sizes is None:
                raise RuntimeError("matmul(): between two nested tensors, only the strided layout is supported")
            if len(self._sizes) != len(other._sizes):
                raise RuntimeError(f"matmul(): nested tensors of {len(self._sizes)} and {len(other._sizes)} "
                                   f"components cannot be multiplied")
            return self._rebuilt([a @ b for a, b in zip(self.unbind(), other.unbind())], None)
        if self._sizes is not None:
            raise RuntimeError("matmul(): expected both to be nested, but got a nested self and a non-nested other "
                               "(a strided nested tensor multiplies only another nested tensor)")
        if other.ndim != 2 or self._regular_rows() is None:
            raise RuntimeError(f"matmul(): a jagged nested tensor of {self.dim()} dims (ragged dim "
                               f"{self._ragged_idx}) multiplies a 2-D dense matrix on a regular last dim, "
                               f"got one of shape {list(other.shape)}")
        return self._on_rows(lambda v: v @ other)

    __matmul__ = matmul

    def _attention(self, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                   enable_gqa=False):
        """Attention of each component's queries over its own keys and values (lengths may differ between
        queries and keys, as in cross attention)."""
        from trainer.nested.nested_tensor import NestedTensor

        if not (isinstance(key, NestedTensor) and isinstance(value, NestedTensor)):
            raise ValueError(f"Expected query, key, and value to be nested tensors, but got query.is_nested: True, "
                             f"key.is_nested: {getattr(key, 'is_nested', False)}, and value.is_nested: "
                             f"{getattr(value, 'is_nested', False)} instead.")
        if any(t._sizes is not None for t in (self, key, value)):
            raise RuntimeError("scaled_dot_product_attention: nested tensors must have the jagged layout "
                               "(trainer.nested.nested_tensor(..., layout=trainer.jagged))")
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: masks are not supported for nested tensors (the "
                             "ragged lengths already say which keys each query sees)")
        if is_causal:
            raise RuntimeError("scaled_dot_product_attention: is_causal=True is not supported for nested tensors")
        if not len(self) == len(key) == len(value):
            raise RuntimeError(f"scaled_dot_product_attention: query, key and value have {len(self)}, {len(key)} "
                               f"and {len(value)} components; expected the same batch size")
        outputs = [dense_attention(q, k, v, dropout_p=dropout_p, scale=scale, enable_gqa=enable_gqa)
                   for q, k, v in zip(self.unbind(), key.unbind(), value.unbind())]
        return self._rebuilt(outputs, self._ragged_idx)
