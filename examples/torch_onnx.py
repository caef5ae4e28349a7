"""Run a model exported by PyTorch (``torch.onnx.export``) in serving's InferenceSession, as in ONNX Runtime.

    python examples/torch_onnx.py [--out seed_cnn.onnx]

The model is the seed documents' CNNModel in PyTorch itself; only the session line differs from ONNX Runtime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from serving import InferenceSession  # was: from onnxruntime import InferenceSession


class CNNModel(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=32, kernel_size=(3, 3), stride=(1, 1), padding=1)
        self.pool = nn.MaxPool2d(kernel_size=(2, 2), stride=(2, 2))
        self.conv2 = nn.Conv2d(in_channels=32, out_channels=64, kernel_size=(3, 3), stride=(1, 1), padding=1)
        self.fc1 = nn.Linear(in_features=7 * 7 * 64, out_features=128)
        self.fc2 = nn.Linear(in_features=128, out_features=num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("seed_cnn.onnx"))
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = CNNModel().eval()
    # dynamo=False: the TorchScript exporter, which needs nothing beyond torch itself.
    torch.onnx.export(model, (torch.randn(1, 1, 28, 28),), str(args.out), dynamo=False, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})

    session = InferenceSession(str(args.out))
    images = np.random.default_rng(0).standard_normal((8, 1, 28, 28), dtype=np.float32)
    logits, = session.run(None, {"input": images})
    with torch.no_grad():
        expected = model(torch.from_numpy(images)).numpy()
    difference = float(np.abs(logits - expected).max())
    print(f"{args.out}: logits {logits.shape}, max |difference| from PyTorch {difference:.1e}")
    return difference


if __name__ == "__main__":
    main()
