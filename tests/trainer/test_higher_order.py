"""Higher-order gradients (``create_graph=True``) against PyTorch, in float64.

Each case differentiates a function once with ``create_graph=True``, builds a scalar from the gradients
(``sum(g * g)``, or a further derivative for third order) and differentiates that: every input's final gradient
must equal PyTorch's. Then the uses people write: a WGAN-GP gradient penalty, a Hessian-vector product, a
physics-informed second derivative, ``backward(create_graph=True)``, and the errors for derivatives that are
not implemented.
"""

import numpy as np
import pytest
import torch

import trainer

RNG = np.random.default_rng(0)
POS = RNG.uniform(0.5, 2.0, (3, 4))
ROW = RNG.uniform(0.5, 2.0, (4,))
MAT = RNG.normal(size=(3, 4))
WIDE = RNG.normal(size=(4, 5))
IMAGE = RNG.normal(size=(2, 2, 7, 7))
TARGET = [1, 0, 3]


def F(lib):
    return lib.nn.functional


def _grads_of_grads(lib, fn, inputs, order):
    return differentiated_to_order(lib, fn(lib, *inputs), inputs, order)


def differentiated_to_order(lib, loss, inputs, order):
    """The gradients of ``inputs`` of a scalar built from ``loss``'s gradients (and, for ``order`` 3, from those
    gradients' gradients): derivatives of order ``order``, as arrays."""
    grads = lib.autograd.grad(loss, inputs, create_graph=True)
    scalar = sum((g * g).sum() for g in grads)
    if order == 3:
        grads = lib.autograd.grad(scalar, inputs, create_graph=True)
        scalar = sum(g.sin().sum() for g in grads)
    scalar.backward()
    return [t.grad.detach().numpy() for t in inputs]


def assert_higher_order_matches_torch(fn, arrays, order=2):
    ours = _grads_of_grads(trainer, fn, [trainer.tensor(a, requires_grad=True) for a in arrays], order)
    theirs = _grads_of_grads(torch, fn, [torch.tensor(a, requires_grad=True) for a in arrays], order)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-11, err_msg=f"input {i}")


