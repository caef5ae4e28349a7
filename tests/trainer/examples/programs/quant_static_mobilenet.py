# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials advanced_source/static_quantization_tutorial (eager mode, current version: torch.ao.quantization,
``fuse_model(is_qat=...)``, the 'x86' qconfigs), shortened: the ImageNet-1k folders replaced by small generated
images (sequential samplers, so that both libraries see the same batches), a narrow MobileNetV2 at 64x64 pixels, a few
batches per section; the TorchScript save/benchmark steps left out. The model code is the tutorial's."""

import os
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from torch.ao.quantization import QuantStub, DeQuantStub


def _make_divisible(v, divisor, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super(ConvBNReLU, self).__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes, momentum=0.1),
            # Replace with ReLU
            nn.ReLU(inplace=False)
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super(InvertedResidual, self).__init__()
        self.stride = stride
        assert stride in [1, 2]

        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup

        layers = []
        if expand_ratio != 1:
            # pw
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend([
            # dw
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            # pw-linear
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup, momentum=0.1),
        ])
        self.conv = nn.Sequential(*layers)
        # Replace torch.add with floatfunctional
        self.skip_add = nn.quantized.FloatFunctional()

    def forward(self, x):
        if self.use_res_connect:
            return self.skip_add.add(x, self.conv(x))
        else:
            return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None, round_nearest=8):
        super(MobileNetV2, self).__init__()
        block = InvertedResidual
        input_channel = 32
        last_channel = 1280

        if inverted_residual_setting is None:
            inverted_residual_setting = [
                # t, c, n, s
                [1, 16, 1, 1],
                [6, 24, 2, 2],
                [6, 32, 3, 2],
                [6, 64, 4, 2],
                [6, 96, 3, 1],
                [6, 160, 3, 2],
                [6, 320, 1, 1],
            ]

        # only check the first element, assuming user knows t,c,n,s are required
        if len(inverted_residual_setting) == 0 or len(inverted_residual_setting[0]) != 4:
            raise ValueError("inverted_residual_setting should be non-empty "
                             "or a 4-element list, got {}".format(inverted_residual_setting))

        # building first layer
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features = [ConvBNReLU(3, input_channel, stride=2)]
        # building inverted residual blocks
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(block(input_channel, output_channel, stride, expand_ratio=t))
                input_channel = output_channel
        # building last several layers
        features.append(ConvBNReLU(input_channel, self.last_channel, kernel_size=1))
        # make it nn.Sequential
        self.features = nn.Sequential(*features)
        self.quant = QuantStub()
        self.dequant = DeQuantStub()
        # building classifier
        self.classifier = nn.Sequential(
            nn.Dropout(0.2),
            nn.Linear(self.last_channel, num_classes),
        )

        # weight initialization
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.quant(x)
        x = self.features(x)
        x = x.mean([2, 3])
        x = self.classifier(x)
        x = self.dequant(x)
        return x

    # Fuse Conv+BN and Conv+BN+Relu modules prior to quantization
    # This operation does not change the numerics
    def fuse_model(self, is_qat=False):
        fuse_modules = torch.ao.quantization.fuse_modules_qat if is_qat else torch.ao.quantization.fuse_modules
        for m in self.modules():
            if type(m) == ConvBNReLU:
                fuse_modules(m, ['0', '1', '2'], inplace=True)
            if type(m) == InvertedResidual:
                for idx in range(len(m.conv)):
                    if type(m.conv[idx]) == nn.Conv2d:
                        fuse_modules(m.conv, [str(idx), str(idx + 1)], inplace=True)


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
            # (the tutorial's ``.view(-1)`` raises on this transposed tensor in current PyTorch, as in trainer;
            # pytorch/examples' imagenet main.py, where the helper comes from, now reshapes)
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def evaluate(model, criterion, data_loader, neval_batches):
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
            print('.', end = '')
            top1.update(acc1[0], image.size(0))
            top5.update(acc5[0], image.size(0))
            if cnt >= neval_batches:
                 return top1, top5

    return top1, top5


# (shortened: a narrow MobileNetV2 for 10 classes; the tutorial's is the default 1000-class, width 1.0 one)
num_classes = 10
width_mult = 0.25


def load_model(model_file):
    model = MobileNetV2(num_classes=num_classes, width_mult=width_mult)
    state_dict = torch.load(model_file)
    model.load_state_dict(state_dict)
    model.to('cpu')
    return model


def print_size_of_model(model):
    # (the tutorial writes "temp.p" in the working directory; a temporary folder keeps parallel runs apart)
    path = os.path.join(tempfile.mkdtemp(), "temp.p")
    torch.save(model.state_dict(), path)
    size = os.path.getsize(path)
    print('Size (MB):', size/1e6)
    os.remove(path)
    return size


# (shortened: generated images in place of the ImageNet-1k folders; sequential samplers in place of RandomSampler)
train_batch_size = 4
eval_batch_size = 4
image_size = 64


