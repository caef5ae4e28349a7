"""Matrix products: ``matmul`` (batched, broadcast, vector cases), the fused ``linear`` layer op, ``einsum``, and
``outer``/``dot``/``addmm``/``baddbmm``/``cross`` built from them."""

from __future__ import annotations

import math
import string

import trainer
from trainer.amp import cast_policy
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops import reduced_precision
from trainer.ops._operands import broadcast_shapes, normalize_dim, promote, unbroadcast
from trainer.ops.holomorphic import holomorphic


@holomorphic
class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
        k_a, k_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({_rows(a)}x{k_a} and {k_b}x{_cols(b)}): "
                f"got shapes {list(a.shape)} and {list(b.shape)}"
            )
        ctx.save_for_backward(a, b)
        try:
            return reduced_precision.matmul(a, b)
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions of shapes {list(a.shape)} and {list(b.shape)} "
                               "are not broadcastable") from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(a)
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return ((reduced_precision.matmul(g, b.T) if need_a else None),
                    (reduced_precision.matmul(a.T, g) if need_b else None))
        # treat vectors as matrices, as matmul's forward does
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:  # first, so that a 0-d grad (vector @ vector) becomes (1,) and then (1, 1)
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        ga = (unbroadcast(reduced_precision.matmul(g2, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
              if need_a else None)
        gb = (unbroadcast(reduced_precision.matmul(xp.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
              if need_b else None)
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b = graph_tensors(ctx)
        need_a, need_b = ctx.needs_input_grad
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g.unsqueeze(-1) if b.ndim == 1 else g
        g2 = g2.unsqueeze(-2) if a.ndim == 1 else g2
        ga = (g2 @ b2.transpose(-1, -2)).sum_to_size(a2.shape).reshape(a.shape) if need_a else None
        gb = (a2.transpose(-1, -2) @ g2).sum_to_size(b2.shape).reshape(b.shape) if need_b else None
        return ga, gb


@holomorphic
class Linear(Function):
    """``x @ weight.T + bias`` as one op: one GEMM forward, two backward, the bias a row sum."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({_rows(x)}x{x.shape[-1]} and "
                f"{weight.shape[1]}x{weight.shape[0]}): input shape {list(x.shape)}, weight shape {list(weight.shape)}"
            )
        ctx.save_for_backward(x, weight)
        ctx.bias_shape = None if bias is None else bias.shape  # a bias may broadcast, as PyTorch allows
        out = reduced_precision.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        rows = math.prod(g.shape[:-1])  # not -1: a layer may have no inputs or no outputs
        g2 = g.reshape(rows, g.shape[-1])
        gx = reduced_precision.matmul(g, weight) if needs[0] else None
        gw = reduced_precision.matmul(g2.T, x.reshape(rows, x.shape[-1])) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (unbroadcast(g2.sum(axis=0), ctx.bias_shape) if needs[2] else None)

    @staticmethod
    def backward_graph(ctx, g):
        x, weight = graph_tensors(ctx)
        needs = ctx.needs_input_grad
        rows = math.prod(g.shape[:-1])
        g2 = g.reshape(rows, g.shape[-1])
        gx = (g @ weight) if needs[0] else None
        gw = (g2.transpose(0, 1) @ x.reshape(rows, x.shape[-1])) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(0).sum_to_size(ctx.bias_shape) if needs[2] else None)


@holomorphic
class Einsum(Function):
    """``einsum`` of any number of operands; each gradient is another einsum, of the output gradient and the
    other operands, written out for that operand's subscripts. The same code runs on arrays with ``xp`` and, for
    the recorded backward, on tensors with ``trainer`` in place of ``xp`` (its einsum is this op again)."""

    @staticmethod
    def forward(ctx, *arrays, equation):
        ctx.save_for_backward(*arrays)
        ctx.equation = equation
        return reduced_precision.in_float32(lambda *a: xp_of(a[0]).einsum(equation, *a), *arrays)

    @staticmethod
    def backward(ctx, g):
        return reduced_precision.in_float32(lambda g, *a: _einsum_gradients(ctx, xp_of(g), g, a), g, *ctx.saved_tensors)

    @staticmethod
    def backward_graph(ctx, g):
        return _einsum_gradients(ctx, trainer, g, graph_tensors(ctx))


def _einsum_gradients(ctx, xp, g, operands):
    """The gradient of each operand of ``Einsum`` that needs one: ``operands`` are arrays (and ``xp`` their
    module) or tensors (and ``xp`` is ``trainer``)."""
    inputs, output, ellipsis = _parse_einsum(ctx.equation, [a.shape for a in operands])
    sizes = _letter_sizes(inputs, [a.shape for a in operands], ellipsis)
    full = [_full_subscripts(s, ellipsis) for s in inputs]
    stretched = [xp.broadcast_to(_pad_ellipsis(a, s, len(ellipsis)), [sizes[c] for c in f])
                 for a, s, f in zip(operands, inputs, full)]
    grads = []
    for i, need in enumerate(ctx.needs_input_grad):
        if not need:
            grads.append(None)
            continue
        others = [(f, a) for j, (f, a) in enumerate(zip(full, stretched)) if j != i]
        grad = _einsum_grad(xp, g, output, others, full[i], sizes)
        grads.append(_unpad_ellipsis(grad, inputs[i], operands[i].shape, len(ellipsis)))
    return tuple(grads)


_LETTERS = string.ascii_letters


def _parse_einsum(equation, shapes):
    """Each operand's subscripts and the output's, as lists of letters and ``"..."``, plus the letters that stand
    for the broadcast ``...`` dims (right-aligned, as many as the operand with the most)."""
    lhs, arrow, rhs = equation.partition("->")
    inputs = [_split_subscripts(s) for s in lhs.split(",")]
    if len(inputs) != len(shapes):
        raise RuntimeError(f"einsum(): the equation {equation!r} names {len(inputs)} operand(s), but "
                           f"{len(shapes)} were provided")
    n_ellipsis = 0
    for k, (subs, shape) in enumerate(zip(inputs, shapes)):
        named = len([c for c in subs if c != "..."])
        if "..." not in subs and named != len(shape) or named > len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({len(shape)}) for operand {k}"
                               f"{'' if '...' in subs else ' and no ellipsis was given'}")
        if "..." in subs:
            n_ellipsis = max(n_ellipsis, len(shape) - named)
    used = {c for subs in inputs for c in subs}
    ellipsis = [c for c in _LETTERS if c not in used][:n_ellipsis]
    if arrow:
        output = _split_subscripts(rhs)
        for c in output:
            if c != "..." and c not in used:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any "
                                   "input operand")
    else:  # implicit output: ``...`` first, then the letters seen once, in alphabetical order
        counts = [c for subs in inputs for c in subs if c != "..."]
        output = (["..."] if n_ellipsis else []) + sorted(c for c in set(counts) if counts.count(c) == 1)
    return inputs, _full_subscripts(output, ellipsis), ellipsis


def _split_subscripts(text):
    text = text.replace(" ", "")
    parts = text.split("...")
    if len(parts) > 2:
        raise RuntimeError(f"einsum(): found more than one ellipsis ('...') in {text!r}")
    for c in "".join(parts):
        if c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {text.index(c)} in the equation "
                               f"string, subscripts must be in [a-zA-Z], got {c!r}")
    return list(parts[0]) + (["..."] + list(parts[1]) if len(parts) == 2 else [])


def _full_subscripts(subs, ellipsis):
    if "..." not in subs:
        return list(subs)
    at = subs.index("...")
    return subs[:at] + list(ellipsis) + subs[at + 1:]


def _ellipsis_dims(subs, shape, n):
    """Where an operand's ``...`` dims start and how many it has."""
    if "..." not in subs:
        return 0, 0
    at = subs.index("...")
    return at, len(shape) - (len(subs) - 1)


def _pad_ellipsis(a, subs, n):
    """``a`` with size-1 dims in front of its ``...`` dims, so that every operand has all ``n`` of them."""
    at, own = _ellipsis_dims(subs, a.shape, n)
    if "..." not in subs or own == n:
        return a
    return a.reshape(a.shape[:at] + (1,) * (n - own) + a.shape[at:])


def _unpad_ellipsis(grad, subs, shape, n):
    at, own = _ellipsis_dims(subs, shape, n)
    padded = shape[:at] + (1,) * (n - own) + shape[at:] if "..." in subs else shape
    axes = tuple(d for d, (p, s) in enumerate(zip(padded, grad.shape)) if p == 1 and s != 1)
    if axes:  # positional, for arrays and tensors alike; the summed dims are 1s of ``shape``
        grad = grad.sum(axes)
    return grad.reshape(shape)


def _letter_sizes(inputs, shapes, ellipsis):
    sizes = {}
    for subs, shape in zip(inputs, shapes):
        padded = (1,) * (len(_full_subscripts(subs, ellipsis)) - len(shape))
        at, _ = _ellipsis_dims(subs, shape, len(ellipsis))
        for c, n in zip(_full_subscripts(subs, ellipsis), shape[:at] + padded + shape[at:]):
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


def _einsum_grad(xp, g, output, others, target, sizes):
    """The gradient for an operand with subscripts ``target``: einsum of ``g`` and ``others`` onto the letters
    they share with it, then broadcast over letters only it has and put on the diagonal of repeated letters."""
    available = set(output).union(*(set(f) for f, _ in others))
    unique = list(dict.fromkeys(target))
    present = [c for c in unique if c in available]
    terms = ",".join("".join(s) for s in [output, *(f for f, _ in others)])
    reduced = xp.einsum(f"{terms}->{''.join(present)}", g, *(a for _, a in others))
    spare = iter(c for c in _LETTERS if c not in sizes)
    placed, operands, subs = [], [reduced], ["".join(present)]
    for c in target:
        if c in placed:  # a repeated letter: a fresh one tied to it by an identity matrix
            fresh = next(spare)
            operands.append(xp.eye(sizes[c], dtype=g.dtype))
            subs.append(c + fresh)
            placed.append(fresh)
            continue
        if c not in available:  # a letter summed within this operand alone: its gradient is broadcast
            operands.append(xp.ones(sizes[c], dtype=g.dtype))
            subs.append(c)
        placed.append(c)
    return xp.einsum(f"{','.join(subs)}->{''.join(placed)}", *operands)


def _rows(a) -> int:
    return 1 if a.ndim == 1 else a.size // a.shape[-1]


def _cols(b) -> int:
    return 1 if b.ndim == 1 else b.shape[-1]


@cast_policy.lower_precision_fp
def matmul(a, b):
    if getattr(a, "_own_products", False) or getattr(b, "_own_products", False):  # sparse or nested operands
        return _layout_matmul(a, b)
    return MatMul.apply(*promote(a, b))


def _layout_matmul(a, b):
    if getattr(a, "_is_sparse_compressed", False) or getattr(b, "_is_sparse_compressed", False):  # CSR & co.
        return trainer.compressed_sparse_tensor.matmul(a, b)
    if getattr(a, "is_sparse", False):  # sparse @ dense: SparseTensor's own product
        return a.matmul(b)
    if getattr(b, "is_sparse", False):  # dense @ sparse: trainer.sparse's product
        return trainer.sparse.mm(a, b)
    if getattr(a, "is_nested", False):  # a nested tensor's own (per-component) product
        return a.matmul(b)
    return MatMul.apply(*promote(a, b))


@cast_policy.lower_precision_fp
def linear(x, weight, bias=None):
    _same_dtype("linear", x, weight, bias)
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


def _same_dtype(op, *tensors):
    """Layers do not promote, as in PyTorch: a float64 input into a float32 layer is an error."""
    present = [t for t in tensors if t is not None]
    kinds = {t._data.dtype for t in present}
    if len(kinds) > 1:
        names = ", ".join(f"{t.dtype.name}" for t in present)
        raise RuntimeError(f"{op}: expected all arguments to have the same dtype, but got {names}. "
                           f"Convert the input with .to({present[-1].dtype!r}) or the module with .to(dtype).")


@cast_policy.lower_precision_fp
def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {a.ndim}D and {b.ndim}D")
    return matmul(a, b)


@cast_policy.lower_precision_fp
def bmm(a, b):
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"bmm: expected 3D tensors, got {a.ndim}D and {b.ndim}D")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {list(a.shape)} and {list(b.shape)}")
    return matmul(a, b)


@cast_policy.lower_precision_fp
def einsum(equation, *operands):
    """``einsum("ij,jk->ik", a, b)``; the operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    operands = promote(*operands)
    equation = equation.replace(" ", "")
    _parse_einsum(equation, [t._data.shape for t in operands])  # PyTorch's messages, before NumPy's
    try:
        return Einsum.apply(*operands, equation=equation)
    except ValueError as exc:
        raise RuntimeError(f"einsum(): {exc} (equation {equation!r}, operand shapes "
                           f"{[list(t.shape) for t in operands]})") from None


def outer(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: expected 1-D vectors, but got {a.ndim}-D and {b.ndim}-D tensors")
    return a.reshape(-1, 1) * b.reshape(1, -1)


ger = outer


@cast_policy.autocast_excluded
def dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {a.dtype.name} and "
                           f"{b.dtype.name}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to "
                           "have the same number of elements, but got different sizes")
    return matmul(a, b)


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product``, skipping the scalings that are 1 (and ``input`` when beta is 0)."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (input * beta if beta != 1 else input) + product


@cast_policy.lower_precision_fp
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


@cast_policy.lower_precision_fp
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def cross(a, b, dim=None):
    """The cross product of 3-vectors along ``dim`` (by default the first dim of size 3, as in PyTorch)."""
    from trainer.ops.shape import expand, roll

    if a.ndim != b.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got {a.ndim} and "
                           f"{b.ndim}")
    a, b = promote(a, b)
    shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    a, b = expand(a, *shape), expand(b, *shape)
    if dim is None:
        dim = next((d for d, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"no dimension of size 3 in input of shape {list(shape)}")
    axis = normalize_dim(dim, len(shape))
    if shape[axis] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {axis} must have length 3. Got {a.shape[axis]} and "
                           f"{b.shape[axis]}")
    # (a x b)_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1}, the index shifts written as rolls
    return roll(a, -1, axis) * roll(b, -2, axis) - roll(a, -2, axis) * roll(b, -1, axis)

