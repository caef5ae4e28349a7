"""Second (and, where cheap, third) derivatives of the linear, piecewise and scan ops against PyTorch, in float64.

Each case differentiates once with ``create_graph=True``, builds a scalar from the gradients and differentiates
that (see ``tests/trainer/test_higher_order.py``). Where PyTorch has no double backward for an op (``pdist``,
``embedding_bag``), or the op is random (``rrelu``, ``alpha_dropout``), the reference is the same maths composed
of PyTorch ops.
"""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_higher_order import _grads_of_grads

RNG = np.random.default_rng(4)
MAT = RNG.normal(size=(3, 4))
CUBE = RNG.normal(size=(2, 3, 4))
IMAGE = RNG.normal(size=(2, 3, 5, 6))
POS = RNG.uniform(0.5, 1.5, (3, 4))
ROW = RNG.normal(size=4)
WEIGHTS = RNG.normal(size=(5, 3))


def F(lib):
    return lib.nn.functional


def assert_matches(ours, theirs, arrays, order=2):
    """``ours`` run on trainer and ``theirs`` on torch (each ``fn(lib, *tensors)``) give the same gradients of
    gradients."""
    got = _grads_of_grads(trainer, ours, [trainer.tensor(a, requires_grad=True) for a in arrays], order)
    want = _grads_of_grads(torch, theirs, [torch.tensor(a, requires_grad=True) for a in arrays], order)
    for i, (o, t) in enumerate(zip(got, want)):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-11, err_msg=f"input {i}")


# name -> (fn(lib, *inputs), inputs); every input requires grad
CASES = {
    "diag_embed": (lambda lib, v: (lib.diag_embed(v.sin(), offset=1, dim1=0, dim2=2) ** 3).sum(), [MAT]),
    "diagonal_scatter": (lambda lib, a, s: (lib.diagonal_scatter(a.sin(), s ** 2, offset=-1) ** 3).sum(),
                         [MAT, MAT[:2, 0].copy()]),
    "unfold_fold": (lambda lib, x: (F(lib).unfold(x.sin(), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)) ** 3)
                    .sum() + (F(lib).fold(x.reshape(2, 6, 15).cos(), (4, 8), (2, 3), padding=(1, 0), stride=(1, 2))
                              ** 3).sum(), [IMAGE]),
    "tensor_unfold": (lambda lib, x: (x.sin().unfold(2, 3, 2) ** 3).sum() + (x.unfold(0, 2, 1) ** 3).sum(), [IMAGE]),
    "max_unpool": (lambda lib, x: (F(lib).max_unpool2d(*F(lib).max_pool2d(x.sin(), 2, return_indices=True), 2)
                                   ** 3).sum(), [IMAGE]),
    "affine_grid": (lambda lib, t: (F(lib).affine_grid(t.sin(), (2, 1, 3, 4), align_corners=False) ** 3).sum()
                    + (F(lib).affine_grid(t.reshape(1, 3, 4), (1, 1, 2, 3, 2), align_corners=True) ** 3).sum(),
                    [CUBE[:, :2, :3].reshape(2, 2, 3)]),
    "index_put": (lambda lib, a, v: (a.sin().index_put((lib.tensor([0, 2, 0]),), v ** 2) ** 3).sum()
                  + (a.index_put((lib.tensor([1, 1]), lib.tensor([3, 0])), v[0, :2] ** 2, accumulate=True) ** 3).sum()
                  + (a.index_copy(1, lib.tensor([2, 0]), a[:, :2].cos()) ** 3).sum(), [MAT, MAT[:3] * 2]),
    "masked_scatter": (lambda lib, a, s: (a.sin().masked_scatter(lib.tensor([True, False, True, True]), s ** 2) ** 3)
                       .sum(), [MAT, MAT.T.copy()]),
    "scatter_reduce": (lambda lib, a, s: sum((a.sin().scatter_reduce(1, lib.tensor([[0, 1, 0], [2, 2, 3], [1, 1, 1]]),
                                                                     s[:, :3] ** 2, reduce, include_self=inc) ** 3)
                                             .sum() for reduce in ("sum", "mean", "amax", "amin", "prod")
                                             for inc in (True, False)), [MAT, MAT[::-1].copy()]),
    "scatter_prod_zeros": (lambda lib, a, s: (a.scatter_reduce(0, lib.tensor([0, 1, 0, 0]), s * lib.tensor(
        [1.0, 0.0, 0.0, 1.0], dtype=lib.float64), "prod") ** 2).sum(), [ROW, ROW[::-1].copy()]),
    "lrn": (lambda lib, x: (F(lib).local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.5) ** 3).sum()
            + (F(lib).local_response_norm(x, 2, alpha=0.3) ** 2).sum(), [IMAGE]),
    "kl_div": (lambda lib, x, t: F(lib).kl_div(x, t, reduction="batchmean") ** 2
               + (F(lib).kl_div(x, t.log(), reduction="none", log_target=True) ** 3).sum()
               + F(lib).kl_div(x[0], t, reduction="sum") ** 2, [MAT, POS]),
    "prod_cumprod": (lambda lib, x: (x.prod(1) ** 2).sum() + x.prod() ** 2 + (x.prod(0, keepdim=True) ** 3).sum()
                     + (x.cumprod(1) ** 2).sum() + (x.cumprod(0) ** 3).sum(), [MAT]),
    "prod_cumprod_zeros": (lambda lib, x: (x.prod(1) ** 2).sum() + (x.cumprod(1) ** 2).sum() + (x.cumprod(0) ** 3)
                           .sum(), [MAT * np.array([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 1, 1]])]),
    "scans": (lambda lib, x: (x.logcumsumexp(1) ** 2).sum() + (x.logcumsumexp(0) ** 3).sum()
              + (x.cummax(1).values ** 3).sum() + (x.sin().cummin(0)[0] ** 3).sum(), [MAT]),
}


