"""The seed documents' layer-based models, copied with the ``torch`` imports changed to ``trainer`` as the only
edit, train on the digits and their loss falls.

Seed 002's ``Net`` is PyTorch's MNIST CNN (28x28 input); seed 003's ``CNNModel`` flattens ``14 * 14 * 64``
features, which two conv+pool stages leave from a 64x64 image, and its ``RNNModel`` reads sequences. The
snippets leave ``F``, ``num_classes`` and ``Variable`` to the surrounding program, which the header defines.
In ``RNNModel`` the unconditional ``.cuda()`` on ``h0`` is dropped: the seed itself moves ``h0`` to the GPU
only when the model is there, on the next line. Trailing whitespace is trimmed (the linter's rule).
"""

import pytest

import trainer
from trainer.zoo.datasets import digits_images, digits_rows

HEADER = """
import trainer as torch
import trainer.nn as nn
import trainer.nn.functional as F
from trainer.autograd import Variable

num_classes = 10
"""

SEED_002_NET = """
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output

net = Net()
"""

SEED_003_CNN = """
class CNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=32, kernel_size=(3, 3), stride=(1, 1))
        self.pool = nn.MaxPool2d(kernel_size=(2, 2), stride=(2, 2))
        self.conv2 = nn.Conv2d(in_channels=32, out_channels=64, kernel_size=(3, 3), stride=(1, 1))
        self.fc1 = nn.Linear(in_features=14 * 14 * 64, out_features=128)
        self.fc2 = nn.Linear(in_features=128, out_features=num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 14 * 14 * 64) # flatten
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return x
"""

SEED_003_RNN = """
class RNNModel(nn.Module):
    def __init__(self, input_dim, hidden_dim, layer_dim, output_dim):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.layer_dim = layer_dim

        self.rnn = nn.RNN(input_dim, hidden_dim, layer_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_dim)


    def forward(self, x):
        h0 = Variable(torch.zeros(self.layer_dim, x.size(0), self.hidden_dim))

        # initialize hidden state with zeros
        if (next(self.parameters()).is_cuda):
            h0 = h0.cuda()

        out, hidden = self.rnn(x, h0)

        # take the last time step and feed it into fc layer
        out = self.fc(out[:, -1, :])
        return out
"""


def _define(source: str) -> dict:
    namespace: dict = {}
    exec(HEADER + source, namespace)
    return namespace


def _train(model, dataset, loss_fn, steps: int, batch_size: int = 32, lr: float = 1e-3) -> tuple[float, float]:
    """Mean loss of the first and of the last quarter of ``steps`` Adam steps over shuffled batches."""
    loader = trainer.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                           generator=trainer.Generator().manual_seed(0))
    optimizer = trainer.optim.Adam(model.parameters(), lr=lr)
    losses = []
    while len(losses) < steps:
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    quarter = steps // 4
    return sum(losses[:quarter]) / quarter, sum(losses[-quarter:]) / quarter


@pytest.fixture(autouse=True)
def _seed():
    trainer.manual_seed(0)


def test_seed_002_mnist_net_learns_digits_at_28x28():
    namespace = _define(SEED_002_NET)
    net = namespace["net"]
    assert list(net.state_dict()) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                                      "fc1.bias", "fc2.weight", "fc2.bias"]
    train, _ = digits_images(28)
    first, last = _train(net, train, trainer.nn.NLLLoss(), steps=24)
    assert last < 0.6 * first, (first, last)


def test_seed_003_cnn_model_learns_digits_at_64x64():
    model = _define(SEED_003_CNN)["CNNModel"]()
    train, _ = digits_images(64)
    assert model(train.tensors[0][:2]).shape == (2, 10)
    first, last = _train(model, train, trainer.nn.CrossEntropyLoss(), steps=16)
    assert last < 0.6 * first, (first, last)


def test_seed_003_rnn_model_learns_digit_rows():
    model = _define(SEED_003_RNN)["RNNModel"](8, 64, 2, 10)
    train, _ = digits_rows()
    assert model(train.tensors[0][:3]).shape == (3, 10)
    first, last = _train(model, train, trainer.nn.CrossEntropyLoss(), steps=120, lr=3e-3)
    assert last < 0.5 * first, (first, last)
