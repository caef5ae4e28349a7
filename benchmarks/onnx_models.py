"""The inference benchmark set: models built with PyTorch (benchmarks/models.py), exported to ONNX bytes.

Each entry is a model at one batch size with a fixed random input and PyTorch's output for it, so a runtime
can be both timed and checked on it. A model used at two batch sizes is exported once, with a dynamic batch axis.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import torch

import models

# name: (builder against ``lib``, input shape of one sample)
MODELS = {
    "mlp": (models.mlp, (784,)),
    "cnn": (models.mnist_cnn, (1, 28, 28)),
    "rnn": (models.rnn_classifier, (28, 28)),
    "lstm": (models.lstm_classifier, (28, 28)),
    "transformer": (models.transformer_classifier, (32, 64)),
    "resnet18": (models.resnet18, (3, 32, 32)),
}

# (model, batch size), in the order the benchmark prints them
BATCHES = (("mlp", 1), ("mlp", 64), ("cnn", 1), ("cnn", 64), ("rnn", 32), ("lstm", 32), ("transformer", 16),
           ("resnet18", 8))

OPSET = 17
# Tracing at batch 1 would let the exporter fold the batch size into the graph wherever it broadcasts.
_EXPORT_BATCH = 2


class Entry(NamedTuple):
    name: str  # e.g. "mlp b64"
    onnx: bytes
    feeds: dict[str, np.ndarray]
    expected: np.ndarray  # PyTorch's output for ``feeds``


def random_input(model: str, batch: int, seed: int = 0) -> np.ndarray:
    """A standard-normal float32 batch of ``model``'s input shape."""
    _, sample_shape = MODELS[model]
    return np.random.default_rng(seed).standard_normal((batch, *sample_shape), dtype=np.float32)


@functools.cache
def torch_model(model: str) -> torch.nn.Module:
    """``model`` built with PyTorch from a fixed seed, in eval mode (dropout off, batch norm on running stats)."""
    build, _ = MODELS[model]
    torch.manual_seed(0)
    return build(torch).eval()


@functools.cache
def onnx_bytes(model: str) -> bytes:
    """``model`` exported by PyTorch's TorchScript exporter with a dynamic batch axis."""
    sample = torch.from_numpy(random_input(model, _EXPORT_BATCH))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the legacy exporter's deprecation notice, and its RNN batch-size caution that the dynamic axis answers
        warnings.simplefilter("ignore")
        torch.onnx.export(torch_model(model), (sample,), buffer, dynamo=False, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          opset_version=OPSET)
    return buffer.getvalue()


def entry(model: str, batch: int) -> Entry:
    """``model`` at ``batch``: its ONNX bytes, a random input and PyTorch's output for it."""
    x = random_input(model, batch)
    with torch.no_grad(), warnings.catch_warnings():
        # the seed CNN applies Dropout2d to the 2-D fc output (a no-op in eval mode); PyTorch warns about it
        warnings.filterwarnings("ignore", message="dropout2d: Received a 2-D input")
        expected = torch_model(model)(torch.from_numpy(x)).numpy()
    return Entry(f"{model} b{batch}", onnx_bytes(model), {"input": x}, expected)


def benchmark_set(selected: Iterable[str] | None = None) -> list[Entry]:
    """The entries of ``BATCHES`` whose model is in ``selected`` (all of them when None)."""
    wanted = set(MODELS if selected is None else selected)
    unknown = wanted - set(MODELS)
    if unknown:
        raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(MODELS)}")
    return [entry(model, batch) for model, batch in BATCHES if model in wanted]
