"""Training-step time of trainer vs PyTorch (CPU) on the same model, batch and optimizer, in one run.

    .venv/bin/python benchmarks/train_step.py [--steps 300] [--repeats 5]

Models: the seed documents' 784-512-10 MLP (batch 64, SGD momentum 0.9, cross-entropy).
Prints each framework's median step time, the ratio trainer/PyTorch (target <= 1.3) and, for
trainer, the traced memory after 100 and after 1,000 steps (it must stay flat).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import trainer  # noqa: E402


def mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(784, 512), lib.nn.ReLU(), lib.nn.Linear(512, 10))


def make_step(lib, batch: int):
    """A closure running one full training step of ``lib`` (trainer or torch) on a fixed batch."""
    lib.manual_seed(0)
    model = mlp(lib)
    criterion = lib.nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    inputs = lib.from_numpy(rng.standard_normal((batch, 784), dtype=np.float32))
    labels = lib.from_numpy(rng.integers(0, 10, batch))

    def step():
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step


def time_steps(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)

    steps = {"trainer": make_step(trainer, 64), "torch": make_step(torch, 64)}
    for step in steps.values():
        time_steps(step, 30)  # warm up caches and thread pools
    timings = {name: [] for name in steps}
    for _ in range(args.repeats):  # interleave so that machine noise hits both alike
        for name, step in steps.items():
            timings[name].append(time_steps(step, args.steps))
    median = {name: statistics.median(t) for name, t in timings.items()}
    ratio = median["trainer"] / median["torch"]
    print(f"MLP 784-512-10, batch 64, SGD momentum, cross-entropy ({os.cpu_count()} CPU threads)")
    print(f"  trainer  {median['trainer'] * 1e3:8.3f} ms/step")
    print(f"  PyTorch  {median['torch'] * 1e3:8.3f} ms/step  (torch {torch.__version__})")
    print(f"  ratio    {ratio:8.2f}x   (target <= 1.3x)")

    after_100, after_1000 = traced_memory_over(make_step(trainer, 64), total=1000, checkpoint=100)
    print(f"  trainer traced memory: {after_100 / 2**20:.2f} MiB after 100 steps, "
          f"{after_1000 / 2**20:.2f} MiB after 1,000 steps")


if __name__ == "__main__":
    main()
