"""CTC, multi-margin, multi-label-margin, triplet-with-distance and adaptive-softmax losses and ``EmbeddingBag``
against PyTorch: forward values and the gradients of every input on identical float64 data, the layers' reprs and
state_dict keys, PyTorch weights loaded into ours, and the errors bad arguments raise.

Each parity case is ``fn(lib, *inputs)``, run with ``lib = torch`` and ``lib = trainer``; integer inputs (targets,
lengths, indices) are built inside ``fn`` from the same numbers.
"""

import zlib

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_nn_extra_parity import assert_repr_and_state_dict_keys_match_torch
from tests.trainer.test_ops_parity import _assert_same, assert_forward_and_gradients_match_torch


def _arrays(name, *shapes):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [rng.standard_normal(shape) for shape in shapes]


# ---------------------------------------------------------------- CTC
# T=7 frames, N=4 samples, C=5 classes; sample 1 repeats a label (needs a blank between), sample 2 has 2 frames for
# 3 labels (impossible: infinite loss, nan gradient unless zero_infinity), sample 3 has no frames and no labels
CTC_TARGETS = [[3, 1, 4], [2, 2, 0], [1, 4, 2], [0, 0, 0]]
CTC_INPUT_LENGTHS = [7, 5, 2, 0]
CTC_TARGET_LENGTHS = [3, 2, 3, 0]
POSSIBLE = [0, 1]  # the samples whose alignment exists


def _ctc(reduction="mean", zero_infinity=False, blank=0, normalise=True, samples=None, concatenated=False,
         as_lists=False):
    samples = list(range(4)) if samples is None else samples

    def fn(lib, x):
        lp = x.log_softmax(-1) if normalise else x
        lp = lp[:, samples]
        targets = [CTC_TARGETS[i] for i in samples]
        target_lengths = [CTC_TARGET_LENGTHS[i] for i in samples]
        input_lengths = [CTC_INPUT_LENGTHS[i] for i in samples]
        if blank:  # the blank at class ``blank``: the label that was there takes class 0
            targets = [[{0: blank, blank: 0}.get(t, t) for t in row] for row in targets]
        if concatenated:
            flat = [t for row, n in zip(targets, target_lengths) for t in row[:n]]
            targets = lib.tensor(flat, dtype=lib.int64)
        else:
            targets = lib.tensor(targets)
        if not as_lists:
            input_lengths, target_lengths = lib.tensor(input_lengths), lib.tensor(target_lengths, dtype=lib.int32)
        return lib.nn.functional.ctc_loss(lp, targets, input_lengths, target_lengths, blank=blank,
                                          reduction=reduction, zero_infinity=zero_infinity)

    return fn


def _ctc_module(lib, x):
    loss = lib.nn.CTCLoss(blank=4, reduction="sum", zero_infinity=True)
    return loss(x.log_softmax(-1), lib.tensor([[1, 2, 3], [3, 3, 0]]), (6, 4), (3, 2))


def _ctc_unbatched(lib, x):
    lp = x.log_softmax(-1)
    return (lib.nn.functional.ctc_loss(lp, lib.tensor([1, 3, 3]), lib.tensor(6), lib.tensor(3), reduction="none"),
            lib.nn.functional.ctc_loss(lp, lib.tensor([2]), [5], [1]))


CTC_CASES = {
    "none": (_ctc("none"), (7, 4, 5)),
    "sum": (_ctc("sum"), (7, 4, 5)),
    "mean": (_ctc("mean"), (7, 4, 5)),
    "zero_infinity_none": (_ctc("none", zero_infinity=True), (7, 4, 5)),
    "zero_infinity_mean": (_ctc("mean", zero_infinity=True), (7, 4, 5)),
    "possible_only_mean": (_ctc("mean", samples=POSSIBLE), (7, 4, 5)),
    "blank_last": (_ctc("none", blank=4, zero_infinity=True), (7, 4, 5)),
    "not_normalised": (_ctc("sum", normalise=False, samples=POSSIBLE), (7, 4, 5)),
    "concatenated_targets": (_ctc("mean", concatenated=True, zero_infinity=True), (7, 4, 5)),
    "length_lists": (_ctc("sum", as_lists=True, samples=POSSIBLE), (7, 4, 5)),
    "module": (_ctc_module, (6, 2, 5)),
    "unbatched": (_ctc_unbatched, (6, 5)),
    "empty_targets": (lambda lib, x: lib.nn.functional.ctc_loss(
        x.log_softmax(-1), lib.zeros(2, 0, dtype=lib.int64), lib.tensor([4, 2]), lib.tensor([0, 0]),
        reduction="none"), (4, 2, 3)),
    "long_sequence": (lambda lib, x: lib.nn.functional.ctc_loss(
        x.log_softmax(-1), lib.tensor([[1, 2, 1, 2, 3, 3, 1], [4, 4, 4, 1, 2, 0, 0]]), lib.tensor([40, 33]),
        lib.tensor([7, 5]), reduction="none"), (40, 2, 5)),
}


