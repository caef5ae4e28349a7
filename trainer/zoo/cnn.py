"""Small convolutional classifiers for 28x28 digit images: the seed's ``MnistCNN`` and ``LeNet5``."""

from __future__ import annotations

import trainer
from trainer import nn
from trainer.nn import functional as F


class MnistCNN(nn.Module):
    """The seed documents' MNIST ``Net`` (PyTorch's MNIST example), layer for layer and key for key.

    Input ``(N, 1, 28, 28)``; output log-probabilities ``(N, 10)``, so train it with ``nn.NLLLoss``.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = trainer.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class LeNet5(nn.Module):
    """LeNet-5 for ``(N, in_channels, 28, 28)`` images (``conv1`` pads by 2, as for 32x32 inputs), with ReLU
    and max pooling; outputs logits ``(N, num_classes)``."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = trainer.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
