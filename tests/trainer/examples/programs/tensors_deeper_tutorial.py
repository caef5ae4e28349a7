# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials beginner_source/introyt/tensors_deeper_tutorial.py (Introduction to PyTorch: Tensors), as a
function that returns what the tutorial prints; results of random tensors are reported as checks that hold for any
draw (seeding repeats a draw, shapes, dtypes, identities)."""

import math

import numpy as np
import torch


def run():
    seen = {}
    x = torch.empty(3, 4)
    print(type(x))
    seen['empty'] = (tuple(x.shape), str(x.dtype), type(x).__name__)

    zeros = torch.zeros(2, 3)
    ones = torch.ones(2, 3)
    torch.manual_seed(1729)
    random = torch.rand(2, 3)
    seen['zeros_ones'] = (zeros, ones)

    torch.manual_seed(1729)
    random1 = torch.rand(2, 3)
    random2 = torch.rand(2, 3)
    torch.manual_seed(1729)
    random3 = torch.rand(2, 3)
    random4 = torch.rand(2, 3)
    seen['seeding'] = (torch.equal(random1, random3), torch.equal(random2, random4), torch.equal(random, random1),
                       torch.equal(random1, random2))

    x = torch.empty(2, 2, 3)
    empty_like_x = torch.empty_like(x)
    zeros_like_x = torch.zeros_like(x)
    ones_like_x = torch.ones_like(x)
    rand_like_x = torch.rand_like(x)
    seen['like_shapes'] = [tuple(t.shape) for t in (x, empty_like_x, zeros_like_x, ones_like_x, rand_like_x)]
    seen['like'] = (zeros_like_x, ones_like_x)

    some_constants = torch.tensor([[3.1415926, 2.71828], [1.61803, 0.0072897]])
    some_integers = torch.tensor((2, 3, 5, 7, 11, 13, 17, 19))
    more_integers = torch.tensor(((2, 4, 6), [3, 6, 9]))
    print(some_constants)
    print(some_integers)
    print(more_integers)
    seen['from_data'] = (some_constants, some_integers, more_integers)

    a = torch.ones((2, 3), dtype=torch.int16)
    print(a)
    b = torch.rand((2, 3), dtype=torch.float64) * 20.
    c = b.to(torch.int32)
    seen['dtypes'] = (a, str(b.dtype), str(c.dtype), bool((c == b.trunc()).all()))

    ones = torch.zeros(2, 2) + 1
    twos = torch.ones(2, 2) * 2
    threes = (torch.ones(2, 2) * 7 - 1) / 2
    fours = twos ** 2
    sqrt2s = twos ** 0.5
    seen['arithmetic'] = (ones, twos, threes, fours, sqrt2s)

    powers2 = twos ** torch.tensor([[1, 2], [3, 4]])
    fives = ones + fours
    dozens = threes * fours
    seen['tensor_arithmetic'] = (powers2, fives, dozens)

    rand = torch.rand(2, 4)
    doubled = rand * (torch.ones(1, 4) * 2)
    seen['broadcast_doubled'] = bool(torch.allclose(doubled, rand * 2))

    a = torch.ones(4, 3, 2)
    b = a * torch.rand(3, 2)
    c = a * torch.rand(3, 1)
    d = a * torch.rand(1, 2)
    seen['broadcast_shapes'] = [tuple(t.shape) for t in (b, c, d)]
    seen['broadcast_layers'] = (bool((b[0] == b[3]).all()), bool((c[..., 0] == c[..., 1]).all()),
                                bool((d[:, 0] == d[:, 2]).all()))
    try:
        torch.ones(4, 3, 2) * torch.rand(4, 3)
    except RuntimeError:
        seen['broadcast_error'] = 'RuntimeError'

    a = torch.tensor([[-0.75, 0.25, -0.1, 0.9], [0.5, -0.5, 0.6, -0.3]])  # the tutorial: torch.rand(2, 4) * 2 - 1
    seen['common'] = (torch.abs(a), torch.ceil(a), torch.floor(a), torch.clamp(a, -0.5, 0.5))

    angles = torch.tensor([0, math.pi / 4, math.pi / 2, 3 * math.pi / 4])
    sines = torch.sin(angles)
    inverses = torch.asin(sines)
    seen['trig'] = (angles, sines, inverses)

    b = torch.tensor([1, 5, 11])
    c = torch.tensor([2, 7, 10])
    seen['xor'] = torch.bitwise_xor(b, c)

    d = torch.tensor([[1., 2.], [3., 4.]])
    e = torch.ones(1, 2)
    seen['eq'] = torch.eq(d, e)

    print(torch.max(d))
    seen['reductions'] = (torch.max(d), torch.max(d).item(), torch.mean(d), torch.std(d), torch.prod(d),
                          torch.unique(torch.tensor([1, 2, 1, 2, 1, 2])))

    v1 = torch.tensor([1., 0., 0.])
    v2 = torch.tensor([0., 1., 0.])
    m1 = torch.tensor([[0.25, 0.5], [0.75, 0.125]])  # the tutorial: torch.rand(2, 2)
    m2 = torch.tensor([[3., 0.], [0., 3.]])
    m3 = torch.matmul(m1, m2)
    u, s, v = torch.svd(m3)
    print(torch.svd(m3))
    seen['linalg'] = (torch.cross(v2, v1), m3, s, torch.abs(u), torch.abs(v), u @ torch.diag(s) @ v.T)

    a = torch.tensor([0, math.pi / 4, math.pi / 2, 3 * math.pi / 4])
    sin_a = torch.sin(a)
    b = torch.tensor([0, math.pi / 4, math.pi / 2, 3 * math.pi / 4])
    sin_b = torch.sin_(b)
    seen['sin_'] = (a, sin_a, sin_b is b, b)

    a = torch.ones(2, 2)
    b = torch.tensor([[0.5, 0.25], [0.125, 2.0]])  # the tutorial: torch.rand(2, 2)
    added = a.add_(b)
    squared = b.mul_(b)
    seen['inplace'] = (added is a, a, squared is b, b)

    a = torch.rand(2, 2)
    b = torch.rand(2, 2)
    c = torch.zeros(2, 2)
    old_id = id(c)
    d = torch.matmul(a, b, out=c)
    assert c is d
    assert id(c) == old_id
    seen['out_matmul'] = bool(torch.allclose(c, a @ b))
    torch.rand(2, 2, out=c)
    assert id(c) == old_id
    seen['out_rand'] = bool(((c >= 0) & (c < 1)).all())

    a = torch.ones(2, 2)
    b = a
    a[0][1] = 561
    seen['alias'] = b

    a = torch.ones(2, 2)
    b = a.clone()
    assert b is not a
    same = torch.eq(a, b)
    a[0][1] = 561
    seen['clone'] = (same, b)

    a = torch.rand(2, 2, requires_grad=True)
    b = a.clone()
    c = a.detach().clone()
    seen['clone_grad'] = (b.requires_grad, b.grad_fn is not None, c.requires_grad, c.grad_fn is None,
                          a.requires_grad, 'requires_grad=True' in repr(a), 'grad_fn=<Clone' in repr(b))

    if torch.cuda.is_available():
        my_device = torch.device('cuda')
    else:
        my_device = torch.device('cpu')
    print('Device: {}'.format(my_device))
    x = torch.rand(2, 2, device=my_device)
    y = torch.rand(2, 2)
    y = y.to(my_device)
    seen['device'] = ('Device: {}'.format(torch.device('cpu')), str(x.device), str(y.device))

    a = torch.rand(3, 226, 226)
    b = a.unsqueeze(0)
    c = torch.rand(1, 1, 1, 1, 1)
    seen['unsqueeze'] = (tuple(a.shape), tuple(b.shape), tuple(c.shape))

    a = torch.rand(1, 20)
    b = a.squeeze(0)
    c = torch.rand(2, 2)
    d = c.squeeze(0)
    seen['squeeze'] = (tuple(b.shape), tuple(d.shape))

    a = torch.ones(4, 3, 2)
    b = torch.rand(3)
    c = b.unsqueeze(1)
    seen['unsqueeze_broadcast'] = (tuple(c.shape), tuple((a * c).shape))

    batch_me = torch.rand(3, 226, 226)
    batch_me.unsqueeze_(0)
    seen['unsqueeze_'] = tuple(batch_me.shape)

    output3d = torch.rand(6, 20, 20)
    input1d = output3d.reshape(6 * 20 * 20)
    seen['reshape'] = (tuple(input1d.shape), tuple(torch.reshape(output3d, (6 * 20 * 20,)).shape))

    numpy_array = np.ones((2, 3))
    pytorch_tensor = torch.from_numpy(numpy_array)
    seen['from_numpy'] = (pytorch_tensor, str(pytorch_tensor.dtype))

    pytorch_rand = torch.rand(2, 3)
    numpy_rand = pytorch_rand.numpy()
    numpy_array[1, 1] = 23
    pytorch_rand[1, 1] = 17
    seen['shared_memory'] = (pytorch_tensor, numpy_rand[1, 1])
    return seen
