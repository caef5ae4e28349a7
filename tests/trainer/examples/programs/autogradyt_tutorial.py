# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials beginner_source/introyt/autogradyt_tutorial.py (Introduction to PyTorch: the Fundamentals of
Autograd), as a function returning what the tutorial prints; matplotlib's plots left out, the random inputs given,
the profiled loop shortened."""

import math

import torch


class TinyModel(torch.nn.Module):

    def __init__(self):
        super(TinyModel, self).__init__()

        self.layer1 = torch.nn.Linear(1000, 100)
        self.relu = torch.nn.ReLU()
        self.layer2 = torch.nn.Linear(100, 10)

    def forward(self, x):
        x = self.layer1(x)
        x = self.relu(x)
        x = self.layer2(x)
        return x


def walk(grad_fn):
    """The shape of the graph behind ``grad_fn``, as the tutorial's chain of next_functions shows it."""
    if grad_fn is None:
        return None
    return [(walk(fn), index) for fn, index in grad_fn.next_functions]


def simple_example():
    seen = {}
    a = torch.linspace(0., 2. * math.pi, steps=25, requires_grad=True)
    print(a)
    b = torch.sin(a)
    print(b)
    c = 2 * b
    print(c)
    d = c + 1
    print(d)
    out = d.sum()
    print(out)

    print('d:')
    print(d.grad_fn)
    print(d.grad_fn.next_functions)
    print(d.grad_fn.next_functions[0][0].next_functions)
    print(d.grad_fn.next_functions[0][0].next_functions[0][0].next_functions)
    print(d.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0].next_functions)
    print('\nc:')
    print(c.grad_fn)
    print('\nb:')
    print(b.grad_fn)
    print('\na:')
    print(a.grad_fn)
    seen['graph'] = walk(d.grad_fn)
    seen['leaf'] = a.grad_fn

    out.backward()
    print(a.grad)
    seen['grad'] = a.grad
    seen['not_leaf'] = c.grad is None
    return seen


def training(model, some_input, ideal_output):
    seen = {}
    print(model.layer2.weight[0][0:10]) # just a small slice
    print(model.layer2.weight.grad)
    seen['no_grad_yet'] = model.layer2.weight.grad is None

    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)

    prediction = model(some_input)

    loss = (ideal_output - prediction).pow(2).sum()
    print(loss)
    seen['loss'] = loss

    loss.backward()
    print(model.layer2.weight[0][0:10])
    print(model.layer2.weight.grad[0][0:10])
    seen['grad'] = model.layer2.weight.grad[0][0:10].clone()

    optimizer.step()
    print(model.layer2.weight[0][0:10])
    print(model.layer2.weight.grad[0][0:10])
    seen['stepped'] = model.layer2.weight[0][0:10].detach().clone()

    for i in range(0, 5):
        prediction = model(some_input)
        loss = (ideal_output - prediction).pow(2).sum()
        loss.backward()

    print(model.layer2.weight.grad[0][0:10])
    seen['accumulated'] = model.layer2.weight.grad[0][0:10].clone()

    optimizer.zero_grad()

    print(model.layer2.weight.grad)
    seen['zeroed'] = model.layer2.weight.grad is None
    return seen


def switching():
    seen = {}
    a = torch.ones(2, 3, requires_grad=True)
    b1 = 2 * a
    a.requires_grad = False
    b2 = 2 * a
    seen['requires_grad_flag'] = (b1.requires_grad, b1.grad_fn is not None, b2.requires_grad, b2.grad_fn is None)

    a = torch.ones(2, 3, requires_grad=True) * 2
    b = torch.ones(2, 3, requires_grad=True) * 3

    c1 = a + b
    with torch.no_grad():
        c2 = a + b
    c3 = a * b
    seen['no_grad'] = (c1.requires_grad, c2.requires_grad, c3.requires_grad, c2)

    def add_tensors1(x, y):
        return x + y

    @torch.no_grad()
    def add_tensors2(x, y):
        return x + y

    a = torch.ones(2, 3, requires_grad=True) * 2
    b = torch.ones(2, 3, requires_grad=True) * 3
    c1 = add_tensors1(a, b)
    c2 = add_tensors2(a, b)
    seen['decorator'] = (c1.requires_grad, c2.requires_grad)

    x = torch.rand(5, requires_grad=True)
    y = x.detach()
    seen['detach'] = (y.requires_grad, bool(torch.equal(x, y)))

    a = torch.linspace(0., 2. * math.pi, steps=25, requires_grad=True)
    try:
        torch.sin_(a)
    except RuntimeError:
        seen['inplace_on_leaf'] = 'RuntimeError'
    return seen


def profiler():
    device = torch.device('cpu')
    run_on_gpu = False
    if torch.cuda.is_available():
        device = torch.device('cuda')
        run_on_gpu = True

    x = torch.randn(2, 3, requires_grad=True)
    y = torch.rand(2, 3, requires_grad=True)
    z = torch.ones(2, 3, requires_grad=True)

    with torch.autograd.profiler.profile(use_cuda=run_on_gpu) as prf:
        for _ in range(10):
            z = (z / x) * y

    table = prf.key_averages().table(sort_by='self_cpu_time_total')
    print(table)
    return table


def high_level(x_values):
    seen = {}
    x = torch.tensor(x_values, requires_grad=True)

    y = x * 2
    while y.data.norm() < 1000:
        y = y * 2

    print(y)
    v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float) # stand-in for gradients
    y.backward(v)
    print(x.grad)
    seen['vector_backward'] = (y.detach(), x.grad)

    def exp_adder(x, y):
        return 2 * x.exp() + 3 * y

    inputs = (torch.tensor([0.25]), torch.tensor([0.5])) # arguments for the function
    seen['jacobian_1'] = torch.autograd.functional.jacobian(exp_adder, inputs)

    inputs = (torch.tensor([0.25, 0.5, 0.75]), torch.tensor([0.1, 0.2, 0.3])) # arguments for the function
    seen['jacobian_3'] = torch.autograd.functional.jacobian(exp_adder, inputs)

    def do_some_doubling(x):
        y = x * 2
        while y.data.norm() < 1000:
            y = y * 2
        return y

    inputs = torch.tensor(x_values)
    my_gradients = torch.tensor([0.1, 1.0, 0.0001])
    seen['vjp'] = torch.autograd.functional.vjp(do_some_doubling, inputs, v=my_gradients)
    return seen