# name -> (fn(lib, *inputs), inputs)
CASES = {
    "arithmetic": (lambda lib, x, y: (x * y * x / y + x - y).sum(), [POS, ROW]),
    "pow": (lambda lib, x, y: (x ** y).sum() + (x ** 3).sum() + (2.0 ** x).sum(), [POS, ROW]),
    "atan2_hypot_lerp": (lambda lib, x, y: (lib.atan2(x, y) + lib.hypot(x, y) + lib.lerp(x, y, x)).sum(), [POS, POS]),
    "remainder_fmod": (lambda lib, x, y: (x % y * x + lib.fmod(x, y) * x).sum(), [POS, ROW]),
    "reductions": (lambda lib, x: (x.sum(1) ** 2).sum() + (x.mean(0) ** 3).sum() + x.var(1).sum() + x.std(0).sum()
                   + x.logsumexp(1).sum() ** 2 + (x.cumsum(1) ** 2).sum(), [MAT]),
    "norms": (lambda lib, x: x.norm(dim=1).sum() ** 2 + x.norm() ** 2 + x.norm(p=3) ** 2 + x.norm(p=1) ** 2, [MAT]),
    "extremes": (lambda lib, x: (x.max(1).values ** 2).sum() + x.amax() ** 3 + (x.min(0)[0] ** 2).sum(), [MAT]),
    "shapes": (lambda lib, x: (x.reshape(4, 3).t().flatten().unsqueeze(0).squeeze(0).expand(2, 12) ** 2).sum()
               + (x.flip(0).roll(1, 1).tril() ** 3).sum() + (x.diagonal() ** 2).sum() + (lib.diag(x[0]) ** 3).sum()
               + (x.repeat(2, 1) ** 3).sum(), [MAT]),
    "joins": (lambda lib, x, y: (lib.cat([x, y * 2], 0) ** 2).sum() + (lib.stack([x, x * 3]) ** 3).sum()
              + sum((p ** 3).sum() for p in x.split(2, 1)) + sum((p ** 3).sum() for p in x.unbind(1)), [MAT, MAT]),
    "maximum_where": (lambda lib, x, y: (lib.maximum(x, y) ** 2).sum() + lib.where(x > 0, x * y, y ** 3).sum(),
                      [MAT, MAT[::-1].copy()]),
    "elementwise": (lambda lib, x: (x.abs() * x + x.exp() + x.abs().log() + x.abs().sqrt() + x.abs().rsqrt()
                                    + x.sin() + x.cos() + x.tanh() + x.sigmoid() + x.relu() * x
                                    + x.clamp(-0.5, 0.5) * x + lib.erf(x)).sum(), [MAT]),
    "transcendental": (lambda lib, x: (x.log1p() + x.expm1() + x.log2() + x.log10() + x.exp2() + x.tan() + x.asin()
                                       + x.acos() + x.atan() + x.sinh() + x.cosh() + x.asinh() + (x + 1).acosh()
                                       + x.atanh() + x.reciprocal() + lib.erfc(x)).sum(), [POS / 2.5]),
    "special": (lambda lib, x, p, z: (lib.lgamma(x) + lib.special.i0(x) + lib.special.i0e(x - 1)
                                      + lib.special.i1(x - 1.5) + lib.special.i1e(x - 1) + lib.special.entr(x)
                                      + lib.erfinv(p * 2 - 1) + lib.special.ndtri(p) + lib.special.ndtr(p * 3 - 1)
                                      + lib.special.erfcx(z) + lib.special.log_ndtr(z)).sum(),
                [POS * 1.5, POS / 2.5, MAT * 2]),
    "activations": (lambda lib, x: (F(lib).softmax(x, 1) * x + F(lib).log_softmax(x, 0) * x + F(lib).gelu(x)
                                    + F(lib).gelu(x, approximate="tanh") + F(lib).leaky_relu(x, 0.1) * x
                                    + F(lib).elu(x) + F(lib).selu(x) + F(lib).celu(x, 0.5) + F(lib).softplus(x, 2)
                                    + F(lib).softsign(x) + F(lib).hardtanh(x) * x + F(lib).hardswish(x)
                                    + F(lib).silu(x) + F(lib).mish(x) + F(lib).logsigmoid(x)
                                    + F(lib).threshold(x, 0.1, 2.0) * x).sum(), [MAT]),
    "prelu": (lambda lib, x, w: (F(lib).prelu(x.reshape(3, 2, 2), w) ** 2).sum(), [MAT, np.array([0.25, 0.1])]),
    "matmul": (lambda lib, x, y: ((x @ y) ** 2).sum() + ((x @ y[:, 0]) ** 2).sum() + ((x[0] @ y) ** 2).sum(),
               [MAT, WIDE]),
    "einsum": (lambda lib, x, y, z: (lib.einsum("bij,jk->bik", x, y).tanh() ** 2).sum() + lib.einsum("ii->", z) ** 2
               + (lib.einsum("...j,jk->...k", x, y) ** 3).sum() + (lib.einsum("ij,ij->i", z, z.exp()) ** 2).sum()
               + (lib.einsum("ii->i", z) ** 3).sum() + (lib.einsum("bij->j", x) ** 3).sum(),
               [IMAGE[0, :, :3, :4], WIDE, MAT[:, :3]]),
    "inverse_det_solve": (lambda lib, x, y: (lib.linalg.inv(x) ** 2).sum() + (lib.linalg.det(x) ** 2).sum()
                          + (lib.linalg.slogdet(x)[1] ** 2).sum() + (lib.linalg.solve(x, y) ** 2).sum()
                          + (lib.linalg.solve(x, y[..., 0]) ** 3).sum() + lib.logdet(x @ x.mT).sum(),
                          [IMAGE[:, :, :3, :3].reshape(4, 3, 3) + 3 * np.eye(3),
                           IMAGE[:, :, :3, 3:5].reshape(4, 3, 2)]),
    "linear": (lambda lib, x, w, b, b1: (F(lib).linear(x, w, b).tanh() ** 2).sum()
               + (F(lib).linear(x, w, b1) ** 3).sum(), [MAT, WIDE.T.copy(), WIDE[0], ROW[:1]]),
    "losses": (lambda lib, x: F(lib).cross_entropy(x, lib.tensor(TARGET))
               + F(lib).cross_entropy(x, lib.tensor(TARGET), reduction="sum", label_smoothing=0.1) * 0.3
               + F(lib).nll_loss(F(lib).log_softmax(x, 1), lib.tensor(TARGET))
               + F(lib).binary_cross_entropy(x.sigmoid(), lib.full((3, 4), 0.3, dtype=lib.float64))
               + F(lib).binary_cross_entropy_with_logits(x, lib.full((3, 4), 0.7, dtype=lib.float64))
               + F(lib).huber_loss(x, x.detach() * 0.2, delta=0.5) + F(lib).mse_loss(x, x.detach() ** 2), [MAT]),
    "indexing": (lambda lib, x: (x[1:, ::2] ** 2).sum() + (x[lib.tensor([0, 2, 0])] ** 3).sum()
                 + (x.gather(1, lib.tensor([[0, 1], [2, 2], [3, 0]])) ** 3).sum()
                 + (x.index_select(0, lib.tensor([2, 2])) ** 3).sum() + (x.masked_fill(x > 0.5, 2.0) ** 3).sum()
                 + (x[x > 0] ** 3).sum(), [MAT]),
    "sort_topk": (lambda lib, x: (x.sort(1).values ** 3 * lib.arange(4.0)).sum() + (x.topk(2).values ** 3).sum(),
                  [MAT]),
    "conv": (lambda lib, x, w: (F(lib).conv2d(x, w, stride=2, padding=1).tanh() ** 2).sum(),
             [IMAGE, RNG.normal(size=(4, 2, 3, 3))]),
    "conv_groups_dilation": (lambda lib, x, w: (F(lib).conv2d(x, w, padding=2, dilation=2, groups=2).tanh() ** 2)
                             .sum(), [IMAGE, RNG.normal(size=(4, 1, 3, 3))]),
    "conv_transpose": (lambda lib, x, w: (F(lib).conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
                                          .tanh() ** 2).sum(), [IMAGE, RNG.normal(size=(2, 3, 3, 3))]),
    "pools": (lambda lib, x: (F(lib).max_pool2d(x.tanh(), 3, 2, 1) ** 2).sum()
              + (F(lib).avg_pool2d(x.sin(), 2, ceil_mode=True, count_include_pad=False) ** 3).sum()
              + (F(lib).adaptive_avg_pool2d(x.cos(), (3, 2)) ** 3).sum()
              + (F(lib).adaptive_max_pool2d(x.sin(), (2, 3)) ** 3).sum(), [IMAGE]),
    "normalizations": (lambda lib, x, w, b: (F(lib).layer_norm(x, (7,), w, b) ** 3).sum()
                       + (F(lib).group_norm(x, 2) ** 3).sum() + (F(lib).instance_norm(x) ** 3).sum()
                       + (F(lib).batch_norm(x, None, None, w[:2], b[:2], training=True) ** 3).sum()
                       + (F(lib).batch_norm(x, lib.tensor([0.1, -0.2], dtype=lib.float64),
                                                      lib.tensor([1.5, 0.7], dtype=lib.float64), w[:2], b[:2])
                          ** 3).sum(), [IMAGE, RNG.normal(size=7), RNG.normal(size=7)]),
    "embedding": (lambda lib, w: (F(lib).embedding(lib.tensor([[1, 2], [2, 0]]), w, padding_idx=0) ** 3).sum(),
                  [RNG.normal(size=(4, 3))]),
    "pad_shuffle_upsample": (lambda lib, x: (F(lib).pad(x, (1, 2, 0, 1)) ** 3).sum()
                             + (F(lib).pad(x, (1, 2, 2, 1), mode="reflect") ** 3).sum()
                             + (F(lib).pixel_shuffle(x.reshape(1, 4, 7, 7), 2) ** 3).sum()
                             + (F(lib).interpolate(x, scale_factor=2) ** 3).sum()
                             + (F(lib).interpolate(x, scale_factor=1.5, mode="bilinear") ** 3).sum(), [IMAGE]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_second_derivatives_match_torch(name):
    fn, arrays = CASES[name]
    assert_higher_order_matches_torch(fn, arrays)


@pytest.mark.parametrize("name", ["elementwise", "transcendental", "special", "einsum", "conv", "activations",
                                  "pools"])
def test_third_derivatives_match_torch(name):
    fn, arrays = CASES[name]
    assert_higher_order_matches_torch(lambda lib, *xs: fn(lib, *xs) * 0.1, arrays, order=3)


def _normalized(x, dims, eps=1e-5):
    centred = x - x.mean(dims, keepdim=True)
    return centred * ((centred * centred).mean(dims, keepdim=True) + eps).rsqrt()


def test_third_derivatives_of_the_normalizations_match_their_composition_in_torch():
    """PyTorch's fused layer/instance/batch norm are not differentiable a third time exactly (they drift from the
    same maths composed of elementwise ops by up to 25% here); ours match that composition."""
    def norms(lib, x, w, b):
        if lib is torch:
            return (_normalized(x, -1) * w + b, _normalized(x, (2, 3)), _normalized(x, (0, 2, 3)))
        return (F(lib).layer_norm(x, (7,), w, b), F(lib).instance_norm(x),
                F(lib).batch_norm(x, None, None, training=True))

    assert_higher_order_matches_torch(lambda lib, *xs: sum((y ** 3).sum() for y in norms(lib, *xs)) * 0.1,
                                      [IMAGE, RNG.normal(size=7), RNG.normal(size=7)], order=3)


def _critic(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 1)).double()


def _gradient_penalty(lib, critic, real, fake, alpha):
    """WGAN-GP's penalty on points between real and fake samples."""
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grads,) = lib.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grads.reshape(grads.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def test_a_wgan_gp_gradient_penalty_trains_the_critic_as_in_torch():
    torch.manual_seed(0)
    theirs = _critic(torch)
    ours = _critic(trainer)
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    real, fake, alpha = RNG.normal(size=(3, 2, 8, 8)), RNG.normal(size=(3, 2, 8, 8)), RNG.uniform(size=(3, 1, 1, 1))
    for lib, critic in ((torch, theirs), (trainer, ours)):
        penalty = _gradient_penalty(lib, critic, *(lib.tensor(a) for a in (real, fake, alpha)))
        (critic(lib.tensor(fake)).mean() - critic(lib.tensor(real)).mean() + 10 * penalty).backward()
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_a_hessian_vector_product_matches_torch():
    w1, w2, x, v = RNG.normal(size=(5, 3)), RNG.normal(size=(1, 5)), RNG.normal(size=(4, 3)), RNG.normal(size=(5, 3))
    products = []
    for lib in (torch, trainer):
        weight = lib.tensor(w1, requires_grad=True)
        loss = (lib.tensor(x) @ weight.T).tanh().matmul(lib.tensor(w2).T).pow(2).mean()
        (grad,) = lib.autograd.grad(loss, weight, create_graph=True)
        (hvp,) = lib.autograd.grad(grad, weight, grad_outputs=lib.tensor(v))
        products.append(hvp.numpy())
    np.testing.assert_allclose(products[1], products[0], rtol=1e-10)


def test_a_physics_informed_loss_trains_through_second_derivatives():
    """u(x) from a tanh network; the residual of u'' + u = 0 needs d2u/dx2 and its gradient the third derivative."""
    torch.manual_seed(1)
    theirs = torch.nn.Sequential(torch.nn.Linear(1, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()
    ours = trainer.nn.Sequential(trainer.nn.Linear(1, 6), trainer.nn.Tanh(), trainer.nn.Linear(6, 1)).double()
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    points = np.linspace(-1, 1, 9).reshape(-1, 1)
    for lib, net in ((torch, theirs), (trainer, ours)):
        x = lib.tensor(points, requires_grad=True)
        u = net(x)
        (du,) = lib.autograd.grad(u.sum(), x, create_graph=True)
        (d2u,) = lib.autograd.grad(du.sum(), x, create_graph=True)
        ((d2u + u) ** 2).mean().backward()
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_with_create_graph_leaves_gradients_that_can_be_differentiated():
    results = []
    for lib in (torch, trainer):
        x = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        assert x.grad.requires_grad and x.grad.grad_fn is not None
        first = x.grad.detach().clone()
        x.grad.sum().backward()  # retained by default: d/dx sum(3x^2) = 6x, accumulated onto 3x^2
        results.append((first.numpy(), x.grad.detach().numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs)


def test_grad_outputs_that_require_grad_are_differentiated_too():
    results = []
    for lib in (torch, trainer):
        x = lib.tensor([0.3, 1.2], dtype=lib.float64, requires_grad=True)
        v = lib.tensor([2.0, -1.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(x.sin(), x, grad_outputs=v, create_graph=True)
        (g * x).sum().backward()
        results.append((x.grad.numpy(), v.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs)


def test_hooks_see_tensors_with_their_graph_under_create_graph():
    x = trainer.tensor([1.0, 2.0], dtype=trainer.float64, requires_grad=True)
    y = x * x
    seen = []
    y.register_hook(lambda g: seen.append(g.requires_grad) or g * 3)
    (gx,) = trainer.autograd.grad(y.sum() * x.sum(), x, create_graph=True)
    (ggx,) = trainer.autograd.grad(gx.sum(), x)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ty = tx * tx
    torch_seen = []
    ty.register_hook(lambda g: torch_seen.append(g.requires_grad) or g * 3)
    (tgx,) = torch.autograd.grad(ty.sum() * tx.sum(), tx, create_graph=True)
    (tggx,) = torch.autograd.grad(tgx.sum(), tx)
    assert seen == torch_seen == [True, False]  # the second pass runs through y's node again
    np.testing.assert_allclose(gx.detach().numpy(), tgx.detach().numpy())
    np.testing.assert_allclose(ggx.numpy(), tggx.numpy())


def test_an_op_without_a_second_derivative_gives_first_order_gradients_and_then_raises():
    points = [[0.0, 1.0], [2.0, 0.5], [1.5, -1.0]]
    def sample(lib, t):  # ctc_loss has no second derivative in trainer
        return F(lib).ctc_loss(t.log_softmax(1)[:, None], lib.tensor([[1]]), [3], [1])

    x = trainer.tensor(points, dtype=trainer.float64, requires_grad=True)
    (g,) = trainer.autograd.grad(sample(trainer, x), x, create_graph=True)
    x_torch = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    (g_torch,) = torch.autograd.grad(sample(torch, x_torch), x_torch)
    np.testing.assert_allclose(g.detach().numpy(), g_torch.numpy())
    with pytest.raises(RuntimeError, match="derivative of CtcLossBackward0's backward is not implemented"):
        g.sum().backward()


def test_once_differentiable_raises_like_torch_when_differentiated_again():
    messages = []
    for lib in (torch, trainer):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @lib.autograd.function.once_differentiable
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
        assert g.tolist() == [2.0, -4.0]
        with pytest.raises(RuntimeError) as caught:
            g.sum().backward()
        messages.append(str(caught.value))
    assert messages[1] == messages[0]


def test_a_custom_function_saving_its_output_is_differentiated_through_it():
    results = []
    for lib in (torch, trainer):
        class Exp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y

        x = lib.tensor([0.2, -0.7], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((Exp.apply(x) * x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        results.append(gg.numpy())
    np.testing.assert_allclose(results[1], results[0])
