"""Neural-network building blocks with PyTorch's API."""

from trainer.nn.parameter import Parameter

