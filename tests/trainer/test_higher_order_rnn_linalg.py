"""Second and third derivatives through the fused recurrent layers and the matrix decompositions, against PyTorch
in float64 (its non-cuDNN RNNs and ``torch.linalg`` support double backward on the CPU).

A recurrent case differentiates a loss once with ``create_graph=True`` with respect to the input, the initial
states and every parameter, then differentiates ``sum(g * g)`` of those gradients: every mixed second derivative
is checked. The decompositions reuse ``assert_higher_order_matches_torch`` on well-conditioned inputs, with losses
that do not depend on the signs of eigen- and singular vectors.
"""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_higher_order import assert_higher_order_matches_torch, differentiated_to_order

RNG = np.random.default_rng(5)
T, N, D, H = 4, 3, 3, 4
X = RNG.normal(size=(T, N, D))
X_BATCH_FIRST = X.transpose(1, 0, 2).copy()
LENGTHS = [2, 4, 1]  # unsorted: packing reorders the batch


def _states(count, layers):
    return [RNG.normal(size=(layers, N, H)) for _ in range(count)]


def _models(make):
    """The same freshly initialised module in PyTorch and in trainer, in float64."""
    torch.manual_seed(0)
    theirs = make(torch).double()
    ours = make(trainer).double()
    ours.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return {torch: theirs, trainer: ours}


def _run(lib, model, x, states, lengths):
    """Output (padded) and final states of ``model`` on ``x``, packed first when ``lengths`` is given."""
    if lengths is not None:
        x = lib.nn.utils.rnn.pack_padded_sequence(x, lib.tensor(lengths), batch_first=model.batch_first,
                                                  enforce_sorted=False)
    hx = None if not states else (states[0] if len(states) == 1 else tuple(states))
    out, final = model(x, hx)
    if lengths is not None:
        out = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=model.batch_first)[0]
    return out, final if isinstance(final, tuple) else (final,)


def _second_order_grads(lib, model, x, states, lengths, order):
    x = lib.tensor(x, requires_grad=True)
    states = [lib.tensor(s, requires_grad=True) for s in states]
    out, final = _run(lib, model, x, states, lengths)
    loss = (out.tanh() ** 2).sum() + sum((s ** 3).sum() for s in final)
    return differentiated_to_order(lib, loss, [x, *states, *model.parameters()], order)


RECURRENT = {
    "rnn_tanh": (lambda lib: lib.nn.RNN(D, H), X, _states(1, 1), None),
    "rnn_relu_two_layers_bidirectional": (lambda lib: lib.nn.RNN(D, H, 2, nonlinearity="relu", bidirectional=True),
                                          X, _states(1, 4), None),
    "lstm_two_layers_bidirectional": (lambda lib: lib.nn.LSTM(D, H, 2, bidirectional=True), X, _states(2, 4), None),
    "gru_batch_first_without_bias": (lambda lib: lib.nn.GRU(D, H, bias=False, batch_first=True), X_BATCH_FIRST,
                                     _states(1, 1), None),
    "packed_lstm_bidirectional": (lambda lib: lib.nn.LSTM(D, H, bidirectional=True), X, [], LENGTHS),
    "packed_gru_two_layers_bidirectional": (lambda lib: lib.nn.GRU(D, H, 2, bidirectional=True), X, _states(1, 4),
                                            LENGTHS),
    "packed_rnn_batch_first": (lambda lib: lib.nn.RNN(D, H, bidirectional=True, batch_first=True), X_BATCH_FIRST,
                               _states(1, 2), LENGTHS),
    "packed_rnn_relu_two_layers": (lambda lib: lib.nn.RNN(D, H, 2, nonlinearity="relu"), X, _states(1, 2), LENGTHS),
}


