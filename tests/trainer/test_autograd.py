"""Autograd semantics against PyTorch's: accumulation, retain_graph, grad modes, in-place checks,
retain_grad, detach, unshared leaf grads, multi-output ops, memory, and the op observer hook."""

import tracemalloc
import weakref

import numpy as np
import pytest
import torch

import trainer
from trainer.autograd import observe_ops, observe_sizes


def leaf(values=(1.0, 2.0, 3.0)):
    return trainer.tensor(values, dtype=trainer.float64, requires_grad=True)


# ---------------------------------------------------------------- accumulation and retain_graph

def test_gradients_accumulate_over_two_backward_calls():
    x = leaf()
    (x * 2).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0, 6.0, 8.0]


def test_a_tensor_used_twice_gets_both_contributions():
    x = leaf()
    y = x * 2
    (y + y * y).sum().backward()  # d/dx (2x + 4x^2) = 2 + 8x
    assert x.grad.tolist() == [10.0, 18.0, 26.0]


def test_retain_graph_allows_a_second_backward():
    x = leaf()
    loss = x.exp().sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0, 3.0]))


def test_second_backward_without_retain_graph_raises():
    x = leaf()
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()


def test_backward_with_explicit_gradient():
    x = leaf()
    y = x * 3
    y.backward(trainer.tensor([1.0, 0.0, 2.0], dtype=trainer.float64))
    assert x.grad.tolist() == [3.0, 0.0, 6.0]


def test_grad_is_not_shared_with_the_upstream_gradient():
    x = leaf()
    upstream = trainer.tensor([1.0, 1.0, 1.0], dtype=trainer.float64)
    (x + 0).backward(upstream)
    x.grad.mul_(5)
    assert upstream.tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- grad modes

def test_no_grad_results_do_not_require_grad():
    x = leaf()
    with trainer.no_grad():
        y = x * 2
        assert not trainer.is_grad_enabled()
        with trainer.enable_grad():
            z = x * 2
    assert trainer.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_set_grad_enabled_as_context_and_call():
    x = leaf()
    with trainer.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    trainer.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        trainer.set_grad_enabled(True)
    assert trainer.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = leaf()

    @trainer.no_grad()
    def without_call(t):
        return t * 2

    @trainer.no_grad
    def bare(t):
        return t * 2

    @trainer.set_grad_enabled(False)
    def disabled(t):
        return t * 2

    @trainer.enable_grad()
    def enabled(t):
        return t * 2

    assert trainer.is_grad_enabled()  # building a set_grad_enabled decorator changes nothing
    assert not without_call(x).requires_grad
    assert not bare(x).requires_grad
    assert not disabled(x).requires_grad
    with trainer.no_grad():
        assert enabled(x).requires_grad
    assert bare.__name__ == "bare"
    assert trainer.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with trainer.no_grad():
            raise ValueError
    assert trainer.is_grad_enabled()


# ---------------------------------------------------------------- in-place checks

