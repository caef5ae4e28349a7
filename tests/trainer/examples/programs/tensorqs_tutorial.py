# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials beginner_source/basics/tensorqs_tutorial.py (Learn the Basics: Tensors), as a function that
returns what the tutorial prints; random tensors are reported by shape and dtype only."""

import numpy as np
import torch


def run():
    seen = {}

    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    seen['x_np'] = x_np

    x_ones = torch.ones_like(x_data)  # retains the properties of x_data
    print(f"Ones Tensor: \n {x_ones} \n")
    seen['x_ones'] = x_ones
    x_rand = torch.rand_like(x_data, dtype=torch.float)  # overrides the datatype of x_data
    print(f"Random Tensor: \n {x_rand} \n")
    seen['x_rand'] = (tuple(x_rand.shape), str(x_rand.dtype))

    shape = (2, 3,)
    rand_tensor = torch.rand(shape)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)
    print(f"Random Tensor: \n {rand_tensor} \n")
    print(f"Ones Tensor: \n {ones_tensor} \n")
    print(f"Zeros Tensor: \n {zeros_tensor}")
    seen['ones_zeros'] = (ones_tensor, zeros_tensor, tuple(rand_tensor.shape))

    tensor = torch.rand(3, 4)
    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")
    seen['attributes'] = (f"{tensor.shape}", f"{tensor.dtype}", f"{tensor.device}")

    if torch.cuda.is_available() & (torch.device('cuda').index is not None):
        tensor = tensor.to('cuda')

    tensor = torch.ones(4, 4)
    print('First row: ', tensor[0])
    print('First column: ', tensor[:, 0])
    print('Last column:', tensor[..., -1])
    tensor[:, 1] = 0
    print(tensor)
    seen['tensor'] = tensor.clone()

    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)
    seen['t1'] = t1

    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.rand_like(tensor)
    torch.matmul(tensor, tensor.T, out=y3)
    seen['y'] = (y1, y2, y3)

    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)
    seen['z'] = (z1, z2, z3)

    agg = tensor.sum()
    agg_item = agg.item()
    print(agg_item, type(agg_item))
    seen['agg_item'] = (agg_item, type(agg_item))

    print(tensor, "\n")
    tensor.add_(5)
    print(tensor)
    seen['added'] = tensor

    t = torch.ones(5)
    print(f"t: {t}")
    n = t.numpy()
    print(f"n: {n}")
    t.add_(1)
    print(f"t: {t}")
    print(f"n: {n}")
    seen['bridge_to_numpy'] = n.copy()

    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    seen['bridge_from_numpy'] = t
    return seen
