"""The creation, small linear-algebra and miscellaneous functions added beside the core ones against PyTorch 2.13:
values, dtypes and the gradients of every float input (float64, <= 1e-8), window functions in float32 and
float64, memory sharing of ``asarray``, type promotion queries, print options (reprs equal to PyTorch's), thread
settings, tensor facts, and the exception type PyTorch raises for bad arguments.
"""

import math
import zlib

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import (
    _assert_same,
    assert_forward_and_gradients_match_torch,
    assert_raises_like_torch,
)

CASES = {
    # creation from tensors
    "cartesian_prod": (lambda lib, a, b: (lib.cartesian_prod(a, b), lib.cartesian_prod(a, b, a[:2]),
                                          lib.cartesian_prod(a)), (2,), (3,)),
    "combinations": (lambda lib, a: (lib.combinations(a), lib.combinations(a, 3, True), lib.combinations(a, r=1),
                                     lib.combinations(a, 0), lib.combinations(a, 5),
                                     lib.combinations(a, with_replacement=True)), (4,)),
    "block_diag": (lambda lib, a, b: (lib.block_diag(a, b[0], b[0, 0], a[:0]), lib.block_diag(a),
                                      lib.block_diag(a[:, :0], b)), (2, 3), (2, 2)),
    "diag_embed": (lambda lib, a: (lib.diag_embed(a), a.diag_embed(1, 0, 2), lib.diag_embed(a, -1, -1, 0),
                                   lib.diag_embed(a[0], 2), a.diag_embed(0, 2, 1)), (2, 3)),
    "diagflat": (lambda lib, a: (lib.diagflat(a, 1), a.diagflat(), lib.diagflat(a[0, 0], -2), a.diagflat(-1)), (2, 3)),
    # products
    "mv": (lambda lib, a, b: (lib.mv(a, b), a.mv(b)), (2, 3), (3,)),
    "inner": (lambda lib, a, b: (lib.inner(a, b), a.inner(b[0, 0]), lib.inner(a[0], b[1]), lib.inner(b[0, 0, 0], a),
                                 lib.inner(a[0, 0], b[0, 0, 0])), (2, 3), (4, 2, 3)),
    "vdot": (lambda lib, a, b: (lib.vdot(a, b), a.vdot(b)), (3,), (3,)),
    "addmv": (lambda lib, a, b, c: (lib.addmv(a, b, c, beta=0.5, alpha=2), a.addmv(b, c),
                                    lib.addmv(a[:1], b, c, beta=0), lib.addmv(a[0], b, c, alpha=-1)),
              (2,), (2, 3), (3,)),
    "addr": (lambda lib, a, b, c: (lib.addr(a, b, c, beta=0.5, alpha=2), a.addr(b, c), lib.addr(a[0], b, c, beta=0)),
             (2, 3), (2,), (3,)),
    "addbmm": (lambda lib, a, b, c: (lib.addbmm(a, b, c, beta=0.5, alpha=2), a.addbmm(b, c), lib.addbmm(a[0], b, c)),
               (2, 4), (5, 2, 3), (5, 3, 4)),
    "chain_matmul": (lambda lib, a, b, c: (lib.chain_matmul(a, b, c), lib.chain_matmul(a), lib.chain_matmul(a, b)),
                     (2, 3), (3, 4), (4, 1)),
    "dist": (lambda lib, a, b: (lib.dist(a, b), a.dist(b, 3), lib.dist(a, b, float("inf")), lib.dist(a, b, 1.5),
                                lib.dist(a, b, -float("inf")), lib.dist(a, a.detach())), (2, 3), (3,)),
    "renorm": (lambda lib, a: (lib.renorm(a, 2, 0, 1.0), a.renorm(1, 1, 0.5), a.renorm(float("inf"), 0, 0.3),
                               a.renorm(3, 1, 100.0), lib.renorm(a, 2, -1, 0.0)), (3, 4)),
    "renorm_batched": (lambda lib, a: (a.renorm(2, 1, 0.7), lib.renorm(a, 1.5, 0, 2.0)), (2, 3, 4)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_match_torch(name):
    fn, *shapes = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    assert_forward_and_gradients_match_torch(fn, [rng.standard_normal(s) for s in shapes])


def test_vander_values_and_gradients():
    """PyTorch 2.13's own vander fails in backward (an in-place cumprod on a saved tensor), so its gradient is
    checked against PyTorch differentiating the same powers written as ``x ** k``."""
    x = np.array([0.5, -1.5, 2.0, 0.25])
    for n, increasing in ((None, False), (3, True), (6, False)):
        ours_x = trainer.tensor(x, requires_grad=True)
        ours = trainer.vander(ours_x, n, increasing=increasing)
        theirs = torch.vander(torch.tensor(x, requires_grad=True), n, increasing=increasing)
        _assert_same(ours, theirs, f"vander N={n}")
        assert ours.requires_grad
        powers = torch.arange(len(x) if n is None else n, dtype=torch.float64)
        their_x = torch.tensor(x, requires_grad=True)
        reference = their_x[:, None] ** (powers if increasing else powers.flip(0))
        upstream = np.random.default_rng(0).standard_normal(tuple(reference.shape))
        (reference * torch.tensor(upstream)).sum().backward()
        (ours * trainer.tensor(upstream)).sum().backward()
        np.testing.assert_allclose(ours_x.grad.numpy(), their_x.grad.numpy(), rtol=1e-12, atol=1e-12)
    # one column of ones does not depend on x: off the graph in both
    assert not trainer.vander(trainer.tensor(x, requires_grad=True), 1).requires_grad
    assert not torch.vander(torch.tensor(x, requires_grad=True), 1).requires_grad


NON_DIFFERENTIABLE = {
    "tril_triu_indices": lambda lib: (lib.tril_indices(3, 4, 1), lib.tril_indices(3, 4, -5), lib.tril_indices(0, 4),
                                      lib.triu_indices(3, 4, -1, dtype=lib.int32), lib.triu_indices(4, 2),
                                      lib.tril_indices(5, 5, -2), lib.triu_indices(2, 6, 3)),
    "integer_creation": lambda lib: (lib.vander(lib.tensor([1, 2, 3])), lib.vander(lib.tensor([1, 2], dtype=lib.int32)),
                                     lib.vander(lib.tensor([True, False])), lib.vander(lib.tensor([1.0, 2.0]), 0),
                                     lib.block_diag(lib.tensor(1), lib.tensor([2, 3]), lib.ones(2, 2)),
                                     lib.block_diag(), lib.cartesian_prod(lib.arange(2), lib.arange(3)),
                                     lib.combinations(lib.arange(4), 3), lib.diag_embed(lib.arange(3)),
                                     lib.diagflat(lib.arange(4).reshape(2, 2), 1)),
    "logspace": lambda lib: (lib.logspace(0, 3, 7), lib.logspace(-2, 2, 5, base=2.0, dtype=lib.float64),
                             lib.logspace(0, 2, 3, base=2, dtype=lib.int64), lib.logspace(0, 2, 1),
                             lib.logspace(0, 2, 0), lib.logspace(1.5, -1.5, 11, dtype=lib.float64),
                             lib.logspace(0.5, 2, 4, dtype=lib.int64), lib.logspace(0, 1, 10, base=math.e)),
    "scalar_tensor": lambda lib: (lib.scalar_tensor(1), lib.scalar_tensor(True), lib.scalar_tensor(2.5),
                                  lib.scalar_tensor(2, dtype=lib.int64), lib.scalar_tensor(-1.25, dtype=lib.float64)),
    "integer_products": lambda lib: (lib.mv(lib.ones(2, 3, dtype=lib.int64), lib.arange(3)),
                                     lib.inner(lib.arange(6).reshape(2, 3), lib.arange(3)),
                                     lib.addmv(lib.arange(2), lib.ones(2, 3, dtype=lib.int64), lib.arange(3), beta=2),
                                     lib.addr(lib.ones(2, 3, dtype=lib.int64), lib.arange(2), lib.arange(3), alpha=3),
                                     lib.addbmm(lib.ones(2, 2, dtype=lib.int64), lib.ones(3, 2, 4, dtype=lib.int64),
                                                lib.ones(3, 4, 2, dtype=lib.int64)),
                                     lib.dist(lib.arange(3), lib.zeros(3))),
}


@pytest.mark.parametrize("name", list(NON_DIFFERENTIABLE))
def test_non_differentiable_results_match_torch(name):
    theirs, ours = NON_DIFFERENTIABLE[name](torch), NON_DIFFERENTIABLE[name](trainer)
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert tuple(o.shape) == tuple(t.shape), f"output {i}"
        assert o.dtype.name == str(t.dtype).removeprefix("torch."), f"output {i}"
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-6 if t.dtype == torch.float32 else 1e-13,
                                   err_msg=f"output {i}")
        assert not o.requires_grad


WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_window_functions_match_torch(name, dtype):
    tol = 3e-7 if dtype == "float32" else 1e-15  # float32: PyTorch's and NumPy's cos and i0 differ by an ulp
    for length in (0, 1, 2, 5, 8, 51):
        for periodic in (True, False):
            ours = getattr(trainer, name)(length, periodic, dtype=getattr(trainer, dtype))
            theirs = getattr(torch, name)(length, periodic, dtype=getattr(torch, dtype))
            assert ours.dtype.name == dtype and tuple(ours.shape) == tuple(theirs.shape)
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=tol, err_msg=f"{length} {periodic}")


