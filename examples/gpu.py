"""Use an NVIDIA GPU: train on "cuda", export, and run the file with InferenceSession(device="cuda").

    pip install 'sardonyx[cuda12]'        # or [cuda13]: CuPy for your CUDA
    python examples/gpu.py [--out mlp_gpu.onnx]

The code is the CPU code with a device string: tensors and modules move with ``.to(device)`` as in PyTorch, and
the session places the model's weights on the GPU once and runs every kernel there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import trainer
from exporter import export
from serving import InferenceSession
from trainer import nn, optim
from trainer.data.datasets import Digits


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("mlp_gpu.onnx"))
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    if not trainer.cuda.is_available():
        raise SystemExit("no CUDA GPU visible to CuPy: install sardonyx[cuda12] or [cuda13] on a machine with one")

    device = trainer.device("cuda")
    trainer.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10)).to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    loader = trainer.utils.data.DataLoader(Digits(train=True), batch_size=64, shuffle=True)
    for _ in range(args.epochs):
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
    model.eval()
    export(model, trainer.randn(1, 64, device=device), args.out, input_names=["x"], output_names=["logits"],
           dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})

    test = Digits(train=False)
    images = test.data.numpy()
    on_gpu, = InferenceSession(str(args.out), device="cuda").run(None, {"x": images})
    on_cpu, = InferenceSession(str(args.out)).run(None, {"x": images})
    accuracy = float(np.mean(on_gpu.argmax(axis=1) == test.targets.numpy()))
    print(f"trained on {device} (loss {loss.item():.3f}); test accuracy on the GPU runtime {100 * accuracy:.2f}%, "
          f"max |GPU - CPU| {np.abs(on_gpu - on_cpu).max():.1e}")
    return accuracy


if __name__ == "__main__":
    main()
