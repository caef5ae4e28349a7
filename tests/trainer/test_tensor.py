"""Tensor creation, dtype promotion, attributes, conversions, in-place ops and repr, against PyTorch."""

import operator

import numpy as np
import pytest
import torch

import trainer


def dtype_name(t):
    return t.dtype.name if isinstance(t, trainer.Tensor) else str(t.dtype).removeprefix("torch.")


def assert_same_tensor(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert dtype_name(ours) == dtype_name(theirs)
    np.testing.assert_allclose(np.asarray(ours.detach()).astype(np.float64),
                               theirs.detach().double().numpy(), rtol=1e-3, atol=0)


# ---------------------------------------------------------------- dtype promotion

OPERANDS = {
    "int64": lambda lib: lib.tensor([1, 2]),
    "int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "bool": lambda lib: lib.tensor([True, False]),
    "float16": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float16),
    "float32": lambda lib: lib.tensor([1.5, 2.0]),
    "float64": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64),
    "0d_int64": lambda lib: lib.tensor(3),
    "0d_int32": lambda lib: lib.tensor(3, dtype=lib.int32),
    "0d_bool": lambda lib: lib.tensor(True),
    "0d_float16": lambda lib: lib.tensor(0.5, dtype=lib.float16),
    "0d_float64": lambda lib: lib.tensor(2.5, dtype=lib.float64),
    "py_int": lambda lib: 3,
    "py_float": lambda lib: 2.5,
    "py_bool": lambda lib: True,
}
BINARY_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
              "eq": operator.eq, "lt": operator.lt}


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("op", list(BINARY_OPS))
def test_binary_result_dtypes_match_torch(op):
    fn = BINARY_OPS[op]
    mismatches = []
    for left, make_left in OPERANDS.items():
        for right, make_right in OPERANDS.items():
            if left.startswith("py_") and right.startswith("py_"):
                continue
            try:
                theirs = fn(make_left(torch), make_right(torch))
            except RuntimeError:  # e.g. subtracting bools: trainer must refuse too
                with pytest.raises(RuntimeError):
                    fn(make_left(trainer), make_right(trainer))
                continue
            ours = fn(make_left(trainer), make_right(trainer))
            if dtype_name(ours) != dtype_name(theirs):
                mismatches.append(f"{left} {op} {right}: trainer {dtype_name(ours)}, torch {dtype_name(theirs)}")
            else:
                assert_same_tensor(ours, theirs)
    assert not mismatches, "\n".join(mismatches)


