"""trainer.nn.utils.rnn (packed sequences) and RNN/LSTM/GRU on packed input against PyTorch, on the same data
(float64): packed fields, padded results, final states, and the grads of the inputs, h0/c0 and every
parameter; the error cases with PyTorch's exception types."""

import itertools
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as torch_rnn

import trainer
import trainer.nn as nn
import trainer.nn.utils.rnn as rnn
from trainer.autograd import observe_ops

TOL = 1e-10
D, H = 3, 5
SORTED_LENGTHS = [5, 3, 3, 1]  # a tie, a length-one sequence, and a padded step no sequence reaches (T = 6)
UNSORTED_LENGTHS = [3, 5, 1, 3]
T, N = 6, 4


def leaf(array):
    return trainer.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


def check(ours, theirs, tol=TOL, what=""):
    assert tuple(ours.shape) == tuple(theirs.shape), what
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], what
    np.testing.assert_allclose(np.asarray(ours.detach().cpu()), theirs.detach().numpy(), atol=tol, rtol=0,
                               err_msg=what)


def check_indices(ours, theirs, what=""):
    if theirs is None:
        assert ours is None, what
        return
    assert ours.dtype == trainer.int64 and ours.device.type == "cpu", what
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=what)


def check_packed(ours, theirs, tol=TOL):
    assert type(ours) is rnn.PackedSequence
    check(ours.data, theirs.data, tol, "data")
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        check_indices(getattr(ours, field), getattr(theirs, field), field)


def weighted_sums(pairs, rng):
    """The same random weighting of every (ours, theirs) output, summed: backward of it checks every grad."""
    loss, tloss = 0, 0
    for ours, theirs in pairs:
        weights = rng.standard_normal(tuple(theirs.shape))
        loss = loss + (ours * trainer.tensor(weights, dtype=ours.dtype)).sum()
        tloss = tloss + (theirs * torch.tensor(weights, dtype=theirs.dtype)).sum()
    return loss, tloss


def backward_both(pairs, rng):
    loss, tloss = weighted_sums(pairs, rng)
    loss.backward()
    tloss.backward()


def padded_batch(rng, batch_first, trailing=(D,)):
    shape = (N, T, *trailing) if batch_first else (T, N, *trailing)
    return leaf(rng.standard_normal(shape))


# ----------------------------------------------------------------- packing and padding functions


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("trailing", [(D,), (), (2, 3)])
@pytest.mark.parametrize("lengths_as", ["list", "tensor"])
def test_pack_padded_sequence_matches_torch(batch_first, enforce_sorted, trailing, lengths_as):
    rng = np.random.default_rng(0)
    x, tx = padded_batch(rng, batch_first, trailing)
    lengths = SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS
    ours_lengths = trainer.tensor(lengths) if lengths_as == "tensor" else lengths
    theirs_lengths = torch.tensor(lengths) if lengths_as == "tensor" else lengths
    packed = rnn.pack_padded_sequence(x, ours_lengths, batch_first, enforce_sorted)
    tpacked = torch_rnn.pack_padded_sequence(tx, theirs_lengths, batch_first, enforce_sorted)
    check_packed(packed, tpacked)
    backward_both([(packed.data, tpacked.data)], rng)
    check(x.grad, tx.grad, what="input grad")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("padding_value", [0.0, -2.5])
@pytest.mark.parametrize("total_length", [None, 6, 9])
def test_pad_packed_sequence_matches_torch(batch_first, enforce_sorted, padding_value, total_length):
    rng = np.random.default_rng(1)
    lengths = SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS
    # the packed data itself is the leaf, so its grad checks pad_packed_sequence's backward alone
    tpacked = torch_rnn.pack_padded_sequence(torch.tensor(rng.standard_normal((T, N, D))), lengths,
                                             enforce_sorted=enforce_sorted)
    data, tdata = leaf(tpacked.data.numpy())
    indices = [None if i is None else trainer.tensor(i.numpy()) for i in tpacked[2:]]
    packed = rnn.PackedSequence(data, trainer.tensor(tpacked.batch_sizes.numpy()), *indices)
    tpacked = torch_rnn.PackedSequence(tdata, *tpacked[1:])
    padded, lens = rnn.pad_packed_sequence(packed, batch_first, padding_value, total_length)
    tpadded, tlens = torch_rnn.pad_packed_sequence(tpacked, batch_first, padding_value, total_length)
    check(padded, tpadded)
    check_indices(lens, tlens, "lengths")
    backward_both([(padded, tpadded)], rng)
    check(data.grad, tdata.grad, what="data grad")


