"""Neural-network building blocks with PyTorch's API: modules, layers, losses, ``functional``, ``init``."""

from trainer.nn import functional, init, utils
from trainer.nn.modules.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from trainer.nn.modules.attention import MultiheadAttention
from trainer.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d
from trainer.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from trainer.nn.modules.conv import Conv1d, Conv2d, ConvTranspose2d
from trainer.nn.modules.dropout import Dropout, Dropout2d
from trainer.nn.modules.flatten import Flatten
from trainer.nn.modules.linear import Identity, Linear
from trainer.nn.modules.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from trainer.nn.modules.module import Module
from trainer.nn.modules.normalization import GroupNorm, LayerNorm
from trainer.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from trainer.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from trainer.nn.modules.sparse import Embedding
from trainer.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer
from trainer.nn.modules.upsampling import Upsample
from trainer.nn.parameter import Parameter
