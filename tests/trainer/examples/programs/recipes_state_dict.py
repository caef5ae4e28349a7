# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials recipes_source/recipes: defining_a_neural_network.py, what_is_state_dict.py,
saving_and_loading_models_for_inference.py, warmstarting_model_using_parameters_from_a_different_model.py and
zeroing_out_gradients.py, each as a function (CIFAR10 replaced by small generated images, a few batches; files written
to a given directory)."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


# defining_a_neural_network.py
class MnistNet(nn.Module):
    def __init__(self):
      super(MnistNet, self).__init__()

      # First 2D convolutional layer, taking in 1 input channel (image),
      # outputting 32 convolutional features, with a square kernel size of 3
      self.conv1 = nn.Conv2d(1, 32, 3, 1)
      # Second 2D convolutional layer, taking in the 32 input layers,
      # outputting 64 convolutional features, with a square kernel size of 3
      self.conv2 = nn.Conv2d(32, 64, 3, 1)

      # Designed to ensure that adjacent pixels are either all 0s or all active
      # with an input probability
      self.dropout1 = nn.Dropout2d(0.25)
      self.dropout2 = nn.Dropout2d(0.5)

      # First fully connected layer
      self.fc1 = nn.Linear(9216, 128)
      # Second fully connected layer that outputs our 10 labels
      self.fc2 = nn.Linear(128, 10)

    # x represents our data
    def forward(self, x):
      # Pass data through conv1
      x = self.conv1(x)
      # Use the rectified-linear activation function over x
      x = F.relu(x)

      x = self.conv2(x)
      x = F.relu(x)

      # Run max pooling over x
      x = F.max_pool2d(x, 2)
      # Pass data through dropout1
      x = self.dropout1(x)
      # Flatten x with start_dim=1
      x = torch.flatten(x, 1)
      # Pass data through ``fc1``
      x = self.fc1(x)
      x = F.relu(x)
      x = self.dropout2(x)
      x = self.fc2(x)

      # Apply softmax to x
      output = F.log_softmax(x, dim=1)
      return output


def defining_a_neural_network(my_nn, random_data):
    result = my_nn(random_data)
    print (result)
    return result


# what_is_state_dict.py, saving_and_loading_models_for_inference.py, zeroing_out_gradients.py
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def what_is_state_dict(net):
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    lines = []
    # Print model's state_dict
    print("Model's state_dict:")
    for param_tensor in net.state_dict():
        print(param_tensor, "\t", net.state_dict()[param_tensor].size())
        lines.append((param_tensor, tuple(net.state_dict()[param_tensor].size())))

    print()

    # Print optimizer's state_dict
    print("Optimizer's state_dict:")
    for var_name in optimizer.state_dict():
        print(var_name, "\t", optimizer.state_dict()[var_name])
        lines.append((var_name, str(optimizer.state_dict()[var_name])))
    return lines


def saving_and_loading(net, directory, image):
    # Specify a path
    PATH = directory / "state_dict_model.pt"

    # Save
    torch.save(net.state_dict(), PATH)

    # Load
    model = Net()
    model.load_state_dict(torch.load(PATH))
    model.eval()
    return model(image)


def saving_entire_model(net, directory, image):
    # Specify a path
    PATH = directory / "entire_model.pt"

    # Save
    torch.save(net, PATH)

    # Load
    model = torch.load(PATH, weights_only=False)
    model.eval()
    return model(image), type(model).__name__


class NetA(Net):
    pass


class NetB(nn.Module):
    """The recipe's NetB repeats NetA; here its head is renamed and resized, the case the recipe says
    ``strict=False`` is for."""
    def __init__(self):
        super(NetB, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.head = nn.Linear(84, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.head(x)
        return x


def warmstarting(netA, netB, directory):
    # Specify a path to save to
    PATH = directory / "model.pt"

    torch.save(netA.state_dict(), PATH)
    result = netB.load_state_dict(torch.load(PATH), strict=False)
    print(result)
    try:
        netB.load_state_dict(torch.load(PATH))
    except RuntimeError as error:
        strict_error = str(error).splitlines()[0]
    return sorted(result.missing_keys), sorted(result.unexpected_keys), strict_error, netB.fc1.weight


def cifar_like(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.normal(0, 0.5, (n, 3, 32, 32)).astype(np.float32)
    for i, label in enumerate(labels):
        images[i, label % 3, 3 * label:3 * label + 3] += 1.5
    return torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))


def zeroing_out_gradients(net, epochs=2):
    trainloader = torch.utils.data.DataLoader(cifar_like(32, 0), batch_size=4, shuffle=False)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for epoch in range(epochs):  # loop over the dataset multiple times

        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            losses.append(loss.item())
            if i % 4 == 3:    # print every 4 mini-batches
                print('[%d, %5d] loss: %.3f' %
                      (epoch + 1, i + 1, running_loss / 4))
                running_loss = 0.0

    print('Finished Training')
    grads_before = net.conv1.weight.grad is not None
    net.zero_grad()
    return losses, grads_before, net.conv1.weight.grad is None