@pytest.mark.parametrize("name", sorted(CTC_CASES))
def test_ctc_loss_and_its_gradient_match_torch(name):
    fn, shape = CTC_CASES[name]
    assert_forward_and_gradients_match_torch(fn, _arrays(name, shape))


def test_ctc_impossible_alignment_is_infinite_with_a_nan_gradient_unless_zero_infinity():
    x = trainer.tensor(_arrays("impossible", (7, 4, 5))[0], requires_grad=True)
    loss = _ctc("none")(trainer, x)
    assert loss[2].item() == float("inf") and np.isfinite(loss[:2].numpy(force=True)).all()
    loss.sum().backward()
    grad = x.grad.numpy()
    assert np.isnan(grad[:2, 2]).all() and (grad[2:, 2] == 0).all()  # nan for the frames read, zero after
    assert (grad[:, 3] == 0).all()  # no frames at all
    x.grad = None
    _ctc("none", zero_infinity=True)(trainer, x).sum().backward()
    assert (x.grad.numpy()[:, 2] == 0).all()


def test_ctc_float32_matches_torch():
    lp = _arrays("ctc32", (7, 4, 5))[0].astype(np.float32)
    ours = _ctc("none", samples=POSSIBLE)(trainer, trainer.tensor(lp))
    theirs = _ctc("none", samples=POSSIBLE)(torch, torch.tensor(lp))
    assert ours.dtype is trainer.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)


CTC_ERRORS = [
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([6]), lib.tensor([2])),
     RuntimeError, "input_lengths to have value at most 5"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([-1]), lib.tensor([2])),
     RuntimeError, "input_lengths to have value at least 0"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([5]), lib.tensor([3])),
     RuntimeError, "size at least 3 at dimension 1"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([1, 2]), lib.tensor([5]), lib.tensor([3])),
     RuntimeError, "size 3 at dimension 0"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([5, 5]), lib.tensor([2])),
     RuntimeError, "input_lengths must be of size batch_size"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([5]), lib.tensor([2, 1])),
     RuntimeError, "target_lengths must be of size batch_size"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([5.0]), lib.tensor([2])),
     RuntimeError, "input_lengths must be integral"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([5]), lib.tensor([2]),
                                                blank=3), RuntimeError, "blank must be in label range"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp, lib.tensor([[1, 2]]), lib.tensor([5]), lib.tensor([2]),
                                                reduction="avg"), ValueError, "avg is not a valid value"),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp[0], lib.tensor([1, 2]), 5, 2), TypeError, None),
    (lambda lib, lp: lib.nn.functional.ctc_loss(lp[:0], lib.tensor([[1]]), [0], [1]), RuntimeError,
     "log_probs tensor must not be empty"),
]


@pytest.mark.parametrize("case", range(len(CTC_ERRORS)))
def test_ctc_bad_arguments_raise_like_torch(case):
    fn, error, message = CTC_ERRORS[case]
    for lib in (torch, trainer):
        lp = lib.tensor(np.zeros((5, 1, 3)))
        with pytest.raises(error, match=message):
            fn(lib, lp)


def test_ctc_targets_outside_the_classes_are_refused():
    with pytest.raises(RuntimeError, match=r"targets must be class indices in \[0, 3\), got 7"):
        trainer.nn.functional.ctc_loss(trainer.zeros(5, 1, 3), trainer.tensor([[1, 7]]), [5], [2])


# ---------------------------------------------------------------- margin losses, triplet with distance
def _target(lib):
    return lib.tensor([0, 3, 1, 1, 2])


def _multilabel_target(lib):
    # listed classes end at the first -1; a class listed twice counts twice; a row may list nothing or everything
    return lib.tensor([[3, 0, -1, 1], [0, 1, 2, 3], [1, 1, -1, 2], [-1, 0, 1, 2], [2, -1, 3, 0]])


