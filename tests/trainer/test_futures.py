"""trainer.futures and trainer.jit.fork / wait against torch.futures and torch.jit on the same programs."""

import threading

import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

LIBS = (torch, trainer)


def _chain(lib):
    """What a chain of ``then`` callbacks and done callbacks sees, in order, before and after the result is set."""
    seen = []
    first = lib.futures.Future()
    doubled = first.then(lambda fut: fut.wait() * 2)
    plus_one = doubled.then(lambda fut: fut.value() + 1)
    first.add_done_callback(lambda fut: seen.append(("done", fut.value())))
    seen.append(("before", first.done(), doubled.done(), plus_one.done()))
    first.set_result(5)
    seen.append(("after", first.done(), doubled.wait(), plus_one.wait()))
    first.add_done_callback(lambda fut: seen.append(("late", fut.wait())))  # runs at once: already done
    return seen


def test_then_chains_and_done_callbacks_match_torch():
    assert _chain(trainer) == _chain(torch)


def test_errors_flow_through_wait_value_and_then_like_torch():
    for lib in LIBS:
        failed = lib.futures.Future()
        failed.set_exception(ValueError("boom"))
        assert failed.done()
        with pytest.raises(ValueError, match="boom"):
            failed.wait()
        with pytest.raises(ValueError, match="boom"):
            failed.value()
        chained = failed.then(lambda fut: fut.wait() + 1)
        assert chained.done()
        with pytest.raises(RuntimeError, match="Got the following error when running the callback: ValueError: boom"):
            chained.wait()
        done = lib.futures.Future()
        done.set_result(1)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            done.then(lambda fut: 1 / 0).wait()
        done.add_done_callback(lambda fut: 1 / 0)  # logged, not raised, as in PyTorch


def test_completing_twice_and_bad_exceptions_raise_like_torch():
    def complete_twice(lib):
        f = lib.futures.Future()
        f.set_result(1)
        f.set_exception(ValueError("x"))

    assert_raises_like_torch(complete_twice, RuntimeError, "mark a completed Future as complete again")
    assert_raises_like_torch(lambda lib: lib.futures.Future().set_exception(3), AssertionError, "not an Exception")
    assert_raises_like_torch(lambda lib: lib.futures.Future().value(), RuntimeError, "completed")
    assert_raises_like_torch(lambda lib: lib.futures.Future(devices=["cpu"]), ValueError, "to have indices")
    assert_raises_like_torch(lambda lib: lib.futures.collect_all([1]), TypeError, "collect_all")
    assert_raises_like_torch(lambda lib: lib.futures.wait_all([1]), TypeError, "wait_all")


def _collect(lib):
    a, b = lib.futures.Future(), lib.futures.Future()
    combined = lib.futures.collect_all([a, b])
    states = [combined.done()]
    a.set_result(1)
    states.append(combined.done())
    b.set_result(lib.tensor([2.0, 3.0]))
    states.append([f.wait() if isinstance(f.wait(), int) else f.wait().tolist() for f in combined.wait()])
    states.append(lib.futures.collect_all([]).wait())
    return states


def test_collect_all_and_wait_all_match_torch():
    assert _collect(trainer) == _collect(torch)
    for lib in LIBS:
        ok, bad = lib.futures.Future(), lib.futures.Future()
        combined = lib.futures.collect_all([ok, bad])
        bad.set_exception(KeyError("k"))
        assert not combined.done()
        ok.set_result(1)
        with pytest.raises(KeyError):
            combined.wait()
        with pytest.raises(KeyError):
            lib.futures.wait_all([ok, bad])
        assert lib.futures.wait_all([ok]) == [1]


def test_wait_blocks_until_another_thread_sets_the_result():
    for lib in LIBS:
        fut = lib.futures.Future()
        started = threading.Event()

        def produce(fut=fut, lib=lib, started=started):
            started.wait()
            fut.set_result(lib.ones(2))

        thread = threading.Thread(target=produce)
        thread.start()
        started.set()
        assert fut.wait().tolist() == [1.0, 1.0]
        thread.join()


@pytest.mark.filterwarnings("ignore:`(torch|trainer).jit.(fork|wait)` is deprecated:DeprecationWarning")
def test_jit_fork_runs_eagerly_and_wait_returns_its_value_like_torch():
    for lib in LIBS:
        calls = []

        def add(a, b, calls=calls):
            calls.append(1)
            return a + b

        fut = lib.jit.fork(add, lib.tensor([1.0]), b=lib.tensor([2.0]))
        assert calls == [1] and fut.done()  # eager: ran before fork returned
        assert lib.jit.wait(fut).tolist() == [3.0]
        assert lib.jit._wait(lib.jit._fork(lambda: 4)) == 4
    assert_raises_like_torch(lambda lib: lib.jit.fork(lambda: 1 / 0), ZeroDivisionError, "division")
    assert_raises_like_torch(lambda lib: lib.jit.wait(3), TypeError, "wait")


def test_jit_fork_and_wait_are_deprecated_like_torch():
    for lib in LIBS:
        with pytest.warns(DeprecationWarning, match="jit.fork` is deprecated"):
            fut = lib.jit.fork(lambda: 1)
        with pytest.warns(DeprecationWarning, match="jit.wait` is deprecated"):
            lib.jit.wait(fut)
