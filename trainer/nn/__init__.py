"""Neural-network building blocks with PyTorch's API: modules, layers, losses, ``functional``, ``init``."""

from trainer.nn import functional, init
from trainer.nn.modules.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from trainer.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from trainer.nn.modules.dropout import Dropout
from trainer.nn.modules.flatten import Flatten
from trainer.nn.modules.linear import Identity, Linear
from trainer.nn.modules.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from trainer.nn.modules.module import Module
from trainer.nn.parameter import Parameter