@pytest.mark.parametrize("batch_first", [False, True])
def test_packing_then_padding_gives_the_batch_and_its_grads_back(batch_first):
    rng = np.random.default_rng(2)
    x, tx = padded_batch(rng, batch_first)
    packed = rnn.pack_padded_sequence(x, UNSORTED_LENGTHS, batch_first, enforce_sorted=False)
    tpacked = torch_rnn.pack_padded_sequence(tx, UNSORTED_LENGTHS, batch_first, enforce_sorted=False)
    padded, _ = rnn.pad_packed_sequence(packed, batch_first, total_length=T)
    tpadded, _ = torch_rnn.pad_packed_sequence(tpacked, batch_first, total_length=T)
    check(padded, tpadded)
    backward_both([(padded, tpadded)], rng)
    check(x.grad, tx.grad, what="input grad")


def sequences(rng, lengths, trailing=(D,)):
    pairs = [leaf(rng.standard_normal((n, *trailing))) for n in lengths]
    return [p for p, _ in pairs], [t for _, t in pairs]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("trailing", [(D,), (), (2, 2)])
@pytest.mark.parametrize("padding_value", [0.0, 7.0])
def test_pad_sequence_matches_torch(batch_first, padding_side, trailing, padding_value):
    rng = np.random.default_rng(3)
    ours, theirs = sequences(rng, [3, 5, 1, 5, 0], trailing)
    padded = rnn.pad_sequence(ours, batch_first, padding_value, padding_side)
    tpadded = torch_rnn.pad_sequence(theirs, batch_first, padding_value, padding_side)
    check(padded, tpadded)
    backward_both([(padded, tpadded)], rng)
    for i, (s, ts) in enumerate(zip(ours, theirs)):
        check(s.grad, ts.grad, what=f"grad of sequence {i}")


def test_pad_sequence_takes_the_first_dtype_and_any_iterable_like_torch():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    mixed = rnn.pad_sequence([trainer.tensor(a, dtype=trainer.float32), trainer.tensor(b)])
    tmixed = torch_rnn.pad_sequence([torch.tensor(a, dtype=torch.float32), torch.tensor(b)])
    check(mixed, tmixed, 1e-6)
    rows = rnn.pad_sequence(trainer.tensor(b), batch_first=True)  # a tensor is an iterable of its rows
    check(rows, torch_rnn.pad_sequence(torch.tensor(b), batch_first=True))
    ints = rnn.pad_sequence(iter([trainer.tensor([1, 2]), trainer.tensor([3])]), padding_value=-1)
    check(ints, torch_rnn.pad_sequence([torch.tensor([1, 2]), torch.tensor([3])], padding_value=-1))


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_matches_torch(enforce_sorted):
    rng = np.random.default_rng(5)
    ours, theirs = sequences(rng, SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS)
    packed = rnn.pack_sequence(ours, enforce_sorted)
    tpacked = torch_rnn.pack_sequence(theirs, enforce_sorted)
    check_packed(packed, tpacked)
    backward_both([(packed.data, tpacked.data)], rng)
    for s, ts in zip(ours, theirs):
        check(s.grad, ts.grad)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_unpack_sequence_matches_torch(enforce_sorted):
    rng = np.random.default_rng(6)
    ours, theirs = sequences(rng, SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS)
    unpacked = rnn.unpack_sequence(rnn.pack_sequence(ours, enforce_sorted))
    tunpacked = torch_rnn.unpack_sequence(torch_rnn.pack_sequence(theirs, enforce_sorted))
    assert len(unpacked) == len(tunpacked)
    for s, ts in zip(unpacked, tunpacked):
        check(s, ts)
    backward_both(list(zip(unpacked, tunpacked)), rng)
    for s, ts in zip(ours, theirs):
        check(s.grad, ts.grad)


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_matches_torch_and_leaves_its_input_alone(batch_first):
    rng = np.random.default_rng(7)
    x, tx = padded_batch(rng, batch_first)
    lengths = UNSORTED_LENGTHS
    before = x.detach().numpy().copy()
    # PyTorch transposes its input in place (an error on a leaf that requires grad): give it a copy
    unpadded = rnn.unpad_sequence(x, trainer.tensor(lengths), batch_first)
    tunpadded = torch_rnn.unpad_sequence(tx * 1, torch.tensor(lengths), batch_first)
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert [tuple(s.shape) for s in unpadded] == [tuple(s.shape) for s in tunpadded]
    for s, ts in zip(unpadded, tunpadded):
        check(s, ts)
    backward_both(list(zip(unpadded, tunpadded)), rng)
    check(x.grad, tx.grad)


