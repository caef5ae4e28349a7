"""``torch.func``: composable function transforms (``grad``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``,
``hessian``, ``vmap``) over pure functions of pytrees of tensors, and the functional API over modules
(``functional_call``, ``stack_module_state``).

All derivatives come from trainer's reverse-mode autograd (``jvp`` and ``jacfwd`` included), and ``vmap`` runs
the function once per slice: see each module for what that means for speed."""

from trainer.func.batching import vmap
from trainer.func.functionalization import functionalize
from trainer.func.gradient_transforms import grad, grad_and_value
from trainer.func.jacobians import hessian, jacfwd, jacrev
from trainer.func.linearization import linearize
from trainer.func.module_state import stack_module_state
from trainer.func.vector_products import jvp, vjp
from trainer.nn.utils.stateless import functional_call

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "stack_module_state",
           "vjp", "vmap"]
__all__ += ["functionalize", "linearize"]
