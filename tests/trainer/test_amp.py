"""trainer.amp against torch.amp on the CPU: autocast's op lists, dtypes, values and gradients; the deprecated
per-device forms; GradScaler's scaling, skipped steps and state."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch

import trainer

BF16_TOL = dict(rtol=2e-2, atol=2e-2)


def _pair(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return arrays, [torch.tensor(a, requires_grad=True) for a in arrays], [trainer.tensor(a, requires_grad=True)
                                                                           for a in arrays]


def _name(dtype) -> str:
    return str(dtype).split(".")[-1]


def _values(t) -> np.ndarray:
    return t.detach().float().numpy()  # the same calls on a torch or a trainer tensor


OPS = {
    # lower precision list
    "matmul": (lambda lib, a, b: a @ b, [(4, 8), (8, 5)]),
    "mm": (lambda lib, a, b: lib.mm(a, b), [(4, 8), (8, 5)]),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), [(2, 4, 8), (2, 8, 5)]),
    "addmm": (lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5), [(4, 5), (4, 8), (8, 5)]),
    "baddbmm": (lambda lib, c, a, b: lib.baddbmm(c, a, b), [(2, 4, 5), (2, 4, 8), (2, 8, 5)]),
    "addbmm": (lambda lib, c, a, b: lib.addbmm(c, a, b), [(4, 5), (2, 4, 8), (2, 8, 5)]),
    "linear": (lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), [(3, 8), (6, 8), (6,)]),
    "conv2d": (lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1), [(2, 3, 6, 6), (4, 3, 3, 3), (4,)]),
    "conv1d": (lambda lib, x, w: lib.nn.functional.conv1d(x, w, stride=2), [(2, 3, 9), (4, 3, 3)]),
    "conv_transpose2d": (lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, stride=2), [(1, 3, 4, 4),
                                                                                               (3, 2, 3, 3)]),
    "einsum": (lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), [(4, 8), (8, 5)]),
    "prelu": (lambda lib, x, w: lib.nn.functional.prelu(x, w), [(3, 4), (1,)]),
    "sdpa": (lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v), [(2, 3, 4)] * 3),
    "vecdot": (lambda lib, a, b: lib.linalg.vecdot(a, b), [(3, 4), (3, 4)]),
    # fp32 list (inputs are bfloat16 matmul outputs, so the cast back to float32 is seen)
    "mse_loss": (lambda lib, a, b: lib.nn.functional.mse_loss(a @ b, (a @ b).detach() * 0.5), [(4, 8), (8, 5)]),
    "cross_entropy": (lambda lib, a, b: lib.nn.functional.cross_entropy(a @ b, lib.tensor([0, 2, 1, 4])),
                      [(4, 8), (8, 5)]),
    "prod": (lambda lib, a, b: (a @ b).prod(1), [(2, 3), (3, 2)]),
    "cdist": (lambda lib, a, b: lib.cdist(a @ b, a @ b), [(3, 4), (4, 4)]),
    # neither list: the inputs' dtype; promote list: the widest
    "softmax": (lambda lib, a, b: lib.softmax(a @ b, 1), [(4, 8), (8, 5)]),
    "dot": (lambda lib, a, b: lib.dot(a, b), [(5,), (5,)]),
    "mv": (lambda lib, a, b: lib.mv(a, b), [(4, 5), (5,)]),
    "add": (lambda lib, a, b: (a @ b) + b[0], [(4, 8), (8, 8)]),
    "cat": (lambda lib, a, b: lib.cat([a @ b, a]), [(4, 8), (8, 8)]),
    "stack": (lambda lib, a, b: lib.stack([a @ b, (a @ b).detach() * 2]), [(4, 8), (8, 8)]),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_autocast_op_dtypes_values_and_gradients_match_torch(name, dtype):
    fn, shapes = OPS[name]
    _, torch_inputs, trainer_inputs = _pair(*shapes, seed=len(name))
    with torch.autocast("cpu", dtype=getattr(torch, dtype)):
        expected = fn(torch, *torch_inputs)
    with trainer.autocast("cpu", dtype=getattr(trainer, dtype)):
        got = fn(trainer, *trainer_inputs)
    assert _name(got.dtype) == _name(expected.dtype)
    np.testing.assert_allclose(_values(got), _values(expected), **BF16_TOL)
    expected.float().sum().backward()
    got.float().sum().backward()
    for t, g in zip(torch_inputs, trainer_inputs):
        assert _name(g.grad.dtype) == _name(t.grad.dtype) == "float32"
        scale = max(1.0, float(np.abs(t.grad.numpy()).max()))
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=3e-2, atol=3e-2 * scale)


def test_module_forward_and_parameter_grads_match_torch():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 5))
    model = trainer.nn.Sequential(trainer.nn.Conv2d(3, 4, 3), trainer.nn.ReLU(), trainer.nn.Flatten(),
                                  trainer.nn.Linear(64, 5))
    model.load_state_dict({k: trainer.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    target = [1, 3]
    with torch.autocast("cpu"):
        out_t = ref(torch.tensor(x))
        loss_t = torch.nn.functional.cross_entropy(out_t, torch.tensor(target))
    with trainer.autocast("cpu"):
        out = model(trainer.tensor(x))
        loss = trainer.nn.functional.cross_entropy(out, trainer.tensor(target))
    assert (out.dtype, loss.dtype) == (trainer.bfloat16, trainer.float32)
    loss_t.backward()
    loss.backward()
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=2e-2)
    for (name, p_t), p in zip(ref.named_parameters(), model.parameters()):
        assert p.grad.dtype == trainer.float32, name
        np.testing.assert_allclose(p.grad.numpy(), p_t.grad.numpy(), rtol=5e-2, atol=2e-2)


def test_float64_is_never_cast_and_autocast_is_off_outside_the_region():
    a = trainer.ones(2, 2, dtype=trainer.float64)
    with trainer.autocast("cpu"):
        assert (a @ a).dtype == trainer.float64
    f = trainer.ones(2, 2)
    assert (f @ f).dtype == trainer.float32
    assert not trainer.is_autocast_enabled("cpu")


def test_nesting_decorator_enabled_false_and_state_functions():
    x = trainer.ones(2, 2)
    assert trainer.get_autocast_dtype("cpu") == trainer.bfloat16 == trainer.get_autocast_cpu_dtype()
    with trainer.autocast("cpu"):
        assert trainer.is_autocast_enabled("cpu") and trainer.is_autocast_cpu_enabled()
        with trainer.autocast("cpu", enabled=False):
            assert (x @ x).dtype == trainer.float32
            with trainer.autocast("cpu", dtype=trainer.float16):
                assert (x @ x).dtype == trainer.float16
                assert trainer.get_autocast_dtype("cpu") == trainer.float16
        assert (x @ x).dtype == trainer.bfloat16
    assert not trainer.is_autocast_enabled("cpu")
    assert trainer.get_autocast_dtype("cpu") == trainer.bfloat16

    @trainer.autocast("cpu")
    def product(a):
        return a @ a

    assert product(x).dtype == trainer.bfloat16
    assert (x @ x).dtype == trainer.float32
    with pytest.raises(TypeError, match="requires a callable"):
        trainer.autocast("cpu")(3)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        trainer.autocast("tpu")
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        trainer.autocast(0)


def test_unsupported_dtype_warns_and_disables_as_torch():
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported"):
        ctx = trainer.autocast("cpu", dtype=trainer.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.autocast("cpu", dtype=torch.float32)._enabled is False
    with ctx:
        assert not trainer.is_autocast_enabled("cpu")


def test_weight_cast_is_cached_within_the_region_and_cleared_after():
    w = trainer.ones(3, 3, requires_grad=True)
    x = trainer.ones(2, 3)
    with trainer.autocast("cpu"):
        first = trainer.nn.functional.linear(x, w)
        second = trainer.nn.functional.linear(x, w)
        assert first.grad_fn.next_functions[1][0] is second.grad_fn.next_functions[1][0]
        with trainer.autocast("cpu", cache_enabled=False):
            assert not trainer.is_autocast_cache_enabled()
    assert trainer.is_autocast_cache_enabled()
    from trainer.amp import cast_policy

    assert not cast_policy._cast_cache


def test_cuda_forms_without_a_gpu_warn_and_are_disabled():
    if trainer.cuda.is_available():
        pytest.skip("checks the no-GPU behaviour")
    with pytest.warns(FutureWarning, match=r"torch.cuda.amp.autocast\(args...\)` is deprecated"):
        with pytest.warns(UserWarning, match="CUDA is not available"):
            ctx = trainer.cuda.amp.autocast()
    with ctx:
        assert not trainer.is_autocast_enabled("cuda")
        assert (trainer.ones(2, 2) @ trainer.ones(2, 2)).dtype == trainer.float32
    with pytest.warns(UserWarning, match="GradScaler is enabled, but CUDA is not available.  Disabling."):
        scaler = trainer.amp.GradScaler()
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    loss = trainer.ones(())
    assert scaler.scale(loss) is loss
    with pytest.warns(FutureWarning, match=r"torch.cuda.amp.GradScaler\(args...\)` is deprecated"):
        trainer.cuda.amp.GradScaler(enabled=False)
    with pytest.warns(FutureWarning, match=r"torch.cpu.amp.autocast\(args...\)` is deprecated"):
        cpu_ctx = trainer.cpu.amp.autocast()
    with cpu_ctx:
        assert trainer.is_autocast_enabled("cpu")
    from trainer.cuda.amp import GradScaler  # the import form of torch.cuda.amp

    assert GradScaler is trainer.cuda.amp.GradScaler


def test_custom_fwd_casts_inputs_and_custom_bwd_restores_the_state():
    seen = {}

    class Square(trainer.autograd.Function):
        @staticmethod
        @trainer.amp.custom_fwd(device_type="cpu", cast_inputs=trainer.float32)
        def forward(ctx, x):
            seen["fwd"] = (x.dtype, trainer.is_autocast_enabled("cpu"))
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @trainer.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["bwd"] = trainer.is_autocast_enabled("cpu")
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = trainer.ones(3, dtype=trainer.bfloat16, requires_grad=True)
    with trainer.autocast("cpu"):
        y = Square.apply(x)
    y.sum().backward()
    assert seen == {"fwd": (trainer.float32, False), "bwd": False}
    assert x.grad.dtype == trainer.bfloat16


def _train(lib, scaler, steps, inf_at, weights):
    model = lib.nn.Linear(4, 2)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(weights[0]))
        model.bias.copy_(lib.tensor(weights[1]))
    opt = lib.optim.SGD(model.parameters(), lr=0.125)
    x = lib.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 4 - 1)
    scales, stepped = [], []
    for i in range(steps):
        opt.zero_grad()
        # dyadic inputs and a loss linear in the output: the gradients are exact, so only the scaler's arithmetic
        # could make the parameters differ
        loss = (model(x) * lib.tensor([1.0, -3.0])).sum()
        scaler.scale(loss).backward()
        if i == inf_at:
            model.weight.grad[0, 0] = float("inf")
        before = model.weight.detach().clone()
        scaler.step(opt)
        scaler.update()
        stepped.append(not bool((model.weight.detach() == before).all()))
        scales.append(scaler.get_scale())
    return scales, stepped, model.weight.detach().numpy(), model.bias.detach().numpy()


def test_grad_scaler_training_steps_match_torch_exactly():
    rng = np.random.default_rng(3)
    weights = (np.round(rng.standard_normal((2, 4)) * 64).astype(np.float32) / 64, np.float32([0.5, -0.25]))
    args = dict(init_scale=2.0**10, growth_interval=2)
    expected = _train(torch, torch.amp.GradScaler("cpu", **args), 6, 2, weights)
    got = _train(trainer, trainer.amp.GradScaler("cpu", **args), 6, 2, weights)
    assert got[0] == expected[0]
    assert got[1] == expected[1] == [True, True, False, True, True, True]
    np.testing.assert_array_equal(got[2], expected[2])
    np.testing.assert_array_equal(got[3], expected[3])


def test_grad_scaler_state_dict_round_trip_and_optimizer_state_errors():
    scaler = trainer.amp.GradScaler("cpu", init_scale=8.0, growth_factor=4.0, growth_interval=3)
    p = trainer.nn.Parameter(trainer.ones(2))
    opt = trainer.optim.SGD([p], lr=0.1)
    scaler.scale((p * 2).sum()).backward()
    scaler.unscale_(opt)
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)"):
        scaler.unscale_(opt)
    scaler.update()
    state = scaler.state_dict()
    assert state == {"scale": 8.0, "growth_factor": 4.0, "backoff_factor": 0.5, "growth_interval": 3,
                     "_growth_tracker": 1}
    other = trainer.amp.GradScaler("cpu")
    other.load_state_dict(state)
    assert other.state_dict() == state
    restored = pickle.loads(pickle.dumps(scaler))
    assert restored.state_dict() == state
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})
    with pytest.raises(AssertionError, match="The growth factor must be > 1.0."):
        trainer.amp.GradScaler("cpu", growth_factor=1.0)
    disabled = trainer.amp.GradScaler("cpu", enabled=False)
    assert disabled.step(opt) is None and disabled.get_scale() == 1.0
