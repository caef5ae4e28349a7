"""Matrix products: ``matmul`` (batched, broadcast, vector cases) and the fused ``linear`` layer op."""

from __future__ import annotations

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import promote, unbroadcast


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
            return xp_of(a).matmul(a, b)
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions of shapes {list(a.shape)} and {list(b.shape)} "
                               "are not broadcastable") from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(a)
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
        # treat vectors as matrices, as matmul's forward does
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:  # first, so that a 0-d grad (vector @ vector) becomes (1,) and then (1, 1)
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        ga = unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if need_a else None
        gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape) if need_b else None
        return ga, gb


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
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g @ weight) if needs[0] else None
        gw = (g2.T @ x.reshape(-1, x.shape[-1])) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if needs[2] else None)


def _rows(a) -> int:
    return 1 if a.ndim == 1 else a.size // a.shape[-1]


def _cols(b) -> int:
    return 1 if b.ndim == 1 else b.shape[-1]


def matmul(a, b):
    return MatMul.apply(*promote(a, b))


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


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {a.ndim}D and {b.ndim}D")
    return matmul(a, b)


def bmm(a, b):
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"bmm: expected 3D tensors, got {a.ndim}D and {b.ndim}D")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {list(a.shape)} and {list(b.shape)}")
    return matmul(a, b)
