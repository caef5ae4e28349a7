"""``MLP``: the seed documents' fully connected classifier (784-512-10 by default)."""

from __future__ import annotations

from trainer import nn


class MLP(nn.Module):
    """Flatten, then ``Linear -> ReLU [-> Dropout]`` per hidden size, then a ``Linear`` to ``num_classes``.

    Layers live in ``self.layers`` (keys ``layers.0.weight``, ``layers.2.weight``, ... as the same
    ``nn.Sequential`` has in PyTorch).
    """

    def __init__(self, in_features: int = 784, hidden_sizes: tuple[int, ...] = (512,), num_classes: int = 10,
                 dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.flatten(1))
