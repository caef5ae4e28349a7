"""PyTorch-exported models (the runtime benchmark's set) give PyTorch's outputs on serving and on ONNX Runtime."""

import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

import serving

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import onnx_models  # noqa: E402

# a batch size the benchmark does not use, to show the exported batch axis really is dynamic
OTHER_BATCH = 3
CASES = [*onnx_models.BATCHES, *((model, OTHER_BATCH) for model in onnx_models.MODELS)]
RUNTIMES = {
    "serving": serving.InferenceSession,
    # ONNX Runtime checks the export itself, so that a serving failure is not blamed on PyTorch's exporter
    "onnxruntime": lambda model: onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("model", "batch"), CASES, ids=[f"{model}-b{batch}" for model, batch in CASES])
def test_runtime_gives_pytorchs_output(runtime, model, batch):
    entry = onnx_models.entry(model, batch)
    (output,) = RUNTIMES[runtime](entry.onnx).run(None, entry.feeds)
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, entry.expected, rtol=1e-4, atol=1e-4)