def test_invert_permutation_matches_torch():
    perm = [3, 0, 4, 1, 2]
    inverse = rnn.invert_permutation(trainer.tensor(perm))
    check_indices(inverse, torch_rnn.invert_permutation(torch.tensor(perm)))
    assert rnn.invert_permutation(None) is None


# ----------------------------------------------------------------- PackedSequence


def test_packed_sequence_is_the_same_named_tuple_as_torch():
    seqs = [[1, 2, 3], [4, 5], [6]]
    packed = rnn.pack_sequence([trainer.tensor(s) for s in seqs])
    tpacked = torch_rnn.pack_sequence([torch.tensor(s) for s in seqs])
    assert repr(packed) == repr(tpacked)
    assert packed._fields == tpacked._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert isinstance(packed, tuple) and len(packed) == 4
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert data is packed.data is packed[0] and batch_sizes is packed.batch_sizes
    assert sorted_indices is None and unsorted_indices is None
    unsorted = rnn.pack_sequence([trainer.tensor(s) for s in seqs[::-1]], enforce_sorted=False)
    tunsorted = torch_rnn.pack_sequence([torch.tensor(s) for s in seqs[::-1]], enforce_sorted=False)
    assert repr(unsorted) == repr(tunsorted)


def test_packed_sequence_constructors_match_torch():
    data, batch_sizes, order = trainer.tensor([1.0, 2.0, 3.0]), trainer.tensor([2, 1]), trainer.tensor([1, 0])
    for packed in (rnn.PackedSequence(data, batch_sizes), rnn.PackedSequence((data, batch_sizes))):
        assert packed.data is data and packed.batch_sizes is batch_sizes and packed.unsorted_indices is None
    with_order = rnn.PackedSequence(data, batch_sizes, order)
    check_indices(with_order.unsorted_indices, torch_rnn.invert_permutation(torch.tensor([1, 0])))
    given = trainer.tensor([1, 0])
    assert rnn.PackedSequence(data, batch_sizes, order, given).unsorted_indices is given
    with pytest.raises(AssertionError, match="Expected data to be a list or tuple of length 2"):
        rnn.PackedSequence(data)
    with pytest.raises(AssertionError):
        torch_rnn.PackedSequence(torch.tensor([1.0]))


CONVERSIONS = ["double", "float", "half", "long", "int", "short", "char", "byte"]


@pytest.mark.parametrize("conversion", CONVERSIONS)
def test_packed_sequence_dtype_conversions_match_torch(conversion):
    x = np.arange(12, dtype=np.float64).reshape(4, 3) / 4
    packed = rnn.pack_padded_sequence(trainer.tensor(x), [4, 1, 3], enforce_sorted=False)
    tpacked = torch_rnn.pack_padded_sequence(torch.tensor(x), [4, 1, 3], enforce_sorted=False)
    converted, tconverted = getattr(packed, conversion)(), getattr(tpacked, conversion)()
    check_packed(converted, tconverted, tol=1e-3)
    assert converted.batch_sizes is packed.batch_sizes
    assert (converted is packed) == (tconverted is tpacked)


