"""Convolution kernels: the depthwise, strided and chunked-GEMM fast paths against the generic im2col path, integer
exactness of ``convolve`` (the quantized convolutions rely on it), and ConvTranspose/Conv against ONNX Runtime
beyond the conformance cases."""

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from serving.kernels import conv
from serving.kernels.registry import KernelContext
from serving.runtime.buffers import BufferPool

RNG = np.random.default_rng(0)


def ctx(opset=22, n_outputs=1):
    return KernelContext(np, opset, n_outputs, (True,) * n_outputs, None)


def ort_run(op, inputs, attrs, opset=22):
    names = [f"i{k}" for k in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in zip(names, inputs)
        ],
        [helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(inputs[0].dtype), None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, inputs)))[0]


def generic(x, w, strides, pads, dilations, group):
    padded = conv.pad_spatial(np, x, pads)
    nd = x.ndim - 2
    out = [conv.output_size(padded.shape[2 + i], w.shape[2 + i], strides[i], dilations[i]) for i in range(nd)]
    return conv._im2col(np, padded, w, out, strides, dilations, group)


@pytest.mark.parametrize(
    "shape, kernel, strides, pads, dilations, mult",
    [
        ((2, 6, 11, 9), (3, 3), [1, 1], [1, 1, 1, 1], [1, 1], 1),
        ((2, 6, 11, 9), (3, 3), [2, 2], [1, 0, 2, 1], [1, 1], 2),
        ((1, 4, 13, 12), (5, 3), [3, 2], [2, 1, 2, 1], [2, 1], 1),
        ((3, 5, 17), (4,), [2], [3, 0], [2], 3),
        ((1, 3, 6, 7, 5), (3, 2, 3), [2, 1, 2], [1, 0, 1, 1, 1, 0], [1, 2, 1], 1),
    ],
)
def test_depthwise_matches_the_grouped_im2col_path(shape, kernel, strides, pads, dilations, mult):
    x = RNG.standard_normal(shape, dtype=np.float32)
    channels = shape[1]
    w = RNG.standard_normal((channels * mult, 1, *kernel), dtype=np.float32)
    fast = conv.convolve(np, x, w, strides=strides, pads=pads, dilations=dilations, group=channels)
    slow = generic(x, w, strides, pads, dilations, channels)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)


def test_depthwise_processes_a_large_batch_in_cache_sized_chunks():
    x = RNG.standard_normal((5, 64, 70, 70), dtype=np.float32)  # > 1 MiB per image: one image per chunk
    w = RNG.standard_normal((64, 1, 3, 3), dtype=np.float32)
    fast = conv.convolve(np, x, w, strides=[1, 1], pads=[1] * 4, dilations=[1, 1], group=64)
    np.testing.assert_allclose(fast, generic(x, w, [1, 1], [1] * 4, [1, 1], 64), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("strides, dilations", [([1, 1], [1, 1]), ([2, 3], [1, 1]), ([2, 2], [3, 2]), ([3, 1], [2, 1])])
def test_window_taps_read_what_a_strided_slice_of_the_padded_input_reads(strides, dilations):
    x = RNG.standard_normal((2, 3, 10, 11), dtype=np.float32)
    pads, kernel = [2, 1, 1, 3], (3, 2)
    padded = conv.pad_spatial(np, x, pads, value=-7.0)
    out = [conv.output_size(padded.shape[2 + i], kernel[i], strides[i], dilations[i]) for i in range(2)]
    taps = conv.WindowTaps(np, x, kernel, out, strides=strides, dilations=dilations, pads=pads, value=-7.0)
    for index, (i, j) in enumerate(np.ndindex(*kernel)):
        expected = padded[
            :,
            :,
            i * dilations[0] : i * dilations[0] + (out[0] - 1) * strides[0] + 1 : strides[0],
            j * dilations[1] : j * dilations[1] + (out[1] - 1) * strides[1] + 1 : strides[1],
        ]
        acc = np.zeros((2, 3, taps.size), dtype=np.float32)
        acc[..., : taps.span] = taps.view(index)
        np.testing.assert_array_equal(taps.collect(acc), expected)


@pytest.mark.parametrize(
    "shape, kernel, strides, pads, dilations",
    [
        ((3, 4, 11, 9), (3, 3), [1, 1], [0, 0, 0, 0], [1, 1]),
        ((3, 4, 11, 9), (3, 3), [1, 1], [1, 2, 0, 1], [2, 1]),
        ((3, 4, 12, 13), (3, 3), [2, 2], [1, 1, 1, 1], [1, 1]),
        ((2, 5, 17), (4,), [2], [3, 0], [2]),
        ((2, 3, 6, 7, 5), (3, 2, 3), [2, 1, 2], [1, 0, 1, 1, 1, 0], [1, 2, 1]),
        ((3, 6, 8, 8), (1, 1), [2, 2], [0, 0, 0, 0], [1, 1]),
        ((5, 1, 10, 10), (2, 2), [1, 1], [1, 0, 0, 1], [1, 1]),  # fewer columns than outputs: GEMMs per image
        ((2, 4, 6, 40), (3, 3), [1, 1], [0, 0, 0, 0], [1, 1]),  # wide maps: tap runs
        ((3, 3, 9, 50), (3, 3), [1, 1], [1, 1, 1, 1], [2, 1]),
        ((2, 3, 70), (3,), [1], [1, 1], [1]),
    ],
)
@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 22])
def test_chunked_gemm_matches_the_generic_path(monkeypatch, shape, kernel, strides, pads, dilations, chunk_bytes):
    # 1 byte: one image per chunk, written straight into the output; 3000: chunks of a few images and a
    # shorter last one; 4 MiB: the whole batch in one GEMM.
    monkeypatch.setattr(conv, "_CHUNK_BYTES", chunk_bytes)
    x = RNG.standard_normal(shape, dtype=np.float32)
    w = RNG.standard_normal((7, shape[1], *kernel), dtype=np.float32)
    b = RNG.standard_normal(7, dtype=np.float32)
    fast = conv.convolve(np, x, w, strides=strides, pads=pads, dilations=dilations, bias=b)
    slow = generic(x, w, strides, pads, dilations, 1) + b.reshape(7, *([1] * len(kernel)))
    assert fast.dtype == np.float32 and fast.flags.c_contiguous
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)


