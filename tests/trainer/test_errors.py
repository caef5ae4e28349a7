"""Bad input raises an exception whose message says what was wrong: shapes, dtypes, indices, dims."""

import importlib
import importlib.util
import operator
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch
from trainer.ops.linalg import linear


def zeros(*shape, dtype=None):
    return trainer.zeros(*shape, dtype=dtype)


MISMATCHED = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    "eq": operator.eq,
    "lt": operator.lt,
    "and": lambda a, b: (a > 0) & (b > 0),
    "maximum": trainer.maximum,
    "minimum": trainer.minimum,
    "where": lambda a, b: trainer.where(a > 0, a, b),
    "masked_fill": lambda a, b: a.masked_fill(b > 0, 1.0),
    "inplace_add": lambda a, b: a.add_(b),
}


@pytest.mark.parametrize("name", list(MISMATCHED))
def test_mismatched_shapes_name_both_shapes(name):
    with pytest.raises(RuntimeError) as info:
        MISMATCHED[name](zeros(2, 3), zeros(4, 5))
    assert "[2, 3]" in str(info.value) and "[4, 5]" in str(info.value)


@pytest.mark.parametrize("shapes", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3, 4), (3, 4, 5)), ((2, 3), (4,))])
def test_matmul_with_incompatible_shapes_names_both(shapes):
    a, b = shapes
    with pytest.raises(RuntimeError) as info:
        zeros(*a) @ zeros(*b)
    assert str(list(a)) in str(info.value) and str(list(b)) in str(info.value)


def test_mm_and_bmm_check_their_ranks():
    with pytest.raises(RuntimeError, match="mm: expected 2D tensors, got 3D and 2D"):
        trainer.mm(zeros(2, 3, 4), zeros(4, 5))
    with pytest.raises(RuntimeError, match=r"bmm: batch sizes differ: \[2, 3, 4\] and \[3, 4, 5\]"):
        trainer.bmm(zeros(2, 3, 4), zeros(3, 4, 5))
    with pytest.raises(RuntimeError, match="at least 1D"):
        trainer.matmul(zeros(()), zeros(3))


def test_cat_and_stack_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"shapes \[2, 3\] and \[4, 5\]"):
        trainer.cat([zeros(2, 3), zeros(4, 5)])
    with pytest.raises(RuntimeError, match=r"got \[2, 3\] at entry 0 and \[4, 5\] at entry 1"):
        trainer.stack([zeros(2, 3), zeros(4, 5)])


def test_backward_on_non_scalar_needs_a_gradient():
    y = trainer.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \[3\]"):
        y.backward(trainer.ones(3))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        zeros(3).sum().backward()


def test_linear_with_mismatched_dtypes_names_both():
    with pytest.raises(RuntimeError) as info:
        linear(zeros(2, 3, dtype=trainer.float64), zeros(4, 3))
    assert "float64" in str(info.value) and "float32" in str(info.value)


def test_requires_grad_on_an_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        trainer.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="got trainer.int64"):
        trainer.arange(3).requires_grad_()


@pytest.mark.parametrize("shape, key, expected", [
    ((3,), 5, "index 5 is out of bounds for axis 0 with size 3"),
    ((3,), -4, "index -4 is out of bounds for axis 0 with size 3"),
    ((2, 3), (slice(None), 7), "index 7 is out of bounds for axis 1 with size 3"),
    ((3,), [0, 5], "index 5 is out of bounds for axis 0 with size 3"),
])
def test_index_out_of_range(shape, key, expected):
    with pytest.raises(IndexError) as info:
        zeros(*shape)[key]
    assert expected in str(info.value) and str(list(shape)) in str(info.value)


@pytest.mark.parametrize("index, bad", [([[0, 4]], 4), ([[0, -1]], -1)])
def test_gather_index_out_of_range(index, bad):
    with pytest.raises(IndexError, match=f"gather\\(\\): index {bad} is out of bounds for dimension 1 with size 3"):
        zeros(2, 3).gather(1, trainer.tensor(index))


@pytest.mark.parametrize("index, bad", [([0, 2], 2), ([-1], -1)])
def test_index_select_index_out_of_range(index, bad):
    with pytest.raises(IndexError, match=f"index_select\\(\\): index {bad} is out of bounds for dimension 0"):
        zeros(2, 3).index_select(0, trainer.tensor(index))


def test_float_index_tensors_are_rejected():
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        zeros(3)[trainer.tensor([0.0])]
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        zeros(3).gather(0, trainer.tensor([0.0]))


@pytest.mark.parametrize("reshape", [
    lambda x: x.reshape(3, 5),
    lambda x: x.view(3, 5),
    lambda x: trainer.reshape(x, (3, 5)),
])
def test_reshape_to_an_incompatible_size(reshape):
    with pytest.raises(RuntimeError, match=r"shape '\[3, 5\]' is invalid for input of size 12"):
        reshape(zeros(12))


