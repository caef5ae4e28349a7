# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/jacobians_hessians.py, shortened: small sizes, no timing; the data come in
as NumPy arrays so that both libraries see the same numbers."""

from functools import partial

import torch
import torch.nn.functional as F
from torch.func import hessian, jacfwd, jacrev, jvp, grad, vjp, vmap


def predict(weight, bias, x):
    return F.linear(x, weight, bias).tanh()


def jacobians(weight, bias, x):
    weight, bias, x = torch.from_numpy(weight), torch.from_numpy(bias), torch.from_numpy(x)
    D = x.shape[0]

    def compute_jac(xp):
        jacobian_rows = [torch.autograd.grad(predict(weight, bias, xp), xp, vec)[0]
                         for vec in unit_vectors]
        return torch.stack(jacobian_rows)

    xp = x.clone().requires_grad_()
    unit_vectors = torch.eye(D)

    jacobian = compute_jac(xp)

    _, vjp_fn = vjp(partial(predict, weight, bias), x)

    ft_jacobian, = vmap(vjp_fn)(unit_vectors)

    # let's confirm both methods compute the same result
    assert torch.allclose(ft_jacobian, jacobian)

    ft_jacobian = jacrev(predict, argnums=2)(weight, bias, x)

    # Confirm by running the following:
    assert torch.allclose(ft_jacobian, jacobian)

    # note the change in input via ``argnums`` parameters of 0,1 to map to weight and bias
    ft_jac_weight, ft_jac_bias = jacrev(predict, argnums=(0, 1))(weight, bias, x)

    jacfwd_result = jacfwd(predict, argnums=2)(weight, bias, x)
    assert torch.allclose(jacfwd_result, jacobian)
    return jacobian, ft_jac_weight, ft_jac_bias


def hessians(weight, bias, x):
    weight, bias, x = torch.from_numpy(weight), torch.from_numpy(bias), torch.from_numpy(x)
    hess_api = hessian(predict, argnums=2)(weight, bias, x)
    hess_fwdfwd = jacfwd(jacfwd(predict, argnums=2), argnums=2)(weight, bias, x)
    hess_revrev = jacrev(jacrev(predict, argnums=2), argnums=2)(weight, bias, x)
    assert torch.allclose(hess_api, hess_fwdfwd)
    assert torch.allclose(hess_api, hess_revrev)
    return hess_api


def batch_jacobian_and_hessian(weight, bias, x):
    weight, bias, x = torch.from_numpy(weight), torch.from_numpy(bias), torch.from_numpy(x)
    compute_batch_jacobian = vmap(jacrev(predict, argnums=2), in_dims=(None, None, 0))
    batch_jacobian0 = compute_batch_jacobian(weight, bias, x)

    def predict_with_output_summed(weight, bias, x):
        return predict(weight, bias, x).sum(0)

    batch_jacobian1 = jacrev(predict_with_output_summed, argnums=2)(weight, bias, x).movedim(1, 0)
    assert torch.allclose(batch_jacobian0, batch_jacobian1)

    compute_batch_hessian = vmap(hessian(predict, argnums=2), in_dims=(None, None, 0))

    batch_hess = compute_batch_hessian(weight, bias, x)
    return batch_jacobian0, batch_hess


def hvp(f, primals, tangents):
    return jvp(grad(f), primals, tangents)[1]


def f(x):
    return x.sin().sum()


def hessian_vector_product(x, tangent):
    x, tangent = torch.from_numpy(x), torch.from_numpy(tangent)
    result = hvp(f, (x,), (tangent,))
    return result