def test_window_function_parameters_and_defaults():
    pairs = [(trainer.hamming_window(9, False, alpha=0.5, beta=0.5), torch.hamming_window(9, False, 0.5, 0.5)),
             (trainer.kaiser_window(9, True, 5.0), torch.kaiser_window(9, True, 5.0)),
             (trainer.hann_window(6), torch.hann_window(6))]
    for ours, theirs in pairs:
        assert ours.dtype == trainer.float32
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=2e-7)
    window = trainer.kaiser_window(4, requires_grad=True)
    assert window.requires_grad and window.is_leaf
    scalar = trainer.scalar_tensor(2.0, requires_grad=True)
    assert scalar.requires_grad and scalar.is_leaf and scalar.ndim == 0


# ---------------------------------------------------------------- asarray

def test_asarray_shares_memory_where_it_can():
    array = np.ones(3)
    shared = trainer.asarray(array)
    shared[0] = 5.0
    assert array[0] == 5.0 and shared.dtype == trainer.float64
    x = trainer.ones(3)
    assert trainer.asarray(x) is x
    assert trainer.asarray(x, copy=True) is not x and trainer.asarray(x, copy=True).tolist() == x.tolist()
    assert trainer.asarray(x, dtype=trainer.float64).dtype == trainer.float64
    with pytest.raises(ValueError, match="can't alias tensor with dtype 'float32' into dtype 'float64'"):
        trainer.asarray(x, dtype=trainer.float64, copy=False)
    with pytest.raises(ValueError, match="without copying"):
        trainer.asarray([1, 2], copy=False)


