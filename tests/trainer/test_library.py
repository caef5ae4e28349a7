"""trainer.library (custom operators, Library, trainer.ops.<namespace>) against torch.library on the same programs."""

import gc
from typing import Optional

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

LIBS = (torch, trainer)


def _scaled_sin_mul(lib, name):
    """``x * sin(y) * scale`` as a custom op with a fake impl and an autograd formula, in ``lib``."""

    @lib.library.custom_op(name, mutates_args=())
    def op(x: lib.Tensor, y: lib.Tensor, *, scale: float = 1.0) -> lib.Tensor:
        return x * y.sin() * scale

    @op.register_fake
    def _(x, y, *, scale=1.0):
        return lib.empty_like(x)

    def setup_context(ctx, inputs, keyword_only_inputs, output):
        ctx.save_for_backward(*inputs)
        ctx.scale = keyword_only_inputs["scale"]

    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y.sin() * ctx.scale, grad * x * y.cos() * ctx.scale

    op.register_autograd(backward, setup_context=setup_context)
    return op


OPS = {lib: _scaled_sin_mul(lib, "sdx_test::scaled_sin_mul") for lib in LIBS}


def test_custom_op_values_and_gradients_match_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    assert_forward_and_gradients_match_torch(lambda lib, x, y: OPS[lib](x, y, scale=2.5), arrays)
    # through the registered name and its default overload, as torch.ops.sdx_test.scaled_sin_mul
    assert_forward_and_gradients_match_torch(lambda lib, x, y: lib.ops.sdx_test.scaled_sin_mul(x, y), arrays)
    assert_forward_and_gradients_match_torch(lambda lib, x, y: lib.ops.sdx_test.scaled_sin_mul.default(x, y), arrays)


def test_custom_op_records_a_generated_node_and_honours_no_grad():
    for lib in LIBS:
        x = lib.ones(2, requires_grad=True)
        y = OPS[lib](x, lib.ones(2))
        assert type(y.grad_fn).__name__ == "GeneratedBackwardFor_sdx_test_scaled_sin_mul_defaultBackward"
        with lib.no_grad():
            assert not OPS[lib](x, lib.ones(2)).requires_grad


def test_fake_impl_runs_on_meta_tensors():
    for lib in LIBS:
        out = OPS[lib](lib.ones(3, 2, device="meta"), lib.ones(3, 2, device="meta"))
        assert out.device.type == "meta" and tuple(out.shape) == (3, 2)


def test_custom_op_with_tensor_lists_matches_torch():
    def run(lib, a, b):
        @lib.library.custom_op("sdx_test::weighted", mutates_args=())
        def weighted(xs: list[lib.Tensor], w: float) -> list[lib.Tensor]:
            return [t * w for t in xs]

        def setup_context(ctx, inputs, output):
            ctx.w = inputs[1]

        weighted.register_autograd(lambda ctx, grads: ([g * ctx.w for g in grads], None),
                                   setup_context=setup_context)
        outs = weighted([a, b], 3.0)
        assert isinstance(outs, list)
        return tuple(outs)

    rng = np.random.default_rng(1)
    assert_forward_and_gradients_match_torch(run, [rng.standard_normal(3), rng.standard_normal((2, 2))])


def test_mutating_custom_op_bumps_the_version_like_torch():
    results = {}
    for lib in LIBS:
        @lib.library.custom_op("sdx_test::double_", mutates_args={"x"})
        def double_(x: lib.Tensor) -> None:
            x.mul_(2)

        a = lib.tensor([1.0, 2.0])
        before = a._version
        assert double_(a) is None
        results[lib] = (a.tolist(), a._version - before)
        with pytest.raises(RuntimeError, match="non-functional operator"):
            double_.register_autograd(lambda ctx, g: g)
    assert results[torch] == results[trainer]


def test_device_kernel_wins_over_the_default_one():
    for lib in LIBS:
        @lib.library.custom_op("sdx_test::which", mutates_args=())
        def which(x: lib.Tensor) -> lib.Tensor:
            return x + 1

        assert which(lib.zeros(1)).item() == 1
        which.register_kernel("cpu")(lambda x: x + 2)
        assert which(lib.zeros(1)).item() == 2


