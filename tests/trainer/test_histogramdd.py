"""``trainer.histogramdd`` against ``torch.histogramdd``: counts, weights, densities, ranges and explicit edges;
PyTorch's argument errors; and ``histogram`` / ``histc``, which existed before, still at the top level."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

RNG = np.random.default_rng(3)
POINTS = RNG.random((40, 3))
WEIGHT = RNG.random(40)


def _edges(lib, *columns):
    return [lib.tensor(np.asarray(c)) for c in columns]


CASES = {
    "one_count": lambda lib, x: lib.histogramdd(x, bins=4),
    "counts": lambda lib, x: lib.histogramdd(x, bins=[2, 3, 5]),
    "range": lambda lib, x: lib.histogramdd(x, bins=(3, 2, 2), range=[0.0, 0.5, 0.2, 1.0, -1.0, 2.0]),
    "weight": lambda lib, x: lib.histogramdd(x, bins=[3, 3, 2], weight=lib.tensor(WEIGHT)),
    "density": lambda lib, x: lib.histogramdd(x, bins=[3, 4, 2], density=True),
    "weighted_density": lambda lib, x: lib.histogramdd(x, bins=3, weight=lib.tensor(WEIGHT), density=True),
    "edges": lambda lib, x: lib.histogramdd(x, bins=_edges(lib, [0.0, 0.3, 1.0], [0.1, 0.5, 0.6, 0.9],
                                                          [0.2, 0.8])),
    "edges_density": lambda lib, x: lib.histogramdd(x, bins=_edges(lib, [0.0, 0.3, 1.0], [0.1, 0.5, 0.9],
                                                                  [0.0, 0.4, 0.8]), density=True),
    "batched_rows": lambda lib, x: lib.histogramdd(x.reshape(4, 10, 3), bins=[2, 2, 3]),
    "constant_column": lambda lib, x: lib.histogramdd(x * lib.tensor([1.0, 0.0, 1.0]), bins=2),
    "zero_dims": lambda lib, x: lib.histogramdd(x[:, :0], bins=[]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_histogramdd_matches_torch(name):
    theirs = CASES[name](torch, torch.tensor(POINTS))
    ours = CASES[name](trainer, trainer.tensor(POINTS))
    np.testing.assert_allclose(ours.hist.numpy(), theirs.hist.numpy(), rtol=1e-12)
    assert ours.hist.dtype == trainer.float64
    assert len(ours.bin_edges) == len(theirs.bin_edges)
    for o, t in zip(ours.bin_edges, theirs.bin_edges):
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_points_on_edges_land_like_torch():
    points = [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0], [0.25, 1.0], [1.0, 0.25], [1.5, 0.5]]
    theirs = torch.histogramdd(torch.tensor(points, dtype=torch.float32), bins=[2, 4], range=[0.0, 1.0, 0.0, 1.0])
    ours = trainer.histogramdd(trainer.tensor(points), bins=[2, 4], range=[0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ours.hist.numpy(), theirs.hist.numpy())
    assert ours.hist.dtype == trainer.float32


def test_outputs_require_grad_but_have_no_derivative_like_torch():
    ours = trainer.histogramdd(trainer.tensor(POINTS, requires_grad=True), bins=2)
    assert ours.hist.requires_grad and ours.bin_edges[0].requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::histogramdd is not implemented"):
        ours.hist.sum().backward()


def test_histogram_and_histc_are_at_the_top_level():
    x = RNG.standard_normal(30)
    np.testing.assert_allclose(trainer.histc(trainer.tensor(x), bins=5).numpy(),
                               torch.histc(torch.tensor(x), bins=5).numpy())
    np.testing.assert_allclose(trainer.histogram(trainer.tensor(x), bins=5).hist.numpy(),
                               torch.histogram(torch.tensor(x), bins=5).hist.numpy())


@pytest.mark.parametrize(("call", "message"), [
    (lambda lib: lib.histogramdd(lib.rand(10, 2), bins=[3]), "size of bins must be equal to the innermost dimension"),
    (lambda lib: lib.histogramdd(lib.rand(10, 2), bins=[3, 4], range=[0.0, 1.0]),
     "2-dimensional histogram range should have 4 elements, but got 2"),
    (lambda lib: lib.histogramdd(lib.rand(10, 2), bins=[3, 0]), "bins must be > 0, but got 0 for dimension 1"),
    (lambda lib: lib.histogramdd(lib.rand(10, 2), bins=[3, 3], weight=lib.ones(9)),
     "same shape as the input tensor excluding its innermost dimension"),
    (lambda lib: lib.histogramdd(lib.rand(10, 2), bins=[3, 3], weight=lib.ones(10, dtype=lib.float64)),
     "input tensor and weight tensor should have the same dtype"),
    (lambda lib: lib.histogramdd(lib.rand(5), bins=3), "input tensor should have at least 2 dimensions"),
    (lambda lib: lib.histogramdd(lib.rand(10, 2), bins=[3, 3], range=[0.0, 1.0, 1.0, 0.0]),
     "min should not exceed max, but got min 1 max 0 for dimension 1"),
    (lambda lib: lib.histogramdd(lib.rand(10, 2), bins=[3, 3], range=[0.0, float("inf"), 0.0, 1.0]),
     "dimension 0's range \\[0, inf\\] is not finite"),
    (lambda lib: lib.histogramdd(lib.rand(4, 2), bins=[lib.tensor([0.0, 1.0]), lib.tensor([0.0, 1.0],
                                                                                       dtype=lib.float64)]),
     "bins for dimension 1 with dtype"),
    (lambda lib: lib.histogramdd(lib.rand(4, 2), bins=[lib.tensor([0.0, 1.0]), lib.ones(2, 2)]),
     "one dimension, but got 2 dimensions in the bins tensor for dimension 1"),
])
def test_bad_arguments_raise_runtime_error_like_torch(call, message):
    assert_raises_like_torch(call, RuntimeError, message)


def test_integer_input_and_mixed_bins_raise_like_torch():
    assert_raises_like_torch(lambda lib: lib.histogramdd(lib.arange(6).reshape(3, 2), bins=2), NotImplementedError,
                             "\"histogramdd\" not implemented for 'int64'")
    assert_raises_like_torch(lambda lib: lib.histogramdd(lib.rand(4, 2), bins=[lib.tensor([0.0, 1.0]), 3]),
                             TypeError, "expected Tensor as element 1")
