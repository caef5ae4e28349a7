"""``F.relu(input, inplace=False)``: PyTorch's functional ReLU takes ``inplace``, which model code uses constantly
(torchvision's DenseNet and GoogLeNet call ``F.relu(x, inplace=True)``); ``torch.relu`` itself does not."""

from trainer.ops import unary


def relu(input, inplace: bool = False):
    result = unary.relu(input)
    if not inplace:
        return result
    input._check_inplace()
    return input._assign(result)