def test_packed_sequence_to_and_cpu_return_itself_when_nothing_changes():
    packed = rnn.pack_sequence([trainer.tensor([1.0, 2.0]), trainer.tensor([3.0])])
    assert packed.to(trainer.float32) is packed
    assert packed.to("cpu") is packed and packed.cpu() is packed
    assert packed.to(trainer.float64).data.dtype == trainer.float64
    assert packed.to(device="cpu", dtype=trainer.float64).data.dtype == trainer.float64
    assert packed.is_cuda is False


def test_packed_sequence_refuses_batch_sizes_off_the_cpu_like_torch():
    class OnDevice:  # stands in for a CUDA tensor where no GPU is present
        device = trainer.device("cuda")

    with pytest.raises(ValueError, match="batch_sizes should always be on CPU"):
        rnn.PackedSequence(trainer.tensor([1.0]), OnDevice())


def test_packed_sequence_cuda_fails_as_a_tensor_does_without_a_gpu():
    if trainer.cuda.is_available():
        pytest.skip("a GPU is present; test_packed_layers_on_cuda_match_cpu covers .cuda()")
    packed = rnn.pack_sequence([trainer.tensor([1.0, 2.0])])
    with pytest.raises(Exception) as from_tensor:
        packed.data.cuda()
    with pytest.raises(type(from_tensor.value), match=re.escape(str(from_tensor.value))):
        packed.cuda()


# ----------------------------------------------------------------- errors


def raises_like_torch(fn, match):
    """``fn(lib, rnn_module)`` raises the same exception type under both libraries, ours with ``match``."""
    with pytest.raises(Exception) as theirs:
        fn(torch, torch_rnn)
    with pytest.raises(type(theirs.value), match=match):
        fn(trainer, rnn)


def padded(lib, shape=(T, N, D)):
    return lib.zeros(*shape, dtype=lib.float64)


