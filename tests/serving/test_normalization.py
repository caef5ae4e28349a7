"""Normalisation kernels beyond the conformance cases: BatchNormalization's training outputs at each
opset's convention, LayerNormalization's statistics outputs, GroupNormalization's opset-18 and opset-21
scale layouts, and Dropout's seeded training mask."""

import numpy as np
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

from serving.kernels import normalization as norm
from serving.kernels.registry import KernelContext

RNG = np.random.default_rng(2)


def ctx(opset, n_outputs=1):
    return KernelContext(np, opset, n_outputs, (True,) * n_outputs, None)


def reference(op, inputs, outputs, opset, **attrs):
    names = [f"i{k}" for k in range(len(inputs))]
    node = helper.make_node(op, names, outputs, **attrs)
    model = helper.make_model(
        helper.make_graph(
            [node],
            "g",
            [
                helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                for n, a in zip(names, inputs)
            ],
            [helper.make_tensor_value_info(o, 0, None) for o in outputs],
        ),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    return ReferenceEvaluator(model).run(None, dict(zip(names, inputs)))


def batch_norm_inputs():
    x = RNG.standard_normal((4, 3, 5, 5), dtype=np.float32)
    scale, bias, mean = (RNG.standard_normal(3, dtype=np.float32) for _ in range(3))
    var = RNG.uniform(0.5, 2.0, 3).astype(np.float32)
    return x, scale, bias, mean, var


def test_batch_norm_inference_folds_statistics_into_one_scale_and_shift():
    x, scale, bias, mean, var = batch_norm_inputs()
    expected = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-3) * scale.reshape(
        1, 3, 1, 1
    ) + bias.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(
        norm.BatchNormalization(ctx(15), x, scale, bias, mean, var, epsilon=1e-3), expected, atol=1e-5
    )


def test_batch_norm_training_mode_updates_the_running_statistics():
    inputs = batch_norm_inputs()
    ours = norm.BatchNormalization(ctx(15, 3), *inputs, training_mode=1, momentum=0.8)
    ref = reference("BatchNormalization", list(inputs), ["y", "m", "v"], 15, training_mode=1, momentum=0.8)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_norm_before_opset_7_trains_unless_is_test():
    inputs = batch_norm_inputs()
    y, *_ = norm.BatchNormalization(ctx(6, 5), *inputs)
    trained, *_ = norm.BatchNormalization(ctx(15, 3), *inputs, training_mode=1)
    np.testing.assert_allclose(y, trained, rtol=1e-6)
    inference = norm.BatchNormalization(ctx(6), *inputs, is_test=1)
    np.testing.assert_allclose(inference, norm.BatchNormalization(ctx(15), *inputs), rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_layer_norm_statistics_outputs_match_the_reference(axis):
    x = RNG.standard_normal((2, 3, 4, 5), dtype=np.float32)
    shape = x.shape[axis:]
    scale, bias = RNG.standard_normal(shape, dtype=np.float32), RNG.standard_normal(shape, dtype=np.float32)
    ours = norm.LayerNormalization(ctx(17, 3), x, scale, bias, axis=axis)
    ref = reference("LayerNormalization", [x, scale, bias], ["y", "mean", "inv"], 17, axis=axis)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_group_norm_scale_is_per_group_at_opset_18_and_per_channel_at_21():
    x = RNG.standard_normal((2, 6, 3, 3), dtype=np.float32)
    per_group = RNG.standard_normal(3, dtype=np.float32), RNG.standard_normal(3, dtype=np.float32)
    per_channel = [np.repeat(v, 2) for v in per_group]
    old = norm.GroupNormalization(ctx(18), x, *per_group, num_groups=3)
    new = norm.GroupNormalization(ctx(21), x, *per_channel, num_groups=3)
    np.testing.assert_allclose(old, new, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="opset 21 expects scale and bias of shape"):
        norm.GroupNormalization(ctx(21), x, *per_group, num_groups=3)


def test_dropout_training_draws_a_seeded_mask_and_rescales():
    x = RNG.standard_normal((4, 50), dtype=np.float32)
    y, mask = norm.Dropout_12(ctx(13, 2), x, np.array(0.3, np.float32), np.array(True), seed=7)
    expected_mask = np.random.RandomState(7).uniform(0.0, 1.0, x.shape) >= 0.3
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_allclose(y, x * expected_mask / 0.7, rtol=1e-6)


def test_dropout_at_inference_is_the_identity_with_an_all_true_mask():
    x = RNG.standard_normal((3, 4), dtype=np.float32)
    y, mask = norm.Dropout_12(ctx(13, 2), x, np.array(0.9, np.float32))
    np.testing.assert_array_equal(y, x)
    assert mask.dtype == bool and mask.all()


def test_half_precision_statistics_are_taken_in_float32():
    x = (RNG.standard_normal((2, 4, 64, 64)) * 30 + 500).astype(np.float16)
    y = norm.InstanceNormalization(ctx(22), x, np.ones(4, np.float16), np.zeros(4, np.float16))
    assert y.dtype == np.float16
    wide = x.astype(np.float64)
    expected = (wide - wide.mean(axis=(2, 3), keepdims=True)) / np.sqrt(wide.var(axis=(2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y.astype(np.float64), expected, atol=1e-2)


@pytest.mark.cuda
def test_cupy_matches_numpy():
    import cupy

    inputs = batch_norm_inputs()
    device_ctx = KernelContext(cupy, 15, 3, (True,) * 3, None)
    host = norm.BatchNormalization(ctx(15, 3), *inputs, training_mode=1)
    device = norm.BatchNormalization(device_ctx, *(cupy.asarray(a) for a in inputs), training_mode=1)
    for h, d in zip(host, device):
        np.testing.assert_allclose(cupy.asnumpy(d), h, rtol=1e-5, atol=1e-6)
    x = inputs[0]
    layer = norm.LayerNormalization(
        KernelContext(cupy, 17, 1, (True,), None), cupy.asarray(x), cupy.ones(5, np.float32)
    )
    np.testing.assert_allclose(
        cupy.asnumpy(layer), norm.LayerNormalization(ctx(17), x, np.ones(5, np.float32)), atol=1e-5
    )


class _GenericXp:
    """NumPy behind a different object: kernels take their generic (CuPy-style) path with it."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_layer_norm_numpy_rows_path_matches_the_generic_one(axis, dtype):
    x = (RNG.standard_normal((3, 4, 16)) * 3 + 1).astype(dtype)
    scale, bias = (RNG.standard_normal(x.shape[axis:]).astype(dtype) for _ in range(2))
    fast = norm.LayerNormalization(ctx(17, 3), x, scale, bias, axis=axis)
    generic = norm.LayerNormalization(KernelContext(_GenericXp(), 17, 3, (True,) * 3, None), x, scale, bias,
                                      axis=axis)
    for a, b in zip(fast, generic):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-3 if dtype == np.float16 else 1e-5, atol=1e-5)
