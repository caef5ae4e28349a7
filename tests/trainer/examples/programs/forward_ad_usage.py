# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/forward_ad_usage.py, shortened: inputs come in as NumPy arrays so that both
libraries see the same numbers; each section returns what the tutorial computes."""

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
from torch.func import functional_call


def fn(x, y):
    return x ** 2 + y ** 2


def basic_usage(primal, tangent, plain):
    primal, tangent, plain = torch.from_numpy(primal), torch.from_numpy(tangent), torch.from_numpy(plain)
    # All forward AD computation must be performed in the context of
    # a ``dual_level`` context. All dual tensors created in such a context
    # will have their tangents destroyed upon exit.
    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        assert fwAD.unpack_dual(dual_input).tangent is tangent

        # To demonstrate the case where the copy of the tangent happens,
        # we pass in a tangent with a layout different from that of the primal
        dual_input_alt = fwAD.make_dual(primal, tangent.T)
        assert fwAD.unpack_dual(dual_input_alt).tangent is not tangent

        # Tensors that do not have an associated tangent are automatically
        # considered to have a zero-filled tangent of the same shape.
        plain_tensor = plain
        dual_output = fn(dual_input, plain_tensor)

        # Unpacking the dual returns a ``namedtuple`` with ``primal`` and ``tangent``
        # as attributes
        jvp = fwAD.unpack_dual(dual_output).tangent

    assert fwAD.unpack_dual(dual_output).tangent is None
    return fwAD.unpack_dual(dual_output).primal, jvp


def with_modules(model, input):
    params = {name: p for name, p in model.named_parameters()}
    tangents = {name: torch.ones_like(p) * 0.5 for name, p in params.items()}

    with fwAD.dual_level():
        for name, p in params.items():
            delattr(model, name)
            setattr(model, name, fwAD.make_dual(p, tangents[name]))

        out = model(input)
        jvp = fwAD.unpack_dual(out).tangent
    return jvp


def with_functional_call(model, input):
    # We need a fresh module because the functional call requires the
    # the model to have parameters registered.
    dual_params = {}
    params = {name: p for name, p in model.named_parameters()}
    tangents = {name: torch.ones_like(p) * 0.5 for name, p in params.items()}
    with fwAD.dual_level():
        for name, p in params.items():
            # Using the same ``tangents`` from the above section
            dual_params[name] = fwAD.make_dual(p, tangents[name])
        out = functional_call(model, dual_params, input)
        jvp2 = fwAD.unpack_dual(out).tangent
    return jvp2


class Fn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, foo):
        result = torch.exp(foo)
        # Tensors stored in ``ctx`` can be used in the subsequent forward grad
        # computation.
        ctx.result = result
        return result

    @staticmethod
    def jvp(ctx, gI):
        gO = gI * ctx.result
        # If the tensor stored in`` ctx`` will not also be used in the backward pass,
        # one can manually free it using ``del``
        del ctx.result
        return gO


def custom_function(primal, tangent):
    fn = Fn.apply

    primal = torch.tensor(primal, dtype=torch.double, requires_grad=True)
    tangent = torch.tensor(tangent)

    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        dual_output = fn(dual_input)
        jvp = fwAD.unpack_dual(dual_output).tangent

    # It is important to use ``autograd.gradcheck`` to verify that your
    # custom autograd Function computes the gradients correctly. By default,
    # ``gradcheck`` only checks the backward-mode (reverse-mode) AD gradients. Specify
    # ``check_forward_ad=True`` to also check forward grads. If you did not
    # implement the backward formula for your function, you can also tell ``gradcheck``
    # to skip the tests that require backward-mode AD by specifying
    # ``check_backward_ad=False``, ``check_undefined_grad=False``, and
    # ``check_batched_grad=False``.
    checked = torch.autograd.gradcheck(Fn.apply, (primal,), check_forward_ad=True,
                                       check_backward_ad=False, check_undefined_grad=False,
                                       check_batched_grad=False)
    return jvp, checked


def functional_api(primal, tangent):
    primal, tangent = torch.from_numpy(primal), torch.from_numpy(tangent)

    import torch.func as ft

    func = lambda x: x.sin()
    primal_out, tangent_out = ft.jvp(func, (primal,), (tangent,))
    return primal_out, tangent_out


def functional_api_with_modules(model, input):
    params = {name: p for name, p in model.named_parameters()}
    tangents = {name: torch.ones_like(p) * 0.5 for name, p in params.items()}

    def func(params):
        return functional_call(model, params, input)

    import torch.func as ft

    # Like the original, jvp takes tuples of pytrees: here one dict of parameters
    _, jvp_out = ft.jvp(func, (params,), (tangents,))
    return jvp_out


def build():
    return nn.Linear(5, 5)
