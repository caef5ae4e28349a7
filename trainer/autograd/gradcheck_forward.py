"""``gradcheck(check_forward_ad=True)``: the Jacobians that forward-mode AD (``forward_ad``'s dual tensors) gives,
checked against the same central differences as the backward check."""

from __future__ import annotations

import trainer
from trainer.autograd import forward_ad
from trainer.autograd.gradcheck import _as_tuple
from trainer.tensor import Tensor


def forward_jacobians(func, inputs: tuple) -> list:
    """For each input that requires grad, one Jacobian per output of ``func`` (input numel x output numel; None
    for an output that is not floating point), row ``k`` the tangents of the outputs when the input carries the
    ``k``-th basis vector as its tangent, in a dual level of its own."""
    outputs = _as_tuple(func(*inputs))
    jacobians = []
    for i, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        per_output = [trainer.zeros(t.numel(), o.numel(), dtype=o.dtype, device=o.device)
                      if isinstance(o, Tensor) and o.is_floating_point() else None for o in outputs]
        for k in range(t.numel()):
            basis = trainer.zeros(t.numel(), dtype=t.dtype, device=t.device)
            basis[k] = 1
            with forward_ad.dual_level():
                dual_inputs = list(inputs)
                dual_inputs[i] = forward_ad.make_dual(t.detach(), basis.reshape(t.shape))
                for jac, out in zip(per_output, _as_tuple(func(*dual_inputs))):
                    tangent = forward_ad.unpack_dual(out).tangent if jac is not None else None
                    if tangent is not None:
                        jac[k] = tangent.detach().reshape(-1).to(jac.dtype)
        jacobians.append(per_output)
    return jacobians
