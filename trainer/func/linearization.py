"""``linearize(func, *primals)``: ``func``'s output at ``primals`` and ``jvp_fn``, the Jacobian-vector product at
``primals`` for any tangents, as ``torch.func.linearize``.

PyTorch traces the forward-mode graph once and replays it for each call of ``jvp_fn``; trainer has no graph
capture, so each call of ``jvp_fn`` computes ``trainer.func.jvp`` at the saved primals (the same values, with
``func`` run again per call)."""

from __future__ import annotations

from trainer.func.pytree import tree_flatten
from trainer.func.vector_products import jvp

__all__ = ["linearize"]


def linearize(func, *primals):
    output = func(*primals)
    flat_primals, primals_spec = tree_flatten(primals)

    def jvp_fn(*tangents):
        flat_tangents, tangents_spec = tree_flatten(tangents)
        if tangents_spec != primals_spec:
            raise RuntimeError(f"Expected the tangents {tangents_spec} to have the same argspec as the primals "
                               f"{primals_spec}")
        for index, (tangent, primal) in enumerate(zip(flat_tangents, flat_primals)):
            for what, read in (("shape", lambda t: t.shape), ("device", lambda t: t.device),
                               ("dtype", lambda t: t.dtype)):
                if read(tangent) != read(primal):
                    raise RuntimeError(f"tangent:{index} with {what} {read(tangent)} in flattened pytree doesn't "
                                       f"match the {what} {read(primal)} of the corresponding primal.")
        return jvp(func, primals, tangents)[1]

    return output, jvp_fn