def _ones_factory(lib):
    @lib.library.custom_op("sdx_test::make_ones", mutates_args=(), device_types="cpu")
    def make_ones(n: int, device: lib.device) -> lib.Tensor:
        return lib.ones(n, device=device)

    return make_ones


def test_factory_op_dispatches_on_its_device_argument():
    for lib in LIBS:
        assert _ones_factory(lib)(3, "cpu").tolist() == [1.0, 1.0, 1.0]


def _schema_functions(lib):
    def many(x: lib.Tensor, ys: list[lib.Tensor], w: Optional[lib.Tensor], s: float = 1.0, b: bool = True,  # noqa: UP045
             name: str = "hi", *, k: int = 3, dt: lib.dtype = lib.float32) -> tuple[lib.Tensor, lib.Tensor]:
        return x, x

    def lists(x: lib.Tensor, a: list[int], c: Optional[list[float]], e: Optional[int] = None) -> None:  # noqa: UP045
        return None

    def one_tuple(x: lib.Tensor) -> tuple[lib.Tensor]:
        return (x,)

    def tensor_list(x: lib.Tensor) -> list[lib.Tensor]:
        return [x]

    def integer(x: lib.Tensor) -> int:
        return 0

    return [(many, ()), (many, ("x", "ys")), (many, "unknown"), (lists, ()), (one_tuple, ()), (tensor_list, ()),
            (integer, ())]


@pytest.mark.parametrize("index", range(7))
def test_infer_schema_strings_equal_torch(index):
    (theirs, mutates), (ours, _) = _schema_functions(torch)[index], _schema_functions(trainer)[index]
    assert trainer.library.infer_schema(ours, mutates_args=mutates) == torch.library.infer_schema(
        theirs, mutates_args=mutates)
    assert trainer.library.infer_schema(ours, mutates_args=mutates, op_name="f") == torch.library.infer_schema(
        theirs, mutates_args=mutates, op_name="f")


def _typed(lib):
    def f(x: lib.Tensor, n: int) -> lib.Tensor:
        return x * n

    return f


def test_custom_op_definition_errors_match_torch():
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", _typed(lib)), TypeError, "mutates_args")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("noname", _typed(lib), mutates_args=()), ValueError,
                             "namespace::name")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", _typed(lib), mutates_args=("n",)),
                             ValueError, "Parameter n is in mutable_args but only Tensors")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", _typed(lib), mutates_args=("q",)),
                             ValueError, "in mutates_args were not found")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", _typed(lib), mutates_args="all"),
                             ValueError, "mutates_args must either be")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", lambda x: x, mutates_args=()),
                             ValueError, "Parameter x must have a type annotation")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", lambda x, *, y: x, mutates_args=(),
                                                               schema="(Tensor x, *, Tensor y) -> Tensor"),
                             NotImplementedError, "kwarg-only Tensor args")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", lambda x: x, mutates_args=(),
                                                               schema="(Tensor(a!) x) -> Tensor"),
                             ValueError, "The schema suggests that the op mutates")
    assert_raises_like_torch(lambda lib: lib.library.custom_op("sdx_test::e", lambda n: None, mutates_args=(),
                                                               device_types="cpu", schema="(SymInt n) -> Tensor"),
                             ValueError, "`device: torch.device` argument")

    def no_return(lib):
        def f(x: lib.Tensor):
            return x

        return lib.library.infer_schema(f, mutates_args=())

    assert_raises_like_torch(no_return, ValueError, "No return type annotation")

    def tuple_input(lib):
        def f(x: tuple[int, int]) -> lib.Tensor:
            return lib.ones(1)

        return lib.library.infer_schema(f, mutates_args=())

    assert_raises_like_torch(tuple_input, ValueError, "We do not support Tuple inputs")


