"""Shape, indexing, joining and linear-algebra functions against PyTorch: forward values, dtypes and the
gradients of every float input (float64, <= 1e-8), then the integer results, in-place forms and errors.

Each case is ``fn(lib, *inputs)``, run with ``lib = torch`` and ``lib = trainer`` on identical float64 data.
"""

import zlib

import numpy as np
import pytest
import torch

import trainer

TOL = 1e-8


def _idx(lib, values):
    return lib.tensor(values)


CASES = {
    "tril": (lambda lib, a: a.tril() + lib.tril(a, -1) + a.tril(diagonal=2), (3, 4)),
    "triu_batched": (lambda lib, a: lib.triu(a, 1) * a.triu(-1), (2, 3, 4)),
    "flip": (lambda lib, a: (a.flip(0), lib.flip(a, (1, -1)), a.flip(-1, 0)), (2, 3, 4)),
    "roll": (lambda lib, a: (a.roll(1, 0), lib.roll(a, (2, -1), (1, 2)), a.roll(5), a.roll(-7, -1)), (2, 3, 4)),
    "diag_of_vector": (lambda lib, a: (lib.diag(a), a.diag(1), lib.diag(a, -2)), (4,)),
    "diag_of_matrix": (lambda lib, a: (lib.diag(a), a.diag(1), lib.diag(a, -2), a.diag(9)), (3, 4)),
    "diagonal": (lambda lib, a: (a.diagonal(), lib.diagonal(a, 1, 0, 2), a.diagonal(-1, -1, -2)), (2, 3, 4)),
    "repeat_interleave": (lambda lib, a: (a.repeat_interleave(2), lib.repeat_interleave(a, 3, dim=1),
                                          a.repeat_interleave(2, -1)), (2, 3)),
    "repeat_interleave_tensor": (lambda lib, a: a.repeat_interleave(_idx(lib, [1, 0, 3]), dim=1), (2, 3)),
    "broadcast_to": (lambda lib, a: (a.broadcast_to((2, 3, 4)), lib.broadcast_to(a, (4, 3, -1))), (3, 1)),
    "narrow_select": (lambda lib, a: (a.narrow(1, 1, 2), lib.narrow(a, -1, -3, 2), a.select(0, -1),
                                      lib.select(a, 2, 1)), (2, 3, 4)),
    "unbind": (lambda lib, a: (*a.unbind(), *lib.unbind(a, -1)), (2, 3)),
    "tensor_split_sections": (lambda lib, a: (*a.tensor_split(3, dim=1), *lib.tensor_split(a, 2)), (3, 7)),
    "tensor_split_indices": (lambda lib, a: (*a.tensor_split([1, 4], dim=1), *lib.tensor_split(a, (-1, 9), 1),
                                             *a.tensor_split([2, 1], 1)), (3, 7)),
    "movedim": (lambda lib, a: (a.movedim(0, -1), lib.movedim(a, (0, 1), (2, 0)), a.moveaxis(-1, 0)), (2, 3, 4)),
    "meshgrid_ij": (lambda lib, a, b: lib.meshgrid(a, b, indexing="ij"), (3,), (4,)),
    "meshgrid_xy": (lambda lib, a, b, c: lib.meshgrid(a, b, c, indexing="xy"), (3,), (4,), (2,)),
    "hstack": (lambda lib, a, b: (lib.hstack([a, b]), lib.hstack((a[0], b[1], a[0, 0]))), (2, 3), (2, 2)),
    "vstack": (lambda lib, a, b: (lib.vstack([a, b[:, :3]]), lib.vstack((a[0], a[1]))), (2, 3), (4, 4)),
    "column_stack": (lambda lib, a, b: lib.column_stack([a[:, 0], b, a[0, 0].expand(2)]), (2, 3), (2, 2)),
    "take_along_dim": (lambda lib, a: (lib.take_along_dim(a, _idx(lib, [[2, 0], [1, 1]]), 1),
                                       a.take_along_dim(_idx(lib, [3, 0, 5])),
                                       lib.take_along_dim(a, _idx(lib, [[0, 1, 0]]), dim=0)), (2, 3)),
    "take_along_dim_broadcast": (lambda lib, a: a.take_along_dim(_idx(lib, [[[1], [0]]]), -1), (3, 2, 4)),
    "scatter_src": (lambda lib, a, b: (a.scatter(1, _idx(lib, [[2, 0], [1, 3]]), b),
                                       lib.scatter(a, 0, _idx(lib, [[1, 0, 1, 0]]), b[:1, :1].expand(1, 4))),
                    (2, 4), (2, 2)),
    "scatter_value": (lambda lib, a: (a.scatter(1, _idx(lib, [[2], [0]]), 1.5),
                                      lib.scatter(a, -1, _idx(lib, [[1, 3]]), value=-2.0)), (2, 4)),
    "scatter_add": (lambda lib, a, b: (a.scatter_add(1, _idx(lib, [[2, 2, 0], [1, 3, 1]]), b),
                                       lib.scatter_add(a, 0, _idx(lib, [[1, 1, 0, 0]]), b[:1, 1:2].expand(1, 4))),
                    (2, 4), (2, 3)),
    "index_add": (lambda lib, a, b: (a.index_add(0, _idx(lib, [2, 0, 2]), b),
                                     lib.index_add(a, 0, _idx(lib, [1, 1, 0]), b, alpha=-0.5)), (3, 4), (3, 4)),
    "index_add_dim1": (lambda lib, a, b: a.index_add(-1, _idx(lib, [3, 0]), b), (2, 4), (2, 2)),
    "index_fill": (lambda lib, a: (a.index_fill(1, _idx(lib, [0, 2, 2]), -1.0),
                                   lib.index_fill(a, 0, _idx(lib, [1]), 3)), (2, 3)),
    "index_fill_tensor_value": (lambda lib, a, v: a.index_fill(1, _idx(lib, [2, 0, 2]), v.sum()), (2, 3), (2,)),
    "masked_select": (lambda lib, a, b: (a.masked_select(b > 0), lib.masked_select(a, (a > 0)[0]),
                                         lib.masked_select(a[0], b > 0)), (2, 3), (2, 3)),
    "einsum_matmul": (lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), (2, 3), (3, 4)),
    "einsum_implicit_and_spaces": (lambda lib, a, b: (lib.einsum("ij, jk", a, b), lib.einsum("ij,ij", a, a)),
                                   (2, 3), (3, 4)),
    "einsum_batched_transposed": (lambda lib, a, b: lib.einsum("bij,bkj->bki", a, b), (2, 3, 4), (2, 5, 4)),
    "einsum_three_operands": (lambda lib, a, b, c: lib.einsum("ij,jk,kl->il", [a, b, c]), (2, 3), (3, 4), (4, 2)),
    "einsum_ellipsis": (lambda lib, a, b: lib.einsum("...ij,...jk->...ik", a, b), (2, 3, 4), (4, 5)),
    "einsum_ellipsis_broadcast": (lambda lib, a, b: lib.einsum("...ij,...jk", a, b), (2, 1, 3, 4), (3, 4, 2)),
    "einsum_trace_diag_outer": (lambda lib, a, b: (lib.einsum("ii", a), lib.einsum("ii->i", a),
                                                    lib.einsum("i,j->ij", b, b)), (3, 3), (2,)),
    "einsum_sum_out_operand": (lambda lib, a, b: lib.einsum("ij,kl->i", a, b), (2, 3), (4, 1)),
    "outer_dot": (lambda lib, a, b: (lib.outer(a, b), a.outer(b), lib.dot(a, a), a.dot(a), lib.ger(b, a)), (3,), (2,)),
    "addmm": (lambda lib, c, a, b: (lib.addmm(c, a, b), c.addmm(a, b, beta=0.5, alpha=2),
                                    lib.addmm(c[0], a, b, beta=0)), (2, 4), (2, 3), (3, 4)),
    "baddbmm": (lambda lib, c, a, b: (lib.baddbmm(c, a, b), c.baddbmm(a, b, alpha=-1, beta=3)),
                (2, 3, 4), (2, 3, 5), (2, 5, 4)),
    "cross": (lambda lib, a, b: (lib.cross(a, b, dim=1), a.cross(b, dim=-1)[:, :1],
                                 lib.linalg.cross(a, b) if lib is torch else lib.cross(a, b, -1)), (4, 3), (4, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_match_torch(name):
    fn, *shapes = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [rng.standard_normal(s) for s in shapes]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_in = [trainer.tensor(a, requires_grad=True) for a in arrays]
    theirs, ours = _outputs(fn(torch, *theirs_in)), _outputs(fn(trainer, *ours_in))
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same(o, t, f"output {i}")
    weights = [rng.standard_normal(tuple(t.shape)) for t in theirs]
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs, weights)).backward()
    sum((o * trainer.tensor(w)).sum() for o, w in zip(ours, weights)).backward()
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if t.grad is None:
            assert o.grad is None, f"input {i}: torch has no grad"
        else:
            _assert_same(o.grad, t.grad, f"grad of input {i}")


