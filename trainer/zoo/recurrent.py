"""Sequence classifiers: a recurrent layer over ``(N, T, input_size)`` (batch first), its last time step
into a ``Linear`` (the seed's ``RNNModel``)."""

from __future__ import annotations

from trainer import nn


class _RecurrentClassifier(nn.Module):
    _layer: type[nn.Module]

    def __init__(self, input_size: int = 8, hidden_size: int = 64, num_layers: int = 1, num_classes: int = 10,
                 dropout: float = 0.0):
        super().__init__()
        self.rnn = self._layer(input_size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        out, _ = self.rnn(x)  # zero initial state, as the seed's explicit h0 of zeros
        return self.fc(out[:, -1, :])


class RNNClassifier(_RecurrentClassifier):
    """``nn.RNN`` (tanh) over the sequence, the last step's output into ``fc``."""

    _layer = nn.RNN


class LSTMClassifier(_RecurrentClassifier):
    """``nn.LSTM`` over the sequence, the last step's output into ``fc``."""

    _layer = nn.LSTM


class GRUClassifier(_RecurrentClassifier):
    """``nn.GRU`` over the sequence, the last step's output into ``fc``."""

    _layer = nn.GRU
