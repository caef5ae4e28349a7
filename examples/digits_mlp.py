"""Train the seed documents' MLP on scikit-learn's handwritten digits, written as for PyTorch.

The only change from a PyTorch program is the import line. Run with ``make demo``.
"""

import time

import trainer as torch
import trainer.nn as nn
import trainer.optim as optim
from trainer.data.datasets import Digits


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 512)  # the seed's 784-512-10 MLP, with 8x8 digits as input
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = x.view(-1, 64)
        x = self.fc1(x)
        x = self.relu1(x)
        return self.fc2(x)


def evaluate(model, testloader, device):
    correct = 0
    total = 0
    model.eval()
    with torch.no_grad():
        for images, labels in testloader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return 100 * correct / total


def main(epochs: int = 30) -> float:
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    trainloader = torch.utils.data.DataLoader(Digits(train=True), batch_size=64, shuffle=True)
    testloader = torch.utils.data.DataLoader(Digits(train=False), batch_size=1000, shuffle=False)

    net = Net().to(device)
    print(net)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        running_loss = 0.0
        for inputs, labels in trainloader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}  loss {running_loss / len(trainloader):.4f}")
    accuracy = evaluate(net, testloader, device)
    print(f"Test accuracy on {len(testloader.dataset)} digits: {accuracy:.2f}% "
          f"(trained in {time.perf_counter() - start:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
