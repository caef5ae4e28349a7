"""``trainer.nn.utils`` gradient clipping against ``torch.nn.utils``: the same norm returned, the same gradients after.

Gradients are assigned directly, as in the optimizer tests, so each check isolates the clipping.
"""

import math

import numpy as np
import pytest
import torch

import trainer
from trainer.nn import Parameter
from trainer.nn.utils import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

SHAPES = [(4, 3), (5,), ()]
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-6}


def make_pair(grads, dtype=np.float64):
    """Parameters with the given gradients (``None``: no gradient) in each library, plus one never given one."""
    ours, theirs = [], []
    for grad in [*grads, None]:
        shape = (2,) if grad is None else grad.shape
        ours.append(Parameter(trainer.tensor(np.ones(shape, dtype))))
        theirs.append(torch.nn.Parameter(torch.ones(shape, dtype=torch.float64 if dtype == np.float64 else
                                                    torch.float32)))
        if grad is not None:
            ours[-1].grad = trainer.tensor(grad.astype(dtype))
            theirs[-1].grad = torch.tensor(grad.astype(dtype))
    return ours, theirs


def assert_grads_match(ours, theirs, rtol):
    for p, tp in zip(ours, theirs):
        if tp.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=rtol, atol=0, equal_nan=True)


def same_dtype(ours, theirs) -> bool:
    return str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


def random_grads(scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for shape in SHAPES]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, "inf", 3.0, 0.5, -math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipping, and a norm already within bounds
def test_clip_grad_norm_matches_pytorch(dtype, norm_type, max_norm):
    ours, theirs = make_pair(random_grads(), dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, trainer.Tensor) and total.shape == () and same_dtype(total, expected)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=TOLERANCE[dtype])
    assert_grads_match(ours, theirs, TOLERANCE[dtype])


def test_clipping_bounds_the_norm_and_scales_every_gradient_alike():
    grads = random_grads(scale=10.0)
    ours, _ = make_pair(grads)
    total = clip_grad_norm_(ours, 2.0)
    assert total.item() > 2.0
    new_total = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in ours if p.grad is not None))
    assert new_total == pytest.approx(2.0, rel=1e-6)
    for p, grad in zip(ours, grads):
        np.testing.assert_allclose(p.grad.numpy(), grad * (2.0 / (total.item() + 1e-6)), rtol=1e-12)


def test_a_single_tensor_or_a_generator_is_accepted():
    grad = random_grads()[0]
    ours, theirs = make_pair([grad])
    total = clip_grad_norm_(ours[0], 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs[0], 1.0)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    assert_grads_match(ours[:1], theirs[:1], 1e-12)

    model = trainer.nn.Linear(3, 2)
    for p in model.parameters():
        p.grad = trainer.ones(*p.shape)
    total = clip_grad_norm_(model.parameters(), 1.0)
    assert total.item() == pytest.approx(math.sqrt(8))
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


def test_without_gradients_the_norm_is_zero_and_nothing_changes():
    ours, _ = make_pair([])
    total = clip_grad_norm_(ours, 1.0)
    assert total.item() == 0.0 and total.dtype == trainer.float32
    assert ours[0].grad is None


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_error_if_nonfinite(bad):
    grads = random_grads()
    grads[0][1, 2] = bad
    ours, theirs = make_pair(grads)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert_grads_match(ours, theirs, 0)  # raising leaves the gradients untouched
    with np.errstate(invalid="ignore"):  # without the flag, PyTorch scales by the non-finite norm anyway
        total = clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_equal(total.item(), expected.item())
    assert_grads_match(ours, theirs, 1e-12)


def test_total_norm_and_clipping_with_it_are_the_two_halves():
    ours, theirs = make_pair(random_grads(scale=3.0))
    total = get_total_norm([p.grad for p in ours if p.grad is not None], norm_type=1.0)
    expected = torch.nn.utils.get_total_norm([p.grad for p in theirs if p.grad is not None], norm_type=1.0)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    clip_grads_with_norm_(ours, 5.0, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 5.0, expected)
    assert_grads_match(ours, theirs, 1e-12)


def test_a_float32_norm_scales_float64_gradients_without_changing_their_dtype():
    grads = random_grads()
    ours, theirs = make_pair(grads[:1], np.float32)
    wide, wide_torch = make_pair(grads[1:], np.float64)
    total = clip_grad_norm_(ours + wide, 0.1)
    expected = torch.nn.utils.clip_grad_norm_(theirs + wide_torch, 0.1)
    assert same_dtype(total, expected)
    assert [p.grad.dtype for p in wide if p.grad is not None] == [trainer.float64, trainer.float64]
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    assert_grads_match(ours + wide, theirs + wide_torch, 1e-6)


@pytest.mark.parametrize("clip_value", [0.5, 2])
def test_clip_grad_value_matches_pytorch(clip_value):
    ours, theirs = make_pair(random_grads(scale=2.0))
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_grads_match(ours, theirs, 0)
    assert max(float(np.abs(p.grad.numpy()).max()) for p in ours if p.grad is not None) <= clip_value

    single, single_torch = make_pair(random_grads(scale=2.0)[:1])
    clip_grad_value_(single[0], clip_value)
    torch.nn.utils.clip_grad_value_(single_torch[0], clip_value)
    assert_grads_match(single, single_torch, 0)


@pytest.mark.cuda
def test_clipping_on_cuda_matches_cpu():
    grads = random_grads(scale=4.0)
    results = {}
    for device in ("cpu", "cuda"):
        params = [Parameter(trainer.zeros(*g.shape, dtype=trainer.float64, device=device)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = trainer.tensor(g, device=device)
        total = clip_grad_norm_(params, 1.0, norm_type=2.0)
        clip_grad_value_(params, 0.2)
        results[device] = (total.item(), [p.grad.cpu().numpy() for p in params])
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], rel=1e-12)
    for on_gpu, on_cpu in zip(results["cuda"][1], results["cpu"][1]):
        np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-12)


DEPRECATED_INITS = [("xavier_uniform", "xavier_uniform_", ()), ("kaiming_normal", "kaiming_normal_", ()),
                    ("constant", "constant_", (0.3,)), ("eye", "eye_", ()), ("orthogonal", "orthogonal_", ())]


@pytest.mark.parametrize("old, new, args", DEPRECATED_INITS)
def test_the_deprecated_init_names_warn_as_pytorch_and_do_what_the_new_ones_do(old, new, args):
    for lib in (torch, trainer):
        with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new}`"):
            lib.manual_seed(3)
            deprecated = getattr(lib.nn.init, old)(lib.empty(3, 4), *args)
        lib.manual_seed(3)
        current = getattr(lib.nn.init, new)(lib.empty(3, 4), *args)
        np.testing.assert_array_equal(deprecated.numpy(), current.numpy())


def test_clip_grad_norm_is_the_deprecated_name_of_clip_grad_norm_():
    norms = []
    for lib in (torch, trainer):
        weight = lib.tensor([3.0, 4.0], requires_grad=True)
        (weight * weight).sum().backward()
        with pytest.warns(FutureWarning, match="`torch.nn.utils.clip_grad_norm` is now deprecated"):
            norms.append(float(lib.nn.utils.clip_grad_norm([weight], 1.0)))
        np.testing.assert_allclose(weight.grad.numpy(), [0.6, 0.8], rtol=1e-6)
    assert norms[0] == pytest.approx(norms[1]) == 10.0