def _cosine_distance(lib, a, b):
    return 1 - lib.nn.functional.cosine_similarity(a, b)


MARGIN_CASES = {
    "multi_margin": (lambda lib, x: lib.nn.functional.multi_margin_loss(x, _target(lib)), [(5, 4)]),
    "multi_margin_p2_sum": (lambda lib, x: lib.nn.functional.multi_margin_loss(x, _target(lib), p=2, margin=0.4,
                                                                               reduction="sum"), [(5, 4)]),
    "multi_margin_weighted_none": (lambda lib, x, w: lib.nn.functional.multi_margin_loss(
        x, _target(lib), weight=w.detach().abs(), reduction="none"), [(5, 4), (4,)]),
    "multi_margin_module": (lambda lib, x: lib.nn.MultiMarginLoss(p=2, margin=1.5,
                                                                  weight=lib.tensor([1.0, 2.0, 0.5, 1.5],
                                                                                  dtype=lib.float64))(
        x, _target(lib)), [(5, 4)]),
    "multi_margin_unbatched": (lambda lib, x: (lib.nn.functional.multi_margin_loss(x, lib.tensor(2)),
                                               lib.nn.functional.multi_margin_loss(x, lib.tensor([1]),
                                                                                   reduction="none")), [(4,)]),
    "multilabel_margin": (lambda lib, x: lib.nn.functional.multilabel_margin_loss(x, _multilabel_target(lib)),
                          [(5, 4)]),
    "multilabel_margin_none": (lambda lib, x: lib.nn.MultiLabelMarginLoss(reduction="none")(
        x, _multilabel_target(lib)), [(5, 4)]),
    "multilabel_margin_unbatched": (lambda lib, x: lib.nn.functional.multilabel_margin_loss(
        x, lib.tensor([2, 0, -1, 1]), reduction="sum"), [(4,)]),
    "triplet_distance_default": (lambda lib, a, p, n: lib.nn.TripletMarginWithDistanceLoss()(a, p, n),
                                 [(4, 3), (4, 3), (4, 3)]),
    "triplet_distance_custom_swap": (lambda lib, a, p, n: lib.nn.functional.triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda u, v: _cosine_distance(lib, u, v), margin=0.5, swap=True,
        reduction="none"), [(4, 3), (4, 3), (4, 3)]),
    "triplet_distance_module_sum": (lambda lib, a, p, n: lib.nn.TripletMarginWithDistanceLoss(
        distance_function=lib.nn.PairwiseDistance(p=1), margin=2.0, reduction="sum")(a, p, n),
                                    [(4, 3), (4, 3), (4, 3)]),
}


@pytest.mark.parametrize("name", sorted(MARGIN_CASES))
def test_margin_losses_match_torch(name):
    fn, shapes = MARGIN_CASES[name]
    assert_forward_and_gradients_match_torch(fn, _arrays(name, *shapes))


MARGIN_ERRORS = [
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1, 4])), RuntimeError,
     "target out of range"),
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1])), RuntimeError,
     r"Expected target size \[3\], but got \[2\]"),
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1, 2]), p=3), ValueError,
     "only p == 1 and p == 2 supported"),
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1, 2]), weight=lib.ones(3)),
     RuntimeError, "inconsistent weight size, expected 4"),
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1, 2]),
                                                     weight=lib.ones(2, 2)), ValueError, "one-dimensional"),
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4, 2), lib.tensor([0, 1, 2])), RuntimeError,
     "Expected non-empty vector or matrix"),
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0.0, 1, 2])), RuntimeError,
     "expected scalar type Long"),
    (lambda lib: lib.nn.functional.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1, 2]), reduction="avg"),
     ValueError, "avg is not a valid value for reduction"),
    (lambda lib: lib.nn.MultiMarginLoss(p=0), ValueError, "only p == 1 and p == 2 supported"),
    (lambda lib: lib.nn.MultiMarginLoss(weight=lib.ones(2, 2)), ValueError, "expected weight to be None or 1D"),
    (lambda lib: lib.nn.functional.multilabel_margin_loss(lib.zeros(3, 4), lib.tensor([[0, 4, -1, 2]] * 3)),
     RuntimeError, "argument #2 'target' is out of range"),
    (lambda lib: lib.nn.functional.multilabel_margin_loss(lib.zeros(3, 4), lib.tensor([[0, 1, -1, -2]] * 3)),
     RuntimeError, "argument #2 'target' is out of range"),
    (lambda lib: lib.nn.functional.multilabel_margin_loss(lib.zeros(3, 4), lib.tensor([[0, 1, -1]] * 3)),
     RuntimeError, r"inconsistent target size: \[3, 3\] for input of size: \[3, 4\]"),
    (lambda lib: lib.nn.functional.multilabel_margin_loss(lib.zeros(3, 4), lib.zeros(3, 4)), RuntimeError,
     "expected scalar type Long"),
    (lambda lib: lib.nn.functional.triplet_margin_with_distance_loss(lib.zeros(3, 4), lib.zeros(3, 4),
                                                                     lib.zeros(3)), RuntimeError,
     "anchor 2D, positive 2D, and negative 1D"),
    (lambda lib: lib.nn.functional.triplet_margin_with_distance_loss(lib.zeros(3), lib.zeros(3), lib.zeros(3),
                                                                     margin=0), ValueError,
     "margin must be greater than 0, got 0"),
    (lambda lib: lib.nn.TripletMarginWithDistanceLoss(margin=-1.0), ValueError,
     "expected margin to be greater than 0, got -1.0"),
]


