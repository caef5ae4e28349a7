"""A custom ``autograd.Function`` under forward-mode AD (its ``jvp``) and under ``trainer.func`` transforms (``jvp``,
``jacfwd``, ``grad``, ``vmap`` with ``generate_vmap_rule`` or a ``vmap`` staticmethod), against PyTorch on the
same float64 inputs. The Functions are PyTorch's documentation examples ("Extending torch.func with
autograd.Function", the forward-mode AD tutorial), written once and built on either library."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch


def functions(lib):
    """The example Functions, subclassing ``lib.autograd.Function``."""
    base = lib.autograd.Function

    class Fn(base):  # the forward-AD tutorial's: old style, jvp only, frees what it kept on ctx
        @staticmethod
        def forward(ctx, foo):
            result = lib.exp(foo)
            ctx.result = result
            return result

        @staticmethod
        def jvp(ctx, g_in):
            g_out = g_in * ctx.result
            del ctx.result
            return g_out

    class MyExp(base):  # "Extending torch.func": setup_context, save_for_backward and save_for_forward
        generate_vmap_rule = True

        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)
            ctx.save_for_forward(output)

        @staticmethod
        def backward(ctx, grad_output):
            (result,) = ctx.saved_tensors
            return grad_output * result

        @staticmethod
        def jvp(ctx, x_t):
            (result,) = ctx.saved_tensors
            return x_t * result

    class MyCube(base):  # "Extending torch.func": grad(grad(my_cube)) through a backward that uses an output
        @staticmethod
        def forward(x):
            return x ** 3, 3 * x ** 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0], output[1])

        @staticmethod
        def backward(ctx, grad_output, grad_dx):
            x, dx = ctx.saved_tensors
            return grad_output * dx + grad_dx * 6 * x

    class ScaledMul(base):  # two tensor inputs and a number; jvp sees a zero tangent for an input without one
        @staticmethod
        def forward(ctx, x, y, scale):
            ctx.save_for_forward(x, y)
            ctx.scale = scale
            return x * y * scale

        @staticmethod
        def jvp(ctx, x_t, y_t, scale_t):
            assert scale_t is None
            x, y = ctx.saved_tensors
            return (x_t * y + x * y_t) * ctx.scale

    class Sort(base):  # "Extending torch.func": a vmap staticmethod (sorting instead of NumPy's argsort)
        @staticmethod
        def forward(x, dim):
            result, ind = lib.sort(x, dim=dim)
            return result, ind

        @staticmethod
        def setup_context(ctx, inputs, output):
            _, dim = inputs
            _, ind = output
            ctx.mark_non_differentiable(ind)
            ctx.save_for_backward(ind)
            ctx.dim = dim

        @staticmethod
        def backward(ctx, grad_output, _):
            (ind,) = ctx.saved_tensors
            return lib.zeros_like(grad_output).scatter(ctx.dim, ind, grad_output), None

        @staticmethod
        def vmap(info, in_dims, x, dim):
            assert info.batch_size >= 1 and info.randomness == "error"
            x = x.movedim(in_dims[0], 0)
            dim = dim if dim >= 0 else dim + x.dim() - 1
            return Sort.apply(x, dim + 1), (0, 0)

    class OldStyle(base):  # forward(ctx, ...): refused by the transforms
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    return SimpleNamespace(Fn=Fn, MyExp=MyExp, MyCube=MyCube, ScaledMul=ScaledMul, Sort=Sort, OldStyle=OldStyle)


def both(make):
    """``make(lib, fns)`` for PyTorch and trainer: the two results as NumPy-comparable pytrees."""
    return make(torch, functions(torch)), make(trainer, functions(trainer))


def assert_close(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_close(a, b)
        return
    if theirs is None:
        assert ours is None
        return
    np.testing.assert_allclose(np.asarray(ours.detach().numpy()), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def draw(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_tutorial_fn_jvp_gives_tangents_that_later_ops_carry():
    primal, tangent = draw(4, 3), draw(4, 3, seed=1)

    def run(lib, fns):
        fw_ad = lib.autograd.forward_ad
        with fw_ad.dual_level():
            dual = fw_ad.make_dual(lib.tensor(primal, requires_grad=True), lib.tensor(tangent))
            out = fns.Fn.apply(dual)
            later = (out * 2).sin() + dual  # one path through Fn, one around it
            first = fw_ad.unpack_dual(out)
            # jvp ran once, at apply (it deleted ctx.result): asking again gives the same tangent
            return first.primal, first.tangent, fw_ad.unpack_dual(later).tangent, fw_ad.unpack_dual(out).tangent

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_jvp_sees_zero_tangents_for_plain_inputs_and_none_for_numbers():
    x, y, tangent = draw(5), draw(5, seed=1), draw(5, seed=2)

    def run(lib, fns):
        fw_ad = lib.autograd.forward_ad
        with fw_ad.dual_level():
            out = fns.ScaledMul.apply(fw_ad.make_dual(lib.tensor(x), lib.tensor(tangent)), lib.tensor(y), 1.5)
            return fw_ad.unpack_dual(out).tangent

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_save_for_forward_and_backward_inside_a_dual_level():
    x, tangent = draw(3, 2), draw(3, 2, seed=1)

    def run(lib, fns):
        fw_ad = lib.autograd.forward_ad
        primal = lib.tensor(x, requires_grad=True)
        with fw_ad.dual_level():
            out = fns.MyExp.apply(fw_ad.make_dual(primal, lib.tensor(tangent)))
            jvp = fw_ad.unpack_dual(out).tangent
            out.sum().backward()  # reverse mode still runs the Function's backward
        return out.detach(), jvp, primal.grad

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_func_jvp_and_jacfwd_use_the_functions_jvp():
    x, tangent = draw(4), draw(4, seed=1)

    def run(lib, fns):
        f = lib.func
        value, jvp_out = f.jvp(fns.MyExp.apply, (lib.tensor(x),), (lib.tensor(tangent),))
        composed = f.jvp(lambda a: fns.MyExp.apply(a.sin()) * a, (lib.tensor(x),), (lib.tensor(tangent),))
        return value, jvp_out, composed, f.jacfwd(fns.MyExp.apply)(lib.tensor(x))

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_func_jvp_needs_no_backward():
    x, tangent = draw(3), draw(3, seed=1)

    def run(lib, fns):
        class ExpForwardOnly(lib.autograd.Function):
            generate_vmap_rule = True

            @staticmethod
            def forward(x):
                return x.exp()

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_forward(output)

            @staticmethod
            def jvp(ctx, x_t):
                return x_t * ctx.saved_tensors[0]

        return (lib.func.jvp(ExpForwardOnly.apply, (lib.tensor(x),), (lib.tensor(tangent),)),
                lib.func.jacfwd(lambda a: ExpForwardOnly.apply(a * a))(lib.tensor(x)))

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_forward_over_reverse_differentiates_the_backward_and_uses_jvp():
    x, tangent = draw(4), draw(4, seed=1)

    def run(lib, fns):
        f = lib.func
        gradient = f.grad(lambda a: fns.MyExp.apply(a).sin().sum())
        return (f.jvp(gradient, (lib.tensor(x),), (lib.tensor(tangent),)),
                f.hessian(lambda a: (fns.MyExp.apply(a) * a).sum())(lib.tensor(x)))

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_grad_of_grad_through_setup_context_function():
    def run(lib, fns):
        def my_cube(a):
            result, _ = fns.MyCube.apply(a)
            return result

        g, x = lib.func.grad, lib.tensor(0.7, dtype=lib.float64)
        return g(my_cube)(x), g(g(my_cube))(x)

    theirs, ours = both(run)
    assert_close(ours, theirs)
    assert float(ours[1]) == pytest.approx(6 * 0.7)


def test_vmap_with_generated_rule_and_with_the_vmap_staticmethod():
    x = draw(3, 5)

    def run(lib, fns):
        f = lib.func
        exps = f.vmap(fns.MyExp.apply)(lib.tensor(x))
        values, indices = f.vmap(fns.Sort.apply, in_dims=(1, None))(lib.tensor(x), 0)
        per_sample_grads = f.vmap(f.grad(lambda row: (fns.Sort.apply(row, 0)[0] * lib.arange(5.0)).sum()))(
            lib.tensor(x))
        return exps, values, indices, per_sample_grads

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_forward_mode_without_jvp_raises_only_for_dual_inputs():
    x = draw(3)

    def call(lib):
        fns = functions(lib)
        fw_ad = lib.autograd.forward_ad
        with fw_ad.dual_level():
            fns.OldStyle.apply(lib.tensor(x))  # no tangent: fine
            fns.OldStyle.apply(fw_ad.make_dual(lib.tensor(x), lib.ones(3, dtype=lib.float64)))

    assert_raises_like_torch(call, NotImplementedError, "You must implement the jvp function for custom "
                                                        "autograd.Function to use it with forward mode AD.")

    def func_jvp(lib):
        fns = functions(lib)
        lib.func.jvp(fns.MyCube.apply, (lib.tensor(x),), (lib.tensor(x),))

    assert_raises_like_torch(func_jvp, NotImplementedError, "You must implement the jvp function")


@pytest.mark.parametrize("transform", ["grad", "vmap", "jvp", "jacrev", "jacfwd"])
def test_transforms_refuse_a_function_without_setup_context(transform):
    x = draw(3)

    def call(lib):
        fns, f = functions(lib), lib.func
        apply = fns.OldStyle.apply
        run = {"grad": lambda a: f.grad(lambda b: apply(b).sum())(a), "vmap": f.vmap(apply),
               "jvp": lambda a: f.jvp(apply, (a,), (a,)), "jacrev": f.jacrev(apply), "jacfwd": f.jacfwd(apply)}
        run[transform](lib.tensor(x))

    assert_raises_like_torch(call, RuntimeError, "must override the setup_context staticmethod")


def test_vmap_and_jacfwd_need_vmap_support():
    x = draw(3)

    def make(lib, **members):
        def setup_context(ctx, inputs, output):
            ctx.save_for_forward(output)

        body = {"forward": staticmethod(lambda a: a.exp()), "setup_context": staticmethod(setup_context),
                "jvp": staticmethod(lambda ctx, t: t * ctx.saved_tensors[0])}
        return type("Exp", (lib.autograd.Function,), {**body, **members})

    for run in (lambda lib, fn: lib.func.vmap(fn.apply)(lib.tensor(x)),
                lambda lib, fn: lib.func.jacfwd(fn.apply)(lib.tensor(x))):
        assert_raises_like_torch(lambda lib, run=run: run(lib, make(lib)), RuntimeError,
                                 "You tried to vmap over Exp, but it does not have vmap support")
    both_rules = {"generate_vmap_rule": True, "vmap": staticmethod(lambda info, in_dims, a: (a.exp(), 0))}
    assert_raises_like_torch(lambda lib: lib.func.vmap(make(lib, **both_rules).apply)(lib.tensor(x)), RuntimeError,
                             "has both generate_vmap_rule=True and an overridden vmap staticmethod")
    no_out_dims = {"vmap": staticmethod(lambda info, in_dims, a: a.exp())}
    assert_raises_like_torch(lambda lib: lib.func.vmap(make(lib, **no_out_dims).apply)(lib.tensor(x)), RuntimeError,
                             "Expected the vmap staticmethod to have two returns")
    bad_out_dims = {"vmap": staticmethod(lambda info, in_dims, a: (a.exp(), (0, 0)))}
    assert_raises_like_torch(lambda lib: lib.func.vmap(make(lib, **bad_out_dims).apply)(lib.tensor(x)), RuntimeError,
                             "returned an incompatible \\(output, out_dims\\) tuple")


def test_bad_jvp_returns_raise_like_torch():
    x = draw(3)

    def run_with(jvp):
        def call(lib):
            cls = type("Bad", (lib.autograd.Function,), {"forward": staticmethod(lambda ctx, a: a * 2),
                                                        "jvp": staticmethod(jvp)})
            fw_ad = lib.autograd.forward_ad
            with fw_ad.dual_level():
                cls.apply(fw_ad.make_dual(lib.tensor(x), lib.ones(3, dtype=lib.float64)))
        return call

    assert_raises_like_torch(run_with(lambda ctx, t: (t, t)), RuntimeError,
                             r"jvp returned an invalid number of forward gradients \(expected 1 but got 2\)")
    assert_raises_like_torch(run_with(lambda ctx, t: t[:2]), RuntimeError,
                             "Tensor is of size \\[3\\] while the given forward gradient is of size \\[2\\]")
    assert_raises_like_torch(run_with(lambda ctx, t: 3), RuntimeError, "expected Variable or None \\(got int\\)")


def test_gradcheck_checks_forward_mode():
    x = draw(2, 3)

    def run(lib, jvp):
        fn = type("Exp", (lib.autograd.Function,), {"forward": staticmethod(lambda ctx, a: lib.exp(a)),
                                                    "jvp": staticmethod(jvp)})
        return lib.autograd.gradcheck(fn.apply, (lib.tensor(x, requires_grad=True),), check_forward_ad=True,
                                      check_backward_ad=False, check_undefined_grad=False, check_batched_grad=False,
                                      raise_exception=False)

    for lib in (torch, trainer):
        assert run(lib, lambda ctx, t: t * t.new_tensor(np.exp(x))) is True
        assert run(lib, lambda ctx, t: t * 2) is False


def test_two_outputs_each_carry_their_tangent():
    x, tangent = draw(4), draw(4, seed=1)

    def run(lib, fns):
        class SinCos(lib.autograd.Function):
            @staticmethod
            def forward(a):
                return a.sin(), a.cos()

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_forward(*output)

            @staticmethod
            def jvp(ctx, a_t):
                sin, cos = ctx.saved_tensors
                return a_t * cos, -a_t * sin

        fw_ad = lib.autograd.forward_ad
        with fw_ad.dual_level():
            sin, cos = SinCos.apply(fw_ad.make_dual(lib.tensor(x), lib.tensor(tangent)))
            return fw_ad.unpack_dual(sin).tangent, fw_ad.unpack_dual(cos).tangent, fw_ad.unpack_dual(sin * cos).tangent

    theirs, ours = both(run)
    assert_close(ours, theirs)


def test_a_none_tangent_from_jvp_is_zero():
    # PyTorch fails an internal assert here; trainer reads None as "no change", like a non-tensor output's
    class Halves(trainer.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 0.5, a.detach().round()

        @staticmethod
        def jvp(ctx, a_t):
            return a_t * 0.5, None

    fw_ad = trainer.autograd.forward_ad
    with fw_ad.dual_level():
        half, rounded = Halves.apply(fw_ad.make_dual(trainer.tensor(draw(3)), trainer.ones(3, dtype=trainer.float64)))
        assert fw_ad.unpack_dual(half).tangent.tolist() == [0.5, 0.5, 0.5]
        assert fw_ad.unpack_dual(rounded).tangent.tolist() == [0.0, 0.0, 0.0]
