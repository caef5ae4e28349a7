"""RNN, LSTM, GRU and their cells against PyTorch with the same weights: outputs, final states and
the grads of the input, the initial states and every parameter (float64 <= 1e-8, float32 <= 1e-4)."""

import itertools
import warnings

import numpy as np
import pytest
import torch

import trainer
import trainer.nn as nn
from trainer.autograd import observe_ops

TOL = {torch.float64: 1e-8, torch.float32: 1e-4}
T, N, D, H = 5, 3, 4, 6

MODES = {
    "rnn_tanh": lambda m, **kw: m.RNN(D, H, **kw),
    "rnn_relu": lambda m, **kw: m.RNN(D, H, nonlinearity="relu", **kw),
    "lstm": lambda m, **kw: m.LSTM(D, H, **kw),
    "gru": lambda m, **kw: m.GRU(D, H, **kw),
}


def copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def make_pair(mode, dtype, **kwargs):
    torch.manual_seed(0)
    theirs = MODES[mode](torch.nn, **kwargs).to(dtype)
    ours = MODES[mode](nn, **kwargs).to(trainer.float64 if dtype == torch.float64 else trainer.float32)
    copy_weights(ours, theirs)
    return ours, theirs


def leaf(array):
    return trainer.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


def check(ours, theirs, tol, name=""):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=tol, rtol=0, err_msg=name)


def flat(result):
    """(output, h_n) or (output, (h_n, c_n)) as a flat list."""
    out, state = result
    return [out, *(state if isinstance(state, tuple) else (state,))]


def run_parity(mode, dtype, unbatched=False, with_state=True, **kwargs):
    rng = np.random.default_rng(1)
    ours, theirs = make_pair(mode, dtype, **kwargs)
    tol = TOL[dtype]
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    batch_first = kwargs.get("batch_first", False)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x_shape = (T, D) if unbatched else ((N, T, D) if batch_first else (T, N, D))
    x, tx = leaf(rng.standard_normal(x_shape).astype(np_dtype))
    args, targs = [x], [tx]
    states = []
    if with_state:
        state_shape = (layers, H) if unbatched else (layers, N, H)
        states = [leaf(rng.standard_normal(state_shape).astype(np_dtype)) for _ in range(2 if mode == "lstm" else 1)]
        if mode == "lstm":
            args.append(tuple(s for s, _ in states))
            targs.append(tuple(t for _, t in states))
        else:
            args.append(states[0][0])
            targs.append(states[0][1])
    results, tresults = flat(ours(*args)), flat(theirs(*targs))
    loss, tloss = 0, 0
    for r, tr in zip(results, tresults):
        check(r, tr, tol)
        g = rng.standard_normal(tuple(tr.shape)).astype(np_dtype)
        loss = loss + (r * trainer.tensor(g)).sum()
        tloss = tloss + (tr * torch.tensor(g)).sum()
    loss.backward()
    tloss.backward()
    check(x.grad, tx.grad, tol, "input")
    for s, ts in states:
        check(s.grad, ts.grad, tol, "initial state")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        check(p.grad, tparams[name].grad, tol, name)


LAYER_CASES = list(itertools.product(MODES, [1, 2], [False, True], [False, True], [False, True], [True, False]))