def _outputs(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _assert_same(ours, theirs, what):
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {list(ours.shape)} != {list(theirs.shape)}"
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), f"{what}: {ours.dtype} != {theirs.dtype}"
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=TOL, rtol=0, err_msg=what)


# ---------------------------------------------------------------- integer results

def _grid(lib):
    return lib.tensor([[0.0, 1.5, 0.0, -2.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 1.0, 0.0]])


INTEGER_RESULTS = {
    "nonzero": lambda lib: (lib.nonzero(_grid(lib)), _grid(lib).nonzero(), _grid(lib)[1].nonzero(),
                            lib.nonzero(lib.tensor(2.0))),
    "nonzero_as_tuple": lambda lib: (*lib.nonzero(_grid(lib), as_tuple=True), *_grid(lib)[0].nonzero(as_tuple=True)),
    "argwhere": lambda lib: (lib.argwhere(_grid(lib) > 0), (_grid(lib) < 0).argwhere()),
    "int_ops": lambda lib: (lib.tensor([[1, 2], [3, 4]]).tril(), lib.arange(6).reshape(2, 3).flip(1),
                            lib.arange(4).roll(1), lib.arange(3).repeat_interleave(2),
                            lib.arange(6).reshape(2, 3).scatter(1, lib.tensor([[0], [2]]), 9),
                            lib.zeros(2, 3, dtype=lib.int64).scatter(1, lib.tensor([[2], [0]]),
                                                                     lib.arange(6).view(2, 3)),
                            lib.hstack([lib.arange(2), lib.arange(3)])),
}


