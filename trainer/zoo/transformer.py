"""``TransformerClassifier``: embed, add sinusoidal positions, a ``TransformerEncoder``, mean-pool, ``Linear``."""

from __future__ import annotations

import math

import trainer
from trainer import nn


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal position encodings of "Attention Is All You Need" to ``(N, T, d_model)`` inputs
    (PyTorch's transformer tutorial, batch first), then applies dropout."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 512):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        position = trainer.arange(max_len, dtype=trainer.float32).unsqueeze(1)
        div_term = trainer.exp(trainer.arange(0, d_model, 2, dtype=trainer.float32) * (-math.log(10000.0) / d_model))
        pe = trainer.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = trainer.sin(position * div_term)
        pe[0, :, 1::2] = trainer.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", pe)

    def forward(self, x):
        return self.dropout(x + self.pe[:, : x.size(1)])


class TransformerClassifier(nn.Module):
    """Classifies sequences ``(N, T, input_size)`` of feature vectors or, with ``vocab_size``, ``(N, T)`` of
    token ids: ``embed`` (``Linear`` or ``Embedding``), ``pos_encoder``, a batch-first ``encoder``
    (``nn.TransformerEncoder``), the mean over time, then ``fc``."""

    def __init__(self, input_size: int = 8, num_classes: int = 10, d_model: int = 64, nhead: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 128, dropout: float = 0.1, max_len: int = 512,
                 vocab_size: int | None = None):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model) if vocab_size is not None else nn.Linear(input_size, d_model)
        self.pos_encoder = PositionalEncoding(d_model, dropout, max_len)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.fc = nn.Linear(d_model, num_classes)

    def forward(self, x):
        x = self.pos_encoder(self.embed(x) * math.sqrt(self.d_model))
        return self.fc(self.encoder(x).mean(dim=1))
