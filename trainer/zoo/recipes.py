"""Training recipes: a model, its data, loss, optimizer, learning-rate schedule and defaults, by name.

``sardonyx-train NAME`` runs ``RECIPES[NAME]``. Every recipe but ``cnn-mnist`` trains on data that ships
with the install (scikit-learn's digits), so it runs offline; ``cnn-mnist`` reads MNIST's IDX files from
``--data-root``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainer import nn, optim
from trainer.optim.lr_scheduler import LRScheduler, OneCycleLR
from trainer.zoo import datasets
from trainer.zoo.cnn import LeNet5, MnistCNN
from trainer.zoo.dcgan import Discriminator, Generator, weights_init
from trainer.zoo.mlp import MLP
from trainer.zoo.recurrent import GRUClassifier, LSTMClassifier, RNNClassifier
from trainer.zoo.resnet import resnet18
from trainer.zoo.transformer import TransformerClassifier


@dataclass(frozen=True)
class Recipe:
    """How to train one model.

    ``dataset(data_root)`` returns ``(train, test)`` (``test`` may be None). ``optimizer(model, lr)`` returns
    one optimizer, or for a GAN a dict ``{"generator": ..., "discriminator": ...}``. ``scheduler(optimizer,
    total_steps)``, if set, returns a schedule stepped after every batch. ``metric`` names what an epoch
    reports: ``"accuracy"`` (test accuracy of a classifier) or ``"gan_losses"`` (the discriminator's and
    generator's losses; the model is then an ``nn.ModuleDict`` of ``generator`` and ``discriminator``).
    """

    name: str
    description: str
    model: Callable[[], nn.Module]
    dataset: Callable[[str | None], tuple]
    loss: Callable[[], nn.Module]
    optimizer: Callable[[nn.Module, float], optim.Optimizer | dict[str, optim.Optimizer]]
    scheduler: Callable[[optim.Optimizer, int], LRScheduler] | None
    epochs: int
    batch_size: int
    lr: float
    metric: str = "accuracy"
    needs_data_root: bool = False


def adam(model: nn.Module, lr: float) -> optim.Optimizer:
    return optim.Adam(model.parameters(), lr=lr)


def sgd_momentum(model: nn.Module, lr: float) -> optim.Optimizer:
    return optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)


def one_cycle(optimizer: optim.Optimizer, total_steps: int) -> LRScheduler:
    """Warm up to the recipe's rate over the first 30% of the steps, then anneal (cosine) to nearly zero."""
    return OneCycleLR(optimizer, max_lr=[group["lr"] for group in optimizer.param_groups], total_steps=total_steps)


def gan_model(image_size: int = 8, nz: int = 16) -> nn.ModuleDict:
    generator, discriminator = Generator(nz=nz, image_size=image_size), Discriminator(image_size=image_size)
    generator.apply(weights_init)
    discriminator.apply(weights_init)
    return nn.ModuleDict({"generator": generator, "discriminator": discriminator})


def gan_adam(model: nn.ModuleDict, lr: float) -> dict[str, optim.Optimizer]:
    """DCGAN's optimizers: one Adam with beta1 = 0.5 per network."""
    return {name: optim.Adam(model[name].parameters(), lr=lr, betas=(0.5, 0.999))
            for name in ("generator", "discriminator")}


def _classifier(name, description, model, dataset, *, epochs, batch_size, lr, loss=nn.CrossEntropyLoss,
                optimizer=adam, scheduler=one_cycle, needs_data_root=False) -> Recipe:
    return Recipe(name, description, model, dataset, loss, optimizer, scheduler, epochs, batch_size, lr,
                  needs_data_root=needs_data_root)


_RECIPES = [
    _classifier("mlp-digits", "MLP 64-512-10 on the 8x8 digits", lambda: MLP(64, (512,), 10, dropout=0.2),
                lambda root: datasets.digits_flat(), scheduler=None, epochs=20, batch_size=64, lr=1e-3),
    _classifier("cnn-digits", "the seed MNIST CNN on digits resized to 28x28", MnistCNN,
                lambda root: datasets.digits_images(28, scale=(-1.0, 1.0)), loss=nn.NLLLoss, epochs=8,
                batch_size=16, lr=3e-3),
    _classifier("lenet-digits", "LeNet-5 on digits resized to 28x28", LeNet5,
                lambda root: datasets.digits_images(28, scale=(-1.0, 1.0)), epochs=10, batch_size=32, lr=3e-3),
    _classifier("resnet18-digits", "CIFAR-style ResNet-18 on digits resized to 3x32x32", resnet18,
                lambda root: datasets.digits_images(32, channels=3, scale=(-1.0, 1.0)), optimizer=sgd_momentum,
                epochs=1, batch_size=64, lr=0.05),
    _classifier("rnn-digits", "RNN over the 8 rows of each digit", lambda: RNNClassifier(8, 128),
                lambda root: datasets.digits_rows(), epochs=20, batch_size=32, lr=2e-3),
    _classifier("lstm-digits", "LSTM over the 8 rows of each digit", lambda: LSTMClassifier(8, 128),
                lambda root: datasets.digits_rows(), epochs=15, batch_size=32, lr=3e-3),
    _classifier("gru-digits", "GRU over the 8 rows of each digit", lambda: GRUClassifier(8, 128),
                lambda root: datasets.digits_rows(), epochs=15, batch_size=32, lr=3e-3),
    _classifier("transformer-digits", "Transformer encoder over the 8 rows of each digit",
                lambda: TransformerClassifier(8, 10, d_model=64, nhead=4, num_layers=2, dim_feedforward=128),
                lambda root: datasets.digits_rows(), epochs=15, batch_size=32, lr=1e-3),
    Recipe("gan-digits", "DCGAN generating 8x8 digits", gan_model,
           lambda root: (datasets.digits_images(8, scale=(-1.0, 1.0))[0], None), nn.BCELoss, gan_adam, None,
           epochs=20, batch_size=64, lr=2e-3, metric="gan_losses"),
    _classifier("cnn-mnist", "the seed MNIST CNN on MNIST (IDX files in --data-root)", MnistCNN,
                datasets.mnist, loss=nn.NLLLoss, epochs=2, batch_size=64, lr=1e-3, needs_data_root=True),
]

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in _RECIPES}