@pytest.mark.parametrize("case", range(len(MARGIN_ERRORS)))
def test_margin_loss_bad_arguments_raise_like_torch(case):
    fn, error, message = MARGIN_ERRORS[case]
    for lib in (torch, trainer):
        with pytest.raises(error, match=message):
            fn(lib)


# ---------------------------------------------------------------- AdaptiveLogSoftmaxWithLoss
def _adaptive_pair(**kwargs):
    """The same adaptive softmax in both libraries (PyTorch's weights loaded into ours), float64: a shortlist of 3
    classes and clusters of 4 and 5."""
    torch.manual_seed(0)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(32, 12, [3, 7], **kwargs).double()
    ours = trainer.nn.AdaptiveLogSoftmaxWithLoss(32, 12, [3, 7], **kwargs).double()
    result = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


@pytest.mark.parametrize("kwargs", [{}, {"div_value": 2.0, "head_bias": True}])
def test_adaptive_log_softmax_loads_torch_weights_and_matches_forward_and_gradients(kwargs):
    ours, theirs = _adaptive_pair(**kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    x = _arrays("adaptive", (6, 32))[0]
    targets = [0, 11, 4, 8, 2, 7]  # every cluster and the shortlist
    results = []
    for lib, model in ((trainer, ours), (torch, theirs)):
        inputs = lib.tensor(x, requires_grad=True)
        out = model(inputs, lib.tensor(targets))
        (out.output * lib.tensor(np.arange(6.0))).sum().backward()
        results.append((out, inputs.grad, {k: p.grad for k, p in model.named_parameters()}))
    (o_ours, g_ours, p_ours), (o_theirs, g_theirs, p_theirs) = results
    _assert_same(o_ours.output, o_theirs.output, "output")
    _assert_same(o_ours.loss, o_theirs.loss, "loss")
    _assert_same(g_ours, g_theirs, "input grad")
    for name in p_theirs:
        if p_theirs[name] is None:
            assert p_ours[name] is None or not p_ours[name].numpy().any(), name
        else:
            _assert_same(p_ours[name], p_theirs[name], f"grad of {name}")


def test_adaptive_log_softmax_log_prob_predict_and_unbatched_match_torch():
    ours, theirs = _adaptive_pair()
    x = _arrays("adaptive_log_prob", (9, 32))[0] * 3
    _assert_same(ours.log_prob(trainer.tensor(x)), theirs.log_prob(torch.tensor(x)), "log_prob")
    assert ours.predict(trainer.tensor(x)).tolist() == theirs.predict(torch.tensor(x)).tolist()
    for rows in (x[:1], x[[0, 0]]):  # all in the shortlist or not, by the head's argmax
        assert ours.predict(trainer.tensor(rows)).tolist() == theirs.predict(torch.tensor(rows)).tolist()
    single = ours(trainer.tensor(x[0]), trainer.tensor(9))
    expected = theirs(torch.tensor(x[0]), torch.tensor(9))
    _assert_same(single.output, expected.output, "unbatched output")
    _assert_same(single.loss, expected.loss, "unbatched loss")


ADAPTIVE_ERRORS = [
    (lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, []), ValueError, "length larger than 0"),
    (lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 10]), ValueError, "between 1 and n_classes-1"),
    (lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3]), ValueError, "sorted in an increasing order"),
    (lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])(lib.zeros(4, 8), lib.tensor([0, 5, 9, 10])),
     RuntimeError, r"Target values should be in \[0, 9\], but values in range \[0, 10\] were found"),
    (lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])(lib.zeros(4, 8), lib.tensor([0, 5, 9])),
     RuntimeError, "same size in the batch dimension"),
    (lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])(lib.zeros(4, 8), lib.tensor([[5]] * 4)),
     RuntimeError, "0D or 1D target tensor expected"),
    (lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])(lib.zeros(1, 8, 2), lib.tensor([5])),
     RuntimeError, "1D target tensor expects 2D input tensors"),
]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize("case", range(len(ADAPTIVE_ERRORS)))
def test_adaptive_log_softmax_bad_arguments_raise_like_torch(case):
    fn, error, message = ADAPTIVE_ERRORS[case]
    for lib in (torch, trainer):
        with pytest.raises(error, match=message):
            fn(lib)


