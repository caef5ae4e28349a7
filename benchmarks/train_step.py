"""Training-step time of trainer vs PyTorch (CPU) on the same models, batches and optimizer, in one run.

    .venv/bin/python benchmarks/train_step.py [--models mlp,cnn,resnet18,lstm] [--seconds 3] [--repeats 5]

Each model is built from one definition (benchmarks/models.py) for both frameworks and trained with
SGD (momentum 0.9) on a fixed random batch. Prints each framework's median step time and the ratio
trainer/PyTorch against the target, and, for the MLP, trainer's traced memory after 100 and after
1,000 steps (it must stay flat).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import trainer  # noqa: E402
from models import lstm_classifier, mlp, mnist_cnn, resnet18  # noqa: E402

# name: (model builder, batch size, input shape of one sample, target ratio trainer/PyTorch)
BENCHMARKS = {
    "mlp": (mlp, 64, (784,), 1.3),
    "cnn": (mnist_cnn, 64, (1, 28, 28), 3.0),
    "resnet18": (resnet18, 16, (3, 32, 32), 3.0),
    "lstm": (lstm_classifier, 32, (28, 28), 2.0),
}


def make_step(lib, name: str):
    """A closure running one full training step of ``lib`` (trainer or torch) on a fixed batch."""
    build, batch, sample_shape, _ = BENCHMARKS[name]
    lib.manual_seed(0)
    model = build(lib)
    criterion = lib.nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    inputs = lib.from_numpy(rng.standard_normal((batch, *sample_shape), dtype=np.float32))
    labels = lib.from_numpy(rng.integers(0, 10, batch))

    def step():
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step


def time_steps(step, seconds: float) -> float:
    """Mean time of one step, over as many steps as fit in ``seconds`` (at least two)."""
    steps, start = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - start < seconds:
        step()
        steps += 1
    return (time.perf_counter() - start) / steps


def traced_memory_over(step, total: int, checkpoint: int) -> tuple[int, int]:
    """Traced bytes after ``checkpoint`` steps and after ``total`` steps."""
    tracemalloc.start()
    at_checkpoint = 0
    for i in range(1, total + 1):
        step()
        if i == checkpoint:
            at_checkpoint = tracemalloc.get_traced_memory()[0]
    at_end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return at_checkpoint, at_end


def compare(name: str, seconds: float, repeats: int) -> None:
    steps = {"trainer": make_step(trainer, name), "torch": make_step(torch, name)}
    for step in steps.values():
        time_steps(step, seconds / 5)  # warm up caches and thread pools
    timings = {lib: [] for lib in steps}
    for _ in range(repeats):  # interleave so that machine noise hits both alike
        for lib, step in steps.items():
            timings[lib].append(time_steps(step, seconds))
    median = {lib: statistics.median(t) for lib, t in timings.items()}
    _, batch, sample_shape, target = BENCHMARKS[name]
    ratio = median["trainer"] / median["torch"]
    verdict = "meets" if ratio <= target else "MISSES"
    shape = "x".join(map(str, sample_shape))
    print(f"{name:9s} batch {batch:3d} x {shape:9s}  trainer {median['trainer'] * 1e3:8.2f} ms"
          f"  PyTorch {median['torch'] * 1e3:8.2f} ms  ratio {ratio:5.2f}x  ({verdict} target <= {target}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS))
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-steps", type=int, default=1000, help="MLP steps traced for memory (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    # the seed CNN applies Dropout2d to the 2-D fc output; PyTorch warns about it on every step
    warnings.filterwarnings("ignore", message="dropout2d: Received a 2-D input")
    print(f"training step, SGD momentum 0.9, cross-entropy; {os.cpu_count()} CPU threads; torch {torch.__version__}")
    for name in args.models.split(","):
        if name not in BENCHMARKS:
            parser.error(f"unknown model {name!r}; choose from {', '.join(BENCHMARKS)}")
        compare(name, args.seconds, args.repeats)
    if args.memory_steps:
        checkpoint = min(100, args.memory_steps)
        at_checkpoint, at_end = traced_memory_over(make_step(trainer, "mlp"), args.memory_steps, checkpoint)
        print(f"trainer MLP traced memory: {at_checkpoint / 2**20:.2f} MiB after {checkpoint} steps, "
              f"{at_end / 2**20:.2f} MiB after {args.memory_steps:,} steps")


if __name__ == "__main__":
    main()