OP_RESULTS = {
    "exp_int": lambda lib: lib.tensor([1, 2]).exp(),
    "sqrt_int": lambda lib: lib.tensor([1, 4]).sqrt(),
    "sigmoid_int": lambda lib: lib.tensor([1, 4]).sigmoid(),
    "abs_int": lambda lib: lib.tensor([-1, 4]).abs(),
    "neg_int32": lambda lib: -lib.tensor([-1, 4], dtype=lib.int32),
    "relu_int": lambda lib: lib.tensor([-1, 4]).relu(),
    "sum_bool": lambda lib: lib.tensor([True, True]).sum(),
    "sum_int32": lambda lib: lib.tensor([[1, 2]], dtype=lib.int32).sum(1),
    "sum_dtype": lambda lib: lib.tensor([1.0, 2.0]).sum(dtype=lib.float64),
    "mean_dtype": lambda lib: lib.tensor([1, 2]).mean(dtype=lib.float64),
    "prod_int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32).prod(),
    "prod_bool": lambda lib: lib.tensor([True, True]).prod(),
    "max_int": lambda lib: lib.tensor([1, 5]).max(),
    "max_dim_int": lambda lib: lib.tensor([[1, 5]]).max(1).values,
    "argmax_keepdim": lambda lib: lib.tensor([[1, 5]]).argmax(keepdim=True),
    "clamp_int": lambda lib: lib.tensor([1, 5]).clamp(2, 3),
    "clamp_int_float_bound": lambda lib: lib.tensor([1, 5]).clamp(min=2.5),
    "maximum_int_float": lambda lib: lib.maximum(lib.tensor([1, 5]), lib.tensor([2.5, 1.0])),
    "where_int_float": lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), 2.5),
    "where_int": lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), 0),
    "cat_int_float": lambda lib: lib.cat([lib.tensor([1]), lib.tensor([2.5])]),
    "stack_int_bool": lambda lib: lib.stack([lib.tensor([1]), lib.tensor([True])]),
    "softmax_dtype": lambda lib: lib.tensor([1.0, 2.0]).softmax(0, dtype=lib.float64),
    "pow_int": lambda lib: lib.tensor([2, 3]) ** 2,
    "pow_int_float": lambda lib: lib.tensor([2, 3]) ** 0.5,
    "rpow_int": lambda lib: 2 ** lib.tensor([2, 3]),
    "rpow_float_int": lambda lib: 2.5 ** lib.tensor([2, 3]),
    "floordiv_int_float": lambda lib: lib.tensor([3]) // 2.0,
    "masked_fill_int": lambda lib: lib.tensor([1, 2]).masked_fill(lib.tensor([True, False]), 3.7),
    "bool_mul": lambda lib: lib.tensor([True]) * lib.tensor([True]),
    "bool_add": lambda lib: lib.tensor([True]) + lib.tensor([True]),
    "uint8_int8": lambda lib: lib.tensor([1], dtype=lib.uint8) * lib.tensor([1], dtype=lib.int8),
    "int8_scalar": lambda lib: lib.tensor([1], dtype=lib.int8) + 100,
    "0d_int_float": lambda lib: lib.tensor(3) * 1.5,
    "index_neg_tensor": lambda lib: lib.arange(5.0)[lib.tensor([-1, -2])],
    "index_bool_list": lambda lib: lib.arange(3.0)[[True, False, True]],
    "sum_0d_dim": lambda lib: lib.tensor(2.0).sum(0),
    "max_0d_dim": lambda lib: lib.tensor(2.0).max(-1, keepdim=True).values,
    "prod_0d_dim": lambda lib: lib.tensor(2.0).prod(0),
    "tensor_of_float64_tensors": lambda lib: lib.tensor([lib.tensor(1.0, dtype=lib.float64), lib.tensor(2.0)]),
    "tensor_of_numpy_floats": lambda lib: lib.tensor([np.float64(1.0), np.float64(2.0)]),
    "tensor_of_int32_tensors": lambda lib: lib.tensor([lib.tensor(1, dtype=lib.int32)]),
    "legacy_constructor": lambda lib: lib.Tensor([1, 2]),
    "sigmoid_extremes": lambda lib: lib.tensor([-1000.0, 1000.0]).sigmoid(),
    "softmax_minus_inf": lambda lib: lib.tensor([float("-inf"), 0.0]).softmax(0),
}


@pytest.mark.parametrize("name", list(OP_RESULTS))
def test_op_results_and_dtypes_match_torch(name):
    assert_same_tensor(OP_RESULTS[name](trainer), OP_RESULTS[name](torch))


@pytest.mark.parametrize("data, dtype", [
    ([1, 2], "int64"),
    ([1.0], "float32"),
    ([1, 2.5], "float32"),
    (3.5, "float32"),
    (7, "int64"),
    ([True, False], "bool"),
    (True, "bool"),
    (np.array([1.0, 2.0]), "float64"),
    (np.array([1, 2], dtype=np.int32), "int32"),
    (np.float64(1.5), "float64"),
    (np.array([1.0], dtype=np.float16), "float16"),
])
def test_tensor_infers_torch_dtypes(data, dtype):
    assert trainer.tensor(data).dtype.name == dtype == dtype_name(torch.tensor(data))


def test_tensor_copies_and_as_tensor_shares():
    array = np.zeros(3)
    copied, shared = trainer.tensor(array), trainer.as_tensor(array)
    array[0] = 5
    assert copied.tolist() == [0.0, 0.0, 0.0]
    assert shared.tolist() == [5.0, 0.0, 0.0]
    assert trainer.from_numpy(array).numpy() is array


# ---------------------------------------------------------------- creation