def test_asarray_of_python_data_infers_dtypes_as_torch():
    for data, kwargs in (([1, 2], {}), ([1.0, 2.0], {}), (3.5, {}), ([1, 2], {"dtype": torch.float64}),
                         ([True, False], {}), (np.float32(2.5), {}), (np.arange(3), {})):
        ours_kwargs = {k: getattr(trainer, str(v).removeprefix("torch.")) for k, v in kwargs.items()}
        _assert_same(trainer.asarray(data, **ours_kwargs), torch.asarray(data, **kwargs), repr(data))
    out = trainer.asarray([1.0, 2.0], requires_grad=True)
    assert out.requires_grad and out.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        trainer.asarray(3, requires_grad=True)
    x = trainer.tensor([1.0, 2.0], requires_grad=True)
    converted = trainer.asarray(x, dtype=trainer.float64)
    assert converted.grad_fn is not None  # a conversion stays on the graph, as PyTorch's ToCopyBackward


# ---------------------------------------------------------------- type promotion, top-level clone/detach, tensor facts

@pytest.mark.parametrize("a, b", [("int32_vector", 2.0), (2, 2.0), ("float_scalar", "int32_vector"),
                                  ("uint8_scalar", 300), (True, 2), ("int64_vector", "float64_scalar"),
                                  ("bool_vector", True), ("float16_vector", "float64_scalar"), (1.5, "int32_vector")])
def test_result_type_matches_torch(a, b):
    def operand(lib, spec):
        made = {"int32_vector": lambda: lib.ones(2, dtype=lib.int32), "float_scalar": lambda: lib.tensor(1.0),
                "uint8_scalar": lambda: lib.tensor(1, dtype=lib.uint8),
                "int64_vector": lambda: lib.ones(2, dtype=lib.int64),
                "float64_scalar": lambda: lib.tensor(1.0, dtype=lib.float64),
                "bool_vector": lambda: lib.ones(2, dtype=lib.bool),
                "float16_vector": lambda: lib.ones(2, dtype=lib.half)}
        return made[spec]() if isinstance(spec, str) else spec

    ours = trainer.result_type(operand(trainer, a), operand(trainer, b))
    assert ours.name == str(torch.result_type(operand(torch, a), operand(torch, b))).removeprefix("torch.")


