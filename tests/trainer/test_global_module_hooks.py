"""Global module hooks (``torch.nn.modules.module.register_module_*``) against PyTorch: the same model and hook code
run on both libraries and must record the same calls, in the same order, with the same arguments and effects."""

import numpy as np
import pytest
import torch

import trainer

X = np.random.default_rng(0).standard_normal((3, 4))


def model(lib):
    """The same weights in both libraries."""
    net = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 2)).double()
    rng = np.random.default_rng(1)
    net.load_state_dict({k: lib.tensor(rng.standard_normal(tuple(v.shape))) for k, v in net.state_dict().items()})
    return net


def name_of(net, module):
    return next(name or "root" for name, m in net.named_modules() if m is module)


def summary(value):
    """Tensors as rounded arrays, containers element-wise, so both libraries' records compare equal."""
    if isinstance(value, (tuple, list)):
        return tuple(summary(v) for v in value)
    if hasattr(value, "detach"):
        return tuple(np.round(value.detach().numpy(), 10).ravel())
    return value


def run(lib, register, backward=False):
    """Registers hooks through ``register(lib, net, calls)`` (returning handles), runs forward (and backward),
    removes the hooks and returns the calls recorded and the output."""
    net = model(lib)
    calls = []
    handles = register(lib, net, calls)
    x = lib.tensor(X, requires_grad=backward)
    out = net(x)
    if backward:
        out.sum().backward()
    for handle in handles:
        handle.remove()
    return calls, out, x


def assert_same_calls(register, backward=False):
    ours_calls, ours_out, ours_x = run(trainer, register, backward)
    theirs_calls, theirs_out, theirs_x = run(torch, register, backward)
    assert ours_calls == theirs_calls
    np.testing.assert_allclose(ours_out.detach().numpy(), theirs_out.detach().numpy(), rtol=1e-12)
    if backward:
        np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-12)
    return ours_calls


def test_global_forward_hooks_run_before_the_modules_own_for_every_module():
    def register(lib, net, calls):
        mm = lib.nn.modules.module
        return [
            net[0].register_forward_pre_hook(lambda m, a: calls.append(("own pre", name_of(net, m)))),
            mm.register_module_forward_pre_hook(lambda m, a: calls.append(("pre", name_of(net, m), summary(a)))),
            net[2].register_forward_hook(lambda m, a, o: calls.append(("own post", name_of(net, m)))),
            mm.register_module_forward_hook(lambda m, a, o: calls.append(("post", name_of(net, m), summary(o)))),
        ]

    calls = assert_same_calls(register)
    assert [c[:2] for c in calls][:3] == [("pre", "root"), ("pre", "0"), ("own pre", "0")]


def test_global_hooks_replace_arguments_and_outputs_and_see_kwargs():
    def register(lib, net, calls):
        mm = lib.nn.modules.module

        def double_input(module, args):
            return args[0] * 2 if isinstance(module, lib.nn.Tanh) else None

        def record_kwargs(module, args, kwargs, output):
            calls.append((name_of(net, module), sorted(kwargs)))
            return output + 1 if isinstance(module, lib.nn.Linear) else None

        return [mm.register_module_forward_pre_hook(double_input),
                mm.register_module_forward_hook(record_kwargs, with_kwargs=True)]

    assert_same_calls(register)


@pytest.mark.parametrize("lib", [torch, trainer], ids=["torch", "trainer"])
def test_removed_global_hooks_no_longer_run(lib):
    calls = []
    handle = lib.nn.modules.module.register_module_forward_hook(lambda m, a, o: calls.append(1))
    handle.remove()
    model(lib)(lib.tensor(X))
    assert calls == []


@pytest.mark.parametrize("lib", [torch, trainer], ids=["torch", "trainer"])
def test_always_call_hooks_run_when_forward_raises(lib):
    calls = []
    mm = lib.nn.modules.module
    handles = [mm.register_module_forward_hook(lambda m, a, o: calls.append(("always", o)), always_call=True),
               mm.register_module_forward_hook(lambda m, a, o: calls.append(("plain", o)))]
    try:
        with pytest.raises(RuntimeError):
            lib.nn.Linear(4, 5)(lib.ones(3, 7))
    finally:
        for handle in handles:
            handle.remove()
    assert calls == [("always", None)]


def test_global_full_backward_hooks_and_pre_hooks_match_torch():
    def register(lib, net, calls):
        mm = lib.nn.modules.module

        def pre(module, grad_output):
            calls.append(("pre", name_of(net, module), summary(grad_output)))
            return (grad_output[0] * 3,) if isinstance(module, lib.nn.Tanh) else None

        def full(module, grad_input, grad_output):
            calls.append(("full", name_of(net, module), summary(grad_input), summary(grad_output)))

        own = net[0].register_full_backward_hook(lambda m, gi, go: calls.append(("own", name_of(net, m))))
        return [mm.register_module_full_backward_pre_hook(pre), mm.register_module_full_backward_hook(full), own]

    calls = assert_same_calls(register, backward=True)
    kinds = [c[:2] for c in calls]
    assert kinds.index(("own", "0")) == kinds.index(("full", "0")) + 1  # the global hook first


def test_registration_hooks_see_and_replace_what_modules_register():
    def build(lib):
        calls = []
        mm = lib.nn.modules.module

        def on_param(module, name, param):
            calls.append(("param", type(module).__name__, name, tuple(param.shape)))
            return lib.nn.Parameter(lib.zeros(param.shape, dtype=lib.float64)) if name == "bias" else None

        def on_buffer(module, name, buffer):
            calls.append(("buffer", type(module).__name__, name, None if buffer is None else tuple(buffer.shape)))

        def on_module(module, name, submodule):
            calls.append(("module", type(module).__name__, name, type(submodule).__name__))
            return lib.nn.Identity() if isinstance(submodule, lib.nn.Tanh) else None

        handles = [mm.register_module_parameter_registration_hook(on_param),
                   mm.register_module_buffer_registration_hook(on_buffer),
                   mm.register_module_module_registration_hook(on_module)]
        try:
            net = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Tanh(), lib.nn.BatchNorm1d(3))
            net.extra = lib.nn.ReLU()
            net[0].register_parameter("unused", None)
        finally:
            for handle in handles:
                handle.remove()
        return calls, net

    ours, ours_net = build(trainer)
    theirs, theirs_net = build(torch)
    assert ours == theirs
    assert isinstance(ours_net[1], trainer.nn.Identity) and isinstance(theirs_net[1], torch.nn.Identity)
    # the float64 replacement was registered (the layer's own is float32), then initialised in place
    assert ours_net[0].bias.dtype == trainer.float64 and theirs_net[0].bias.dtype == torch.float64
    assert ours_net[0].weight.dtype == trainer.float32


def test_no_global_hooks_leaves_the_call_path_as_forward():
    net = trainer.nn.Linear(4, 2)
    assert not trainer.nn.modules.module._global_call_hook_ids
    out = net(trainer.ones(1, 4))
    assert out.shape == (1, 2)
