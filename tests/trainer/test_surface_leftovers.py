"""The small remaining pieces of PyTorch's surface, each against PyTorch itself: Tensor methods (``as_strided_``,
``as_strided_scatter``, ``slice_inverse``, ``conj_physical_``, ``resize``/``resize_as``, ``module_load``, ...),
``backends.{cpu,mkl,mkldnn,nnpack,openmp,opt_einsum}``, ``testing.assert_allclose``, ``func.linearize`` and
``functionalize``, ``nn.Container``/``factory_kwargs``/``common_types``, the distributions' module paths and the
autograd engine switches."""

import importlib
import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


def _both(array, requires_grad=False):
    return (torch.tensor(array, requires_grad=requires_grad), trainer.tensor(array, requires_grad=requires_grad))


# ----------------------------------------------------------------- Tensor methods
def test_as_strided_in_place_takes_the_new_geometry_of_the_same_storage():
    for lib in (torch, trainer):
        x = lib.arange(9.0)
        assert x.as_strided_((2, 2), (1, 2), 1) is x
    ours, theirs = trainer.arange(9.0), torch.arange(9.0)
    ours.as_strided_((2, 2), (1, 2), 1)
    theirs.as_strided_((2, 2), (1, 2), 1)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.stride() == theirs.stride() and ours.storage_offset() == theirs.storage_offset() == 1


def test_as_strided_in_place_gradient_and_errors_match_torch():
    data = np.random.default_rng(0).standard_normal(9)
    assert_forward_and_gradients_match_torch(lambda lib, x: (x * 1).as_strided_((2, 3), (3, 1), 2), [data])
    assert_raises_like_torch(lambda lib: lib.ones(3, requires_grad=True).as_strided_((2,), (1,)), RuntimeError,
                             "leaf Variable that requires grad")
    assert_raises_like_torch(lambda lib: lib.ones(3).as_strided_((2, 2), (1, 1), 5), RuntimeError, "out of bounds")


def test_as_strided_scatter_values_and_src_gradient_match_torch():
    rng = np.random.default_rng(1)
    base, src = rng.standard_normal((3, 3)), rng.standard_normal((2, 2))
    for offset in (None, 1):
        assert_forward_and_gradients_match_torch(
            lambda lib, b, s, offset=offset: lib.as_strided_scatter(b.detach(), s, (2, 2), (1, 2), offset), [base, src])
        assert_forward_and_gradients_match_torch(
            lambda lib, b, s, offset=offset: b.detach().as_strided_scatter(s, (2, 2), (1, 2), offset), [base, src])
    base = trainer.zeros(3, 3)
    out = trainer.as_strided_scatter(base, trainer.ones(2, 2), (2, 2), (1, 2))
    assert not np.shares_memory(out.numpy(), base.numpy()) and base.sum().item() == 0  # fresh storage


def test_as_strided_scatter_input_gradient_is_the_output_gradient_outside_the_region():
    # PyTorch 2.13's backward returns the gradient inside the region instead (its gradcheck fails there); trainer
    # gives the true derivative: the input reaches the output only outside the region
    x = trainer.tensor(np.arange(9.0), requires_grad=True)
    upstream = trainer.tensor(np.arange(10.0, 19.0))
    (trainer.as_strided_scatter(x, trainer.zeros(2, 2), (2, 2), (1, 2), 1) * upstream).sum().backward()
    expected = np.arange(10.0, 19.0)
    expected[1:5] = 0  # storage positions 1, 3, 2, 4
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    assert trainer.autograd.gradcheck(lambda t: trainer.as_strided_scatter(t, trainer.ones(2, 2, dtype=trainer.float64),
                                                                          (2, 2), (1, 2), 1),
                                      (trainer.tensor(np.arange(9.0), requires_grad=True),))


def test_as_strided_scatter_rejects_a_src_of_the_wrong_shape():
    assert_raises_like_torch(lambda lib: lib.as_strided_scatter(lib.zeros(3, 3), lib.ones(3, 2), (2, 2), (1, 2)),
                             RuntimeError, r"src size = \[3, 2\], slice size = \[2, 2\]")
    assert_raises_like_torch(lambda lib: lib.as_strided_scatter(lib.zeros(3, 3), lib.ones(2, 2), (2, 2), (1, 2), 8),
                             RuntimeError, "out of bounds")


