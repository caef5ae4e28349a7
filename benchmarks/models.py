"""The benchmark models, written once against a ``lib`` (``trainer`` or ``torch``) so both run the same net."""

from __future__ import annotations


def mlp(lib):
    """The seed documents' 784-512-10 MLP."""
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))


def mnist_cnn(lib):
    """The seed MNIST CNN: conv 1->32->64, max-pool, dropout, fc 9216->128->10, log_softmax."""
    nn, F = lib.nn, lib.nn.functional  # noqa: N806 - the ecosystem's name for nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout2d(0.25)
            self.dropout2 = nn.Dropout2d(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = lib.flatten(self.dropout1(x), 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def resnet18(lib, num_classes: int = 10):
    """CIFAR-style ResNet-18: a 3x3 stem, four stages of two basic blocks, global average pooling."""
    nn, F = lib.nn, lib.nn.functional  # noqa: N806 - the ecosystem's name for nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            widths, cin = (64, 128, 256, 512), 64
            for i, width in enumerate(widths, 1):
                stride = 1 if i == 1 else 2
                setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width, 1)))
                cin = width
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(lib.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return ResNet()


def lstm_classifier(lib, input_size: int = 28, hidden_size: int = 128, num_classes: int = 10):
    """An LSTM over a sequence (rows of an image), its last step into a Linear."""
    nn = lib.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
            self.fc = nn.Linear(hidden_size, num_classes)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1, :])

    return LSTMClassifier()


def rnn_classifier(lib, input_size: int = 28, hidden_size: int = 128, num_classes: int = 10):
    """A 2-layer Elman RNN over a sequence (rows of an image), its last step into a Linear."""
    nn = lib.nn

    class RNNClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(input_size, hidden_size, num_layers=2, batch_first=True)
            self.fc = nn.Linear(hidden_size, num_classes)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1, :])

    return RNNClassifier()


def transformer_classifier(lib, d_model: int = 64, nhead: int = 4, num_layers: int = 2, dim_feedforward: int = 128,
                           num_classes: int = 10):
    """A small Transformer encoder over (batch, seq, d_model) features, mean-pooled over the sequence into a Linear."""
    nn = lib.nn

    class TransformerClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, batch_first=True)
            # nested tensors only pay off with padding masks, and PyTorch warns that it cannot use them here
            self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
            self.fc = nn.Linear(d_model, num_classes)

        def forward(self, x):
            return self.fc(self.encoder(x).mean(dim=1))

    return TransformerClassifier()
