"""Fixtures for the exporter's tests: the runtimes to compare against and a round-trip check.

``roundtrip(model, example, ...)`` exports in eval mode, runs onnx's full check, checks the graph is clean
(no unused initializers, no training-only nodes), then runs the file in the parametrised runtime on the
example and on each variant (other batch sizes, other sequence lengths) against the trainer's output.
"""

from __future__ import annotations

import onnx
import pytest

import trainer
from exporter import export
from exporter.verify import expected_outputs, max_abs_diff, run_exported

ATOL = 1e-4
TRAINING_ONLY = {"Dropout"}


@pytest.fixture(params=["onnxruntime", "serving"])
def runtime(request) -> str:
    return request.param


def assert_clean(model: onnx.ModelProto) -> None:
    used = {name for node in model.graph.node for name in node.input} | {o.name for o in model.graph.output}
    unused = [i.name for i in model.graph.initializer if i.name not in used]
    assert not unused, f"unused initializers: {unused}"
    training = [n.name for n in model.graph.node if n.op_type in TRAINING_ONLY
                or any(a.name == "training_mode" and a.i for a in n.attribute)]
    assert not training, f"training-only nodes: {training}"


def like(example, sizes: dict[int, int]):
    """A fresh random input shaped as ``example`` except for the ``{axis: size}`` given."""
    shape = [sizes.get(axis, n) for axis, n in enumerate(example.shape)]
    if example.dtype.is_floating_point:
        return trainer.randn(*shape, dtype=example.dtype)
    return trainer.randint(0, int(example.max()) + 1, tuple(shape), dtype=example.dtype)


@pytest.fixture
def roundtrip(tmp_path):
    def check(model, example, runtime, *, dynamic=None, variants=(), opset=None, **kwargs):
        """Export ``model`` on ``example`` (dims in ``dynamic`` are dynamic) and compare on it and each
        ``{axis: size}`` in ``variants``; returns the ONNX model and the max difference per run."""
        model.eval()
        path = tmp_path / "model.onnx"
        dynamic_axes = {"input": {axis: f"dim{axis}" for axis in dynamic}} if dynamic else None
        proto = export(model, example, path, dynamic_axes=dynamic_axes, opset_version=opset, **kwargs)
        onnx.checker.check_model(proto, full_check=True)
        assert_clean(proto)
        diffs = []
        for inputs in [example, *(like(example, sizes) for sizes in variants)]:
            expected = expected_outputs(model, inputs)
            got = run_exported(runtime, path, {"input": inputs.numpy()})
            assert len(got) == len(expected)
            for e, g in zip(expected, got):
                assert g.shape == e.shape, f"{runtime} gave shape {g.shape} for input {list(inputs.shape)}"
                diffs.append(max_abs_diff(e, g))
        assert max(diffs) <= ATOL, f"{runtime}: max abs differences {diffs}"
        return proto, diffs

    return check