@pytest.mark.parametrize("name", list(INTEGER_RESULTS))
def test_integer_results_match_torch(name):
    theirs, ours = INTEGER_RESULTS[name](torch), INTEGER_RESULTS[name](trainer)
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _assert_same(o, t, f"output {i}")
        assert not o.requires_grad


def test_nonzero_is_not_differentiable():
    x = trainer.tensor([[0.0, 2.0], [1.0, 0.0]], requires_grad=True)
    assert x.nonzero().tolist() == [[0, 1], [1, 0]]
    assert not x.nonzero().requires_grad and x.nonzero().dtype == trainer.int64


# ---------------------------------------------------------------- in place

INPLACE = {
    "scatter_": lambda lib, a, b: a.scatter_(1, lib.tensor([[2, 0], [1, 3]]), b),
    "scatter_value_": lambda lib, a, b: a.scatter_(0, lib.tensor([[1, 0, 1, 0]]), value=0.25) * b.sum(),
    "scatter_add_": lambda lib, a, b: a.scatter_add_(1, lib.tensor([[2, 2], [1, 3]]), b),
    "index_add_": lambda lib, a, b: a.index_add_(1, lib.tensor([3, 3]), b, alpha=2),
    "index_fill_": lambda lib, a, b: a.index_fill_(1, lib.tensor([0, 3]), 7.0) * b.sum(),
    "tril_triu_": lambda lib, a, b: a.tril_(1).triu_(-1) * b.sum(),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_methods_match_torch_and_bump_the_version(name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 2))
    results = []
    for lib in (torch, trainer):
        leaf_a, leaf_b = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        target = leaf_a * 1  # a non-leaf, as in-place ops on a leaf that requires grad are refused
        before = target._version
        out = INPLACE[name](lib, target, leaf_b)
        assert target._version > before
        out.sum().backward() if out is not target else (target * lib.tensor(np.arange(8.0).reshape(2, 4))).sum()\
            .backward()
        results.append((target, leaf_a.grad, leaf_b.grad))
    for what, o, t in zip(("result", "grad a", "grad b"), results[1], results[0]):
        _assert_same(o, t, what)


def test_inplace_without_grad_writes_into_the_same_storage():
    x = trainer.zeros(2, 3)
    data = x._data
    x.scatter_(1, trainer.tensor([[2], [0]]), trainer.ones(2, 1)).index_fill_(0, trainer.tensor([1]), 5.0)
    x.index_add_(1, trainer.tensor([1]), trainer.ones(2, 1))
    assert x._data is data
    assert x.tolist() == [[0.0, 1.0, 1.0], [5.0, 6.0, 5.0]]


def test_inplace_on_a_leaf_that_requires_grad_is_refused():
    x = trainer.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.scatter_add_(1, trainer.tensor([[0], [1]]), trainer.ones(2, 1))


# ---------------------------------------------------------------- factories

def test_new_factories_keep_dtype_and_device_unless_given():
    x = trainer.ones(2, dtype=trainer.float64)
    assert x.new_zeros(2, 3).dtype == trainer.float64 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(4).tolist() == [1.0] * 4
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_full((2,), 7).dtype == trainer.float64
    assert x.new_empty(3, dtype=trainer.int32).dtype == trainer.int32
    made = x.new_tensor([1, 2])
    assert made.dtype == trainer.float64 and made.device == x.device and made.tolist() == [1.0, 2.0]
    assert x.new_zeros(2, requires_grad=True).requires_grad
    assert trainer.arange(3).new_ones(2).dtype == trainer.int64