@pytest.mark.parametrize("modify", [
    lambda y: y.add_(1),
    lambda y: y.mul_(2),
    lambda y: y.zero_(),
    lambda y: y.__setitem__(0, 5.0),
    lambda y: y.detach().fill_(1.0),
    lambda y: y.view(1, 3).add_(1),
    lambda y: y[1:].add_(1),
])
def test_modifying_a_saved_tensor_raises_on_backward(modify):
    x = leaf()
    y = x.exp()  # exp saves its output
    modify(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_changes_through_views_reach_the_base_outside_autograd():
    x = trainer.zeros(2, 3)
    x[0].fill_(1.0)
    x[1, 2].add_(5.0)
    x.view(6)[1].mul_(3.0)
    x.t()[2].sub_(1.0)
    assert x.tolist() == [[1.0, 3.0, 0.0], [0.0, 0.0, 4.0]]
    assert x._version == 4


def test_modifying_a_saved_input_raises_on_backward():
    x = leaf()
    y = x * 1
    z = y * y  # mul saves both inputs
    with trainer.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


@pytest.mark.parametrize("modify, expected", [
    (lambda y: y.add_(1), [1.0, 1.0, 1.0]),  # add saves nothing
    (lambda y: y.mul_(2), [2.0, 2.0, 2.0]),  # mul_ saves y's previous value, which stays intact
    (lambda y: y.div_(4), [0.25, 0.25, 0.25]),
    (lambda y: y.sub_(y.detach(), alpha=2), [1.0, 1.0, 1.0]),
    (lambda y: y.clamp_(max=2.5), [1.0, 0.0, 0.0]),
    (lambda y: y.masked_fill_(y > 3, 0.0), [1.0, 1.0, 0.0]),
    (lambda y: y.__setitem__(0, 0.0), [0.0, 1.0, 1.0]),
])
def test_legal_inplace_ops_on_non_leaves_backpropagate(modify, expected):
    x = leaf()
    y = x + 1
    modify(y)
    y.sum().backward()
    assert x.grad.tolist() == expected


def test_inplace_op_after_a_non_saving_use_is_legal():
    x = leaf()
    y = x + 1
    z = y + 3  # add saves nothing, so changing y afterwards is fine
    y.mul_(2)
    (z + y).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


@pytest.mark.parametrize("overwrite", [
    lambda y: y.fill_(1.0),
    lambda y: y.zero_(),
    lambda y: y.copy_(trainer.tensor([5.0, 6.0, 7.0])),
])
def test_overwriting_a_non_leaf_cuts_the_gradient_to_its_old_values(overwrite):
    x = leaf()
    y = x * 2
    overwrite(y)
    assert y.requires_grad
    (y * y).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_copy_and_fill_from_a_tensor_that_requires_grad():
    x = leaf()
    copied = trainer.zeros(3, dtype=trainer.float64)
    copied.copy_(x)
    (copied * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
    copied.detach().zero_()
    assert x.tolist() == [1.0, 2.0, 3.0]  # a copy, not an alias
    value = trainer.tensor(2.0, requires_grad=True)
    filled = trainer.zeros(4)
    filled.fill_(value)
    filled.sum().backward()
    assert filled.tolist() == [2.0] * 4 and value.grad.item() == 4.0


def test_inplace_on_a_leaf_requiring_grad_raises():
    x = leaf()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 2.0
    with trainer.no_grad():
        x.add_(1)  # the optimizer's case
    assert x.tolist() == [2.0, 3.0, 4.0]


def test_setitem_sends_gradients_to_the_assigned_value():
    value = trainer.tensor(5.0, dtype=trainer.float64, requires_grad=True)
    out = trainer.zeros(3, dtype=trainer.float64)
    out[1] = value
    assert out.requires_grad
    (out * trainer.tensor([1.0, 7.0, 1.0], dtype=trainer.float64)).sum().backward()
    assert value.grad.item() == 7.0


# ---------------------------------------------------------------- retain_grad, detach, grads never shared

def test_retain_grad_on_a_non_leaf():
    x = leaf()
    y = x * 2
    y.retain_grad()
    z = x * 3
    (y * y + z).sum().backward()
    assert y.retains_grad and y.grad.tolist() == [4.0, 8.0, 12.0]
    assert z.grad is None
    assert x.grad.tolist() == [11.0, 19.0, 27.0]


def test_detach_shares_storage_and_drops_history():
    x = leaf()
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d[0] = 10.0
    assert x.tolist()[0] == 10.0
    y = (x * 2).detach()
    assert not y.requires_grad


def test_leaf_grads_are_never_shared():
    a, b = leaf(), leaf()
    (a + b).sum().backward()
    a.grad.mul_(2)
    assert b.grad.tolist() == [1.0, 1.0, 1.0]

    c, d = leaf(), leaf()
    ((c + d) * 3).sum().backward()
    c.grad.zero_()
    assert d.grad.tolist() == [3.0, 3.0, 3.0]

    e = leaf()
    f = trainer.tensor([[1.0, 2.0, 3.0]], dtype=trainer.float64, requires_grad=True)
    (e.reshape(1, 3) + f).backward(trainer.ones(1, 3, dtype=trainer.float64))
    assert not np.shares_memory(e.grad.numpy(), f.grad.numpy())


# ---------------------------------------------------------------- multi-output ops

def test_split_with_only_some_outputs_used():
    x = trainer.arange(6, dtype=trainer.float64).requires_grad_()
    first, _, third = x.split(2)
    (first * 2 + third).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 0.0, 0.0, 1.0, 1.0]


def test_chunk_with_one_output_used():
    x = trainer.ones(2, 4, dtype=trainer.float64, requires_grad=True)
    x.chunk(2, dim=1)[1].sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]


def test_max_dim_values_used_indices_ignored():
    x = trainer.tensor([[1.0, 4.0, 2.0], [5.0, 0.0, 3.0]], dtype=trainer.float64, requires_grad=True)
    values, indices = x.max(1)
    values.sum().backward()
    assert indices.tolist() == [1, 0]
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


# ---------------------------------------------------------------- memory