def prepare_data_loaders(seed=0):
    rng = np.random.default_rng(seed)
    def dataset(n):
        images = torch.tensor(rng.standard_normal((n, 3, image_size, image_size)), dtype=torch.float32)
        labels = torch.tensor(rng.integers(0, num_classes, n), dtype=torch.int64)
        return TensorDataset(images, labels)
    dataset_train, dataset_test = dataset(3 * train_batch_size), dataset(2 * eval_batch_size)
    data_loader = DataLoader(dataset_train, batch_size=train_batch_size,
                             sampler=torch.utils.data.SequentialSampler(dataset_train))
    data_loader_test = DataLoader(dataset_test, batch_size=eval_batch_size,
                                  sampler=torch.utils.data.SequentialSampler(dataset_test))
    return data_loader, data_loader_test


criterion = nn.CrossEntropyLoss()
num_eval_batches = 2
num_calibration_batches = 3


def fusion(model_file):
    """Section 3's end: the float model before and after fusion, and its size."""
    float_model = load_model(model_file).to('cpu')
    before = str(float_model.features[1].conv)
    float_model.eval()
    float_model.fuse_model()
    after = str(float_model.features[1].conv)
    return float_model, before, after, print_size_of_model(float_model)


def post_training_quantization(model_file, data_loader, data_loader_test, per_channel):
    """Section 4: default_qconfig (min/max, per tensor) or get_default_qconfig('x86') (histogram, per channel)."""
    myModel = load_model(model_file).to('cpu')
    myModel.eval()

    # Fuse Conv, bn and relu
    myModel.fuse_model()

    if per_channel:
        # The old 'fbgemm' is still available but 'x86' is the recommended default.
        myModel.qconfig = torch.ao.quantization.get_default_qconfig('x86')
    else:
        myModel.qconfig = torch.ao.quantization.default_qconfig
    qconfig = str(myModel.qconfig)
    torch.ao.quantization.prepare(myModel, inplace=True)
    observed = str(myModel.features[1].conv)

    # Calibrate with the training set
    evaluate(myModel, criterion, data_loader, neval_batches=num_calibration_batches)

    # Convert to quantized model
    torch.ao.quantization.convert(myModel, inplace=True)
    quantized = str(myModel.features[1].conv)
    size = print_size_of_model(myModel)

    top1, top5 = evaluate(myModel, criterion, data_loader_test, neval_batches=num_eval_batches)
    print('Evaluation accuracy on %d images, %2.2f'%(num_eval_batches * eval_batch_size, top1.avg))
    return myModel, qconfig, observed, quantized, size, top1.avg


def train_one_epoch(model, criterion, optimizer, data_loader, device, ntrain_batches):
    model.train()
    top1 = AverageMeter('Acc@1', ':6.2f')
    top5 = AverageMeter('Acc@5', ':6.2f')
    avgloss = AverageMeter('Loss', '1.5f')

    cnt = 0
    losses = []  # (added: what the test compares)
    for image, target in data_loader:
        start_time = time.time()
        print('.', end = '')
        cnt += 1
        image, target = image.to(device), target.to(device)
        output = model(image)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        acc1, acc5 = accuracy(output, target, topk=(1, 5))
        top1.update(acc1[0], image.size(0))
        top5.update(acc5[0], image.size(0))
        avgloss.update(loss, image.size(0))
        if cnt >= ntrain_batches:
            print('Loss', avgloss.avg)

            print('Training: * Acc@1 {top1.avg:.3f} Acc@5 {top5.avg:.3f}'
                  .format(top1=top1, top5=top5))
            return losses

    print('Full imagenet train set:  * Acc@1 {top1.avg:.3f} Acc@5 {top5.avg:.3f}'
          .format(top1=top1, top5=top5))
    return losses


def prepare_for_qat(model_file):
    """Section 5 up to prepare_qat."""
    qat_model = load_model(model_file)
    qat_model.fuse_model(is_qat=True)

    optimizer = torch.optim.SGD(qat_model.parameters(), lr = 0.0001)
    # The old 'fbgemm' is still available but 'x86' is the recommended default.
    qat_model.qconfig = torch.ao.quantization.get_default_qat_qconfig('x86')

    torch.ao.quantization.prepare_qat(qat_model, inplace=True)
    return qat_model, optimizer, str(qat_model.features[1].conv)


def quantization_aware_training(qat_model, optimizer, data_loader, data_loader_test, nepochs=3, num_train_batches=2):
    """Section 5's loop (8 epochs of 20 batches in the tutorial): observers and BN statistics frozen after a few
    epochs, the model converted after each."""
    losses, accuracies = [], []
    for nepoch in range(nepochs):
        losses += train_one_epoch(qat_model, criterion, optimizer, data_loader, torch.device('cpu'), num_train_batches)
        if nepoch > 1:
            # Freeze quantizer parameters
            qat_model.apply(torch.ao.quantization.disable_observer)
        if nepoch > 0:
            # Freeze batch norm mean and variance estimates
            qat_model.apply(torch.nn.intrinsic.qat.freeze_bn_stats)

        # Check the accuracy after each epoch
        quantized_model = torch.ao.quantization.convert(qat_model.eval(), inplace=False)
        quantized_model.eval()
        top1, top5 = evaluate(quantized_model,criterion, data_loader_test, neval_batches=num_eval_batches)
        accuracies.append(top1.avg)
        print('Epoch %d :Evaluation accuracy on %d images, %2.2f'%(nepoch, num_eval_batches * eval_batch_size, top1.avg))
    return losses, accuracies, quantized_model
