"""The factory hook: each factory call inside ``observe_factories`` is reported once, under its own name, with the
tensor it made and its arguments by parameter name; the factories still make what PyTorch's make."""

import numpy as np
import pytest
import torch

import trainer
from trainer.autograd.factory_observers import observe_factories


def _observed(call):
    events = []
    with observe_factories(events.append):
        result = call()
    return result, events


def test_each_factory_reports_its_name_result_and_arguments():
    x = trainer.ones(2, 3, dtype=trainer.float64)
    calls = {
        "zeros": (lambda: trainer.zeros(2, 3), {"size": (2, 3)}),
        "ones": (lambda: trainer.ones((4,), dtype=trainer.int32), {"size": ((4,),), "dtype": trainer.int32}),
        "empty": (lambda: trainer.empty(1, 2), {"size": (1, 2)}),
        "full": (lambda: trainer.full((2, 2), 7), {"size": (2, 2), "fill_value": 7}),
        "zeros_like": (lambda: trainer.zeros_like(x), {"t": x}),
        "ones_like": (lambda: trainer.ones_like(x, dtype=trainer.int64), {"t": x, "dtype": trainer.int64}),
        "empty_like": (lambda: trainer.empty_like(x), {"t": x}),
        "full_like": (lambda: trainer.full_like(x, 2.5), {"t": x, "fill_value": 2.5}),
        "arange": (lambda: trainer.arange(1, 7, 2), {"start": 1, "end": 7, "step": 2}),
        "eye": (lambda: trainer.eye(3, 2), {"n": 3, "m": 2}),
        "rand": (lambda: trainer.rand(2), {"size": (2,)}),
        "randn": (lambda: trainer.randn(2, 2), {"size": (2, 2)}),
        "randint": (lambda: trainer.randint(0, 4, (3,)), {"low": 0, "high": 4, "size": (3,)}),
        "randperm": (lambda: trainer.randperm(5), {"n": 5}),
        "rand_like": (lambda: trainer.rand_like(x), {"t": x}),
        "randn_like": (lambda: trainer.randn_like(x), {"t": x}),
    }
    for name, (call, expected) in calls.items():
        result, events = _observed(call)
        assert [e.name for e in events] == [name]  # a _like factory is reported once, not with the zeros it calls
        assert events[0].result is result
        for key, value in expected.items():
            assert events[0].arguments[key] is value or events[0].arguments[key] == value, (name, key)


def test_new_methods_report_the_factory_they_call_with_the_tensors_dtype():
    x = trainer.ones(2, dtype=trainer.float64)
    for method, name in [("new_zeros", "zeros"), ("new_ones", "ones"), ("new_empty", "empty")]:
        result, events = _observed(lambda method=method: getattr(x, method)(3, 1))
        assert [(e.name, e.arguments["size"], e.arguments["dtype"]) for e in events] == [(name, (3, 1),
                                                                                            trainer.float64)]
        assert events[0].result is result
    result, events = _observed(lambda: x.new_full((2,), 4))
    assert [(e.name, e.arguments["fill_value"]) for e in events] == [("full", 4)] and result.dtype == trainer.float64


def test_sizes_arrive_as_given():
    class Marked(int):
        pass

    b = Marked(3)
    _, events = _observed(lambda: trainer.zeros(b, 2))
    assert type(events[0].arguments["size"][0]) is Marked


def test_nothing_is_reported_outside_the_block_and_an_error_removes_the_observer():
    events = []
    with pytest.raises(ValueError, match="inside"), observe_factories(events.append):
        trainer.zeros(1)
        raise ValueError("inside")
    trainer.zeros(2)
    assert [e.arguments["size"] for e in events] == [(1,)]


def test_nested_observers_both_see_each_factory():
    outer, inner = [], []
    with observe_factories(outer.append):
        with observe_factories(inner.append):
            trainer.arange(3)
        trainer.eye(2)
    assert [e.name for e in outer] == ["arange", "eye"] and [e.name for e in inner] == ["arange"]


@pytest.mark.parametrize("make", [lambda lib: lib.zeros(2, 3), lambda lib: lib.full((2,), 7),
                                  lambda lib: lib.arange(1, 7, 2), lambda lib: lib.eye(3, 2, dtype=lib.int64),
                                  lambda lib: lib.ones_like(lib.zeros(2, dtype=lib.float64)),
                                  lambda lib: lib.zeros(2, dtype=lib.float64).new_full((3,), 2)])
def test_observed_factories_make_what_pytorch_makes(make):
    expected = make(torch)
    got, events = _observed(lambda: make(trainer))
    assert len(events) >= 1
    assert str(got.dtype) == str(expected.dtype).replace("torch.", "trainer.")
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