def test_memory_does_not_grow_over_training_steps():
    rng = np.random.default_rng(0)
    w1 = trainer.tensor(rng.standard_normal((8, 16)) * 0.1, requires_grad=True)
    b1 = trainer.zeros(16, dtype=trainer.float64, requires_grad=True)
    w2 = trainer.tensor(rng.standard_normal((16, 4)) * 0.1, requires_grad=True)
    x = trainer.tensor(rng.standard_normal((32, 8)))
    target = trainer.tensor(rng.integers(0, 4, (32, 1)))
    params = (w1, b1, w2)

    def step():
        hidden = (x @ w1 + b1).relu()
        log_probs = (hidden @ w2).log_softmax(dim=1)
        loss = -log_probs.gather(1, target).mean() + 1e-3 * (w1 * w1).sum()
        loss.backward()
        with trainer.no_grad():
            for p in params:
                p.sub_(p.grad * 0.1)
                p.grad = None

    tracemalloc.start()
    try:
        for _ in range(100):
            step()
        after_100 = tracemalloc.get_traced_memory()[0]
        for _ in range(900):
            step()
        after_1000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # Keeping one step's graph would hold its saved arrays (>= 4 KiB a step, 3.6 MiB over 900 steps).
    # The bound sits well above what Python's free lists may still cache (up to 2,000 freed tuples of a
    # size, ~112 KiB, filled faster or slower depending on which tests ran before in this process).
    assert after_1000 - after_100 < 512 * 1024


def test_graph_is_freed_after_backward():
    x = leaf()
    intermediate = x.exp()
    loss = (intermediate * x).sum()
    node = weakref.ref(intermediate.grad_fn)
    loss.backward()
    assert intermediate.grad_fn.__dict__ == {}  # saved arrays dropped at once
    del loss, intermediate
    assert node() is None  # no reference cycle keeps the graph: freed without the garbage collector


# ---------------------------------------------------------------- the op observer hook

def test_observer_reports_each_op_with_inputs_outputs_and_attrs():
    x = trainer.ones(2, 3, requires_grad=True)
    events = []
    with observe_ops(events.append):
        scaled = x * 2
        probs = scaled.softmax(dim=1)
        total = probs.sum(1)
    with trainer.no_grad():
        x * 2  # outside the block: not reported
    assert [e.op for e in events] == ["Mul", "Softmax", "Sum"]
    mul, softmax, reduce = events
    assert mul.inputs[0] is x and mul.inputs[1].item() == 2.0 and mul.outputs == (scaled,)
    assert softmax.inputs == (scaled,) and softmax.outputs == (probs,) and softmax.attrs == {"axis": 1}
    assert reduce.inputs == (probs,) and reduce.outputs == (total,)
    assert reduce.attrs["axes"] == (1,) and reduce.attrs["keepdim"] is False


def test_observers_nest_and_see_multi_output_ops_and_no_grad():
    x = trainer.arange(6.0)
    outer, inner = [], []
    with observe_ops(outer.append):
        with observe_ops(inner.append):
            parts = x.split(3)
        x.max(0)
    assert [e.op for e in inner] == ["Split"]
    assert inner[0].outputs == parts and inner[0].attrs == {"sizes": (3, 3), "axis": 0}
    assert [e.op for e in outer] == ["Split", "MaxDim"]
    assert len(outer[1].outputs) == 2


def test_size_observer_sees_shape_reads_and_shape_ops_keep_its_ints():
    class Tagged(int):
        pass

    x = trainer.ones(2, 3)
    seen, events = [], []

    def tag(tensor, sizes):
        seen.append(tensor)
        return tuple(Tagged(s) for s in sizes)

    with observe_sizes(tag), observe_ops(events.append):
        batch = x.shape[0]
        features = x.size(1)
        y = x.reshape(batch, -1, 1)
        z = y.expand(batch, -1, x.size(1))
    assert seen == [x, x, x] and type(batch) is Tagged and type(features) is Tagged
    assert type(trainer.ones(2).shape[0]) is int  # outside the block: plain ints
    reshape, expand = events
    assert reshape.attrs["shape"] == (2, -1, 1) and type(reshape.attrs["shape"][0]) is Tagged  # as written
    assert [type(s) for s in expand.attrs["shape"]] == [Tagged, int, Tagged] and z.shape == (2, 3, 3)


def test_next_functions_has_pytorchs_shape():
    shapes = []
    for lib in (torch, trainer):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0])
        out = (2 * (a * b).sin() + 1).sum()
        nodes, shape = [out.grad_fn], []
        while nodes:
            node = nodes.pop()
            edges = node.next_functions
            shape.append([(None if n is None else type(n).__name__ == "AccumulateGrad", i) for n, i in edges])
            nodes.extend(n for n, _ in edges if n is not None)
            if type(node).__name__ == "AccumulateGrad":
                assert node.variable is a
        shapes.append(shape)
    assert shapes[1] == shapes[0]