@pytest.mark.parametrize("name", list(RECURRENT))
def test_second_derivatives_through_recurrent_layers_match_torch(name):
    make, x, states, lengths = RECURRENT[name]
    models = _models(make)
    theirs, ours = (_second_order_grads(lib, models[lib], x, states, lengths, 2) for lib in (torch, trainer))
    for i, (o, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-11, err_msg=f"input {i}")


@pytest.mark.parametrize("name", ["lstm_two_layers_bidirectional", "packed_gru_two_layers_bidirectional"])
def test_third_derivatives_through_recurrent_layers_match_torch(name):
    make, x, states, lengths = RECURRENT[name]
    models = _models(make)
    theirs, ours = (_second_order_grads(lib, models[lib], x, states, lengths, 3) for lib in (torch, trainer))
    for i, (o, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-11, err_msg=f"input {i}")


def _critic_penalty_step(lib, rnn, head, real, fake, alpha, lengths):
    """One WGAN-GP critic step: a recurrent critic scores sequences; the penalty is on its input gradient at
    points between real and fake ones."""
    def score(x):
        out, final = _run(lib, rnn, x, [], lengths)
        return head(final[0][-1]).sum() + out.sum() * 0.1

    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grads,) = lib.autograd.grad(score(mixed), mixed, create_graph=True)
    penalty = ((grads.transpose(0, 1).reshape(N, -1).norm(2, dim=1) - 1) ** 2).mean()
    (score(fake) - score(real) + 10 * penalty).backward()


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["padded", "packed"])
def test_a_wgan_gp_penalty_through_a_recurrent_critic_trains_it_as_in_torch(mode, lengths):
    models = _models(lambda lib: getattr(lib.nn, mode)(D, H, 2, bidirectional=True))
    heads = _models(lambda lib: lib.nn.Linear(H, 1))
    real, fake, alpha = RNG.normal(size=(T, N, D)), RNG.normal(size=(T, N, D)), RNG.uniform(size=(1, N, 1))
    for lib in (torch, trainer):
        _critic_penalty_step(lib, models[lib], heads[lib], *(lib.tensor(a) for a in (real, fake, alpha)), lengths)
    for module in (models, heads):
        for (name, p), q in zip(module[torch].named_parameters(), module[trainer].parameters()):
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", ["RNNCell", "LSTMCell", "GRUCell"])
def test_second_derivatives_through_cells_fed_their_own_input_as_state_match_torch(cell):
    """The input is also the initial state (input_size == hidden_size), so the op sees one tensor at two inputs:
    each input's own partial derivative must be taken, not the total one."""
    def fn(lib, x, w):
        model = cells[lib]
        state = x if cell != "LSTMCell" else (x, x * w)
        out = model(x, state)
        return sum((o.tanh() ** 3 * w).sum() for o in (out if isinstance(out, tuple) else (out,)))

    cells = _models(lambda lib: getattr(lib.nn, cell)(H, H))
    assert_higher_order_matches_torch(fn, [RNG.normal(size=(N, H)), RNG.normal(size=(N, H))])


def test_dropout_between_layers_reuses_its_masks_in_the_second_derivative():
    """The masks are drawn once, in forward: second derivatives match finite differences of the first when the
    same seed redraws the same masks on every evaluation."""
    trainer.manual_seed(0)
    model = trainer.nn.GRU(2, 3, 3, dropout=0.5).double()

    def fn(x):
        trainer.manual_seed(7)
        return model(x)[0].tanh().sum() * x.sum()

    x = trainer.tensor(RNG.normal(size=(2, 2, 2)), requires_grad=True)
    assert trainer.autograd.gradgradcheck(fn, (x,), atol=1e-6)


def _spd(lib, x):
    return x @ x.mT + 3 * lib.eye(x.shape[-1], dtype=x.dtype)


def _shifted(lib, a):
    return a + 3 * lib.eye(a.shape[-1], dtype=a.dtype)


def _svd_loss(lib, x):
    u, s, vh = lib.linalg.svd(x, full_matrices=False)
    return (s ** 3).sum() + ((u @ vh) ** 3).sum() + (u ** 4).sum() + (vh ** 4).sum()


