"""The layers of ``trainer.nn``, one family per module."""

from trainer.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from trainer.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss
from trainer.nn.modules.linear_cross_entropy_options import LinearCrossEntropyOptions
from trainer.nn.modules.module import Module
