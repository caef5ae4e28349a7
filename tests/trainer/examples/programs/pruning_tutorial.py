# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/pruning_tutorial.py (torch.nn.utils.prune on LeNet: random, L1 and Ln
structured pruning, iterative pruning's PruningContainer, state_dict with masks, remove, global pruning and a custom
BasePruningMethod), as functions of a model that return what the tutorial prints."""

import torch
from torch import nn
import torch.nn.utils.prune as prune
import torch.nn.functional as F

device = torch.device("cpu")


class LeNet(nn.Module):
    def __init__(self):
        super(LeNet, self).__init__()
        # 1 input image channel, 6 output channels, 5x5 square conv kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5x5 image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, int(x.nelement() / x.shape[0]))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def single_module(model):
    seen = {}
    module = model.conv1
    print(list(module.named_parameters()))
    print(list(module.named_buffers()))
    seen['before'] = ([name for name, _ in module.named_parameters()], [name for name, _ in module.named_buffers()])

    prune.random_unstructured(module, name="weight", amount=0.3)
    print(list(module.named_parameters()))
    print(list(module.named_buffers()))
    print(module.weight)
    print(module._forward_pre_hooks)
    seen['random'] = ([name for name, _ in module.named_parameters()], [name for name, _ in module.named_buffers()],
                      int(module.weight_mask.sum()), bool(torch.equal(module.weight, module.weight_orig * module.weight_mask)),
                      len(module._forward_pre_hooks))

    prune.l1_unstructured(module, name="bias", amount=3)
    print(list(module.named_parameters()))
    print(list(module.named_buffers()))
    print(module.bias)
    print(module._forward_pre_hooks)
    seen['l1_bias'] = (module.bias_mask, module.bias, len(module._forward_pre_hooks))

    prune.ln_structured(module, name="weight", amount=0.5, n=2, dim=0)

    # As we can verify, this will zero out all the connections corresponding to
    # 50% (3 out of 6) of the channels, while preserving the action of the
    # previous mask.
    print(module.weight)
    for hook in module._forward_pre_hooks.values():
        if hook._tensor_name == "weight":  # select out the correct hook
            break

    print(list(hook))  # pruning history in the container
    seen['iterative'] = (int((module.weight_mask.flatten(1).sum(1) == 0).sum()), type(hook).__name__,
                         [type(method).__name__ for method in hook])

    print(model.state_dict().keys())
    seen['state_dict'] = list(model.state_dict().keys())

    prune.remove(module, 'weight')
    print(list(module.named_parameters()))
    print(list(module.named_buffers()))
    print(module.weight)
    seen['removed'] = ([name for name, _ in module.named_parameters()], [name for name, _ in module.named_buffers()],
                       isinstance(module.weight, nn.Parameter))
    return seen


def multiple_parameters(new_model):
    # prune 20% of connections in all 2D-conv layers
    for name, module in new_model.named_modules():
        # prune 20% of connections in all 2D-conv layers
        if isinstance(module, torch.nn.Conv2d):
            prune.l1_unstructured(module, name='weight', amount=0.2)
        # prune 40% of connections in all linear layers
        elif isinstance(module, torch.nn.Linear):
            prune.l1_unstructured(module, name='weight', amount=0.4)

    print(dict(new_model.named_buffers()).keys())  # to verify that all masks exist
    return {name: buffer for name, buffer in new_model.named_buffers()}


def global_pruning(model):
    parameters_to_prune = (
        (model.conv1, 'weight'),
        (model.conv2, 'weight'),
        (model.fc1, 'weight'),
        (model.fc2, 'weight'),
        (model.fc3, 'weight'),
    )

    prune.global_unstructured(
        parameters_to_prune,
        pruning_method=prune.L1Unstructured,
        amount=0.2,
    )

    lines = []
    for name in ('conv1', 'conv2', 'fc1', 'fc2', 'fc3'):
        weight = getattr(model, name).weight
        lines.append("Sparsity in {}.weight: {:.2f}%".format(
            name, 100. * float(torch.sum(weight == 0)) / float(weight.nelement())))
    lines.append(
        "Global sparsity: {:.2f}%".format(
            100. * float(
                torch.sum(model.conv1.weight == 0)
                + torch.sum(model.conv2.weight == 0)
                + torch.sum(model.fc1.weight == 0)
                + torch.sum(model.fc2.weight == 0)
                + torch.sum(model.fc3.weight == 0)
            )
            / float(
                model.conv1.weight.nelement()
                + model.conv2.weight.nelement()
                + model.fc1.weight.nelement()
                + model.fc2.weight.nelement()
                + model.fc3.weight.nelement()
            )
        )
    )
    print('\n'.join(lines))
    return lines


class FooBarPruningMethod(prune.BasePruningMethod):
    """Prune every other entry in a tensor
    """
    PRUNING_TYPE = 'unstructured'

    def compute_mask(self, t, default_mask):
        mask = default_mask.clone()
        mask.view(-1)[::2] = 0
        return mask


def foobar_unstructured(module, name):
    """Prunes tensor corresponding to parameter called `name` in `module`
    by removing every other entry in the tensors.
    Modifies module in place (and also return the modified module)
    by:
    1) adding a named buffer called `name+'_mask'` corresponding to the
    binary mask applied to the parameter `name` by the pruning method.
    The parameter `name` is replaced by its pruned version, while the
    original (unpruned) parameter is stored in a new parameter named
    `name+'_orig'`.

    Args:
        module (nn.Module): module containing the tensor to prune
        name (string): parameter name within `module` on which pruning
                will act.

    Returns:
        module (nn.Module): modified (i.e. pruned) version of the input
            module

    Examples:
        >>> m = nn.Linear(3, 4)
        >>> foobar_unstructured(m, name='bias')
    """
    FooBarPruningMethod.apply(module, name)
    return module


def custom_method(model):
    foobar_unstructured(model.fc3, name='bias')
    print(model.fc3.bias_mask)
    return model.fc3.bias_mask, model(torch.ones(1, 1, 32, 32))