DECOMPOSITIONS = {
    "cholesky": (lambda lib, x: (lib.linalg.cholesky(_spd(lib, x)) ** 3).sum()
                 + lib.linalg.cholesky(_spd(lib, x), upper=True).sin().sum(), [RNG.normal(size=(2, 3, 3))]),
    "cholesky_solve_inverse": (lambda lib, x, b: (lib.cholesky_solve(b, lib.linalg.cholesky(_spd(lib, x))) ** 3).sum()
                               + (lib.cholesky_inverse(lib.linalg.cholesky(_spd(lib, x))) ** 2).sum(),
                               [RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2))]),
    "qr": (lambda lib, x: (lib.linalg.qr(x).Q ** 3).sum() + (lib.linalg.qr(x).R ** 3).sum(),
           [RNG.normal(size=(2, 4, 3))]),
    "eigh": (lambda lib, x: (lib.linalg.eigh(x + x.mT).eigenvalues ** 3).sum()
             + (lib.linalg.eigh(x + x.mT).eigenvectors ** 4).sum() + (lib.linalg.eigvalsh(x + x.mT) ** 3).sum(),
             [RNG.normal(size=(2, 3, 3))]),
    "svd_tall": (_svd_loss, [RNG.normal(size=(2, 4, 3))]),
    "svd_wide": (_svd_loss, [RNG.normal(size=(3, 5))]),
    "solve_triangular": (lambda lib, a, b: (lib.linalg.solve_triangular(_shifted(lib, a), b, upper=True) ** 3).sum()
                         + (lib.linalg.solve_triangular(_shifted(lib, a), b.mT, upper=False, left=False,
                                                        unitriangular=True) ** 3).sum()
                         + (lib.triangular_solve(b, _shifted(lib, a), transpose=True).solution ** 3).sum(),
                         [RNG.normal(size=(2, 3, 3)), RNG.normal(size=(2, 3, 2))]),
    "lu_square": (lambda lib, x: sum((t ** 3).sum() for t in lib.linalg.lu(x)[1:]), [RNG.normal(size=(2, 3, 3))]),
    "lu_tall": (lambda lib, x: sum((t ** 3).sum() for t in lib.linalg.lu(x)[1:]), [RNG.normal(size=(5, 3))]),
    "lu_wide": (lambda lib, x: sum((t ** 3).sum() for t in lib.linalg.lu(x)[1:]), [RNG.normal(size=(2, 3, 5))]),
    "lu_factor_solve": (lambda lib, a, b: (lib.linalg.lu_solve(*lib.linalg.lu_factor(_shifted(lib, a)), b) ** 3).sum()
                        + (lib.linalg.lu_factor(a).LU ** 3).sum(),
                        [RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2))]),
}


@pytest.mark.parametrize("name", list(DECOMPOSITIONS))
@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
def test_second_derivatives_through_decompositions_match_torch(name):
    fn, arrays = DECOMPOSITIONS[name]
    assert_higher_order_matches_torch(fn, arrays)


@pytest.mark.parametrize("name", ["cholesky", "qr", "eigh", "svd_tall", "solve_triangular", "lu_wide"])
def test_third_derivatives_through_decompositions_match_torch(name):
    fn, arrays = DECOMPOSITIONS[name]
    assert_higher_order_matches_torch(lambda lib, *xs: fn(lib, *xs) * 0.1, arrays, order=3)


def test_a_qr_without_a_derivative_raises_under_create_graph_as_well():
    x = trainer.tensor(RNG.normal(size=(3, 4)), requires_grad=True)
    q, r = trainer.linalg.qr(x)
    with pytest.raises(RuntimeError, match="linalg.qr: the derivative is implemented for mode='reduced' with m >= n"):
        trainer.autograd.grad((q.sum() + r.sum()), x, create_graph=True)