def test_can_cast_and_promote_types_match_torch():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    for source in names:
        for target in names:
            ours, theirs = getattr(trainer, source), getattr(trainer, target)
            assert trainer.can_cast(ours, theirs) == torch.can_cast(getattr(torch, source), getattr(torch, target))
            promoted = torch.promote_types(getattr(torch, source), getattr(torch, target))
            assert trainer.promote_types(ours, theirs).name == str(promoted).removeprefix("torch.")
    with pytest.raises(TypeError):
        trainer.can_cast(2, trainer.float16)


def test_top_level_clone_and_detach():
    for lib in (torch, trainer):
        x = lib.ones(2, requires_grad=True)
        cloned, detached = lib.clone(x), lib.detach(x)
        assert cloned.requires_grad and cloned.grad_fn is not None
        assert not detached.requires_grad and detached.grad_fn is None
        detached[0] = 3.0  # shares storage with x
        assert x[0].item() == 3.0


def test_tensor_facts_match_torch():
    for lib in (torch, trainer):
        x = lib.ones(2, 3, dtype=lib.float64)
        assert x.ndimension() == 2 and x.nbytes == 48 and x.itemsize == 8
        assert lib.ones(3, dtype=lib.int16).nbytes == 6 and lib.ones(3, dtype=lib.int16).itemsize == 2
        assert x.get_device() == -1 and lib.get_device(x) == -1
        assert x.is_cpu and not x.is_inference() and not lib.is_inference(x)


# ---------------------------------------------------------------- print options

@pytest.fixture
def default_print_options():
    yield
    trainer.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


REPR_DATA = [
    np.array([1.5, 2.0]), np.array([1.0, 2.0, -3.0]), np.array(3.25), np.array([]), np.zeros((2, 0)),
    np.array([1e-5, 1.0]), np.array([1e9, 1.0]), np.array([math.nan, math.inf, -math.inf, 1.0]), np.arange(2000.0),
    np.arange(2000), np.random.default_rng(0).standard_normal((5, 400)),
    np.random.default_rng(1).standard_normal((3, 4, 5)),
    np.array([True, False]), np.arange(12, dtype=np.int32).reshape(3, 4), np.array([1.0, 2.0], np.float32),
    np.random.default_rng(2).standard_normal((2, 3)).astype(np.float16), np.array([123456789.0, 1.0]),
]
PRINT_OPTIONS = [{}, {"precision": 2}, {"threshold": 5}, {"edgeitems": 1, "threshold": 10}, {"linewidth": 40},
                 {"profile": "short"}, {"profile": "full"}, {"sci_mode": True}, {"sci_mode": False},
                 {"edgeitems": 0, "threshold": 3}, {"profile": "short", "precision": 6}]


@pytest.mark.parametrize("options", PRINT_OPTIONS, ids=[str(o) for o in PRINT_OPTIONS])
def test_repr_follows_set_printoptions_as_torch(options, default_print_options):
    trainer.set_printoptions(**options)
    torch.set_printoptions(**options)
    for data in REPR_DATA:
        for requires_grad in (False, True) if data.dtype.kind == "f" else (False,):
            theirs = repr(torch.tensor(data, requires_grad=requires_grad))
            ours = repr(trainer.tensor(data, requires_grad=requires_grad))
            # trainer's dtypes print as trainer.float64, 2 characters longer than torch.float64, which can move a
            # suffix to the next line: compare the layout with the names swapped and the line breaks folded
            assert ours.replace("trainer.", "torch.").split() == theirs.split(), f"{options} {data.dtype} {data.shape}"


def test_repr_with_default_dtype_float64_hides_float64(default_print_options):
    trainer.set_default_dtype(trainer.float64)
    try:
        assert repr(trainer.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
        assert repr(trainer.tensor([1.5], dtype=trainer.float32)) == "tensor([1.5000], dtype=trainer.float32)"
        assert repr(trainer.tensor([])) == "tensor([])"
    finally:
        trainer.set_default_dtype(trainer.float32)


def test_set_printoptions_rejects_an_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile 'long'"):
        trainer.set_printoptions(profile="long")


# ---------------------------------------------------------------- threads

def test_num_threads_sets_the_blas_pool():
    before = trainer.get_num_threads()
    try:
        trainer.set_num_threads(1)
        assert trainer.get_num_threads() == 1
        trainer.set_num_threads(2)
        assert trainer.get_num_threads() == 2
    finally:
        trainer.set_num_threads(before)
    for bad, message in ((0, "positive integer"), (-1, "positive integer"), (1.5, "expects an int")):
        with pytest.raises(RuntimeError, match=message):
            trainer.set_num_threads(bad)


def test_num_interop_threads_is_set_once(monkeypatch):
    from trainer import threads

    monkeypatch.setattr(threads, "_interop", {"threads": 1, "set": False})
    assert trainer.get_num_interop_threads() == 1
    with pytest.raises(RuntimeError, match="positive integer"):
        trainer.set_num_interop_threads(0)
    trainer.set_num_interop_threads(3)
    assert trainer.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="cannot set number of interop threads"):
        trainer.set_num_interop_threads(2)


