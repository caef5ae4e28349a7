"""``torch.func.grad`` and ``grad_and_value``: the gradient of a scalar function with respect to chosen positional
arguments (pytrees of tensors), as a function of the same arguments."""

from __future__ import annotations

import functools

from trainer.autograd import function_transforms, grad_mode
from trainer.func.argnums import replace_argnums, slice_argnums
from trainer.func.grad_scope import GradScope
from trainer.func.pytree import tree_flatten, tree_map, tree_unflatten
from trainer.tensor import Tensor


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """A function returning ``(gradient, value)`` of ``func``: the gradient with respect to the arguments at
    ``argnums`` (shaped like them: a tuple of them for a tuple ``argnums``), and ``func``'s value; with
    ``has_aux``, ``func`` returns ``(value, aux)`` and the result is ``(gradient, (value, aux))``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _grad_and_value(func, argnums, has_aux, args, kwargs)

    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """A function returning the gradient of the scalar function ``func`` with respect to the arguments at
    ``argnums``; with ``has_aux``, ``(gradient, aux)``. Composes with itself and the other transforms:
    ``grad(grad(f))`` is the second derivative, ``vmap(grad(f))`` per-sample gradients."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gradient, value = _grad_and_value(func, argnums, has_aux, args, kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return wrapper


def _grad_and_value(func, argnums, has_aux, args, kwargs):
    scope = GradScope()
    with grad_mode.enable_grad():
        diff_args = tree_map(scope.differentiable, slice_argnums(args, argnums, as_tuple=False))
        with function_transforms.transform("grad"):
            output = func(*replace_argnums(args, argnums, diff_args), **kwargs)
        aux = None
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: (output, aux) "
                                   "if has_aux is True")
            output, aux = output
        if not isinstance(output, Tensor):
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(output)}")
        if output.dim() != 0:
            raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor "
                               f"with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
        flat_diff_args, spec = tree_flatten(diff_args)
        gradient = scope.unwrap(tree_unflatten(scope.gradients([output], flat_diff_args), spec))
        output = scope.unwrap(output)
        if has_aux:
            return gradient, (output, scope.unwrap_tensors(aux))
    return gradient, output
