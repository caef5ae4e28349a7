"""``trainer.utils._pytree`` against ``torch.utils._pytree``: the same leaves, structures and rebuilt trees for the
same containers, and registered node types that the ``trainer.func`` transforms then see through."""

import warnings
from collections import OrderedDict, defaultdict, deque, namedtuple

import numpy as np
import pytest
import torch
import torch.utils._pytree as tp

import trainer
import trainer.utils._pytree as pytree

Point = namedtuple("Point", ["x", "y"])


def tree():
    return [1, None, (2.0, "a"), {"b": 3, "a": [4, 5]}, Point(6, 7), OrderedDict(z=8, y=9),
            defaultdict(list, k=10), deque([11, 12], maxlen=4)]


def describe(spec):
    """A spec as nested plain values, comparable across the libraries."""
    if spec.is_leaf():
        return "*"
    return (spec.type.__name__, repr(spec.context), [describe(child) for child in spec.children()])


def test_flatten_structure_and_unflatten_match_torch():
    ours_leaves, ours_spec = pytree.tree_flatten(tree())
    theirs_leaves, theirs_spec = tp.tree_flatten(tree())
    assert ours_leaves == theirs_leaves
    assert describe(ours_spec) == describe(theirs_spec)
    assert (ours_spec.num_leaves, ours_spec.num_nodes, ours_spec.num_children) == (
        theirs_spec.num_leaves, theirs_spec.num_nodes, theirs_spec.num_children)
    assert repr(pytree.tree_structure([1, {"a": (2,)}, Point(3, 4)])) == "[*, {'a': (*,)}, Point(*, *)]"
    rebuilt = pytree.tree_unflatten(ours_leaves, ours_spec)
    assert rebuilt == tp.tree_unflatten(theirs_leaves, theirs_spec) == tree()
    assert type(rebuilt[6]) is defaultdict and rebuilt[7].maxlen == 4
    assert pytree.tree_structure(tree()) == ours_spec and pytree.tree_structure([1]) != ours_spec


@pytest.mark.parametrize("name", ["tree_leaves", "tree_structure"])
def test_is_leaf_stops_descent_as_in_torch(name):
    def stop_at_tuples(x):
        return isinstance(x, tuple) and not hasattr(x, "_fields")

    ours = getattr(pytree, name)(tree(), is_leaf=stop_at_tuples)
    theirs = getattr(tp, name)(tree(), is_leaf=stop_at_tuples)
    assert (ours if name == "tree_leaves" else describe(ours)) == (
        theirs if name == "tree_leaves" else describe(theirs))


def test_tree_map_with_several_trees_and_map_only_and_predicates():
    a, b = {"x": [1, 2], "y": (3,)}, {"x": [10, 20], "y": (30,)}
    assert pytree.tree_map(lambda u, v: u + v, a, b) == tp.tree_map(lambda u, v: u + v, a, b)
    mixed = [1, "s", 2.5, (3, "t")]
    for selector in (int, (int, float), int | str, lambda v: v == "s"):
        assert pytree.tree_map_only(selector, lambda v: v * 2, mixed) == tp.tree_map_only(
            selector, lambda v: v * 2, mixed)
    for name in ("tree_all", "tree_any"):
        for pred in (lambda v: isinstance(v, int), lambda v: v == "t"):
            assert getattr(pytree, name)(pred, mixed) == getattr(tp, name)(pred, mixed)
    with pytest.raises(ValueError):
        tp.tree_map(lambda u, v: u, [1, 2], [1])
    with pytest.raises(ValueError, match="arity"):
        pytree.tree_map(lambda u, v: u, [1, 2], [1])


class Pair:
    def __init__(self, first, second):
        self.first, self.second = first, second


def flatten_pair(p):
    return [p.first, p.second], "pair"


def unflatten_pair(values, context):
    assert context == "pair"
    return Pair(*values)


@pytest.fixture
def registered_pair():
    pytree.register_pytree_node(Pair, flatten_pair, unflatten_pair, serialized_type_name="tests.Pair")
    yield
    del pytree.SUPPORTED_NODES[Pair]


def test_registered_node_flattens_like_torch(registered_pair):
    tp.register_pytree_node(Pair, flatten_pair, unflatten_pair, serialized_type_name="tests.Pair")
    try:
        ours, theirs = pytree.tree_leaves([Pair(1, (2, 3))]), tp.tree_leaves([Pair(1, (2, 3))])
    finally:
        tp._deregister_pytree_node(Pair)
    assert ours == theirs == [1, 2, 3]
    rebuilt = pytree.tree_map(lambda v: v * 10, Pair(1, [2]))
    assert isinstance(rebuilt, Pair) and (rebuilt.first, rebuilt.second) == (10, [20])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pytree.register_pytree_node(Pair, flatten_pair, unflatten_pair)
    assert "already registered" in str(caught[0].message)


def test_registered_node_works_in_func_transforms(registered_pair):
    x = np.random.default_rng(0).standard_normal((3, 2))

    def loss(p):
        return (p.first ** 2).sum() + (p.second * p.first).sum()

    grads = trainer.func.grad(loss)(Pair(trainer.tensor(x), trainer.tensor(2 * x)))
    assert isinstance(grads, Pair)
    np.testing.assert_allclose(grads.first.numpy(), 2 * x + 2 * x, rtol=1e-12)
    np.testing.assert_allclose(grads.second.numpy(), x, rtol=1e-12)
    batched = trainer.func.vmap(lambda p: p.first.sum() * p.second)(Pair(trainer.tensor(x), trainer.tensor(x)))
    np.testing.assert_allclose(batched.numpy(), x.sum(1, keepdims=True) * x, rtol=1e-12)


def test_bad_arguments_raise_like_torch():
    for lib in (tp, pytree):
        with pytest.raises(ValueError, match="must be None or registered"):
            lib.register_pytree_node(Pair, flatten_pair, unflatten_pair, to_dumpable_context=str)
        with pytest.raises(ValueError):
            lib.tree_unflatten([1], lib.tree_structure([1, 2]))
        with pytest.raises(TypeError):
            lib.tree_unflatten([1], [1])
    tp.SUPPORTED_NODES.pop(Pair, None)  # torch registers the type before it checks the keywords
    assert Pair not in pytree.SUPPORTED_NODES


def test_size_is_a_node_rebuilt_as_a_size():
    leaves, spec = pytree.tree_flatten(trainer.Size([2, 3]))
    assert leaves == tp.tree_leaves(torch.Size([2, 3])) == [2, 3]
    assert isinstance(pytree.tree_unflatten(leaves, spec), trainer.Size)