@pytest.mark.parametrize("mode,num_layers,bidirectional,batch_first,with_state,bias", LAYER_CASES)
def test_layers_match_torch_float64(mode, num_layers, bidirectional, batch_first, with_state, bias):
    run_parity(mode, torch.float64, with_state=with_state, num_layers=num_layers, bidirectional=bidirectional,
               batch_first=batch_first, bias=bias)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layers_match_torch_float32(mode, bidirectional):
    run_parity(mode, torch.float32, num_layers=2, bidirectional=bidirectional, batch_first=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_matches_torch(mode, with_state, batch_first):
    run_parity(mode, torch.float64, unbatched=True, with_state=with_state, num_layers=2, bidirectional=True,
               batch_first=batch_first)


def test_each_layer_and_direction_is_one_op():
    seen = []
    lstm = nn.LSTM(D, H, num_layers=2, bidirectional=True)
    with observe_ops(lambda event: seen.append(event)):
        lstm(trainer.randn(T, N, D))
    recurrent = [e for e in seen if e.op == "Lstm"]
    assert len(recurrent) == 4
    assert [e.attrs["reverse"] for e in recurrent] == [False, True, False, True]


@pytest.mark.parametrize("mode", MODES)
def test_dropout_between_layers_in_training_only(mode):
    trainer.manual_seed(0)
    ours, theirs = make_pair(mode, torch.float64, num_layers=2, dropout=0.5)
    x = trainer.tensor(np.random.default_rng(2).standard_normal((T, N, D)))
    train_a, train_b = ours(x)[0], ours(x)[0]
    ours.eval()
    eval_a, eval_b = ours(x)[0], ours(x)[0]
    assert not np.allclose(train_a.detach().numpy(), eval_a.detach().numpy())
    assert not np.allclose(train_a.detach().numpy(), train_b.detach().numpy())
    np.testing.assert_array_equal(eval_a.detach().numpy(), eval_b.detach().numpy())
    theirs.eval()
    check(eval_a, theirs(torch.tensor(x.numpy()))[0], 1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_one_zeroes_the_second_layers_input_as_torch_does(mode):
    # p=1 makes dropout deterministic, so the training-mode path itself can be compared
    ours, theirs = make_pair(mode, torch.float64, num_layers=2, dropout=1.0, bidirectional=True)
    x = np.random.default_rng(3).standard_normal((T, N, D))
    for r, tr in zip(flat(ours(trainer.tensor(x))), flat(theirs(torch.tensor(x)))):
        check(r, tr, 1e-8)


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(D, H, dropout=0.3)


CELLS = {
    "rnn_tanh": lambda m, **kw: m.RNNCell(D, H, **kw),
    "rnn_relu": lambda m, **kw: m.RNNCell(D, H, nonlinearity="relu", **kw),
    "lstm": lambda m, **kw: m.LSTMCell(D, H, **kw),
    "gru": lambda m, **kw: m.GRUCell(D, H, **kw),
}


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cells_match_torch(kind, bias, batched, with_state):
    rng = np.random.default_rng(4)
    torch.manual_seed(0)
    theirs = CELLS[kind](torch.nn, bias=bias).double()
    ours = CELLS[kind](nn, bias=bias).double()
    copy_weights(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x, tx = leaf(rng.standard_normal((N, D) if batched else (D,)))
    states = []
    args, targs = [x], [tx]
    if with_state:
        shape = (N, H) if batched else (H,)
        states = [leaf(rng.standard_normal(shape)) for _ in range(2 if kind == "lstm" else 1)]
        hx = tuple(s for s, _ in states) if kind == "lstm" else states[0][0]
        thx = tuple(t for _, t in states) if kind == "lstm" else states[0][1]
        args.append(hx)
        targs.append(thx)
    out, tout = ours(*args), theirs(*targs)
    outs, touts = (out, tout) if kind == "lstm" else ((out,), (tout,))
    loss, tloss = 0, 0
    for r, tr in zip(outs, touts):
        check(r, tr, 1e-8)
        g = rng.standard_normal(tuple(tr.shape))
        loss = loss + (r * trainer.tensor(g)).sum()
        tloss = tloss + (tr * torch.tensor(g)).sum()
    loss.backward()
    tloss.backward()
    check(x.grad, tx.grad, 1e-8)
    for s, ts in states:
        check(s.grad, ts.grad, 1e-8)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        check(p.grad, tparams[name].grad, 1e-8, name)


REPR_CASES = [
    lambda m: m.RNN(3, 4),
    lambda m: m.RNN(3, 4, 2, nonlinearity="relu", bias=False, batch_first=True, dropout=0.5, bidirectional=True),
    lambda m: m.LSTM(28, 128, num_layers=2, batch_first=True),
    lambda m: m.LSTM(3, 4, bidirectional=True, bias=False),
    lambda m: m.GRU(3, 4, 3, dropout=0.25),
    lambda m: m.RNNCell(3, 4, nonlinearity="relu", bias=False),
    lambda m: m.LSTMCell(3, 4),
    lambda m: m.GRUCell(3, 4, bias=False),
]


@pytest.mark.parametrize("make", REPR_CASES)
def test_repr_and_state_dict_keys_match_torch(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tuple(p.shape) == tuple(tp.shape), name


def test_init_is_uniform_within_one_over_sqrt_hidden():
    layer = nn.GRU(10, 64, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(64)
    for name, p in layer.named_parameters():
        values = np.abs(p.detach().numpy())
        assert p.dtype == trainer.float32
        assert values.max() <= bound, name
        assert values.max() > 0.8 * bound, name


def test_error_messages_match_torch():
    rnn = nn.RNN(28, 128, 2, batch_first=True)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 28, got 10"):
        rnn(trainer.randn(64, 5, 10))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 64, 128\), got \[1, 64, 128\]"):
        rnn(trainer.randn(64, 5, 28), trainer.zeros(1, 64, 128))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 4D tensor instead"):
        rnn(trainer.randn(2, 64, 5, 28))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        rnn(trainer.randn(64, 5, 28), trainer.zeros(64, 128))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        rnn(trainer.randn(64, 5, 28, dtype=trainer.float64))
    lstm = nn.LSTM(28, 16)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 3, 16\), got \[1, 3, 15\]"):
        lstm(trainer.randn(5, 3, 28), (trainer.zeros(1, 3, 16), trainer.zeros(1, 3, 15)))
    with pytest.raises(ValueError, match="GRU: Expected input to be 2D or 3D, got 1D instead"):
        nn.GRU(28, 16)(trainer.randn(28))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 10 expected 28"):
        nn.LSTMCell(28, 16)(trainer.randn(3, 10))
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 20, expected 16"):
        nn.GRUCell(28, 16)(trainer.randn(3, 28), trainer.randn(3, 20))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(28, 16, nonlinearity="gelu")


class RNNModel(nn.Module):
    """The seed program's model (seed 003), with trainer in place of torch."""

    def __init__(self, input_dim, hidden_dim, layer_dim, output_dim):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.layer_dim = layer_dim
        self.rnn = nn.RNN(input_dim, hidden_dim, layer_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, x):
        h0 = trainer.zeros(self.layer_dim, x.size(0), self.hidden_dim)
        out, hidden = self.rnn(x, h0)
        return self.fc(out[:, -1, :])


def test_seed_rnn_model_loss_falls_with_sgd():
    trainer.manual_seed(0)
    model = RNNModel(input_dim=8, hidden_dim=16, layer_dim=2, output_dim=4)
    optimizer = trainer.optim.SGD(model.parameters(), lr=0.3)
    criterion = nn.CrossEntropyLoss()
    x = trainer.randn(32, 10, 8)
    y = trainer.randint(0, 4, (32,))
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.cuda
@pytest.mark.parametrize("mode", MODES)
def test_layers_on_cuda_match_cpu(mode):
    rng = np.random.default_rng(5)
    cpu = MODES[mode](nn, num_layers=2, bidirectional=True, batch_first=True).double()
    gpu = MODES[mode](nn, num_layers=2, bidirectional=True, batch_first=True).double()
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = rng.standard_normal((N, T, D))
    results = []
    for model, device in ((cpu, "cpu"), (gpu, "cuda")):
        xt = trainer.tensor(x, device=device, requires_grad=True)
        outs = flat(model(xt))
        sum(o.sum() for o in outs).backward()
        results.append([o.detach().cpu().numpy() for o in outs] + [xt.grad.cpu().numpy()]
                       + [p.grad.cpu().numpy() for p in model.parameters()])
    for ours, ref in zip(*reversed(results)):
        np.testing.assert_allclose(ours, ref, atol=1e-10, rtol=0)