def test_slice_inverse_views_the_slice_storage_with_the_base_geometry():
    for start in (0, 1):
        theirs_base, ours_base = torch.arange(12.0).reshape(3, 4), trainer.arange(12.0).reshape(3, 4)
        theirs = torch.slice_inverse(theirs_base[:, start:], theirs_base, 1, start, None, 1)
        ours = trainer.slice_inverse(ours_base[:, start:], ours_base, 1, start, None, 1)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert ours.stride() == theirs.stride()
        ours[0, 0] = 100.0  # a view: writes reach the base
        assert ours_base[0, 0].item() == 100.0
    data = np.random.default_rng(2).standard_normal((2, 3))
    assert_forward_and_gradients_match_torch(lambda lib, x: (x * 1)[:, 1:].slice_inverse(x * 1, 1, 1) * 2, [data])
    assert_raises_like_torch(lambda lib: lib.slice_inverse(lib.ones(2, 1), lib.zeros(2, 3), 1, 0, 1), RuntimeError,
                             "out of bounds")


def test_conj_physical_in_place():
    values = np.array([1 + 2j, -3 - 0.5j])
    for lib in (torch, trainer):
        z = lib.tensor(values)
        assert z.conj_physical_() is z
        np.testing.assert_array_equal(z.numpy(), values.conj())
        real = lib.tensor([1.0, -2.0])
        assert real.conj_physical_() is real
        np.testing.assert_array_equal(real.numpy(), [1.0, -2.0])
    data = np.random.default_rng(3).standard_normal(4)
    assert_forward_and_gradients_match_torch(lambda lib, x: (x * 2).conj_physical_(), [data])
    assert_raises_like_torch(lambda lib: lib.ones(2, requires_grad=True).conj_physical_(), RuntimeError,
                             "leaf Variable that requires grad")


def test_const_data_ptr_is_data_ptr():
    x = trainer.arange(6.0, dtype=trainer.float64).reshape(2, 3).t()
    assert x.const_data_ptr() == x.data_ptr()
    assert x[1:].const_data_ptr() == x.data_ptr() + 8  # one element along the transposed rows


def test_chalf_says_trainer_has_no_complex32():
    with pytest.raises(TypeError, match="no complex32"):
        trainer.ones(2).chalf()


def test_resize_out_of_place_warns_reshapes_and_differentiates_as_torch():
    data = np.random.default_rng(4).standard_normal(6)
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        assert_forward_and_gradients_match_torch(lambda lib, x: x.resize(2, 3), [data])
    with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
        assert_forward_and_gradients_match_torch(lambda lib, x: x.resize_as(lib.zeros(3, 2)), [data])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert_raises_like_torch(lambda lib: lib.arange(6.0).resize(4), RuntimeError,
                                 r"requested resize to 4 \(4 elements in total\), but the given tensor has a size of 6 "
                                 r"\(6 elements\)")
        x = trainer.arange(6.0)
        assert x.resize((3, 2)).shape == (3, 2)  # a sequence of sizes too (PyTorch fails on it)
        assert x.shape == (6,)  # out of place


def test_module_load_copies_or_assigns_and_detaches():
    for lib in (torch, trainer):
        param, value = lib.zeros(2), lib.ones(2, requires_grad=True)
        loaded = param.module_load(value)
        assert loaded is not param and loaded is not value and not loaded.requires_grad
        np.testing.assert_array_equal(param.detach().numpy(), [1.0, 1.0])  # copied into self
        param = lib.zeros(2)
        assigned = param.module_load(value, assign=True)
        assert assigned is not value and not assigned.requires_grad
        np.testing.assert_array_equal(param.numpy(), [0.0, 0.0])
        assert assigned.data_ptr() == value.data_ptr()


# ----------------------------------------------------------------- backends
def test_cpu_capability_matches_torch():
    assert trainer.backends.cpu.get_cpu_capability() == torch.backends.cpu.get_cpu_capability()


