"""Optimizers."""

from trainer.optim.adam import Adam, AdamW
from trainer.optim.optimizer import Optimizer
from trainer.optim.rmsprop import RMSprop
from trainer.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop"]
from trainer.optim import lr_scheduler
