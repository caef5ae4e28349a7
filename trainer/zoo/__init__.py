"""The model zoo: the seed documents' architectures with PyTorch/torchvision state_dict keys, and ``RECIPES``,
the named training setups that ``sardonyx-train`` runs."""

from trainer.zoo.cnn import LeNet5, MnistCNN
from trainer.zoo.dcgan import Discriminator, Generator, weights_init
from trainer.zoo.mlp import MLP
from trainer.zoo.recipes import RECIPES, Recipe
from trainer.zoo.recurrent import GRUClassifier, LSTMClassifier, RNNClassifier
from trainer.zoo.resnet import BasicBlock, ResNet, resnet18
from trainer.zoo.transformer import PositionalEncoding, TransformerClassifier

__all__ = ["MLP", "RECIPES", "BasicBlock", "Discriminator", "GRUClassifier", "Generator", "LSTMClassifier", "LeNet5",
           "MnistCNN", "PositionalEncoding", "RNNClassifier", "Recipe", "ResNet", "TransformerClassifier",
           "resnet18", "weights_init"]
