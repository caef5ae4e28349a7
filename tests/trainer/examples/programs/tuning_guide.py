# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials recipes_source/recipes/tuning_guide.py, the advice that applies on a CPU, put into one small
training run: asynchronous data loading (DataLoader workers), no bias in convolutions followed by batch norm,
``param.grad = None`` instead of ``zero_grad()``, a pointwise GELU fused by ``torch.compile``, channels_last,
checkpointing, debugging APIs switched off, inference under ``torch.no_grad()``."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@torch.compile
def gelu(x):
    return x * 0.5 * (1.0 + torch.erf(x / 1.41421))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # no bias: the batch norm that follows has its own
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 4)

    def block(self, x):
        return F.max_pool2d(gelu(self.bn2(self.conv2(x))), 2)

    def forward(self, x):
        x = F.max_pool2d(gelu(self.bn1(self.conv1(x))), 2)
        # recompute this block's activations in backward instead of keeping them
        x = checkpoint(self.block, x, use_reentrant=False)
        return self.fc(torch.flatten(x, 1))


def dataset(seed, n=32):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = rng.normal(0, 0.5, (n, 3, 16, 16)).astype(np.float32)
    for i, label in enumerate(labels):
        images[i, :, 4 * label:4 * label + 4] += 1.0
    return torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))


def main(model, epochs=2, num_workers=2):
    # Disable debugging APIs
    torch.autograd.set_detect_anomaly(False)
    torch.autograd.profiler.profile(enabled=False)
    torch.backends.cudnn.benchmark = True  # a no-op without CUDA, as the guide says

    # Enable asynchronous data loading and augmentation
    loader = torch.utils.data.DataLoader(dataset(0), batch_size=8, num_workers=num_workers)

    # Enable channels_last memory format for computer vision models
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for epoch in range(epochs):
        model.train()
        for images, labels in loader:
            images = images.to(memory_format=torch.channels_last)
            # Use parameter.grad = None instead of model.zero_grad() or optimizer.zero_grad()
            for param in model.parameters():
                param.grad = None
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    # Disable gradient calculation for validation or inference
    model.eval()
    test_images, test_labels = dataset(1)[:]
    with torch.no_grad():
        output = model(test_images.to(memory_format=torch.channels_last))
    accuracy = (output.argmax(1) == test_labels).float().mean().item()
    return losses, accuracy, model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