def test_call_errors_match_torch():
    x = {lib: lib.ones(2, requires_grad=True) for lib in LIBS}
    y = {lib: lib.ones(2) for lib in LIBS}
    assert_raises_like_torch(lambda lib: OPS[lib](x[lib]), RuntimeError, "missing value for argument 'y'")
    assert_raises_like_torch(lambda lib: OPS[lib](x[lib], y[lib], 2.0), RuntimeError,
                             r"takes 2 positional argument\(s\) but 3")
    assert_raises_like_torch(lambda lib: OPS[lib](x[lib], 3), RuntimeError,
                             "Expected a value of type 'Tensor' for argument 'y'")
    assert_raises_like_torch(lambda lib: OPS[lib](x[lib], y[lib], scale="a"), RuntimeError,
                             "Expected a value of type 'float' for argument 'scale'")


def test_numpy_kernel_sees_its_inputs_outside_grad_mode_like_torch():
    """The custom-op tutorial's kernels call ``x.numpy()``: PyTorch runs them with grad mode off, where ``numpy()``
    of a tensor that requires grad is allowed, and registers the formula afterwards."""
    def run(lib):
        @lib.library.custom_op("sdx_test::numpy_sin", mutates_args=())
        def numpy_sin(x: lib.Tensor) -> lib.Tensor:
            return lib.from_numpy(np.sin(x.numpy()))

        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * lib.from_numpy(np.cos(x.detach().numpy()))

        numpy_sin.register_autograd(backward, setup_context=lambda ctx, inputs, output: ctx.save_for_backward(*inputs))
        x = lib.from_numpy(np.linspace(-2.0, 2.0, 5)).requires_grad_()
        y = numpy_sin(x)
        y.sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    for ours, theirs in zip(run(trainer), run(torch)):
        np.testing.assert_allclose(ours, theirs)


def test_numpy_of_a_tensor_that_requires_grad_is_refused_only_in_grad_mode():
    for lib in LIBS:
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
            x.numpy()
        with lib.no_grad():
            np.testing.assert_array_equal(x.numpy(), [1.0, 1.0])


def test_backward_without_formula_and_aliasing_outputs_raise_like_torch():
    def no_formula(lib):
        @lib.library.custom_op("sdx_test::no_formula", mutates_args=())
        def op(x: lib.Tensor) -> lib.Tensor:
            return x * 2

        out = op(lib.ones(2, requires_grad=True))
        assert out.requires_grad
        out.sum().backward()

    assert_raises_like_torch(no_formula, RuntimeError, "no autograd formula was registered")

    def returns_input(lib):
        @lib.library.custom_op("sdx_test::returns_input", mutates_args=())
        def op(x: lib.Tensor) -> lib.Tensor:
            return x

        op(lib.ones(2))

    assert_raises_like_torch(returns_input, RuntimeError, "must not also be an input")

    def no_fake(lib):
        @lib.library.custom_op("sdx_test::no_fake", mutates_args=())
        def op(x: lib.Tensor) -> lib.Tensor:
            return x.sin()

        op(lib.ones(2, device="meta"))

    assert_raises_like_torch(no_fake, RuntimeError, "There was no fake impl registered")

    def only_cuda(lib):
        @lib.library.custom_op("sdx_test::only_cuda", mutates_args=(), device_types="cuda")
        def op(x: lib.Tensor) -> lib.Tensor:
            return x.sin()

        op(lib.ones(2))

    assert_raises_like_torch(only_cuda, NotImplementedError, "Could not run 'sdx_test::only_cuda'")


def test_library_define_impl_register_like_torch():
    rng = np.random.default_rng(2)
    libraries = []

    def run(lib, x):
        library = lib.library.Library("sdx_frag", "FRAGMENT")
        libraries.append(library)
        assert library.define("cube(Tensor x) -> Tensor") == "cube"
        assert library.define("cube.scaled(Tensor x, float s=0.5) -> Tensor") == "cube"
        lib.library.impl("sdx_frag::cube", "cpu", lambda t: t ** 3, lib=library)
        library.impl("cube.scaled", lambda t, s=0.5: t ** 3 * s, "CompositeImplicitAutograd")
        lib.library.register_autograd("sdx_frag::cube", lambda ctx, g: g * 3 * ctx.t ** 2,
                                      setup_context=lambda ctx, inputs, output: setattr(ctx, "t", inputs[0]),
                                      lib=library)
        lib.library.register_fake("sdx_frag::cube", lambda t: lib.empty_like(t), lib=library)
        packet = lib.ops.sdx_frag.cube
        assert sorted(packet.overloads()) == ["default", "scaled"]
        assert str(packet.scaled._schema) == "sdx_frag::cube.scaled(Tensor x, float s=0.5) -> Tensor"
        assert tuple(packet(lib.ones(2, device="meta")).shape) == (2,)
        return packet(x), packet.scaled(x), packet.scaled(x, s=3.0)

    assert_forward_and_gradients_match_torch(run, [rng.standard_normal(4)])
    assert repr(trainer.ops.sdx_frag.cube) == repr(torch.ops.sdx_frag.cube)
    assert repr(trainer.ops.sdx_frag.cube.default) == repr(torch.ops.sdx_frag.cube.default)
    libraries.clear()
    gc.collect()
    # a library's operators go with it
    for lib in LIBS:
        with pytest.raises(AttributeError):
            lib.ops.sdx_frag.cube  # noqa: B018 - the attribute lookup is what is tested


