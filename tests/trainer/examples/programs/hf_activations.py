# A shortened copy of Hugging Face transformers' src/transformers/activations.py (Apache-2.0): the activations the
# BERT, GPT-2 and T5 programs look up by their config's name.
import math

import torch
from torch import nn


class NewGELUActivation(nn.Module):
    """The tanh approximation of GELU used by Google's BERT and OpenAI's GPT ("gelu_new"), written out as there."""

    def forward(self, input):
        return 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (input + 0.044715 * torch.pow(input, 3.0))))


class GELUActivation(nn.Module):
    """The exact (erf) GELU, as nn.functional.gelu."""

    def __init__(self):
        super().__init__()
        self.act = nn.functional.gelu

    def forward(self, input):
        return self.act(input)


ACT2FN = {"gelu": GELUActivation(), "gelu_new": NewGELUActivation(), "relu": nn.ReLU(), "tanh": nn.Tanh()}