ERRORS = {
    "unsorted lengths with enforce_sorted": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), UNSORTED_LENGTHS),
        "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True"),
    "zero length": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), [5, 3, 2, 0]),
        "Length of all samples has to be greater than 0"),
    "zero length, unsorted": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), [3, 0, 5, 1], enforce_sorted=False),
        "Length of all samples has to be greater than 0"),
    "negative length": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), [5, 3, 2, -1]),
        "Length of all samples has to be greater than 0"),
    "one length per sequence": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), [5, 3, 2]),
        r"Expected `len\(lengths\)` to be equal to batch_size, but got 3 \(batch_size=4\)"),
    "lengths of the batch_first batch": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), [5, 3, 2, 1], batch_first=True),
        r"Expected `len\(lengths\)` to be equal to batch_size, but got 4 \(batch_size=6\)"),
    "2-D lengths": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), lib.tensor([[5, 3, 2, 1]])),
        "'lengths' argument should be a 1D CPU int64 tensor, but got 2D cpu Long tensor"),
    "0-D lengths": (
        lambda lib, m: m.pack_padded_sequence(padded(lib), 3),
        "'lengths' argument should be a 1D CPU int64 tensor, but got 0D cpu Long tensor"),
    "empty input": (
        lambda lib, m: m.pack_padded_sequence(padded(lib, (0, 4, D)), [1, 1, 1, 1]),
        "Cannot pack empty tensors."),
    "1-D input": (
        lambda lib, m: m.pack_padded_sequence(padded(lib, (T,)), [2]),
        r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)"),
    "total_length too small": (
        lambda lib, m: m.pad_packed_sequence(m.pack_padded_sequence(padded(lib), SORTED_LENGTHS), total_length=4),
        "Expected total_length to be at least the length of the longest sequence in input, but got "
        "total_length=4 and max sequence length being 5"),
    "total_length not an int": (
        lambda lib, m: m.pad_packed_sequence(m.pack_padded_sequence(padded(lib), SORTED_LENGTHS),
                                             total_length=6.0),
        "argument 'total_length' must be int, not float"),
    "no sequences to pad": (
        lambda lib, m: m.pad_sequence([]),
        "received an empty list of sequences"),
    "not an iterable": (
        lambda lib, m: m.pad_sequence(5),
        "pad_sequence: Expected iterable for input sequences, but got arg of type: <class 'int'>"),
    "padding_side": (
        lambda lib, m: m.pad_sequence([lib.zeros(2)], padding_side="middle"),
        "Expected padding_side to be one of left or right, but got middle."),
    "trailing dimensions differ": (
        lambda lib, m: m.pad_sequence([lib.zeros(3, 2), lib.zeros(2, 3)]),
        r"trailing dimensions \[2\] of sequence 0, but sequence 1 has shape \[2, 3\]"),
    "0-d sequences": (
        lambda lib, m: m.pad_sequence([lib.tensor(1.0), lib.tensor(2.0)]),
        "sequence 0 is a 0-d tensor"),
    "unsorted pack_sequence": (
        lambda lib, m: m.pack_sequence([lib.zeros(2), lib.zeros(3)]),
        "`lengths` array must be sorted in decreasing order"),
    "unpad_sequence lengths as a list": (
        lambda lib, m: m.unpad_sequence(padded(lib), [1, 1, 1, 1]),
        "'list' object has no attribute 'device'"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_match_torch(case):
    fn, match = ERRORS[case]
    raises_like_torch(fn, match)


def test_a_length_past_the_padded_input_is_refused():
    # PyTorch reads past the end of the input here (its result holds whatever memory follows); we refuse
    with pytest.raises(RuntimeError, match="at most the padded sequence length 6 of the input, but got a length of 7"):
        rnn.pack_padded_sequence(padded(trainer), [7, 3, 2, 1])
    with pytest.raises(RuntimeError, match="at most the padded sequence length 4"):
        rnn.pack_padded_sequence(padded(trainer, (N, 4, D)), [2, 5, 1, 1], batch_first=True, enforce_sorted=False)


# ----------------------------------------------------------------- RNN, LSTM and GRU on packed input

MODES = {
    "rnn_tanh": lambda m, **kw: m.RNN(D, H, **kw),
    "rnn_relu": lambda m, **kw: m.RNN(D, H, nonlinearity="relu", **kw),
    "lstm": lambda m, **kw: m.LSTM(D, H, **kw),
    "gru": lambda m, **kw: m.GRU(D, H, **kw),
}


def make_pair(mode, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer
        theirs = MODES[mode](torch.nn, **kwargs).to(dtype)
        ours = MODES[mode](nn, **kwargs).to(trainer.float64 if dtype == torch.float64 else trainer.float32)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def run_packed_parity(mode, *, dtype=torch.float64, tol=TOL, enforce_sorted=True, with_state=True, train=False,
                      **kwargs):
    rng = np.random.default_rng(8)
    ours, theirs = make_pair(mode, dtype, **kwargs)
    ours.train(train)
    theirs.train(train)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    batch_first = kwargs.get("batch_first", False)
    x, tx = leaf(rng.standard_normal((N, T, D) if batch_first else (T, N, D)).astype(np_dtype))
    lengths = SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS
    packed = rnn.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    tpacked = torch_rnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    args, targs, states = [packed], [tpacked], []
    if with_state:
        layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        states = [leaf(rng.standard_normal((layers, N, H)).astype(np_dtype)) for _ in range(2 if mode == "lstm" else 1)]
        hx, thx = tuple(s for s, _ in states), tuple(t for _, t in states)
        args.append(hx if mode == "lstm" else hx[0])
        targs.append(thx if mode == "lstm" else thx[0])
    out, hidden = ours(*args)
    tout, thidden = theirs(*targs)
    check_packed(out, tout, tol)
    pairs = list(zip(as_tuple(hidden), as_tuple(thidden)))
    for h, th in pairs:
        check(h, th, tol, "final state")
    padded_out, _ = rnn.pad_packed_sequence(out, batch_first)
    tpadded_out, _ = torch_rnn.pad_packed_sequence(tout, batch_first)
    check(padded_out, tpadded_out, tol, "padded output")
    backward_both([(padded_out, tpadded_out), *pairs], rng)
    check(x.grad, tx.grad, tol, "input grad")
    for s, ts in states:
        check(s.grad, ts.grad, tol, "initial state grad")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        check(p.grad, tparams[name].grad, tol, name)


LAYER_CASES = list(itertools.product(MODES, [1, 2], [False, True], [False, True], [True, False], [True, False]))


@pytest.mark.parametrize("mode,num_layers,bidirectional,batch_first,enforce_sorted,with_state", LAYER_CASES)
def test_packed_layers_match_torch(mode, num_layers, bidirectional, batch_first, enforce_sorted, with_state):
    run_packed_parity(mode, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                      enforce_sorted=enforce_sorted, with_state=with_state)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_layers_without_bias_match_torch(mode, bidirectional):
    run_packed_parity(mode, bias=False, num_layers=2, bidirectional=bidirectional, enforce_sorted=False)


@pytest.mark.parametrize("mode", MODES)
def test_packed_layers_match_torch_in_float32(mode):
    run_packed_parity(mode, dtype=torch.float32, tol=1e-5, num_layers=2, bidirectional=True, enforce_sorted=False)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_one_between_packed_layers_matches_torch_in_training(mode):
    # p=1 makes dropout deterministic, so the training-mode path itself can be compared
    run_packed_parity(mode, train=True, dropout=1.0, num_layers=2, bidirectional=True, enforce_sorted=False)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_between_packed_layers_in_training_only(mode):
    trainer.manual_seed(0)
    ours, _ = make_pair(mode, num_layers=2, dropout=0.5)
    x = trainer.tensor(np.random.default_rng(9).standard_normal((T, N, D)))
    packed = rnn.pack_padded_sequence(x, SORTED_LENGTHS)
    first, second = ours(packed)[0].data, ours(packed)[0].data
    assert not np.allclose(first.detach().numpy(), second.detach().numpy())
    ours.eval()
    np.testing.assert_array_equal(ours(packed)[0].data.detach().numpy(), ours(packed)[0].data.detach().numpy())


@pytest.mark.parametrize("mode", MODES)
def test_packed_sequences_of_full_length_give_the_unpacked_result(mode):
    ours, _ = make_pair(mode, num_layers=2, bidirectional=True)
    x = trainer.tensor(np.random.default_rng(10).standard_normal((T, N, D)))
    out, hidden = ours(rnn.pack_padded_sequence(x, [T] * N))
    ref, ref_hidden = ours(x)
    np.testing.assert_allclose(out.data.detach().numpy(), ref.detach().numpy().reshape(T * N, -1), atol=TOL)
    for h, ref_h in zip(as_tuple(hidden), as_tuple(ref_hidden)):
        np.testing.assert_allclose(h.detach().numpy(), ref_h.detach().numpy(), atol=TOL)


def test_each_packed_layer_and_direction_is_one_op():
    seen = []
    lstm = nn.LSTM(D, H, num_layers=2, bidirectional=True)
    packed = rnn.pack_padded_sequence(trainer.randn(T, N, D), SORTED_LENGTHS)
    with observe_ops(seen.append):
        lstm(packed)
    recurrent = [e for e in seen if e.op == "PackedLstm"]
    assert [e.attrs["reverse"] for e in recurrent] == [False, True, False, True]
    assert all(e.attrs["batch_sizes"] == (4, 3, 3, 1, 1) for e in recurrent)
    assert not [e for e in seen if e.op == "Lstm"]


def packed_input(lib, m, shape=(T, N, D), dtype=None):
    return m.pack_padded_sequence(lib.zeros(*shape, dtype=dtype or lib.float64), UNSORTED_LENGTHS[:shape[1]],
                                  enforce_sorted=False)


LAYER_ERRORS = {
    "hidden state batch": (lambda lib, m: (packed_input(lib, m), lib.zeros(1, 3, H, dtype=lib.float64)),
                           r"Expected hidden size \(1, 4, 5\), got \[1, 3, 5\]"),
    "hidden state size": (lambda lib, m: (packed_input(lib, m), lib.zeros(1, 4, H + 1, dtype=lib.float64)),
                          r"Expected hidden size \(1, 4, 5\), got \[1, 4, 6\]"),
    "input size": (lambda lib, m: (packed_input(lib, m, (T, N, D + 1)),),
                   r"input.size\(-1\) must be equal to input_size. Expected 3, got 4"),
    "input dtype": (lambda lib, m: (packed_input(lib, m, dtype=lib.float32),),
                    r"RNN input dtype \(.*float32\) does not match weight dtype \(.*float64\)"),
    "packed data rank": (lambda lib, m: (packed_input(lib, m, (T, N, 2, D)),),
                         "input must have 2 dimensions, got 3"),
}


@pytest.mark.parametrize("mode", ["rnn_tanh", "gru"])
@pytest.mark.parametrize("case", LAYER_ERRORS)
def test_packed_layer_errors_match_torch(mode, case):
    make_args, match = LAYER_ERRORS[case]
    ours, theirs = make_pair(mode)
    raises_like_torch(lambda lib, m: (ours if lib is trainer else theirs)(*make_args(lib, m)), match)


def test_packed_lstm_checks_its_states_as_the_unpacked_one_does():
    # PyTorch's LSTM leaves these to its kernels, whose messages say little; ours are those of unpacked input
    lstm, _ = make_pair("lstm")
    packed = packed_input(trainer, rnn)
    good, bad = trainer.zeros(1, N, H, dtype=trainer.float64), trainer.zeros(1, N, H - 1, dtype=trainer.float64)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 4, 5\), got \[1, 4, 4\]"):
        lstm(packed, (bad, good))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 4, 5\), got \[1, 4, 4\]"):
        lstm(packed, (good, bad))
    with pytest.raises(RuntimeError, match="input must have 2 dimensions, got 3"):
        lstm(packed_input(trainer, rnn, (T, N, 2, D)))


