# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials prototype_source/fx_graph_mode_ptq_static.rst (the code parts, current API: QConfigMapping and
``example_inputs``), shortened: a small residual network in place of torchvision's pretrained resnet18, small
generated images in place of ImageNet (sequential samplers, so that both libraries see the same batches), the
TorchScript save/load steps left out (the size is that of a saved state_dict). The tutorial's sections are functions
so that a test can give both libraries the same float weights."""

import copy
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from torch.ao.quantization import get_default_qconfig, QConfigMapping
from torch.ao.quantization.quantize_fx import prepare_fx, convert_fx, fuse_fx


class BasicBlock(nn.Module):
    """torchvision's resnet BasicBlock (no downsampling)."""

    def __init__(self, planes):
        super().__init__()
        self.conv1 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out += identity
        out = self.relu(out)
        return out


class SmallResNet(nn.Module):
    """In place of torchvision's resnet18: the same stem, one residual block, pooling and classifier."""

    def __init__(self, planes=8, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, planes, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(planes))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes, num_classes)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.layer1(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return x


class AverageMeter(object):
    """Computes and stores the average and current value"""
    def __init__(self, name, fmt=':f'):
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self):
        self.val = 0
        self.avg = 0
        self.sum = 0
        self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self):
        fmtstr = '{name} {val' + self.fmt + '} ({avg' + self.fmt + '})'
        return fmtstr.format(**self.__dict__)


def accuracy(output, target, topk=(1,)):
    """Computes the accuracy over the k top predictions for the specified values of k"""
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)

        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))

        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def evaluate(model, criterion, data_loader):
    model.eval()
    top1 = AverageMeter('Acc@1', ':6.2f')
    top5 = AverageMeter('Acc@5', ':6.2f')
    cnt = 0
    with torch.no_grad():
        for image, target in data_loader:
            output = model(image)
            loss = criterion(output, target)
            cnt += 1
            acc1, acc5 = accuracy(output, target, topk=(1, 5))
            top1.update(acc1[0], image.size(0))
            top5.update(acc5[0], image.size(0))
    print('')

    return top1, top5


def print_size_of_model(model):
    path = os.path.join(tempfile.mkdtemp(), "temp.p")
    torch.save(model.state_dict(), path)
    size = os.path.getsize(path)
    print("Size (MB):", size/1e6)
    os.remove(path)
    return size


image_size = 16
num_classes = 10
train_batch_size = 4
eval_batch_size = 4


def prepare_data_loaders(seed=0):
    rng = np.random.default_rng(seed)
    def dataset(n):
        images = torch.tensor(rng.standard_normal((n, 3, image_size, image_size)), dtype=torch.float32)
        labels = torch.tensor(rng.integers(0, num_classes, n), dtype=torch.int64)
        return TensorDataset(images, labels)
    dataset_train, dataset_test = dataset(2 * train_batch_size), dataset(2 * eval_batch_size)
    data_loader = DataLoader(dataset_train, batch_size=train_batch_size,
                             sampler=torch.utils.data.SequentialSampler(dataset_train))
    data_loader_test = DataLoader(dataset_test, batch_size=eval_batch_size,
                                  sampler=torch.utils.data.SequentialSampler(dataset_test))
    return data_loader, data_loader_test


criterion = nn.CrossEntropyLoss()


def calibrate(model, data_loader):
    model.eval()
    with torch.no_grad():
        for image, target in data_loader:
            model(image)


def quantize(float_model, data_loader, data_loader_test):
    """Sections 3 to 8: prepare, calibrate, convert, evaluate."""
    float_model.eval()
    # deepcopy the model since we need to keep the original model around
    model_to_quantize = copy.deepcopy(float_model)
    model_to_quantize.eval()

    qconfig = get_default_qconfig("x86")
    qconfig_mapping = QConfigMapping().set_global(qconfig)
    example_inputs = (next(iter(data_loader))[0])
    prepared_model = prepare_fx(model_to_quantize, qconfig_mapping, example_inputs)
    print(prepared_model.graph)
    prepared_graph = str(prepared_model.graph)

    calibrate(prepared_model, data_loader_test)  # run calibration on sample data

    quantized_model = convert_fx(prepared_model)
    print(quantized_model)

    print("Size of model before quantization")
    size_before = print_size_of_model(float_model)
    print("Size of model after quantization")
    size_after = print_size_of_model(quantized_model)
    top1, top5 = evaluate(quantized_model, criterion, data_loader_test)
    print("[before serilaization] Evaluation accuracy on test dataset: %2.2f, %2.2f"%(top1.avg, top5.avg))
    return prepared_graph, quantized_model, size_before, size_after, top1.avg, top5.avg


def debug(float_model, quantized_model):
    """Section 9: the fused float weight against the quantized one."""
    fused = fuse_fx(float_model)

    conv1_weight_after_fuse = fused.conv1[0].weight[0]
    conv1_weight_after_quant = quantized_model.conv1.weight().dequantize()[0]

    difference = torch.max(abs(conv1_weight_after_fuse - conv1_weight_after_quant))
    print(difference)
    return fused, difference