def test_availability_is_truthful_for_trainer():
    assert trainer.backends.mkldnn.is_available() is False  # trainer never calls oneDNN
    assert trainer.backends.mkldnn.is_acl_available() is False
    assert trainer.backends.nnpack.is_available() is False
    assert trainer.backends.opt_einsum.is_available() is False and trainer.backends.opt_einsum.get_opt_einsum() is None
    import threadpoolctl

    blas = [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    assert trainer.backends.mkl.is_available() == any(lib["internal_api"] == "mkl" for lib in blas)
    assert trainer.backends.openmp.is_available() == any(lib.get("threading_layer") == "openmp" for lib in blas)


def test_verbose_scopes_fail_as_torch_does_without_the_library():
    with trainer.backends.mkldnn.verbose(trainer.backends.mkldnn.VERBOSE_OFF):
        pass
    with pytest.raises(AssertionError, match="Failed to set MKLDNN into verbose mode"):
        with trainer.backends.mkldnn.verbose(trainer.backends.mkldnn.VERBOSE_ON):
            pass
    with trainer.backends.mkl.verbose(trainer.backends.mkl.VERBOSE_OFF):
        pass
    if not trainer.backends.mkl.is_available():
        with pytest.raises(AssertionError, match="Failed to set MKL into verbose mode"):
            with trainer.backends.mkl.verbose(trainer.backends.mkl.VERBOSE_ON):
                pass


def test_mkldnn_switches_are_set_and_validated_as_in_torch():
    ours, theirs = trainer.backends.mkldnn, torch.backends.mkldnn
    assert (ours.enabled, ours.deterministic) == (theirs.enabled, theirs.deterministic) == (True, False)
    try:
        for lib in (ours, theirs):
            lib.enabled = False
            lib.deterministic = True
        assert (ours.enabled, ours.deterministic) == (theirs.enabled, theirs.deterministic) == (False, True)
        with ours.flags(enabled=True, deterministic=False):
            assert (ours.enabled, ours.deterministic) == (True, False)
        assert (ours.enabled, ours.deterministic) == (False, True)
        assert ours.set_flags(_enabled=True) == (False, True, False)
    finally:
        for lib in (ours, theirs):
            lib.enabled, lib.deterministic = True, False
    for name, value, message in (("enabled", "x", "set_enabled_mkldnn expects a bool, but got str"),
                                 ("deterministic", None, "set_deterministic_mkldnn expects a bool, but got NoneType"),
                                 ("allow_tf32", 1, "_set_onednn_allow_tf32 expects a bool, but got int")):
        assert_raises_like_torch(lambda lib, name=name, value=value: setattr(lib.backends.mkldnn, name, value),
                                 RuntimeError, message)
    assert ours.enabled is True


def test_nnpack_flags_match_torch():
    assert trainer.backends.nnpack.set_flags(True) == torch.backends.nnpack.set_flags(True) == (True,)
    with trainer.backends.nnpack.flags():
        assert trainer.backends.nnpack.set_flags(False) == (False,)
    assert trainer.backends.nnpack.set_flags(True) == (True,)
    assert_raises_like_torch(lambda lib: lib.backends.nnpack.set_flags("x"), RuntimeError,
                             "set_enabled_NNPACK expects a bool, but got str")


@pytest.mark.skipif(torch.backends.opt_einsum.is_available(), reason="compares with torch without opt_einsum")
def test_opt_einsum_switches_match_torch_without_opt_einsum():
    ours, theirs = trainer.backends.opt_einsum, torch.backends.opt_einsum
    assert (ours.enabled, ours.strategy) == (theirs.enabled, theirs.strategy) == (False, None)
    with ours.flags(enabled=False):
        assert ours.enabled is False
    assert ours.set_flags() == (False, None)
    assert_raises_like_torch(lambda lib: lib.backends.opt_einsum.set_flags(True), ValueError,
                             "opt_einsum is not available, so setting `enabled` to True")

    def enter(lib):
        with lib.backends.opt_einsum.flags(strategy="greedy"):
            pass

    assert_raises_like_torch(enter, ValueError, "opt_einsum is not available, so setting `strategy` to greedy")


def test_backends_import_paths():
    for name in ("cpu", "mkl", "mkldnn", "nnpack", "openmp", "opt_einsum"):
        assert importlib.import_module(f"trainer.backends.{name}") is getattr(trainer.backends, name)
        assert name in trainer.backends.__all__


# ----------------------------------------------------------------- testing, func
def test_assert_allclose_warns_and_uses_its_own_tolerances():
    actual = [1.0, 2.0]
    for expected, passes in (([1.0, 2.00015], True), ([1.0, 2.001], False)):  # float32: rtol 1e-4, atol 1e-5
        for lib in (torch, trainer):
            with pytest.warns(FutureWarning, match="assert_allclose\\(\\)` is deprecated since 1.12"):
                if passes:
                    lib.testing.assert_allclose(lib.tensor(actual), expected)
                else:
                    with pytest.raises(AssertionError, match="Tensor-likes are not close"):
                        lib.testing.assert_allclose(lib.tensor(actual), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        trainer.testing.assert_allclose(trainer.tensor([float("nan"), 1.0]), [float("nan"), 1.0])  # equal_nan
        trainer.testing.assert_allclose(trainer.tensor([1, 2]), trainer.tensor([1.0, 2.0]))  # dtypes may differ
        with pytest.raises(AssertionError):
            trainer.testing.assert_allclose(trainer.tensor([1.0]), [1.01], rtol=0.0, atol=1e-3)
        with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
            trainer.testing.assert_allclose(trainer.tensor([1.0]), [1.0], rtol=0.1)


def _sin_times(lib, x, y):
    return {"a": lib.sin(x) * y, "b": (x * y).sum()}


def test_linearize_matches_torch():
    rng = np.random.default_rng(5)
    x, y, tx, ty = (rng.standard_normal(3) for _ in range(4))
    theirs_out, theirs_fn = torch.func.linearize(lambda a, b: _sin_times(torch, a, b), torch.tensor(x), torch.tensor(y))
    ours_out, ours_fn = trainer.func.linearize(lambda a, b: _sin_times(trainer, a, b), trainer.tensor(x),
                                               trainer.tensor(y))
    for key in ("a", "b"):
        np.testing.assert_allclose(ours_out[key].numpy(), theirs_out[key].numpy(), rtol=1e-12)
    for _ in range(2):  # jvp_fn may be called again
        theirs = theirs_fn(torch.tensor(tx), torch.tensor(ty))
        ours = ours_fn(trainer.tensor(tx), trainer.tensor(ty))
        for key in ("a", "b"):
            np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), rtol=1e-12)
        tx, ty = ty, tx