def test_library_errors_match_torch():
    kept = []
    assert_raises_like_torch(lambda lib: lib.library.Library("sdx_bad", "BAD"), ValueError, "Unsupported kind")
    assert_raises_like_torch(lambda lib: lib.library.Library("prim", "DEF"), ValueError, "reserved namespace")

    def two_defs(lib):
        kept.append(lib.library.Library("sdx_def", "DEF"))
        lib.library.Library("sdx_def", "DEF")

    assert_raises_like_torch(two_defs, RuntimeError, "Only a single TORCH_LIBRARY")

    def duplicate(lib):
        library = lib.library.Library("sdx_dup", "FRAGMENT")
        kept.append(library)
        library.define("f(Tensor x) -> Tensor")
        library.define("f(Tensor x) -> Tensor")

    assert_raises_like_torch(duplicate, RuntimeError, "same name and overload name multiple times")

    def fragment(lib):
        library = lib.library.Library("sdx_err", "FRAGMENT")
        kept.append(library)
        return library

    assert_raises_like_torch(lambda lib: fragment(lib).define("(Tensor x) -> Tensor"), RuntimeError,
                             "expected ident")
    assert_raises_like_torch(lambda lib: fragment(lib).define("g(Tensr x) -> Tensor"), RuntimeError,
                             "unknown type specifier")
    assert_raises_like_torch(lambda lib: fragment(lib).impl("g", 3, "CPU"), TypeError, "required to be a callable")
    assert_raises_like_torch(lambda lib: fragment(lib).impl("g", abs, "NotAKey"), RuntimeError,
                             "could not parse dispatch key")
    assert_raises_like_torch(lambda lib: lib.library.define("sdx_err::h", "Tensor x -> Tensor"), ValueError,
                             "expected schema to look like")
    assert_raises_like_torch(lambda lib: lib.library.define("h", "(Tensor x) -> Tensor"), ValueError,
                             "namespace::name")

    def impl_in_impl_library(lib):
        library = lib.library.Library("sdx_err", "IMPL")
        kept.append(library)
        library.define("k(Tensor x) -> Tensor")

    assert_raises_like_torch(impl_in_impl_library, RuntimeError, "Cannot define an operator inside")

    def no_kernel(lib):
        lib.library.define("sdx_err::nokernel", "(Tensor x) -> Tensor", lib=fragment(lib))
        lib.ops.sdx_err.nokernel(lib.ones(1))

    assert_raises_like_torch(no_kernel, NotImplementedError, "Could not run 'sdx_err::nokernel'")
    assert_raises_like_torch(lambda lib: lib.ops.sdx_err.nothere, AttributeError, "has no attribute 'nothere'")

    def bad_overload(lib):
        fragment(lib).define("ov(Tensor x) -> Tensor")
        return lib.ops.sdx_err.ov.nope

    assert_raises_like_torch(bad_overload, AttributeError, "has no overload name 'nope'")


def test_unknown_namespace_is_not_an_attribute_of_trainer_ops():
    with pytest.raises(AttributeError, match="no operator has been defined"):
        trainer.ops.sdx_never_defined  # noqa: B018 - the attribute lookup is what is tested
    assert trainer.ops.shape.__name__ == "trainer.ops.shape"  # real submodules still win
