# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/examples super_resolution (model.py, main.py's train/test), shortened: BSDS300 crops replaced by
random smooth images and their 3x downsampled copies."""

import argparse
from math import log10

import numpy as np
import torch
import torch.nn as nn
import torch.nn.init as init
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()

        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv4.weight)


def fake_bsds(n, seed, size=12, factor=3):
    rng = np.random.default_rng(seed)
    big = rng.random((n, 1, size // 2, size // 2)).repeat(2, axis=2).repeat(2, axis=3).astype(np.float32)
    small = big.reshape(n, 1, size // factor, factor, size // factor, factor).mean(axis=(3, 5))
    return TensorDataset(torch.from_numpy(small), torch.from_numpy(big))


def main(model, epochs=3):
    opt = argparse.Namespace(upscale_factor=3, batchSize=4, testBatchSize=8, nEpochs=epochs, lr=0.01, seed=123)
    device = torch.device("cpu")
    training_data_loader = DataLoader(dataset=fake_bsds(16, 0), batch_size=opt.batchSize, shuffle=False)
    testing_data_loader = DataLoader(dataset=fake_bsds(8, 1), batch_size=opt.testBatchSize, shuffle=False)
    model = model.to(device)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=opt.lr)

    def train(epoch):
        epoch_loss = 0
        for iteration, batch in enumerate(training_data_loader, 1):
            input, target = batch[0].to(device), batch[1].to(device)

            optimizer.zero_grad()
            loss = criterion(model(input), target)
            epoch_loss += loss.item()
            loss.backward()
            optimizer.step()

            print("===> Epoch[{}]({}/{}): Loss: {:.4f}".format(epoch, iteration, len(training_data_loader),
                                                              loss.item()))
        print("===> Epoch {} Complete: Avg. Loss: {:.4f}".format(epoch, epoch_loss / len(training_data_loader)))
        return epoch_loss / len(training_data_loader)

    def test():
        avg_psnr = 0
        with torch.no_grad():
            for batch in testing_data_loader:
                input, target = batch[0].to(device), batch[1].to(device)

                prediction = model(input)
                mse = criterion(prediction, target)
                psnr = 10 * log10(1 / mse.item())
                avg_psnr += psnr
        print("===> Avg. PSNR: {:.4f} dB".format(avg_psnr / len(testing_data_loader)))
        return avg_psnr / len(testing_data_loader)

    losses, psnrs = [], []
    for epoch in range(1, opt.nEpochs + 1):
        losses.append(train(epoch))
        psnrs.append(test())
    return losses, psnrs