# ---------------------------------------------------------------- in place and errors

# name -> (the in-place call on ``target``, the shape of ``target``, the shapes of the other inputs)
INPLACE = {
    "addmv_": (lambda lib, t, m, v: t.addmv_(m, v, beta=0.5, alpha=2), (2,), (2, 3), (3,)),
    "torch.addmv_": (lambda lib, t, m, v: lib.addmv_(t, m, v), (2,), (2, 3), (3,)),
    "addr_": (lambda lib, t, u, v: t.addr_(u, v, alpha=-1, beta=3), (2, 3), (2,), (3,)),
    "addbmm_": (lambda lib, t, b1, b2: t.addbmm_(b1, b2, beta=2), (2, 3), (4, 2, 5), (4, 5, 3)),
    "addmm_": (lambda lib, t, m1, m2: t.addmm_(m1, m2, alpha=0.5, beta=-1), (2, 3), (2, 4), (4, 3)),
    "baddbmm_": (lambda lib, t, b1, b2: t.baddbmm_(b1, b2, beta=0.25), (4, 2, 3), (4, 2, 5), (4, 5, 3)),
    "renorm_": (lambda lib, t: t.renorm_(2, 0, 0.5), (3, 4)),
    "renorm_inf_": (lambda lib, t: t.renorm_(float("inf"), 1, 0.3), (3, 4)),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_methods_match_torch_and_bump_the_version(name):
    call, *shapes = INPLACE[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [rng.standard_normal(s) for s in shapes]
    results = []
    for lib in (torch, trainer):
        leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
        target = leaves[0] * 1  # a non-leaf: in-place ops on a leaf that requires grad are refused
        before = target._version
        out = call(lib, target, *leaves[1:])
        assert out is target and target._version > before
        upstream = np.random.default_rng(1).standard_normal(tuple(out.shape))
        (out * lib.tensor(upstream)).sum().backward()
        results.append((out, *[leaf.grad for leaf in leaves]))
    for i, (o, t) in enumerate(zip(results[1], results[0])):
        _assert_same(o, t, f"item {i}")


def test_inplace_products_without_grad_write_into_the_same_storage():
    x = trainer.ones(2, 3)
    storage = x._data
    x.addmm_(trainer.ones(2, 2), trainer.ones(2, 3), beta=2).renorm_(2, 0, 1.0)
    assert x._data is storage
    np.testing.assert_allclose(x.numpy(), torch.ones(2, 3).addmm_(torch.ones(2, 2), torch.ones(2, 3), beta=2)
                               .renorm_(2, 0, 1.0).numpy(), rtol=1e-6)


def _ones(lib, *shape, dtype=None):
    return lib.ones(*shape, dtype=dtype)


ERRORS = [
    (lambda lib: lib.cartesian_prod(_ones(lib, 2, 2)), RuntimeError, "Expect a 1D vector"),
    (lambda lib: lib.cartesian_prod(_ones(lib, 2), lib.ones(2, dtype=lib.int64)), RuntimeError, "same dtype"),
    (lambda lib: lib.combinations(_ones(lib, 2, 2)), RuntimeError, "Expect a 1D vector"),
    (lambda lib: lib.combinations(_ones(lib, 3), r=-1), RuntimeError, "Expect a non-negative number"),
    (lambda lib: lib.tril_indices(-1, 4), RuntimeError, "row must be non-negative"),
    (lambda lib: lib.triu_indices(3, -4), RuntimeError, "col must be non-negative"),
    (lambda lib: lib.triu_indices(3, 4, dtype=lib.float32), NotImplementedError, "not implemented for"),
    (lambda lib: lib.block_diag(_ones(lib, 2, 2, 2)), RuntimeError, "must have 2 or fewer dimensions"),
    (lambda lib: lib.vander(_ones(lib, 2, 2)), RuntimeError, "one-dimensional"),
    (lambda lib: lib.vander(_ones(lib, 2), -1), RuntimeError, "N must be non-negative"),
    (lambda lib: lib.logspace(0, 2, -1), RuntimeError, "number of steps must be non-negative"),
    (lambda lib: lib.hann_window(-1), RuntimeError, "non-negative window_length"),
    (lambda lib: lib.kaiser_window(3, dtype=lib.int64), RuntimeError, "expects floating point dtypes"),
    (lambda lib: lib.diag_embed(_ones(lib, 2, 2), 1, 0, 0), RuntimeError, "diagonal dimensions cannot be identical"),
    (lambda lib: lib.diag_embed(_ones(lib, 2, 2), 0, 0, 3), IndexError, "Dimension out of range"),
    (lambda lib: lib.mv(_ones(lib, 2, 3), _ones(lib, 2)), RuntimeError, r"size mismatch, got input \(2\), mat \(2x3\)"),
    (lambda lib: lib.mv(_ones(lib, 3), _ones(lib, 3)), RuntimeError, "vector \\+ matrix @ vector expected"),
    (lambda lib: lib.mv(_ones(lib, 2, 3), _ones(lib, 3, dtype=lib.float64)), RuntimeError, "same dtype"),
    (lambda lib: lib.inner(_ones(lib, 2, 3), _ones(lib, 4, 2)), RuntimeError, "the last dimension must match"),
    (lambda lib: lib.inner(_ones(lib, 3), _ones(lib, 3, dtype=lib.float64)), RuntimeError, "same dtype"),
    (lambda lib: lib.vdot(_ones(lib, 2, 3), _ones(lib, 3)), RuntimeError, "1D tensors expected"),
    (lambda lib: lib.vdot(_ones(lib, 3), _ones(lib, 4)), RuntimeError, "inconsistent tensor size"),
    (lambda lib: lib.addmv(_ones(lib, 3), _ones(lib, 2, 3), _ones(lib, 3)), RuntimeError, "does not broadcast"),
    (lambda lib: lib.addr(_ones(lib, 2, 3), _ones(lib, 2, 2), _ones(lib, 3)), RuntimeError,
     "Expected 1-D argument vec1"),
    (lambda lib: lib.addr(_ones(lib, 2, 3, dtype=lib.int64), lib.ones(2, dtype=lib.int64),
                          lib.ones(3, dtype=lib.int64), alpha=0.5), RuntimeError,
     "argument alpha must not be a floating point number"),
    (lambda lib: lib.addbmm(_ones(lib, 2, 4), _ones(lib, 5, 2, 3), _ones(lib, 4, 3, 4)), RuntimeError,
     "same number of batches"),
    (lambda lib: lib.addbmm(_ones(lib, 2, 4), _ones(lib, 1, 2, 3, 4), _ones(lib, 5, 3, 4)), RuntimeError,
     "batch1 must be a 3D tensor"),
    (lambda lib: lib.chain_matmul(), RuntimeError, "Expected one or more matrices"),
    (lambda lib: lib.chain_matmul(_ones(lib, 2, 3), _ones(lib, 3)), RuntimeError, "Tensor dimension is 1"),
    (lambda lib: lib.dist(lib.ones(3, dtype=lib.int64), lib.zeros(3, dtype=lib.int64)), RuntimeError, "floating"),
    (lambda lib: lib.renorm(_ones(lib, 2, 3), -1, 0, 3), RuntimeError, "non-positive-norm not supported"),
    (lambda lib: lib.renorm(_ones(lib, 2, 3), 2, 0, -3), RuntimeError, "expected maxnorm to be >= 0"),
    (lambda lib: lib.renorm(_ones(lib, 6), 2, 0, 3), RuntimeError, "at least 2 dimensions"),
    (lambda lib: lib.renorm(lib.ones(2, 3, dtype=lib.int64), 2, 0, 3), RuntimeError, "floating point"),
    (lambda lib: _ones(lib, 1, 4).addmm_(_ones(lib, 2, 3), _ones(lib, 3, 4)), RuntimeError, "doesn't match"),
    (lambda lib: _ones(lib, 1).addmv_(_ones(lib, 2, 3), _ones(lib, 3)), RuntimeError, "doesn't match"),
    (lambda lib: lib.set_num_threads(0), RuntimeError, "expects a positive integer"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_bad_input_raises_what_torch_raises(call, error, message):
    assert_raises_like_torch(call, error, message)