def test_reshape_with_two_inferred_dims():
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        zeros(12).reshape(-1, -1)
    with pytest.raises(RuntimeError, match=r"shape '\[-1, 5\]' is invalid for input of size 12"):
        zeros(12).reshape(-1, 5)


@pytest.mark.parametrize("op", [
    lambda x: x.sum(dim=2),
    lambda x: x.mean(-3),
    lambda x: x.max(dim=2),
    lambda x: x.argmax(5),
    lambda x: x.softmax(2),
    lambda x: x.transpose(0, 2),
    lambda x: x.permute(0, 2),
    lambda x: x.squeeze(2),
    lambda x: x.unsqueeze(4),
    lambda x: x.size(2),
    lambda x: x.flatten(0, 2),
    lambda x: trainer.cat([x, x], dim=2),
    lambda x: x.split(1, dim=-3),
    lambda x: x.gather(2, trainer.zeros(2, 3, dtype=trainer.int64)),
])
def test_dim_out_of_range(op):
    expected = r"Dimension out of range \(expected to be in range of \[-[23], [12]\], but got [-0-9]+\)$"
    with pytest.raises(IndexError, match=expected):
        op(zeros(2, 3))


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="unsupported operand type str"):
        zeros(2) + "1"
    with pytest.raises(RuntimeError, match="a Tensor with 6 elements cannot be converted to Scalar"):
        zeros(2, 3).item()
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        trainer.tensor([2]) ** -1
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
        trainer.tensor([True]) - trainer.tensor([False])
    with pytest.raises(RuntimeError, match="bitwise_and is only defined for integer and bool tensors, got float32"):
        zeros(2) & zeros(2)
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype.*Got: int64"):
        trainer.arange(3).mean()
    with pytest.raises(ValueError, match="nested sequences must have equal lengths"):
        trainer.tensor([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        zeros(2, 3).expand(4, 3, 2)
    with pytest.raises(RuntimeError, match=r"split_sizes to sum exactly to 3"):
        zeros(2, 3).split([1, 1], dim=1)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        trainer.tensor([1, 2]).mul_(1.5)
    with pytest.raises(RuntimeError, match="rounding_mode"):
        zeros(2).div(1, rounding_mode="round")
    with pytest.raises(NotImplementedError, match="abs_cpu\" not implemented for 'Bool'"):
        trainer.tensor([True]).abs()


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_cuda_without_cupy_says_how_to_install_it():
    with pytest.raises(RuntimeError, match=r"pip install 'sardonyx\[cuda12\]'"):
        zeros(2).to("cuda")


def test_assigning_a_grad_of_the_wrong_shape_or_dtype_says_what_was_expected():
    param = trainer.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \[4\] but the tensor has shape \[3\]"):
        param.grad = trainer.zeros(4)
    with pytest.raises(RuntimeError, match="dtype float64 but the tensor has dtype float32"):
        param.grad = trainer.zeros(3, dtype=trainer.float64)
    with pytest.raises(TypeError, match="must be a Tensor or None"):
        param.grad = [0.0, 0.0, 0.0]


def _message(call) -> str:
    try:
        call()
    except RuntimeError as error:
        return str(error)
    raise AssertionError("no RuntimeError raised")


@pytest.mark.parametrize("shape", [(2,), (0,)])
def test_truth_value_of_a_tensor_without_exactly_one_element_raises_like_torch(shape):
    assert _message(lambda: bool(trainer.zeros(*shape))) == _message(lambda: bool(torch.zeros(*shape)))


def test_float_errors_in_ops_are_silent_as_in_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning shown, then trainer's own filter in front of that
        importlib.reload(trainer.float_errors)
        quotient = trainer.tensor([0.0, 1.0]) / 0
        power = trainer.tensor([0.0, 2.0]) ** -1
        log = trainer.log(trainer.zeros(1))
        np.divide(np.ones(1), 0)  # the user's own NumPy code still warns
    np.testing.assert_array_equal(quotient.numpy(), [np.nan, np.inf])
    np.testing.assert_array_equal(power.numpy(), [np.inf, 0.5])
    np.testing.assert_array_equal(log.numpy(), [-np.inf])
    assert [str(w.message) for w in caught] == ["divide by zero encountered in divide"]


@pytest.mark.parametrize("fill", [lambda lib: lib.tensor(1.5), lambda lib: lib.tensor(2),
                                  lambda lib: lib.tensor(True), lambda lib: lib.tensor(0.5, dtype=lib.float64)])
def test_full_takes_a_zero_dim_tensor_as_its_number(fill):
    ours, theirs = trainer.full((2, 3), fill(trainer)), torch.full((2, 3), fill(torch))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("fill", [lambda lib: lib.tensor([1.0, 2.0]), lambda lib: lib.tensor(1.0, requires_grad=True)])
def test_full_refuses_other_tensors_like_torch(fill):
    assert_raises_like_torch(lambda lib: lib.full((2,), fill(lib)), TypeError, "must be Number, not Tensor")
