"""Matrix products of bfloat16 and float16 arrays as PyTorch's CPU kernels compute them: in float32, rounded once
to the inputs' dtype. (NumPy's matmul returns float32 for ml_dtypes' bfloat16, has no einsum for it, and runs
float16 products without BLAS.)"""

from __future__ import annotations

from trainer import dtypes
from trainer.backend import xp_of

_REDUCED = (dtypes.bfloat16.np, dtypes.float16.np)
_BFLOAT16, _FLOAT16 = _REDUCED


def in_float32(kernel, *arrays):
    """``kernel(*arrays)``; when the arrays are of a half-precision dtype, computed on float32 copies and each array
    result (also in a tuple; None stays None) rounded back to that dtype."""
    for a in arrays:  # NumPy's dtype instances are singletons: ``is`` keeps the float32 path cheap
        reduced = getattr(a, "dtype", None)
        if reduced is _BFLOAT16 or reduced is _FLOAT16:
            break
    else:
        return kernel(*arrays)
    widened = [a.astype(dtypes.float32.np) if getattr(a, "dtype", None) in _REDUCED else a for a in arrays]
    result = kernel(*widened)
    if type(result) is tuple:
        return tuple(None if r is None else r.astype(reduced) for r in result)
    return result.astype(reduced)


def matmul(a, b):
    """``a @ b`` (any ranks ``xp.matmul`` takes), half precision computed in float32."""
    return in_float32(xp_of(a).matmul, a, b)