# ----------------------------------------------------------------- CUDA


@pytest.mark.cuda
@pytest.mark.parametrize("mode", MODES)
def test_packed_layers_on_cuda_match_cpu(mode):
    rng = np.random.default_rng(11)
    cpu, _ = make_pair(mode, num_layers=2, bidirectional=True, batch_first=True)
    gpu, _ = make_pair(mode, num_layers=2, bidirectional=True, batch_first=True)
    gpu.to("cuda")
    x = rng.standard_normal((N, T, D))
    results = []
    for model, device in ((cpu, "cpu"), (gpu, "cuda")):
        xt = trainer.tensor(x, device=device, requires_grad=True)
        packed = rnn.pack_padded_sequence(xt, UNSORTED_LENGTHS, batch_first=True, enforce_sorted=False)
        assert packed.is_cuda == (device == "cuda")
        assert packed.batch_sizes.device.type == "cpu" and packed.sorted_indices.device.type == device
        out, hidden = model(packed)
        padded_out, lengths = rnn.pad_packed_sequence(out, batch_first=True)
        outs = [padded_out, *as_tuple(hidden)]
        sum((o * o).sum() for o in outs).backward()
        results.append([o.detach().cpu().numpy() for o in outs] + [lengths.numpy(), xt.grad.cpu().numpy()]
                       + [p.grad.cpu().numpy() for p in model.parameters()])
    for on_gpu, on_cpu in zip(results[1], results[0]):
        np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-10, rtol=0)


@pytest.mark.cuda
def test_packed_sequence_moves_to_cuda_and_back_with_batch_sizes_on_the_cpu():
    packed = rnn.pack_sequence([trainer.tensor([1.0, 2.0]), trainer.tensor([3.0, 4.0, 5.0])], enforce_sorted=False)
    for on_gpu in (packed.cuda(), packed.to("cuda")):
        assert on_gpu.is_cuda and on_gpu.data.device.type == "cuda"
        assert on_gpu.sorted_indices.device.type == "cuda" and on_gpu.unsorted_indices.device.type == "cuda"
        assert on_gpu.batch_sizes is packed.batch_sizes
        assert on_gpu.cuda() is on_gpu
        back = on_gpu.cpu()
        assert not back.is_cuda and back.sorted_indices.device.type == "cpu"
        np.testing.assert_array_equal(back.data.numpy(), packed.data.numpy())
    unpacked = rnn.unpack_sequence(packed.cuda())
    assert [s.cpu().tolist() for s in unpacked] == [[1.0, 2.0], [3.0, 4.0, 5.0]]
    with pytest.raises(ValueError, match="batch_sizes should always be on CPU"):
        rnn.PackedSequence(packed.data, packed.batch_sizes.cuda())