def _bags(lib):
    return lib.tensor([[1, 2, 0], [3, 3, 1]])


def _embedding_bag_ours(lib, w, p):
    return ((F(lib).embedding_bag(_bags(lib), w.sin(), mode="sum", per_sample_weights=p ** 2) ** 3).sum()
            + (F(lib).embedding_bag(_bags(lib), w, mode="mean") ** 3).sum()
            + (F(lib).embedding_bag(_bags(lib), w.cos(), mode="max") ** 3).sum())


def _embedding_bag_composed(lib, w, p):
    # PyTorch has no double backward for embedding_bag: the same bags as embedding lookups and reductions
    def rows(weight):
        return F(lib).embedding(_bags(lib), weight)

    return (((rows(w.sin()) * (p ** 2)[..., None]).sum(1) ** 3).sum() + (rows(w).mean(1) ** 3).sum()
            + (rows(w.cos()).amax(1) ** 3).sum())


def _pdist_composed(lib, x, p):
    first, second = np.triu_indices(x.shape[0], 1)
    return (x[lib.tensor(first)] - x[lib.tensor(second)]).norm(p, dim=1)


@pytest.mark.parametrize("p", [2.0, 3.0, 1.0, 1.5])
def test_pdist_second_derivatives_match_the_composition_in_torch(p):
    # PyTorch has no double backward for pdist
    assert_matches(lambda lib, x: (F(lib).pdist(x.sin(), p) ** 3).sum(),
                   lambda lib, x: (_pdist_composed(lib, x.sin(), p) ** 3).sum(), [MAT])


def test_embedding_bag_second_derivatives_match_the_composition_in_torch():
    assert_matches(_embedding_bag_ours, _embedding_bag_composed, [WEIGHTS, RNG.normal(size=(2, 3))])


@pytest.mark.parametrize("name", list(CASES))
def test_second_derivatives_match_torch(name):
    fn, arrays = CASES[name]
    assert_matches(fn, fn, arrays)


@pytest.mark.parametrize("name", ["diag_embed", "unfold_fold", "max_unpool", "scatter_reduce", "lrn", "kl_div",
                                  "prod_cumprod"])
def test_third_derivatives_match_torch(name):
    fn, arrays = CASES[name]
    assert_matches(fn, fn, arrays, order=3)


def test_third_derivatives_of_the_scans_match_their_composition_in_torch():
    # PyTorch's logcumsumexp gives NaNs at third order (its backward's stand-in for log 0 overflows); the
    # composition log(cumsum(exp(x))) is exact for these values
    def ours(lib, x):
        return (x.logcumsumexp(1) ** 2).sum() + (x.logcumsumexp(0) ** 3).sum() + (x.cummax(1).values ** 3).sum()

    def composed(lib, x):
        return ((x.exp().cumsum(1).log() ** 2).sum() + (x.exp().cumsum(0).log() ** 3).sum()
                + (x.cummax(1).values ** 3).sum())

    assert_matches(ours, composed, [MAT], order=3)


@pytest.mark.parametrize("op", ["rrelu", "alpha_dropout"])
def test_random_ops_have_the_second_derivatives_of_their_drawn_affine_map(op):
    # one draw is the map x -> x * factor + shift: the factor is read off two runs from the same seed
    def run(lib, x):
        trainer.manual_seed(7)
        if op == "rrelu":
            return F(lib).rrelu(x, training=True)
        return F(lib).alpha_dropout(x, 0.4, training=True)

    doubled = run(trainer, trainer.tensor(2 * MAT)).numpy()
    once = run(trainer, trainer.tensor(MAT)).numpy()
    factor = (doubled - once) / MAT  # both runs keep each element's sign, so the same slope or mask applies
    shift = once - MAT * factor
    assert_matches(lambda lib, x: (run(lib, x) ** 3).sum(),
                   lambda lib, x: ((x * lib.tensor(factor) + lib.tensor(shift)) ** 3).sum(), [MAT])


def test_cross_map_lrn2d_second_derivative_is_the_derivative_of_its_legacy_gradient():
    # PyTorch's legacy backward writes with out= and cannot be differentiated; the reference is our own first
    # derivative (checked against PyTorch elsewhere), differentiated by central differences
    def gradient(x, create_graph=False):
        # a loss linear in the output: its gradient reaches x through the legacy backward alone
        (g,) = trainer.autograd.grad((trainer.nn.CrossMapLRN2d(3, 0.5, 0.75, 1.5)(x) * weights).sum(), x,
                                     create_graph=create_graph)
        return g

    x0, direction = IMAGE[:1, :, :2, :2].copy(), RNG.normal(size=(1, 3, 2, 2))
    weights = trainer.tensor(RNG.normal(size=(1, 3, 2, 2)))
    x = trainer.tensor(x0, requires_grad=True)
    g = gradient(x, create_graph=True)
    (hvp,) = trainer.autograd.grad(g, x, trainer.tensor(direction))
    eps = 1e-6
    # the legacy gradient is not a true gradient, so its Jacobian J is not symmetric: the result is J^T v
    numeric = np.array([((gradient(trainer.tensor(x0 + eps * e, requires_grad=True)).numpy()
                          - gradient(trainer.tensor(x0 - eps * e, requires_grad=True)).numpy()) / (2 * eps)
                         * direction).sum() for e in np.eye(x0.size).reshape(-1, *x0.shape)]).reshape(x0.shape)
    np.testing.assert_allclose(hvp.numpy(), numeric, rtol=1e-6, atol=1e-8)