CREATION = {
    "zeros": lambda lib: lib.zeros(2, 3),
    "zeros_tuple": lambda lib: lib.zeros((2, 3)),
    "zeros_list_int": lambda lib: lib.zeros([2, 3], dtype=lib.int64),
    "zeros_0d": lambda lib: lib.zeros(()),
    "ones": lambda lib: lib.ones(3),
    "ones_float64": lambda lib: lib.ones(2, 1, dtype=lib.float64),
    "full_float": lambda lib: lib.full((2, 3), 1.5),
    "full_int": lambda lib: lib.full((2,), 7),
    "full_bool": lambda lib: lib.full((2,), True),
    "full_dtype": lambda lib: lib.full([3], 2, dtype=lib.float16),
    "arange": lambda lib: lib.arange(5),
    "arange_start_end": lambda lib: lib.arange(1, 4),
    "arange_step": lambda lib: lib.arange(0, 1, 0.25),
    "arange_negative_step": lambda lib: lib.arange(5, 0, -2),
    "arange_dtype": lambda lib: lib.arange(5, dtype=lib.float32),
    "arange_float_bounds": lambda lib: lib.arange(0.0, 3.0),
    "linspace": lambda lib: lib.linspace(0, 1, 5),
    "linspace_float64": lambda lib: lib.linspace(-1, 1, steps=4, dtype=lib.float64),
    "eye": lambda lib: lib.eye(3),
    "eye_rect": lambda lib: lib.eye(2, 4),
    "eye_int": lambda lib: lib.eye(2, dtype=lib.int64),
    "zeros_like": lambda lib: lib.zeros_like(lib.ones(2, 3, dtype=lib.float64)),
    "ones_like_dtype": lambda lib: lib.ones_like(lib.zeros(2), dtype=lib.int32),
    "full_like": lambda lib: lib.full_like(lib.zeros(2, dtype=lib.int64), 4),
}


@pytest.mark.parametrize("name", list(CREATION))
def test_creation_matches_torch(name):
    ours, theirs = CREATION[name](trainer), CREATION[name](torch)
    assert_same_tensor(ours, theirs)
    assert not ours.requires_grad


