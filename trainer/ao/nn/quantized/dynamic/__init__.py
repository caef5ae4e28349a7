"""``torch.ao.nn.quantized.dynamic``: layers with quantized (or float16) weights and float inputs and outputs, which
``quantize_dynamic`` swaps in: ``Linear`` and the recurrent layers (``LinearReLU`` stays float here)."""

from trainer.ao.nn.quantized.dynamic.linear import Linear
from trainer.ao.nn.quantized.dynamic.rnn import GRU, LSTM, GRUCell, LSTMCell, RNNCell

__all__ = ["GRU", "LSTM", "GRUCell", "LSTMCell", "Linear", "RNNCell"]
