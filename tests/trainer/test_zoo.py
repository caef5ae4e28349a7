"""The model zoo: every architecture builds, gives the right output shape and learns on a fixed batch, and its
state_dict keys are PyTorch's (torchvision's for ResNet-18, hard-coded since torchvision is not installed)."""

import numpy as np
import pytest
import torch

import trainer
from trainer import zoo
from trainer.zoo import RECIPES


@pytest.fixture(autouse=True)
def _seed():
    trainer.manual_seed(0)


def _learns(model, inputs, targets, loss_fn, steps: int = 5, lr: float = 1e-3) -> None:
    """A few Adam steps on one batch lower the loss (every parameter gets a gradient on the way)."""
    optimizer = trainer.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        if not losses:
            missing = [name for name, p in model.named_parameters() if p.grad is None]
            assert not missing, f"no gradient for {missing}"
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


def _labels(n: int) -> trainer.Tensor:
    return trainer.arange(n) % 10


CLASSIFIERS = {
    "mlp": (lambda: zoo.MLP(784, (512,), 10), (6, 1, 28, 28)),
    "mlp-deep": (lambda: zoo.MLP(64, (32, 16), 10, dropout=0.1), (6, 64)),
    "lenet5": (zoo.LeNet5, (6, 1, 28, 28)),
    "resnet-narrow": (lambda: zoo.resnet18(num_classes=10, width=8), (4, 3, 16, 16)),
    "rnn": (lambda: zoo.RNNClassifier(8, 16), (6, 8, 8)),
    "lstm": (lambda: zoo.LSTMClassifier(8, 16, num_layers=2), (6, 8, 8)),
    "gru": (lambda: zoo.GRUClassifier(8, 16), (6, 8, 8)),
    "transformer": (lambda: zoo.TransformerClassifier(8, 10, d_model=16, nhead=2, num_layers=1,
                                                      dim_feedforward=32), (6, 8, 8)),
}


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_output_shape_and_learning(name):
    factory, shape = CLASSIFIERS[name]
    model = factory()
    inputs = trainer.randn(*shape)
    assert model(inputs).shape == (shape[0], 10)
    _learns(model, inputs, _labels(shape[0]), trainer.nn.CrossEntropyLoss())


def test_transformer_classifier_takes_token_ids():
    model = zoo.TransformerClassifier(num_classes=3, d_model=16, nhead=2, num_layers=1, dim_feedforward=32,
                                      vocab_size=20)
    tokens = trainer.randint(0, 20, (4, 7))
    assert model(tokens).shape == (4, 3)
    assert "embed.weight" in model.state_dict() and model.state_dict()["embed.weight"].shape == (20, 16)


def test_mnist_cnn_learns_and_outputs_log_probabilities():
    model = zoo.MnistCNN()
    inputs = trainer.randn(4, 1, 28, 28)
    out = model(inputs)
    assert out.shape == (4, 10)
    assert np.allclose(out.detach().exp().sum(dim=1).numpy(), 1.0, atol=1e-5)
    _learns(model, inputs, _labels(4), trainer.nn.NLLLoss())