def test_adaptive_log_softmax_with_a_zero_sized_tail_layer_warns_like_torch():
    # in_features // div_value**2 == 0: the second cluster's projection has no hidden units, nothing to initialise
    for lib in (torch, trainer):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            model = lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])
        assert list(model.tail[1][0].weight.shape) == [0, 8]


# ---------------------------------------------------------------- EmbeddingBag
INDICES = [1, 2, 4, 5, 4, 3, 2, 0, 6, 6]
OFFSETS = [0, 2, 2, 5]  # bag 1 is empty
CSR_OFFSETS = [0, 2, 2, 5, 10]  # include_last_offset: the last entry is the number of indices


def _bag(mode, padding_idx=None, include_last_offset=False, two_d=False, weighted=False):
    def fn(lib, weight, *per_sample):
        kwargs = {"mode": mode, "padding_idx": padding_idx}
        if weighted:
            kwargs["per_sample_weights"] = per_sample[0]
        if two_d:
            return lib.nn.functional.embedding_bag(lib.tensor(INDICES[:9]).reshape(3, 3), weight, **kwargs)
        offsets = CSR_OFFSETS if include_last_offset else OFFSETS
        return lib.nn.functional.embedding_bag(lib.tensor(INDICES), weight, lib.tensor(offsets),
                                               include_last_offset=include_last_offset, **kwargs)

    return fn


BAG_CASES = {f"{mode}{'_pad' if pad is not None else ''}{'_last' if last else ''}":
             (_bag(mode, pad, last), [(7, 3)])
             for mode in ("sum", "mean", "max") for pad in (None, 4, -1) for last in (False, True)}
BAG_CASES.update({
    "sum_2d": (_bag("sum", two_d=True), [(7, 3)]),
    "mean_2d_pad": (_bag("mean", padding_idx=2, two_d=True), [(7, 3)]),
    "max_2d_pad": (_bag("max", padding_idx=4, two_d=True), [(7, 3)]),
    "per_sample_weights": (_bag("sum", weighted=True), [(7, 3), (10,)]),
    "per_sample_weights_pad_last": (_bag("sum", padding_idx=2, include_last_offset=True, weighted=True),
                                    [(7, 3), (10,)]),
    "per_sample_weights_2d": (_bag("sum", two_d=True, weighted=True), [(7, 3), (3, 3)]),
    # a last offset short of the input's length: PyTorch's last bag still runs to the end of the input
    "last_offset_short_of_the_end": (lambda lib, w: lib.nn.functional.embedding_bag(
        lib.tensor(INDICES), w, lib.tensor([0, 2, 2, 5, 7]), mode="mean", include_last_offset=True), [(7, 3)]),
    "module_with_offsets": (lambda lib, w: lib.nn.EmbeddingBag.from_pretrained(w, freeze=False, mode="max")(
        lib.tensor(INDICES), lib.tensor(OFFSETS)), [(7, 3)]),
    "int32_indices_and_offsets": (lambda lib, w: lib.nn.functional.embedding_bag(
        lib.tensor(INDICES, dtype=lib.int32), w, lib.tensor(OFFSETS, dtype=lib.int32), mode="sum"), [(7, 3)]),
})


