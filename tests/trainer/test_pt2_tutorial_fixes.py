"""Fixes found by running PyTorch 2's tutorials on trainer (tests/trainer/examples/test_pt2_tutorials.py), each
against PyTorch itself: custom ops recorded by fx tracing and export, the equal-size guard of one Dim on two inputs,
an in-place op's node name, the graph signature's text, and nested tensors' tuple indexing, reshape, unflatten,
flatten and ``matmul(nt, nt)``."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch

LIBS = (torch, trainer)


def _cube(lib, name):
    @lib.library.custom_op(name, mutates_args=())
    def cube(x: lib.Tensor) -> lib.Tensor:
        return x * x * x

    @cube.register_fake
    def _(x):
        return lib.empty_like(x)

    return cube


CUBES = {lib: _cube(lib, "sdx_pt2_fixes::cube") for lib in LIBS}


def test_op_overload_names_like_torch():
    ours, theirs = trainer.ops.sdx_pt2_fixes.cube.default, torch.ops.sdx_pt2_fixes.cube.default
    assert ours.__name__ == theirs.__name__ == "cube.default"
    assert str(ours) == str(theirs)


def _calling_cube(lib, op):
    def f(x):
        return lib.sin(op(x + 1))

    return f


@pytest.mark.parametrize("call", ["opdef", "ops"])
def test_symbolic_trace_records_a_custom_op_call(call):
    results = {}
    for lib in LIBS:
        gm = lib.fx.symbolic_trace(_calling_cube(lib, CUBES[lib] if call == "opdef" else lib.ops.sdx_pt2_fixes.cube))
        nodes = [(n.op, str(n.target)) for n in gm.graph.nodes if n.op == "call_function"]
        x = np.linspace(-1, 1, 6)
        results[lib] = nodes, gm(lib.tensor(x)).numpy()
    # (torch.fx records a call of the packet, torch.ops.ns.cube, as the packet; trainer.fx as the overload it picks)
    assert results[trainer][0][1] == ("call_function", "sdx_pt2_fixes.cube.default")
    assert results[torch][0][1][1] == "sdx_pt2_fixes.cube" + (".default" if call == "opdef" else "")
    np.testing.assert_allclose(results[trainer][1], results[torch][1])


def test_export_records_a_custom_op_and_runs_it():
    class M(trainer.nn.Module):
        def forward(self, x):
            return trainer.ops.sdx_pt2_fixes.cube(x).cos()

    ep = trainer.export.export(M(), (trainer.randn(3),))
    assert [str(n.target) for n in ep.graph.nodes if n.op == "call_function"][0] == "sdx_pt2_fixes.cube.default"
    x = np.linspace(-1, 1, 3)
    np.testing.assert_allclose(ep.module()(trainer.tensor(x)).numpy(), np.cos(x ** 3))


def _matmul_with_shared_dim(lib):
    class M(lib.nn.Module):
        def forward(self, x, y):
            return x @ y

    inner = lib.export.Dim("inner")
    shapes = {"x": {0: lib.export.Dim("rows"), 1: inner}, "y": {0: inner}}
    return lib.export.export(M(), (lib.randn(4, 8), lib.randn(8, 2)), dynamic_shapes=shapes).module()


def test_one_dim_on_two_inputs_guards_their_equality():
    messages = []
    for lib in LIBS:
        module = _matmul_with_shared_dim(lib)
        assert tuple(module(lib.randn(3, 5), lib.randn(5, 2)).shape) == (3, 2)
        with pytest.raises(AssertionError) as error:
            module(lib.randn(4, 8), lib.randn(4, 2))
        messages.append(str(error.value))
    assert messages[1].startswith(messages[0]) and messages[0] == "Guard failed: y.size()[0] == x.size()[1]"


def _inplace_relu_signature(lib) -> str:
    class M(lib.nn.Module):
        def forward(self, x):
            return lib.nn.functional.relu(x + 1, inplace=True)

    return str(lib.export.export(M(), (lib.randn(2),)).graph_signature)


def test_inplace_relu_output_and_signature_text():
    texts = [_inplace_relu_signature(lib) for lib in LIBS]
    assert texts[1] == texts[0] == "\n# inputs\nx: USER_INPUT\n\n# outputs\nrelu_: USER_OUTPUT\n"


# --------------------------------------------------------------------------- nested tensors
def _strided(lib, arrays, requires_grad=False):
    tensors = [lib.tensor(a, requires_grad=requires_grad) for a in arrays]
    return lib.nested.as_nested_tensor(tensors), tensors


def test_nested_tuple_index_reads_one_component():
    arrays = [np.arange(12.0).reshape(2, 6), np.arange(18.0).reshape(3, 6)]
    for index in ((1, slice(None), -1), (0, 1), (-1, slice(1, 3))):
        ours, theirs = _strided(trainer, arrays)[0][index], _strided(torch, arrays)[0][index]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_nested_reshape_transpose_and_matmul_values_and_gradients():
    rng = np.random.default_rng(0)
    a = [rng.standard_normal((2, 6)), rng.standard_normal((3, 6))]
    b = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 5))]

    def run(lib):
        nt, leaves = _strided(lib, a, requires_grad=True)
        other, other_leaves = _strided(lib, b, requires_grad=True)
        out = lib.matmul(nt.reshape(2, -1, 2, 3).transpose(1, 2), other)
        parts = out.unbind()
        sum(p.sin().sum() for p in parts).backward()
        return [p.detach().numpy() for p in parts], [t.grad.numpy() for t in leaves + other_leaves]

    (ours, our_grads), (theirs, their_grads) = run(trainer), run(torch)
    for o, t in zip(ours + our_grads, theirs + their_grads, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-10)


def test_nested_reshape_refuses_a_new_batch_size():
    for lib in LIBS:
        nt = _strided(lib, [np.zeros((2, 6)), np.zeros((3, 6))])[0]
        with pytest.raises(RuntimeError, match="batch dimension"):
            nt.reshape(3, -1, 2, 3)


def test_jagged_unflatten_transpose_flatten_round_trip():
    def fn(lib, a, b):
        nt = lib.nested.as_nested_tensor([a, b], layout=lib.jagged)
        heads = nt.unflatten(-1, [2, 3]).transpose(1, 2)
        merged = heads.transpose(1, 2).flatten(-2)
        return lib.stack([p.sum() for p in (heads * 2).unbind()]), merged.unbind()[1]

    assert_forward_and_gradients_match_torch(fn, [np.random.default_rng(1).standard_normal((3, 6)),
                                                  np.random.default_rng(2).standard_normal((5, 6))])