RANDOM = {
    "empty": lambda lib: lib.empty(2, 3),
    "rand": lambda lib: lib.rand(2, 3),
    "rand_float64": lambda lib: lib.rand((4,), dtype=lib.float64),
    "rand_float16": lambda lib: lib.rand(3, dtype=lib.float16),
    "randn": lambda lib: lib.randn(2, 3, dtype=lib.float64),
    "randn_tuple": lambda lib: lib.randn((5,)),
    "randint": lambda lib: lib.randint(0, 10, (3, 4)),
    "randint_high_only": lambda lib: lib.randint(10, (5,)),
    "randint_dtype": lambda lib: lib.randint(-3, 3, (2,), dtype=lib.int32),
    "randperm": lambda lib: lib.randperm(6),
    "rand_like": lambda lib: lib.rand_like(lib.zeros(2, dtype=lib.float64)),
    "randn_like": lambda lib: lib.randn_like(lib.zeros(3, 1)),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_creation_has_torch_shapes_and_dtypes(name):
    ours, theirs = RANDOM[name](trainer), RANDOM[name](torch)
    assert ours.shape == theirs.shape
    assert dtype_name(ours) == dtype_name(theirs)


def test_random_values_lie_in_their_ranges():
    assert 0 <= trainer.rand(1000).min().item() and trainer.rand(1000).max().item() < 1
    normal = trainer.randn(10000, dtype=trainer.float64)
    assert abs(normal.mean().item()) < 0.05 and abs(normal.std().item() - 1) < 0.05
    ints = trainer.randint(3, 7, (1000,))
    assert set(ints.tolist()) == {3, 4, 5, 6}
    assert sorted(trainer.randperm(20).tolist()) == list(range(20))


def test_manual_seed_reproduces_draws():
    trainer.manual_seed(123)
    first = (trainer.rand(4), trainer.randn(3), trainer.randint(0, 100, (5,)), trainer.randperm(8))
    trainer.manual_seed(123)
    second = (trainer.rand(4), trainer.randn(3), trainer.randint(0, 100, (5,)), trainer.randperm(8))
    for a, b in zip(first, second):
        assert a.tolist() == b.tolist()
    trainer.manual_seed(124)
    assert trainer.rand(4).tolist() != first[0].tolist()


def test_generator_draws_are_reproducible_and_independent_of_the_global_stream():
    gen = trainer.Generator().manual_seed(7)
    a = trainer.randn(5, generator=gen)
    trainer.manual_seed(0)
    trainer.rand(100)  # consuming the global stream must not move gen's
    gen.manual_seed(7)
    assert trainer.randn(5, generator=gen).tolist() == a.tolist()
    state = gen.get_state()
    b = trainer.rand(3, generator=gen)
    gen.set_state(state)
    assert trainer.rand(3, generator=gen).tolist() == b.tolist()
    assert trainer.randperm(5, generator=trainer.Generator().manual_seed(1)).tolist() == \
        trainer.randperm(5, generator=trainer.Generator().manual_seed(1)).tolist()


def test_requires_grad_on_creation():
    x = trainer.zeros(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad is None


# ---------------------------------------------------------------- attributes and conversions

def test_shape_and_size():
    x = trainer.zeros(2, 3, 4)
    assert isinstance(x.shape, trainer.Size) and x.shape == (2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == x.ndim == 3
    assert x.numel() == 24 and trainer.numel(x) == 24
    assert len(x) == 2
    assert repr(x.shape) == "trainer.Size([2, 3, 4])"


def test_item_tolist_numpy():
    x = trainer.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert x[0, 0].item() == 1.5 and isinstance(x[0, 0].item(), float)
    assert isinstance(trainer.tensor([3]).item(), int)
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert x.sum().tolist() == 10.5
    array = x.numpy()
    assert isinstance(array, np.ndarray) and array.dtype == np.float32
    array[0, 0] = 9.0  # numpy() shares memory, as in torch
    assert x[0, 0].item() == 9.0


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")  # PyTorch's own
def test_numpy_array_protocol_copies_only_when_asked_as_torch():
    for lib in (torch, trainer):
        x = lib.zeros(3)
        copied, shared, converted = np.array(x), np.asarray(x), np.array(x, dtype=np.float64)
        x.add_(1)
        assert copied.tolist() == converted.tolist() == [0.0, 0.0, 0.0], lib.__name__
        assert shared.tolist() == [1.0, 1.0, 1.0], lib.__name__
    with pytest.raises(ValueError, match="without a copy"):
        np.array(trainer.zeros(3), dtype=np.float64, copy=False)


def test_numpy_of_reduced_tensor_is_an_array():
    total = trainer.tensor([1.0, 2.0]).sum()
    assert isinstance(total.numpy(), np.ndarray) and total.numpy().shape == ()
    assert np.asarray(total).shape == ()
    assert float(total) == 3.0


def test_reduced_tensors_mix_with_0d_tensors():
    x = trainer.tensor([1.0, 2.0], requires_grad=True)
    total = trainer.tensor(0.0)
    for _ in range(2):
        total = total + x.sum() * trainer.tensor(2.0)
    total.backward()
    assert total.item() == 12.0 and x.grad.tolist() == [4.0, 4.0]


@pytest.mark.parametrize("method, dtype", [
    ("float", "float32"), ("double", "float64"), ("half", "float16"), ("long", "int64"), ("int", "int32"),
    ("bool", "bool"),
])
def test_cast_methods(method, dtype):
    data = [[-1.5, 0.0], [2.7, 3.0]]
    ours, theirs = getattr(trainer.tensor(data), method)(), getattr(torch.tensor(data), method)()
    assert ours.dtype.name == dtype
    assert_same_tensor(ours, theirs)


def test_to_dtype_and_copy():
    x = trainer.tensor([1.0, 2.0])
    assert x.to(trainer.float32) is x
    assert x.to(trainer.float64).dtype == trainer.float64
    assert x.to(dtype=trainer.int64).tolist() == [1, 2]
    assert x.to("cpu", trainer.float16).dtype == trainer.float16
    assert x.to(trainer.zeros(1, dtype=trainer.float64)).dtype == trainer.float64
    copy = x.to(trainer.float32, copy=True)
    copy.add_(1)
    assert x.tolist() == [1.0, 2.0]
    assert x.type(trainer.int32).dtype == trainer.int32


def test_requires_grad_():
    x = trainer.zeros(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad


# ---------------------------------------------------------------- in-place ops

INPLACE = [
    ("add_", lambda lib, x: x.add_(2)),
    ("add_alpha", lambda lib, x: x.add_(lib.ones(3), alpha=0.5)),
    ("sub_", lambda lib, x: x.sub_(lib.tensor([1.0, 2.0, 3.0]))),
    ("sub_alpha", lambda lib, x: x.sub_(1, alpha=2)),
    ("mul_", lambda lib, x: x.mul_(3)),
    ("mul_tensor", lambda lib, x: x.mul_(lib.tensor(2.0))),
    ("div_", lambda lib, x: x.div_(4)),
    ("div_floor", lambda lib, x: x.div_(0.7, rounding_mode="floor")),
    ("zero_", lambda lib, x: x.zero_()),
    ("fill_", lambda lib, x: x.fill_(1.25)),
    ("fill_tensor", lambda lib, x: x.fill_(lib.tensor(-2.0))),
    ("copy_", lambda lib, x: x.copy_(lib.tensor([7.0, 8.0, 9.0]))),
    ("copy_broadcast", lambda lib, x: x.copy_(lib.tensor(5))),
    ("iadd", lambda lib, x: x.__iadd__(1)),
    ("imul", lambda lib, x: x.__imul__(lib.tensor([1.0, 0.0, 2.0]))),
    ("clamp_", lambda lib, x: x.clamp_(min=0.0)),
    ("masked_fill_", lambda lib, x: x.masked_fill_(x > 0, 0.5)),
    ("setitem", lambda lib, x: x.__setitem__(slice(0, 2), 4.0)),
]


@pytest.mark.parametrize("name, op", INPLACE, ids=[name for name, _ in INPLACE])
def test_inplace_ops_change_values_and_bump_the_version(name, op):
    ours, theirs = trainer.tensor([1.5, -2.0, 3.0]), torch.tensor([1.5, -2.0, 3.0])
    alias = ours.view(3)  # a view must see the change
    result = op(trainer, ours)
    op(torch, theirs)
    assert result is None or result is ours
    assert_same_tensor(ours, theirs)
    assert alias.tolist() == ours.tolist()
    assert ours._version == theirs._version >= 1


def test_inplace_op_on_reduced_tensor():
    total = trainer.tensor([1.0, 2.0]).sum()
    total.add_(1)
    total.mul_(2)
    assert total.item() == 8.0
    total.zero_()
    assert total.item() == 0.0


def test_inplace_keeps_dtype():
    x = trainer.tensor([1, 2])
    x.add_(3)
    assert x.dtype == trainer.int64 and x.tolist() == [4, 5]
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.mul_(1.5)


# ---------------------------------------------------------------- repr

@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1.0, 2.0, 3.0]),
    lambda lib: lib.tensor([1.5, 2.0]),
    lambda lib: lib.tensor([[1, 2], [3, 4]]),
    lambda lib: lib.tensor(2.5),
    lambda lib: lib.tensor(3),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor([0.1234567, 100.0], dtype=lib.float64),
    lambda lib: lib.tensor([[1.5, -2.0], [3.25, 4.0]], requires_grad=True),
    lambda lib: lib.tensor([1e-5, 1.0]),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32),
])
def test_repr_matches_torch(make):
    assert repr(make(trainer)) == repr(make(torch)).replace("torch.", "trainer.")


