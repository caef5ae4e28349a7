"""``@holomorphic``: PyTorch's gradient convention for complex inputs, applied to an op whose backward is the
ordinary chain rule.

For a real loss L and a complex input z, PyTorch stores the conjugate Wirtinger derivative: an op
``out = f(z)`` with complex derivative ``f'(z)`` passes back ``g * conj(f'(z))``, not ``g * f'(z)``. A backward
written as the chain rule (``g * f'(z)``, ``g @ b.T``, ...) is linear in ``g`` with coefficients holomorphic in
the inputs, so ``conj(backward(conj(g)))`` is exactly ``g * conj(f'(z))``. For real gradients the backward runs
as it is; this is only valid for holomorphic ops (``abs``, ``real``, ``angle`` ... define their own).
"""

from __future__ import annotations


def holomorphic(cls):
    """Make ``cls.backward`` (and ``backward_graph`` where defined) follow PyTorch's complex convention."""
    backward = cls.backward
    cls.backward = staticmethod(_conjugated(backward, _conj_array))
    backward_graph = getattr(cls, "backward_graph", None)
    if backward_graph is not None and backward_graph is not backward:
        cls.backward_graph = staticmethod(_conjugated(backward_graph, _conj_tensor))
    elif backward_graph is backward:  # ops that reuse one backward for both passes
        cls.backward_graph = cls.backward
    return cls


def _conjugated(backward, conj):
    def complex_aware_backward(ctx, *grads):
        for g in grads:
            if g is not None and getattr(g, "_data", g).dtype.kind == "c":  # an array, or a tensor (create_graph)
                break
        else:  # real gradients: the chain rule as written
            return backward(ctx, *grads)
        result = backward(ctx, *[None if g is None else conj(g) for g in grads])
        if type(result) is tuple:
            return tuple(None if r is None else conj(r) for r in result)
        return None if result is None else conj(result)

    return complex_aware_backward


def _conj_array(array):
    return array.conj() if array.dtype.kind == "c" else array


def _conj_tensor(tensor):
    from trainer.ops.complex_ops import conj_physical

    return conj_physical(tensor)