def test_tap_runs_only_where_their_gap_columns_are_few():
    x = np.zeros((1, 4, 6, 40), np.float32)
    assert conv._tap_runs(x, (3, 3), (4, 38), [1, 1], [0, 0, 0, 0], np.empty) is not None
    assert conv._tap_runs(x[..., :8], (3, 3), (4, 6), [1, 1], [0, 0, 0, 0], np.empty) is None


def test_tap_run_gap_columns_never_carry_stale_infinities():
    """Pool buffers hold whatever an earlier run left; the gap columns the GEMM reads are zeroed first, so a
    stale inf there neither reaches the output nor raises a floating-point warning."""
    pool = BufferPool()
    pooled = KernelContext(np, 22, 1, (True,), None, pool)
    x = RNG.standard_normal((5, 4, 7, 40)).astype(np.float32)  # wide rows: the tap-run path, 5 images a GEMM
    w = RNG.standard_normal((6, 4, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(6).astype(np.float32)
    args = dict(strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1], bias=b, ctx=pooled)
    first = conv.convolve(np, x, w, **args).copy()
    for stack in pool._free.values():
        for array in stack:
            array.fill(np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = conv.convolve(np, x, w, **args)
    np.testing.assert_array_equal(again, first)
    np.testing.assert_allclose(first, generic(x, w, [1, 1], [0] * 4, [1, 1], 1) + b[:, None, None], rtol=1e-4,
                               atol=1e-4)


def test_convolve_is_exact_on_int32():
    x = RNG.integers(-128, 128, (2, 4, 9, 8)).astype(np.int32)
    w = RNG.integers(-128, 128, (6, 2, 3, 3)).astype(np.int32)
    y = conv.convolve(np, x, w, strides=[2, 1], pads=[1, 1, 1, 1], dilations=[1, 2], group=2)
    assert y.dtype == np.int32
    expected = generic(x.astype(np.float64), w.astype(np.float64), [2, 1], [1, 1, 1, 1], [1, 2], 2)
    np.testing.assert_array_equal(y, expected.astype(np.int64))


@pytest.mark.parametrize(
    "attrs",
    [
        {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
        {"auto_pad": "SAME_UPPER", "strides": [3, 2]},
        {"pads": [2, 0, 1, 1], "strides": [1, 2], "dilations": [2, 3]},
        {"pads": [0, 2, 1, 0], "group": 2},
        {"auto_pad": "VALID", "strides": [1, 2]},
    ],
)
def test_conv_matches_onnxruntime(attrs):
    x = RNG.standard_normal((2, 4, 9, 10), dtype=np.float32)
    w = RNG.standard_normal((6, 4 // attrs.get("group", 1), 3, 3), dtype=np.float32)
    b = RNG.standard_normal(6, dtype=np.float32)
    np.testing.assert_allclose(conv.Conv(ctx(), x, w, b, **attrs), ort_run("Conv", [x, w, b], attrs), atol=1e-4)


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2], "pads": [1, 0, 1, 2], "output_padding": [1, 0]},
        {"strides": [2, 3], "dilations": [2, 1], "group": 2},
        {"strides": [2, 2], "output_shape": [10, 11], "auto_pad": "SAME_UPPER"},
        {"strides": [3, 2], "auto_pad": "SAME_LOWER"},
    ],
)
def test_conv_transpose_matches_onnxruntime(attrs):
    x = RNG.standard_normal((2, 4, 5, 6), dtype=np.float32)
    w = RNG.standard_normal((4, 3, 3, 4), dtype=np.float32)
    b = RNG.standard_normal(3 * attrs.get("group", 1), dtype=np.float32)
    ours = conv.ConvTranspose(ctx(), x, w, b, **attrs)
    np.testing.assert_allclose(ours, ort_run("ConvTranspose", [x, w, b], attrs), atol=1e-4)


def test_deform_conv_with_zero_offsets_and_unit_mask_is_conv():
    x = RNG.standard_normal((2, 4, 7, 8), dtype=np.float32)
    w = RNG.standard_normal((6, 2, 3, 3), dtype=np.float32)
    offset = np.zeros((2, 2 * 9 * 2, 3, 4), dtype=np.float32)
    mask = np.ones((2, 2 * 9, 3, 4), dtype=np.float32)
    attrs = {"strides": [2, 2], "pads": [1, 1, 0, 1], "group": 2}
    deformed = conv.DeformConv(ctx(), x, w, offset, None, mask, offset_group=2, **attrs)
    np.testing.assert_allclose(deformed, conv.Conv(ctx(), x, w, **attrs), rtol=1e-5, atol=1e-5)


def test_causal_conv_state_carries_across_decode_steps():
    x = RNG.standard_normal((2, 3, 7), dtype=np.float32)
    w = RNG.standard_normal((3, 1, 4), dtype=np.float32)
    b = RNG.standard_normal(3, dtype=np.float32)
    whole, state = conv.CausalConvWithState(ctx(27, 2), x, w, b, activation="silu")
    steps, carried = [], None
    for t in range(7):
        y, carried = conv.CausalConvWithState(ctx(27, 2), x[:, :, t : t + 1], w, b, carried, activation="silu")
        steps.append(y)
    np.testing.assert_allclose(np.concatenate(steps, axis=2), whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(carried, state)


def test_half_precision_conv_accumulates_in_float32():
    x = RNG.standard_normal((1, 64, 6, 6)).astype(np.float16)
    w = RNG.standard_normal((8, 64, 3, 3)).astype(np.float16)
    y = conv.Conv(ctx(), x, w)
    assert y.dtype == np.float16
    exact = conv.Conv(ctx(), x.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(y.astype(np.float64), exact, rtol=2e-3, atol=2e-2)


def test_conv_rejects_a_weight_that_does_not_fit_the_groups():
    with pytest.raises(ValueError, match="group=3"):
        conv.Conv(ctx(), np.zeros((1, 4, 5, 5), np.float32), np.zeros((6, 2, 3, 3), np.float32), group=3)


def test_weights_used_from_an_initializer_run_through_a_session():
    from serving import InferenceSession

    x = RNG.standard_normal((2, 8, 9, 9), dtype=np.float32)
    w = RNG.standard_normal((8, 1, 3, 3), dtype=np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=8, pads=[1, 1, 1, 1], strides=[2, 2])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(
        got, ort_run("Conv", [x, w], {"group": 8, "pads": [1] * 4, "strides": [2, 2]}), atol=1e-4
    )


def _on_device(fn, args, attrs, n_outputs=1, opset=22):
    """``fn`` on CuPy and on NumPy: the pair of results, both on the host."""
    import cupy

    host = fn(ctx(opset, n_outputs), *args, **attrs)
    device_ctx = KernelContext(cupy, opset, n_outputs, (True,) * n_outputs, None)
    device = fn(device_ctx, *[cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args], **attrs)
    pair = (host, device) if isinstance(host, tuple) else ((host,), (device,))
    return [(h, cupy.asnumpy(d)) for h, d in zip(*pair)]


DEVICE_CASES = {
    "conv": (
        conv.Conv,
        [RNG.standard_normal((2, 4, 9, 9), dtype=np.float32), RNG.standard_normal((6, 2, 3, 3), dtype=np.float32)],
        {"group": 2, "strides": [2, 1], "pads": [1, 1, 1, 1]},
    ),
    "conv_bias": (
        conv.Conv,
        [
            RNG.standard_normal((3, 4, 9, 9), dtype=np.float32),
            RNG.standard_normal((5, 4, 3, 3), dtype=np.float32),
            RNG.standard_normal(5, dtype=np.float32),
        ],
        {"strides": [1, 1], "pads": [1, 1, 1, 1]},
    ),
    "depthwise": (
        conv.Conv,
        [RNG.standard_normal((2, 4, 9, 9), dtype=np.float32), RNG.standard_normal((8, 1, 3, 3), dtype=np.float32)],
        {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]},
    ),
    "conv_transpose": (
        conv.ConvTranspose,
        [RNG.standard_normal((2, 4, 5, 5), dtype=np.float32), RNG.standard_normal((4, 3, 3, 3), dtype=np.float32)],
        {"strides": [2, 2], "output_padding": [1, 1]},
    ),
    "deform_conv": (
        conv.DeformConv,
        [
            RNG.standard_normal((1, 2, 6, 6), dtype=np.float32),
            RNG.standard_normal((3, 2, 3, 3), dtype=np.float32),
            RNG.standard_normal((1, 18, 4, 4), dtype=np.float32),
        ],
        {},
    ),
}


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(DEVICE_CASES))
def test_cupy_matches_numpy(name):
    fn, args, attrs = DEVICE_CASES[name]
    for host, device in _on_device(fn, args, attrs, opset=22):
        np.testing.assert_allclose(device, host, rtol=1e-4, atol=1e-4)
