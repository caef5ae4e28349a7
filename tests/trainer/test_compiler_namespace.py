"""trainer.compiler against torch.compiler: the same programs give the same results (trainer runs every one eagerly)."""

import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

LIBS = (torch, trainer)


@pytest.fixture(autouse=True)
def _default_stance():
    yield
    for lib in LIBS:
        lib.compiler.set_stance("default")


def test_predicates_are_false_outside_compilation():
    for lib in LIBS:
        assert lib.compiler.is_compiling() is False
        assert lib.compiler.is_dynamo_compiling() is False
        assert lib.compiler.is_exporting() is False


def test_disable_returns_a_wrapper_that_runs_the_function():
    for lib in LIBS:
        def add_one(x):
            return x + 1

        disabled = lib.compiler.disable(add_one)
        assert disabled is not add_one and disabled.__name__ == "add_one"
        assert disabled(lib.tensor([1.0])).tolist() == [2.0]
        as_decorator = lib.compiler.disable(recursive=False)(add_one)
        assert as_decorator(1) == 2
        module = lib.nn.Linear(2, 2)
        assert lib.compiler.disable(module)(lib.ones(1, 2)).shape == (1, 2)
    assert_raises_like_torch(lambda lib: lib.compiler.disable(3), AssertionError, "fn must be callable")


def test_marking_decorators_return_the_function():
    for lib in LIBS:
        def f(x):
            return x * 2

        assert lib.compiler.allow_in_graph(f) is f
        assert lib.compiler.allow_in_graph([f, f]) == [f, f]
        assert lib.compiler.assume_constant_result(f) is f and f(2) == 4
    assert_raises_like_torch(lambda lib: lib.compiler.allow_in_graph(3), AssertionError, "expects a callable")


def test_reset_and_cudagraph_step_return_none():
    for lib in LIBS:
        assert lib.compiler.reset() is None
        assert lib.compiler.cudagraph_mark_step_begin() is None


def test_list_backends_names_what_compile_accepts():
    assert set(trainer.compiler.list_backends()) <= set(torch.compiler.list_backends())
    assert trainer.compiler.list_backends() == ["cudagraphs", "inductor"]
    everything = trainer.compiler.list_backends(exclude_tags=())
    assert set(everything) <= set(torch.compiler.list_backends(exclude_tags=()))
    for backend in everything:
        assert trainer.compile(lambda x: x + 1, backend=backend)(1) == 2


def test_set_stance_as_call_context_and_decorator():
    for lib in LIBS:
        compiled = lib.compile(lambda x: x * 3, backend="eager")
        lib.compiler.set_stance("force_eager")
        assert compiled(lib.tensor([1.0])).tolist() == [3.0]
        lib.compiler.set_stance("default")
        with lib.compiler.set_stance("force_eager"):
            assert compiled(lib.tensor([2.0])).tolist() == [6.0]

        @lib.compiler.set_stance("force_eager")
        def run(compiled=compiled, lib=lib):
            return compiled(lib.tensor([3.0])).tolist()

        assert run() == [9.0]
    for stance in trainer.compiler.STANCES:  # every stance trainer knows, torch knows too
        torch.compiler.set_stance(stance)
        trainer.compiler.set_stance(stance)
    assert_raises_like_torch(lambda lib: lib.compiler.set_stance("force_eager", force_backend="eager"), RuntimeError,
                             "non-default stance cannot have force_backend set")


def test_set_stance_rejects_unknown_stances():
    # PyTorch accepts the name and fails on the next compiled call; trainer has none, so it fails at once
    with pytest.raises(RuntimeError, match="invalid torch.compile stance 'sometimes'"):
        trainer.compiler.set_stance("sometimes")


def test_compile_is_trainer_compile():
    assert trainer.compiler.compile is trainer.compile
