# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials beginner_source/basics/autogradqs_tutorial.py (Learn the Basics: Automatic Differentiation),
as a function of the tutorial's random parameters ``w`` and ``b``, returning what it prints."""

import torch


def run(w, b):
    seen = {}
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    seen['loss'] = loss

    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")
    seen['grad_fns'] = (z.grad_fn is not None, loss.grad_fn is not None, w.grad_fn is None)

    loss.backward()
    print(w.grad)
    print(b.grad)
    seen['grads'] = (w.grad.clone(), b.grad.clone())

    z = torch.matmul(x, w)+b
    requires = [z.requires_grad]
    with torch.no_grad():
        z = torch.matmul(x, w)+b
    requires.append(z.requires_grad)

    z = torch.matmul(x, w)+b
    z_det = z.detach()
    requires.append(z_det.requires_grad)
    seen['requires_grad'] = requires

    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp+1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\n{inp.grad}")
    first = inp.grad.clone()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nSecond call\n{inp.grad}")
    second = inp.grad.clone()
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")
    seen['jacobian_products'] = (first, second, inp.grad)
    return seen