@pytest.mark.parametrize("name", sorted(BAG_CASES))
def test_embedding_bag_and_its_gradients_match_torch(name):
    fn, shapes = BAG_CASES[name]
    assert_forward_and_gradients_match_torch(fn, _arrays(name, *shapes))


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scales_gradients_by_index_frequency(mode):
    # PyTorch's CPU kernel pairs frequencies with the wrong rows in this case (its CUDA kernel does not), so the
    # reference is the documented rule: each row's gradient divided by how often its index occurs in the input
    weight = _arrays("freq", (7, 3))[0]
    ours = trainer.tensor(weight, requires_grad=True)
    trainer.nn.functional.embedding_bag(trainer.tensor(INDICES), ours, trainer.tensor(OFFSETS), mode=mode,
                                        scale_grad_by_freq=True).sum().backward()
    theirs = torch.tensor(weight, requires_grad=True)
    rows = torch.nn.functional.embedding(torch.tensor(INDICES), theirs, scale_grad_by_freq=True)
    bags = [rows[a:b] for a, b in zip(OFFSETS, OFFSETS[1:] + [len(INDICES)])]
    sum((bag.sum(0) if mode == "sum" else bag.mean(0)).sum() for bag in bags if len(bag)).backward()
    _assert_same(ours.grad, theirs.grad, "weight grad")


def test_embedding_bag_max_norm_renormalises_the_looked_up_rows_like_torch():
    weight = _arrays("max_norm", (7, 3))[0] * 3
    ours, theirs = trainer.tensor(weight), torch.tensor(weight)
    out = trainer.nn.functional.embedding_bag(trainer.tensor(INDICES[:5]), ours, trainer.tensor([0, 2]), max_norm=1.0)
    expected = torch.nn.functional.embedding_bag(torch.tensor(INDICES[:5]), theirs, torch.tensor([0, 2]),
                                                 max_norm=1.0)
    _assert_same(out, expected, "output")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)


def test_embedding_bag_module_matches_torch_with_its_weights():
    torch.manual_seed(0)
    theirs = torch.nn.EmbeddingBag(7, 3, mode="sum", padding_idx=2).double()
    ours = trainer.nn.EmbeddingBag(7, 3, mode="sum", padding_idx=2).double()
    assert ours.weight[2].tolist() == [0.0, 0.0, 0.0]
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x, w = [[1, 2, 3], [2, 2, 6]], [[0.5, 1.0, 2.0], [1.0, -1.0, 3.0]]
    out = ours(trainer.tensor(x), per_sample_weights=trainer.tensor(w, dtype=trainer.float64))
    expected = theirs(torch.tensor(x), per_sample_weights=torch.tensor(w, dtype=torch.float64))
    _assert_same(out, expected, "output")
    frozen = trainer.nn.EmbeddingBag.from_pretrained(trainer.ones(4, 2), padding_idx=1, include_last_offset=True)
    assert not frozen.weight.requires_grad and frozen.include_last_offset and frozen.mode == "mean"


REPRS = ["EmbeddingBag(10, 3)", "EmbeddingBag(10, 3, mode='max', padding_idx=2, max_norm=1.0)",
         "EmbeddingBag(10, 3, mode='sum', norm_type=1.0, scale_grad_by_freq=True, padding_idx=-2)",
         "CTCLoss(blank=3, zero_infinity=True)", "MultiMarginLoss(p=2, margin=0.5)",
         "MultiLabelMarginLoss(reduction='sum')", "TripletMarginWithDistanceLoss(margin=2.0)",
         "AdaptiveLogSoftmaxWithLoss(16, 20, [4, 12], div_value=2.0, head_bias=True)"]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_and_state_dict_keys_match_torch(expr):
    assert_repr_and_state_dict_keys_match_torch(expr)


def test_class_weights_are_a_buffer_of_multi_margin_loss():
    ours = trainer.nn.MultiMarginLoss(weight=trainer.ones(3))
    theirs = torch.nn.MultiMarginLoss(weight=torch.ones(3))
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]


def test_triplet_with_a_distance_module_holds_it_as_a_submodule():
    ours = trainer.nn.TripletMarginWithDistanceLoss(distance_function=trainer.nn.PairwiseDistance(p=1))
    theirs = torch.nn.TripletMarginWithDistanceLoss(distance_function=torch.nn.PairwiseDistance(p=1))
    assert repr(ours) == repr(theirs) and list(dict(ours.named_children())) == ["distance_function"]


def test_triplet_with_a_plain_distance_function_has_no_submodule():
    loss = trainer.nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: (a - b).abs().sum(-1))
    assert repr(loss) == "TripletMarginWithDistanceLoss()" and not list(loss.children())


