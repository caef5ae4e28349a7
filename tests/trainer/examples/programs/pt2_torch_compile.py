# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials intermediate_source/torch_compile_tutorial.py, shortened to what runs on the CPU: the speedup
section's eval and train steps use the tutorial's MyModule on random data in place of densenet121 on CUDA (without
the timing), and TorchScript, ``torch._dynamo.reset()`` and the custom-backend section (which prints TorchDynamo's
FX graphs) are left out. Results the tutorial prints are kept in variables."""

import torch
import warnings

def foo(x, y):
    a = torch.sin(x)
    b = torch.cos(x)
    return a + b
opt_foo1 = torch.compile(foo)
foo_in = (torch.randn(10, 10), torch.randn(10, 10))
foo_out = opt_foo1(*foo_in)

@torch.compile
def opt_foo2(x, y):
    a = torch.sin(x)
    b = torch.cos(x)
    return a + b
foo2_out = opt_foo2(*foo_in)

class MyModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(100, 10)

    def forward(self, x):
        return torch.nn.functional.relu(self.lin(x))

mod = MyModule()
opt_mod = torch.compile(mod)
mod_in = torch.randn(10, 100)
mod_out = opt_mod(mod_in)

# Demonstrating Speedups (the steps only)

def generate_data(b):
    return (
        torch.randn(b, 100).to(torch.float32),
        torch.randint(10, (b,)),
    )

N_ITERS = 3

def init_model():
    return MyModule().to(torch.float32)

def evaluate(mod, inp):
    return mod(inp)

model = init_model()
evaluate_opt = torch.compile(evaluate, mode="reduce-overhead")
inp = generate_data(16)[0]
eval_eager, eval_compiled = evaluate(model, inp), evaluate_opt(model, inp)

model = init_model()
opt = torch.optim.Adam(model.parameters())

def train(mod, data):
    opt.zero_grad(True)
    pred = mod(data[0])
    loss = torch.nn.CrossEntropyLoss()(pred, data[1])
    loss.backward()
    opt.step()
    return loss

train_opt = torch.compile(train, mode="reduce-overhead")
train_losses = []
for i in range(N_ITERS):
    inp = generate_data(16)
    train_losses.append(train_opt(model, inp).item())

# Comparison to TorchScript and FX Tracing

def f1(x, y):
    if x.sum() < 0:
        return -y
    return y

def test_fns(fn1, fn2, args):
    out1 = fn1(*args)
    out2 = fn2(*args)
    return torch.allclose(out1, out2)

inp1 = torch.randn(5, 5)
inp2 = torch.randn(5, 5)

import traceback as tb
fx_error = None
try:
    torch.fx.symbolic_trace(f1)
except Exception as e:
    fx_error = e

fx_f1 = torch.fx.symbolic_trace(f1, concrete_args={"x": inp1})
fx_results = (test_fns(f1, fx_f1, (inp1, inp2)), test_fns(f1, fx_f1, (-inp1, inp2)))

compile_f1 = torch.compile(f1)
compile_f1_results = (test_fns(f1, compile_f1, (inp1, inp2)), test_fns(f1, compile_f1, (-inp1, inp2)))

def f2(x, y):
    return x + y

inp1 = torch.randn(5, 5)
inp2 = 3

compile_f2 = torch.compile(f2)
compile_f2_result = test_fns(f2, compile_f2, (inp1, inp2))

import scipy
def f3(x):
    x = x * 2
    x = scipy.fft.dct(x.numpy())
    x = torch.from_numpy(x)
    x = x * 2
    return x

inp2 = torch.randn(5, 5)
f3_in = inp2
compile_f3 = torch.compile(f3)
compile_f3_result = test_fns(f3, compile_f3, (inp2,))
f3_out = compile_f3(inp2)

def bar(a, b):
    x = a / (torch.abs(a) + 1)
    if b.sum() < 0:
        b = b * -1
    return x * b

opt_bar = torch.compile(bar)
inp1 = torch.randn(10)
inp2 = torch.randn(10)
bar_out = (opt_bar(inp1, inp2), opt_bar(inp1, -inp2))
