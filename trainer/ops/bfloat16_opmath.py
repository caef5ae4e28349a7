"""bfloat16 ops computed in float32 and rounded once, as PyTorch's CPU kernels do (their "opmath" type).

NumPy's ufuncs on ml_dtypes' bfloat16 already compute each element in float32 and round once. An op made of
several steps (softmax, a normalisation, a reduction, a fused loss) would round after every step instead, and
a reduction would accumulate in bfloat16: ``bfloat16_opmath`` runs such an op's forward and backward on float32
copies of its bfloat16 arrays and rounds what they return back to bfloat16.
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes

BFLOAT16 = dtypes.bfloat16.np


def widened(array):
    """A bfloat16 array as float32; any other array as it is."""
    return array.astype(np.float32) if getattr(array, "dtype", None) == BFLOAT16 else array


def narrowed(array, dtype=BFLOAT16):
    """A float32 array rounded to ``dtype`` (bfloat16); any other array (indices, masks, None) as it is."""
    return array.astype(dtype) if getattr(array, "dtype", None) == np.float32 else array


def reduce_widened(reduce, array, *args, **kwargs):
    """``reduce(array, ...)`` accumulated in float32 for a bfloat16 ``array`` and rounded back once."""
    if array.dtype != BFLOAT16:
        return reduce(array, *args, **kwargs)
    return narrowed(reduce(array.astype(np.float32), *args, **kwargs))


def bfloat16_opmath(cls=None, *, updates_inputs: bool = False):
    """Class decorator for a ``Function``: bfloat16 inputs are computed in float32 and the floating results
    rounded once to bfloat16 (unless the call names its output ``dtype``). What forward saves stays the bfloat16
    inputs and outputs themselves (widened again for backward), so in-place checks and ``create_graph`` still see
    where each came from. ``updates_inputs``: forward writes into some inputs (batch norm's running statistics),
    so the float32 copies are rounded back into them."""
    if cls is None:
        return lambda c: bfloat16_opmath(c, updates_inputs=updates_inputs)
    forward, backward = cls.forward, cls.backward

    def opmath_forward(ctx, *arrays, **attrs):
        for a in arrays:  # NumPy's dtype instances are singletons: ``is`` keeps the common case cheap
            if getattr(a, "dtype", None) is BFLOAT16:
                break
        else:
            return forward(ctx, *arrays, **attrs)
        wide = [widened(a) for a in arrays]
        result = forward(ctx, *wide, **attrs)
        if updates_inputs:
            for w, a in zip(wide, arrays):
                if w is not a:
                    a[...] = w
        multi = type(result) is tuple
        keep = attrs.get("dtype") is not None
        outs = tuple(r if keep else narrowed(r) for r in (result if multi else (result,)))
        saved = ctx.__dict__.get("saved_tensors")
        if saved:
            originals = {id(w): a for w, a in zip(wide, arrays)}
            originals.update({id(r): o for r, o in zip(result if multi else (result,), outs)})
            ctx.saved_tensors = tuple(originals.get(id(s), s) for s in saved)
        ctx.bfloat16_input_dtypes = tuple(getattr(a, "dtype", None) for a in arrays)
        return outs if multi else outs[0]

    def opmath_backward(ctx, *grads):
        input_dtypes = ctx.__dict__.get("bfloat16_input_dtypes")
        if input_dtypes is None:
            return backward(ctx, *grads)
        saved = ctx.__dict__.get("saved_tensors")
        if saved:
            ctx.saved_tensors = tuple(widened(s) for s in saved)
        try:
            result = backward(ctx, *(widened(g) for g in grads))
        finally:
            if saved:
                ctx.saved_tensors = saved
        if type(result) is not tuple:
            return narrowed(result) if input_dtypes[0] == BFLOAT16 else result
        return tuple(narrowed(r) if d == BFLOAT16 else r for r, d in zip(result, input_dtypes))

    cls.forward = staticmethod(opmath_forward)
    cls.backward = staticmethod(opmath_backward)
    return cls