def test_linearize_checks_the_tangents_as_torch():
    def call(lib, tangents):
        _, jvp_fn = lib.func.linearize(lib.sin, lib.zeros(3, dtype=lib.float64))
        return jvp_fn(*tangents)

    assert_raises_like_torch(lambda lib: call(lib, (lib.ones(4, dtype=lib.float64),)), RuntimeError,
                             r"tangent:0 with shape .* doesn't match the shape")
    assert_raises_like_torch(lambda lib: call(lib, (lib.ones(3),)), RuntimeError,
                             r"tangent:0 with dtype .* doesn't match the dtype")
    assert_raises_like_torch(lambda lib: call(lib, (lib.ones(3, dtype=lib.float64),) * 2), RuntimeError,
                             "to have the same argspec as the primals")


def test_functionalize_gives_the_same_results_and_input_mutations():
    def f(lib, x):
        y = x.clone()
        y.add_(1)
        x.mul_(2)
        return y.view(-1)[1:] * 3

    for remove in ("mutations", "mutations_and_views"):
        theirs_in, ours_in = torch.arange(4.0), trainer.arange(4.0)
        theirs = torch.func.functionalize(lambda x: f(torch, x), remove=remove)(theirs_in)
        ours = trainer.func.functionalize(lambda x: f(trainer, x), remove=remove)(ours_in)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(ours_in.numpy(), theirs_in.numpy())
    assert trainer.func.functionalize(test_functionalize_gives_the_same_results_and_input_mutations).__name__ == \
        "test_functionalize_gives_the_same_results_and_input_mutations"
    assert_raises_like_torch(lambda lib: lib.func.functionalize(lib.sin, remove="views"), RuntimeError,
                             "received invalid argument for remove=views")


# ----------------------------------------------------------------- nn
def test_container_is_deprecated_and_holds_its_keyword_modules():
    for lib in (torch, trainer):
        with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
            container = lib.nn.Container(fc=lib.nn.Linear(2, 3))
        assert isinstance(container, lib.nn.Module)
        assert sorted(container.state_dict()) == ["fc.bias", "fc.weight"]
        with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
            type("Old", (lib.nn.Container,), {})