# ---------------------------------------------------------------- errors

ERRORS = [
    (lambda: trainer.ones(3).tril(), RuntimeError, "at least 2 dimensions"),
    (lambda: trainer.ones(2, 3).flip(0, 0), RuntimeError, "dims has duplicates"),
    (lambda: trainer.ones(2, 3).flip(2), IndexError, "Dimension out of range"),
    (lambda: trainer.ones(2, 3).roll((1, 2), 0), RuntimeError, "shifts and dimensions must align"),
    (lambda: trainer.ones(2, 3, 4).diag(), RuntimeError, "Supports 1D or 2D"),
    (lambda: trainer.ones(2, 3).diagonal(0, 1, 1), RuntimeError, "cannot be identical"),
    (lambda: trainer.ones(2, 3).narrow(1, 2, 2), RuntimeError, "exceeds dimension size"),
    (lambda: trainer.ones(2, 3).select(1, 3), IndexError, "out of range"),
    (lambda: trainer.ones(2, 3).repeat_interleave(-1), RuntimeError, "can not be negative"),
    (lambda: trainer.ones(2, 3).repeat_interleave(trainer.tensor([1, 2]), 1), RuntimeError, "same size"),
    (lambda: trainer.ones(2, 3).movedim((0, 1), 0), RuntimeError, "same number of dims"),
    (lambda: trainer.ones(2, 3).tensor_split(0), RuntimeError, "larger than 0"),
    (lambda: trainer.meshgrid(trainer.ones(2), indexing="yx"), RuntimeError, "indexing must be one of"),
    (lambda: trainer.meshgrid(trainer.ones(2, 2)), RuntimeError, "Expected 0D or 1D"),
    (lambda: trainer.hstack([]), RuntimeError, "non-empty"),
    (lambda: trainer.take_along_dim(trainer.ones(2, 3), trainer.tensor([0]), 1), RuntimeError,
     "same number of dimensions"),
    (lambda: trainer.ones(2, 3).scatter(1, trainer.tensor([[3]]), 1.0), IndexError, "out of bounds"),
    (lambda: trainer.ones(2, 3).scatter(1, trainer.tensor([0]), 1.0), RuntimeError, "same number of dimensions"),
    (lambda: trainer.ones(2, 3).scatter(1, trainer.tensor([[0.0]]), 1.0), RuntimeError, "Expected dtype int64"),
    (lambda: trainer.ones(2, 3).scatter_add(1, trainer.tensor([[0]]), trainer.ones(1, 1, dtype=trainer.float64)),
     RuntimeError, "self.dtype to be equal to src.dtype"),
    (lambda: trainer.ones(2, 3).scatter(1, trainer.tensor([[0, 1]]), trainer.ones(1, 1)), RuntimeError,
     "smaller size than src"),
    (lambda: trainer.ones(2, 3).index_add(0, trainer.tensor([0]), trainer.ones(2, 3)), RuntimeError,
     "does not match the expected shape"),
    (lambda: trainer.ones(2, 3).index_fill(0, trainer.tensor([[0]]), 1.0), IndexError, "supposed to be a vector"),
    (lambda: trainer.ones(2, 3).masked_select(trainer.ones(2, 3)), RuntimeError, "expected BoolTensor"),
    (lambda: trainer.einsum("ij,jk->ik", trainer.ones(2, 3)), RuntimeError, "names 2 operand"),
    (lambda: trainer.einsum("ij->ij", trainer.ones(2, 3, 4)), RuntimeError, "no ellipsis was given"),
    (lambda: trainer.einsum("ij->k", trainer.ones(2, 3)), RuntimeError, "does not appear"),
    (lambda: trainer.einsum("ij,jk", trainer.ones(2, 3), trainer.ones(4, 2)), RuntimeError, "operand shapes"),
    (lambda: trainer.outer(trainer.ones(2, 2), trainer.ones(2)), RuntimeError, "1-D vectors"),
    (lambda: trainer.dot(trainer.ones(2), trainer.ones(3)), RuntimeError, "inconsistent tensor size"),
    (lambda: trainer.dot(trainer.ones(2), trainer.ones(2, dtype=trainer.float64)), RuntimeError, "same dtype"),
    (lambda: trainer.cross(trainer.ones(2, 4), trainer.ones(2, 4)), RuntimeError, "no dimension of size 3"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_bad_input_gives_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
