"""Optimizers."""

from trainer.optim.adadelta import Adadelta
from trainer.optim.adafactor import Adafactor
from trainer.optim.adagrad import Adagrad
from trainer.optim.adam import Adam, AdamW
from trainer.optim.adamax import Adamax
from trainer.optim.asgd import ASGD
from trainer.optim.lbfgs import LBFGS
from trainer.optim.muon import Muon
from trainer.optim.nadam import NAdam
from trainer.optim.optimizer import Optimizer
from trainer.optim.radam import RAdam
from trainer.optim.rmsprop import RMSprop
from trainer.optim.rprop import Rprop
from trainer.optim.sgd import SGD
from trainer.optim.sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop",
           "ASGD", "LBFGS", "Adafactor", "Muon", "SparseAdam"]
from trainer.optim import lr_scheduler, swa_utils