def test_factory_kwargs_matches_torch():
    cases = [None, {}, {"device": "cpu", "dtype": "float64"},
             {"dtype": "float32", "factory_kwargs": {"device": "cpu", "memory_format": "m"}}]
    for kwargs in cases:
        assert trainer.nn.factory_kwargs(kwargs) == torch.nn.factory_kwargs(kwargs)
    nested = {"factory_kwargs": {"device": "cpu"}}
    trainer.nn.factory_kwargs(nested)["dtype"] = 1
    assert nested == {"factory_kwargs": {"device": "cpu"}}
    assert_raises_like_torch(lambda lib: lib.nn.factory_kwargs({"bias": True}), TypeError, "unexpected kwargs {'bias'}")
    assert_raises_like_torch(lambda lib: lib.nn.factory_kwargs({"dtype": 1, "factory_kwargs": {"dtype": 2}}),
                             TypeError, "dtype specified twice, in \\*\\*kwargs and in factory_kwargs")


def test_common_types_names_match_torch():
    from torch.nn import common_types as theirs

    from trainer.nn import common_types as ours

    names = {n for n in vars(theirs) if n.startswith("_") and n.endswith("_t")}
    assert names and names <= set(vars(ours))
    assert ours._size_2_t.__args__ == (int, tuple[int, int])
    assert ours._maybe_indices_t.__args__ == (trainer.Tensor, tuple[trainer.Tensor, trainer.Tensor])


# ----------------------------------------------------------------- distributions, autograd
def test_distribution_module_paths():
    from trainer.distributions.fishersnedecor import FisherSnedecor
    from trainer.distributions.half_cauchy import HalfCauchy
    from trainer.distributions.half_normal import HalfNormal
    from trainer.distributions.studentT import StudentT

    assert (FisherSnedecor, HalfCauchy, HalfNormal, StudentT) == (
        trainer.distributions.FisherSnedecor, trainer.distributions.HalfCauchy, trainer.distributions.HalfNormal,
        trainer.distributions.StudentT)
    assert trainer.distributions.studentT.__all__ == torch.distributions.studentT.__all__


def test_multithreading_switch_as_torch():
    for lib in (torch, trainer):
        assert lib.autograd.is_multithreading_enabled() is True
        with lib.autograd.set_multithreading_enabled(False):
            assert lib.autograd.is_multithreading_enabled() is False
        assert lib.autograd.is_multithreading_enabled() is True
        switch = lib.autograd.set_multithreading_enabled(False)  # applies at once, as a function
        assert lib.autograd.is_multithreading_enabled() is False
        switch.__exit__(None, None, None)
        assert lib.autograd.is_multithreading_enabled() is True
    assert_raises_like_torch(lambda lib: lib.autograd.set_multithreading_enabled(1), TypeError,
                             r"set_multithreading_enabled\(\): argument 'enabled' \(position 1\) must be bool, not int")


def test_grad_layout_policy_switch_as_torch():
    for lib in (torch, trainer):
        @lib.autograd.enforce_grad_layout_policy(False)
        def compute(x):
            return (x * 2).sum()

        x = lib.ones(3, requires_grad=True)
        compute(x).backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    from trainer.autograd import engine_modes

    with trainer.autograd.enforce_grad_layout_policy(False):
        assert engine_modes._modes.grad_layout_enforced is False
    assert engine_modes._modes.grad_layout_enforced is True
    assert_raises_like_torch(lambda lib: lib.autograd.enforce_grad_layout_policy("x"), TypeError,
                             "must be bool, not str")


def test_view_replay_and_variable_match_torch():
    assert trainer.autograd.is_view_replay_enabled() is torch.autograd.is_view_replay_enabled() is False
    assert_raises_like_torch(lambda lib: lib.autograd.variable(1.0), RuntimeError,
                             r"torch.autograd.variable\(...\) is deprecated, use torch.tensor\(...\) instead")
    from trainer.autograd.variable import Variable

    assert Variable is trainer.autograd.Variable
    assert "variable" in trainer.autograd.__all__
