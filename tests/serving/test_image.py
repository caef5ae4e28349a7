"""Image kernels against ONNX Runtime beyond the conformance cases: Resize over every mode, coordinate transform,
nearest rounding, antialias and odd scale factors (the separable tap path and the whole-factor broadcast path),
uint8 images, GridSample over modes x padding x align_corners, and Col2Im with strides, pads and dilations."""

import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper

from serving import InferenceSession

ort = pytest.importorskip("onnxruntime")


def _model(op, inputs, initializers, opset, out_rank, out_type=TensorProto.FLOAT, **attrs):
    node = helper.make_node(op, [name for name, _ in inputs] + [t.name if t is not None else "" for t in initializers],
                            ["y"], **attrs)
    graph = helper.make_graph(
        [node], op,
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for n, v in inputs],
        [helper.make_tensor_value_info("y", out_type, [None] * out_rank)],
        initializer=[t for t in initializers if t is not None],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=9).SerializeToString()


def _both(model, feeds):
    ours = InferenceSession(model).run(None, feeds)[0]
    theirs = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    return ours, theirs


def _resize(x, scales=None, sizes=None, opset=19, **attrs):
    inits = [None,
             helper.make_tensor("scales", TensorProto.FLOAT, [len(scales)], scales) if scales is not None else None,
             helper.make_tensor("sizes", TensorProto.INT64, [len(sizes)], sizes) if sizes is not None else None]
    while inits and inits[-1] is None:
        inits.pop()
    return _model("Resize", [("x", x)], inits, opset, x.ndim, helper.np_dtype_to_tensor_dtype(x.dtype), **attrs)


TRANSFORMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"]


@pytest.mark.parametrize("mode,transform", list(itertools.product(["nearest", "linear", "cubic"], TRANSFORMS)))
@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 0.6, 1.7], [1, 1, 3, 0.25]])
def test_resize_modes_and_transforms(mode, transform, scales):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 9)).astype(np.float32)
    if transform == "align_corners" and any(s * n != int(s * n) for s, n in zip(scales, x.shape)):
        # align_corners divides by the output length: the conformance cases take it unrounded (scale * n),
        # ONNX Runtime rounded down; we follow the conformance cases
        pytest.skip("ONNX Runtime and the ONNX conformance cases disagree on unrounded output lengths")
    ours, theirs = _both(_resize(x, scales, mode=mode, coordinate_transformation_mode=transform), {"x": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("sizes", [[1, 2, 14, 18], [1, 2, 5, 4], [1, 2, 8, 27]])
def test_resize_nearest_modes_with_sizes(nearest_mode, sizes):
    x = np.random.default_rng(1).standard_normal((1, 2, 7, 9)).astype(np.float32)
    ours, theirs = _both(_resize(x, sizes=sizes, mode="nearest", nearest_mode=nearest_mode,
                                 coordinate_transformation_mode="asymmetric"), {"x": x})
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 0.5, 0.3], [1, 1, 0.8, 2.0]])
def test_resize_antialias_and_exclude_outside(mode, scales):
    x = np.random.default_rng(2).standard_normal((1, 2, 12, 16)).astype(np.float32)
    ours, theirs = _both(_resize(x, scales, mode=mode, antialias=1, exclude_outside=int(mode == "cubic"),
                                 cubic_coeff_a=-0.5), {"x": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_resize_uint8_linear_rounds_and_saturates():
    x = np.random.default_rng(3).integers(0, 256, (1, 3, 6, 6), dtype=np.uint8)
    ours, theirs = _both(_resize(x, [1, 1, 1.5, 2.5], mode="linear"), {"x": x})
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_resize_whole_factor_nearest_matches_a_gather():
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 4)).astype(np.float32)
    ours, _ = _both(_resize(x, [1, 1, 2, 3], mode="nearest"), {"x": x})
    np.testing.assert_array_equal(ours, x.repeat(2, axis=2).repeat(3, axis=3))


@pytest.mark.parametrize("mode,padding,align", list(itertools.product(
    ["nearest", "linear", "cubic"], ["zeros", "border", "reflection"], [0, 1])))
def test_grid_sample(mode, padding, align):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    grid = (rng.random((2, 4, 7, 2)) * 3 - 1.5).astype(np.float32)  # reaches well outside [-1, 1]
    model = _model("GridSample", [("x", x), ("grid", grid)], [], 20, 4, mode=mode, padding_mode=padding,
                   align_corners=align)
    ours, theirs = _both(model, {"x": x, "grid": grid})
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strides,pads,dilations", [([1, 1], [0, 0, 0, 0], [1, 1]), ([2, 1], [1, 0, 2, 1], [1, 2]),
                                                     ([3, 2], [1, 1, 1, 1], [2, 1])])
def test_col2im(strides, pads, dilations):
    image, block = [9, 8], [2, 3]
    blocks = [(image[d] + pads[d] + pads[d + 2] - dilations[d] * (block[d] - 1) - 1) // strides[d] + 1
              for d in range(2)]
    x = np.random.default_rng(6).standard_normal((2, 4 * 6, blocks[0] * blocks[1])).astype(np.float32)
    inits = [helper.make_tensor("image_shape", TensorProto.INT64, [2], image),
             helper.make_tensor("block_shape", TensorProto.INT64, [2], block)]
    model = _model("Col2Im", [("x", x)], inits, 18, 4, strides=strides, pads=pads, dilations=dilations)
    ours, theirs = _both(model, {"x": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
