"""Fixes found by porting Hugging Face transformers' model code (tests/trainer/examples/test_hf_models.py), each
compared with PyTorch."""

import numpy as np
import pytest

from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


@pytest.mark.parametrize("op", ["cat", "concat", "concatenate", "stack"])
@pytest.mark.parametrize("axis", [0, -1])
def test_join_takes_numpys_axis_for_dim(op, axis):
    """modeling_t5.py's decoder mask: ``torch.cat([prefix_ones, causal_mask], axis=-1)``."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))]
    assert_forward_and_gradients_match_torch(lambda lib, a, b: getattr(lib, op)([a, b], axis=axis), arrays)


def test_join_without_dim_still_joins_along_0():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((1, 3))]
    assert_forward_and_gradients_match_torch(lambda lib, a, b: lib.cat([a, b]), arrays)


@pytest.mark.parametrize("op", ["cat", "stack"])
def test_join_rejects_dim_and_axis_together(op):
    assert_raises_like_torch(lambda lib: getattr(lib, op)([lib.ones(2), lib.ones(2)], 0, axis=0), TypeError,
                             "unexpected keyword argument 'axis'")