@pytest.mark.parametrize("make", [
    lambda lib, x: x * 2,
    lambda lib, x: (x * 2).sum(),
    lambda lib, x: lib.exp(x).mean(),
    lambda lib, x: lib.relu(x),
])
def test_grad_fn_is_named_and_printed_as_in_torch(make):
    ours, theirs = (make(lib, lib.tensor([1.0, 2.0], requires_grad=True)) for lib in (trainer, torch))
    assert repr(ours) == repr(theirs).replace("torch.", "trainer.")
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    assert repr(ours.grad_fn).split(" object at ")[0] == repr(theirs.grad_fn).split(" object at ")[0]


def test_python_numbers_go_straight_to_the_requested_dtype():
    # a detour through the default float32 would flush 1e-300 to 0 and round 0.1
    for make in (trainer.tensor, trainer.as_tensor):
        values = make([1e-300, 0.1, 2**60 + 1], dtype=trainer.float64).numpy()
        np.testing.assert_array_equal(values, np.array([1e-300, 0.1, 2**60 + 1], np.float64))


@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.sub, operator.truediv])
@pytest.mark.parametrize("array", [np.ones(3), np.arange(3, dtype=np.float32) + 1, np.arange(3) + 1])
def test_a_numpy_array_operand_acts_as_its_tensor_as_in_torch(op, array):
    ours, theirs = op(trainer.ones(3) * 2, array), op(torch.ones(3) * 2, array)
    assert isinstance(ours, trainer.Tensor) and str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