def _bag_error_cases():
    x, o = [1, 2, 4, 5, 4, 3, 2, 0], [0, 2, 2, 5]
    F = "nn.functional.embedding_bag"  # noqa: N806
    return [
        (f"{F}(lib.tensor({x}), w, lib.tensor([1, 2, 2, 5]), mode='sum')", RuntimeError, "offsets\\[0\\] has to be 0"),
        (f"{F}(lib.tensor({x}), w, lib.tensor([0, 2, 2, 9]), mode='sum')", RuntimeError,
         "can not be greater than input's length 8"),
        (f"{F}(lib.tensor({x}), w, lib.tensor({o}), mode='mean', per_sample_weights=lib.ones(8))",
         NotImplementedError, "only supported for mode='sum'"),
        (f"{F}(lib.tensor({x}), w, lib.tensor({o}), mode='sum', per_sample_weights=lib.ones(7))", ValueError,
         "must have the same shape as the input"),
        (f"{F}(lib.tensor({x}), w, lib.tensor({o}), mode='sum', per_sample_weights=lib.ones(8, dtype=lib.float64))",
         RuntimeError, "to have the same type as tensor for argument #1 'per_sample_weights'"),
        (f"{F}(lib.tensor({x}), w, lib.tensor({o}), mode='bad')", ValueError, "mode has to be one of sum, mean or max"),
        (f"{F}(lib.tensor({x}), w, mode='sum')", ValueError, "offsets has to be a 1D Tensor but got None"),
        (f"{F}(lib.tensor({x}).reshape(2, 4), w, lib.tensor({o}))", ValueError, "if input is 2D, then offsets"),
        (f"{F}(lib.tensor({x}).reshape(2, 2, 2), w)", ValueError, "input has to be 1D or 2D Tensor"),
        (f"{F}(lib.tensor({x}) + 3, w, lib.tensor({o}))", RuntimeError,
         r"Index 2 of input takes value 7 which is not in the valid range \[0, 6\)"),
        (f"{F}(lib.tensor({x}), w, lib.tensor({o}), padding_idx=6)", RuntimeError,
         "padding_idx must be within the number of embeddings, -6 through 5, but got 6"),
        (f"{F}(lib.tensor({x}).float(), w, lib.tensor({o}))", RuntimeError,
         "'indices' to have one of the following scalar types: Long, Int"),
        (f"{F}(lib.tensor({x}), w[0], lib.tensor({o}))", ValueError, "weight has to be a 2D Tensor"),
        (f"{F}(lib.tensor({x}), w, lib.tensor({o}).reshape(2, 2))", ValueError, "offsets has to be a 1D Tensor"),
        (f"{F}(lib.tensor({x}), w, lib.tensor({o}), mode='max', scale_grad_by_freq=True)", ValueError,
         "max mode does not support scaling the gradient by the frequency"),
        ("nn.EmbeddingBag(6, 2, padding_idx=6)", AssertionError, "padding_idx must be within num_embeddings"),
        ("nn.EmbeddingBag.from_pretrained(w[0])", AssertionError, "expected to be 2-dimensional"),
        ("nn.EmbeddingBag(6, 2, _weight=lib.zeros(3, 2))", AssertionError, "Shape of weight does not match"),
    ]


@pytest.mark.parametrize("case", range(len(_bag_error_cases())))
def test_embedding_bag_bad_arguments_raise_like_torch(case):
    expr, error, message = _bag_error_cases()[case]
    for lib in (torch, trainer):
        w = lib.zeros(6, 2)  # noqa: F841 - read by expr
        with pytest.raises(error, match=message):
            eval(f"lib.{expr}")


def test_embedding_bag_offsets_must_not_decrease():
    with pytest.raises(RuntimeError, match="offsets must be non-decreasing"):
        trainer.nn.functional.embedding_bag(trainer.tensor([1, 2, 3]), trainer.zeros(4, 2), trainer.tensor([0, 2, 1]))


def test_embedding_bag_with_no_bags_gives_an_empty_result():
    for offsets, last in (([], False), ([0], True)):
        out = trainer.nn.functional.embedding_bag(trainer.tensor([1, 2]), trainer.ones(4, 2),
                                                  trainer.tensor(offsets, dtype=trainer.int64),
                                                  include_last_offset=last)
        assert out.shape == (0, 2)
