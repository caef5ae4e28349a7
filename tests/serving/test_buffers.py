"""The session's buffer pool: dead intermediates are reused across runs, and nothing a caller or a live value
still holds is ever handed out again."""

import threading

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import serving
from serving.runtime.buffers import MAX_PER_SHAPE, MIN_POOLED_BYTES, BufferPool

RNG = np.random.default_rng(0)
BIG = (64, 1024)  # float32: 256 KiB, above MIN_POOLED_BYTES


def test_a_given_array_is_handed_out_again_for_its_shape_and_dtype():
    pool = BufferPool()
    first = pool.empty(BIG, np.float32)
    pool.give(first)
    assert pool.empty(BIG, np.float32) is first
    pool.give(first)
    assert pool.empty(BIG, np.float64) is not first
    assert pool.empty((1024, 64), np.float32) is not first


def test_only_shapes_kernels_ask_for_are_kept_and_only_a_few_of_each():
    pool = BufferPool()
    pool.give(np.empty(BIG, np.float32))
    assert pool.held_bytes == 0
    arrays = [pool.empty(BIG, np.float32) for _ in range(MAX_PER_SHAPE + 2)]
    for array in arrays:
        pool.give(array)
    assert pool.held_bytes == MAX_PER_SHAPE * arrays[0].nbytes


def test_small_arrays_are_left_to_malloc():
    pool = BufferPool()
    small = pool.empty((4, 4), np.float32)
    assert small.nbytes < MIN_POOLED_BYTES
    pool.give(small)
    assert pool.held_bytes == 0


def test_past_its_limit_the_pool_forgets_its_shapes():
    array = np.empty(BIG, np.float32)
    pool = BufferPool(limit_bytes=array.nbytes)
    pool.give(pool.empty(BIG, np.float32))
    assert pool.held_bytes == array.nbytes
    pool.give(pool.empty((128, 1024), np.float32))
    assert pool.held_bytes == 0
    pool.give(np.empty(BIG, np.float32))  # no longer a known shape
    assert pool.held_bytes == 0


def test_values_someone_else_holds_are_not_kept():
    pool = BufferPool()
    pool.empty(BIG, np.float32)  # make the shape known
    env = {name: np.ones(BIG, np.float32) for name in ("held", "viewed", "dead")}
    env["none"] = None
    held = env["held"]
    view = env["viewed"][:, :10]
    pool.give_if_unused(env.pop("held"))
    pool.give_if_unused(env.pop("viewed"))
    pool.give_if_unused(view)  # a view owns no memory
    pool.give_if_unused(env.pop("none"))
    assert pool.held_bytes == 0
    pool.give_if_unused(env.pop("dead"))
    assert pool.held_bytes == held.nbytes
    assert held.sum() == held.size and view.sum() == view.size


def _conv_model():
    """Conv -> Relu -> Conv, with the first conv's output also a graph output; the same weights each call.
    Input and activations have one shape, so a feed or an output wrongly pooled would be overwritten."""
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    w2 = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["mid"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["mid"], ["act"]),
        helper.make_node("Conv", ["act", "w2"], ["y"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes, "convs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16, 24, 24])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("mid", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_repeated_runs_reuse_buffers_without_touching_earlier_results():
    model = _conv_model()
    session = serving.InferenceSession(model)
    peer = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    batches = [RNG.standard_normal((16, 16, 24, 24), dtype=np.float32) for _ in range(4)]
    kept = [(x, x.copy(), session.run(None, {"x": x})) for x in batches]
    assert session._graph.pool.held_bytes > 0  # the dead activation and the conv scratch came back
    for x, original, (y, mid) in kept:
        np.testing.assert_array_equal(x, original)  # feeds are never written or reused
        expected_y, expected_mid = peer.run(None, {"x": x})
        np.testing.assert_allclose(y, expected_y, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(mid, expected_mid, rtol=1e-4, atol=1e-4)


def test_concurrent_runs_share_the_pool_safely():
    session = serving.InferenceSession(_conv_model())
    batches = [RNG.standard_normal((8, 16, 24, 24), dtype=np.float32) for _ in range(4)]
    expected = [serving.InferenceSession(_conv_model()).run(None, {"x": x}) for x in batches]
    failures = []

    def worker(index):
        for _ in range(25):
            y, mid = session.run(None, {"x": batches[index]})
            if not (np.array_equal(y, expected[index][0]) and np.array_equal(mid, expected[index][1])):
                failures.append(index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