class TorchSeedNet(torch.nn.Module):
    """Seed 002's ``Net``, in PyTorch."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, 1)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = torch.nn.Dropout2d(0.25)
        self.dropout2 = torch.nn.Dropout2d(0.5)
        self.fc1 = torch.nn.Linear(9216, 128)
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(torch.relu(self.conv1(x)))), 2)
        x = torch.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
        return torch.log_softmax(self.fc2(self.dropout2(x)), dim=1)


@pytest.mark.filterwarnings("ignore:dropout2d")  # PyTorch's, for the seed's Dropout2d on fc1's 2-D output
def test_mnist_cnn_matches_the_seed_net_in_pytorch_key_for_key_and_value_for_value():
    reference = TorchSeedNet().eval()
    model = zoo.MnistCNN().eval()
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    assert list(model.state_dict()) == list(expected)
    model.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in reference.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with torch.no_grad(), trainer.no_grad():
        np.testing.assert_allclose(model(trainer.tensor(x)).numpy(), reference(torch.from_numpy(x)).numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_lenet5_keys():
    assert {k: tuple(v.shape) for k, v in zoo.LeNet5().state_dict().items()} == {
        "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,), "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
        "fc1.weight": (120, 400), "fc1.bias": (120,), "fc2.weight": (84, 120), "fc2.bias": (84,),
        "fc3.weight": (10, 84), "fc3.bias": (10,)}


def test_resnet18_has_torchvisions_keys_and_size():
    model = zoo.resnet18(num_classes=10)
    state = model.state_dict()
    # torchvision's resnet18: 62 parameters + 3 buffers for each of 20 batch norms; the CIFAR stem is 3x3
    assert len(state) == 122
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    for key, shape in {
        "conv1.weight": (64, 3, 3, 3), "bn1.weight": (64,), "bn1.running_mean": (64,), "bn1.num_batches_tracked": (),
        "layer1.0.conv1.weight": (64, 64, 3, 3), "layer1.0.bn1.bias": (64,), "layer1.1.conv2.weight": (64, 64, 3, 3),
        "layer2.0.conv1.weight": (128, 64, 3, 3), "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_var": (128,), "layer3.0.downsample.0.weight": (256, 128, 1, 1),
        "layer4.0.downsample.1.weight": (512,), "layer4.1.bn2.running_var": (512,), "fc.weight": (10, 512),
        "fc.bias": (10,),
    }.items():
        assert shapes[key] == shape, key
    assert "layer1.0.downsample.0.weight" not in shapes
    model.eval()
    with trainer.no_grad():
        assert model(trainer.randn(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("cls, layer", [(zoo.RNNClassifier, torch.nn.RNN), (zoo.LSTMClassifier, torch.nn.LSTM),
                                        (zoo.GRUClassifier, torch.nn.GRU)])
def test_recurrent_classifier_keys_match_pytorch(cls, layer):
    model = cls(8, 16, num_layers=2)
    reference = {f"rnn.{k}": tuple(v.shape) for k, v in layer(8, 16, 2, batch_first=True).state_dict().items()}
    reference.update({"fc.weight": (10, 16), "fc.bias": (10,)})
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == reference


def test_transformer_classifier_encoder_keys_match_pytorch():
    model = zoo.TransformerClassifier(8, 10, d_model=16, nhead=2, num_layers=2, dim_feedforward=32, max_len=20)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    expected = {f"encoder.{k}": tuple(v.shape) for k, v in encoder.state_dict().items()}
    expected.update({"embed.weight": (16, 8), "embed.bias": (16,), "pos_encoder.pe": (1, 20, 16),
                     "fc.weight": (10, 16), "fc.bias": (10,)})
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected


@pytest.mark.parametrize("size", [8, 16])
def test_dcgan_shapes_and_one_adversarial_step(size):
    generator, discriminator = zoo.Generator(nz=8, ngf=8, image_size=size), zoo.Discriminator(ndf=8, image_size=size)
    generator.apply(zoo.weights_init)
    discriminator.apply(zoo.weights_init)
    fake = generator(trainer.randn(4, 8, 1, 1))
    assert fake.shape == (4, 1, size, size)
    assert float(fake.abs().max().item()) <= 1.0
    out = discriminator(fake.detach())
    assert out.shape == (4,)
    loss = trainer.nn.BCELoss()(out, trainer.zeros(4))
    loss.backward()
    assert all(p.grad is not None for p in discriminator.parameters())
    assert all(p.grad is None for p in generator.parameters())  # detach() kept the generator out of it
    assert list(generator.state_dict())[:3] == ["main.0.weight", "main.1.weight", "main.1.bias"]


def test_dcgan_rejects_other_sizes():
    with pytest.raises(ValueError, match="image_size must be one of"):
        zoo.Generator(image_size=28)


def test_recipes_registry():
    assert set(RECIPES) == {"mlp-digits", "cnn-digits", "lenet-digits", "resnet18-digits", "rnn-digits",
                            "lstm-digits", "gru-digits", "transformer-digits", "gan-digits", "cnn-mnist"}
    for name, recipe in RECIPES.items():
        assert recipe.name == name and recipe.epochs >= 1 and recipe.batch_size >= 1 and recipe.lr > 0
    assert RECIPES["cnn-mnist"].needs_data_root
    assert RECIPES["gan-digits"].metric == "gan_losses"


@pytest.mark.parametrize("name", ["mlp-digits", "cnn-digits", "resnet18-digits", "rnn-digits", "transformer-digits"])
def test_recipe_data_fits_its_model(name):
    recipe = RECIPES[name]
    train, test = recipe.dataset(None)
    inputs, targets = train[0:2]
    model = recipe.model().eval()
    with trainer.no_grad():
        assert model(inputs).shape == (2, 10)
    assert len(train) == 1347 and len(test) == 450
